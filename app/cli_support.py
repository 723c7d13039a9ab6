"""Plumbing every CLI command module shares: which database, who is acting, errors, JSON.

A command that runs a service as a user::

    def register(sub):
        p = sub.add_parser("pay", help="...")
        add_db_user_args(p)
        ...
        p.set_defaults(handler=_pay)

    @run_service
    def _pay(args):
        ctx = cli_context(args)
        result = post_payment(ctx, ...)
        print_json(result)

The CLI acts as a user (issue 3, item 8): ``--user`` or ``KEEL_USER``; the
password from ``KEEL_PASSWORD`` or a prompt.  The database is ``--db`` or
``KEEL_DATABASE_URL`` (else the default SQLite file).  On a database with no
users yet, an interactive terminal is asked for the first administrator; a
script sets ``KEEL_ADMIN_PASSWORD`` and names the admin with ``--user``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import enum
import functools
import getpass
import json
import os
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.cli import CliError
from app.db.session import BadBusyTimeout, busy_timeout, is_busy
from app.domain.errors import InputError
from app.services import setup, users
from app.services.context import Actor, ServiceContext
from app.services.errors import Conflict, DatabaseBusy, FileRejected, ServiceError, storage_problem

ENV_USER = "KEEL_USER"
ENV_PASSWORD = "KEEL_PASSWORD"
ENV_ADMIN_PASSWORD = "KEEL_ADMIN_PASSWORD"
ENV_NEW_PASSWORD = "KEEL_NEW_PASSWORD"
ENV_APPROVER_PASSWORD = "KEEL_APPROVER_PASSWORD"

#: The actor of a context opened with ``need_user=False``: it holds no role,
#: so every permission check refuses it.  For commands that only need the
#: database (building the demo, which makes its own users).
NOBODY = Actor(user_id=0, username="(nobody)", role="", full_name="")

F = TypeVar("F", bound=Callable[..., Any])


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------
def add_db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $KEEL_DATABASE_URL, else keel.sqlite3 in your data folder)",
    )
    parser.add_argument(
        "--allow-owner",
        action="store_true",
        help="on PostgreSQL, work even as the owner of the tables (default: refused; also $KEEL_ALLOW_OWNER=1)",
    )


def add_db_user_args(parser: argparse.ArgumentParser) -> None:
    """``--db URL`` and ``--user NAME`` (the password comes from $KEEL_PASSWORD or a prompt)."""
    add_db_arg(parser)
    parser.add_argument(
        "--user",
        metavar="NAME",
        help=f"act as this user (default: ${ENV_USER}); password from ${ENV_PASSWORD} or a prompt",
    )


def add_approver_arg(parser: argparse.ArgumentParser) -> None:
    """``--approver NAME``: a second user approving an entry above a limit (password from
    $KEEL_APPROVER_PASSWORD or a prompt)."""
    parser.add_argument(
        "--approver",
        metavar="NAME",
        help=f"a manager approving an entry above a limit; password from ${ENV_APPROVER_PASSWORD} or a prompt",
    )


def approval_from(args: argparse.Namespace) -> Any:
    """The Approval ``--approver`` names, or None."""
    from app.services.approvals import Approval

    name = (getattr(args, "approver", None) or "").strip()
    if not name:
        return None
    password = os.environ.get(ENV_APPROVER_PASSWORD)
    if password is None:
        if not interactive():
            raise CliError(f"--approver: set {ENV_APPROVER_PASSWORD} or run interactively")
        password = prompt_password(f"Password for the approver {name}: ")
    return Approval(name, password)


def whole_arg(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` for a count or an id from ``low`` to ``high``, read by the one parser
    (``int()`` takes full-width digits, ``1_000`` and numbers no column holds: issue 12)."""
    from app.domain.money import to_whole

    def read(text: str) -> int:
        try:
            return to_whole(text, "value", low, high)
        except InputError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None

    read.__name__ = "whole number"  # argparse names the type in its message
    return read


#: The ids of rows (ledger entries, drafts, contacts, requests): positive 64-bit integers.
ID_ARG = whole_arg(1, 2**63 - 1)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------
def date_arg(value: str | None, flag: str) -> Any:
    """A date option (``2026-11-20``, ``11/20/2026`` or ``11202026``, read as the desktop's date field reads it),
    or None when it was not given; a bad date is a one-line error naming the flag."""
    from app.domain.date_input import parse_typed_date
    from app.domain.errors import InputError

    if value is None:
        return None
    try:
        return parse_typed_date(value, flag)
    except InputError as exc:
        raise CliError(str(exc)) from None


def cli_error(exc: BaseException) -> CliError:
    """The one-line CliError for a service or database problem."""
    if isinstance(exc, FileRejected) and len(exc.problems) > 1:
        # The one-line error names the first; a file with several problems
        # gets the full list first, so one run shows every fix to make.
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
    if isinstance(exc, StaleDataError):
        return CliError(str(Conflict("The record")))
    if isinstance(exc, SQLAlchemyError) and is_busy(exc):
        # Outside a service's unit of work (which says so itself): busy, not "changed by someone else".
        try:
            waited = busy_timeout()
        except BadBusyTimeout:
            waited = 0.0
        return CliError(str(DatabaseBusy(waited)))
    if not isinstance(exc, ServiceError):
        known = storage_problem(exc)
        if known is not None:
            return CliError(known)
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        text = str(orig if orig is not None else exc).strip()
        return CliError(f"database error: {text.splitlines()[0] if text else type(exc).__name__}")
    return CliError(" ".join(str(exc).split()) or type(exc).__name__)


def run_service(fn: F) -> F:
    """Decorate a handler (or wrap any call) so service errors become one-line CliErrors.

    ServiceError (and its kinds) print as written; a stale edit prints the
    "changed by someone else" message; any other database error prints its
    first line.  A handler returning None exits 0.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
        except CliError:
            raise
        except (ServiceError, StaleDataError, SQLAlchemyError, InputError) as exc:
            raise cli_error(exc) from None
        except OSError as exc:
            known = storage_problem(exc)
            if known is None:
                raise
            raise CliError(known) from None
        return 0 if result is None else result

    return wrapper  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
def to_jsonable(obj: Any) -> Any:
    """Plain JSON values: Decimal as its exact string (services quantize money to
    cents already), dates as ISO, dataclasses and mappings as objects."""
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float):
        # Money is never a float (DESIGN.md); a float here is a bug upstream.
        raise TypeError("refusing to print a float as JSON; use Decimal")
    return obj


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout, keeping the key order given."""
    print(json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False))


# ---------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------
def interactive() -> bool:
    """True when a person is at the terminal (stdin is a TTY)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def prompt_password(prompt: str = "Password: ") -> str:
    return getpass.getpass(prompt)


def new_password(
    env_name: str, what: str, prompt_for: str
) -> str:
    """A new password from ``env_name`` or typed twice at a terminal."""
    from_env = os.environ.get(env_name)
    if from_env:
        return from_env
    if not interactive():
        raise CliError(f"set {env_name} or run interactively to give {what}")
    first = prompt_password(f"New password for {prompt_for}: ")
    second = prompt_password("Again: ")
    if first != second:
        raise CliError("the two passwords differ")
    return first


def ask(prompt: str, default: str | None = None) -> str:
    shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
    try:
        answer = input(shown).strip()
    except EOFError:
        raise CliError("cancelled") from None
    return answer or (default or "")


# ---------------------------------------------------------------------------
# Database and user
# ---------------------------------------------------------------------------
def open_factory(args: argparse.Namespace) -> sessionmaker[Session]:
    """The database named by ``--db`` / $KEEL_DATABASE_URL, upgraded and initialized."""
    url = getattr(args, "db", None)
    try:
        setup.require_existing_book(url)
        return setup.open_database(url, allow_owner=bool(getattr(args, "allow_owner", False)))
    except ServiceError as exc:
        raise cli_error(exc) from None


def username_from(args: argparse.Namespace) -> str | None:
    value = getattr(args, "user", None) or os.environ.get(ENV_USER, "")
    return value.strip() or None


def cli_context(args: argparse.Namespace, *, need_user: bool = True, reading: bool = False) -> ServiceContext:
    """Open the database and sign in; the ServiceContext a command's services take.

    ``need_user=False`` opens the database only; its actor (:data:`NOBODY`)
    has no permissions.  ``reading=True``: a command that only reads (issue
    12); its sign-in does not wait for another desk's SQLite write lock
    (:func:`app.services.users.authenticate`), so it answers while the
    database is busy.
    """
    factory = open_factory(args)
    if not need_user:
        return ServiceContext(factory, NOBODY)
    try:
        if setup.database_is_empty(factory):
            return ServiceContext(factory, _first_admin(factory, args))
        name = username_from(args)
        if name is None:
            if not interactive():
                raise CliError(f"give --user NAME or set {ENV_USER}")
            name = ask("User")
        password = os.environ.get(ENV_PASSWORD)
        if password is None:
            if not interactive():
                raise CliError(f"set {ENV_PASSWORD} or run interactively")
            password = prompt_password(f"Password for {name}: ")
        actor = users.authenticate(factory, name, password, reading=reading)
        if actor.must_change_password and getattr(args, "handler_name", "") != "passwd":
            raise CliError(f"an administrator reset {actor.username}'s password: choose your own first "
                           f"with 'keel user passwd {actor.username}'")
        return ServiceContext(factory, actor)
    except (ServiceError, SQLAlchemyError) as exc:
        raise cli_error(exc) from None


def _first_admin(factory: sessionmaker[Session], args: argparse.Namespace) -> Actor:
    """A database with no users: create its first admin, and act as them."""
    name = username_from(args)
    admin_password = os.environ.get(ENV_ADMIN_PASSWORD)
    if admin_password:
        if name is None:
            raise CliError(f"this database has no users yet: name its first admin with --user or {ENV_USER}")
        full_name = "Administrator"
    elif interactive():
        print("This is a new database with no users: create its first administrator.", file=sys.stderr)
        name = ask("Username", name)
        full_name = ask("Full name")
        admin_password = new_password(ENV_ADMIN_PASSWORD, "the admin's password", name)
    else:
        raise CliError(
            "this database has no users yet: run 'keel init' (or set "
            f"{ENV_ADMIN_PASSWORD} and --user NAME) to create its first admin"
        )
    users.bootstrap_admin(factory, name, full_name, admin_password)
    print(f"Created the first admin, {users.normalize_username(name)}.", file=sys.stderr)
    return users.authenticate(factory, name, admin_password)
