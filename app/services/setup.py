"""Opening a database for work: the start-up path shared by the desktop and the CLI.

:func:`open_database` finds the database (``--db``, ``KEEL_DATABASE_URL`` or
the default SQLite file), brings its schema to this Keel (a SQLite file that
is behind is backed up first; a database written by a newer Keel is refused),
and makes sure it has a business date and a kind.  Whether it has any user
yet is :func:`database_is_empty`; the first admin is then made with
:func:`app.services.users.bootstrap_admin`.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.db import keys, personal
from app.db.migrate import MigrationError, prepare_database
from app.db.models import DATABASE_KINDS, SETTING_RULES_REVISION, User
from app.db.session import BadBusyTimeout, display_url, resolve_url, session_factory
from app.db.settings import (
    get_business_date,
    get_database_kind,
    get_setting,
    set_business_date,
    set_database_kind,
    set_setting,
)
from app.domain.engine import RULES_REVISION
from app.services import audit
from app.services.context import unit_of_work
from app.services.errors import InvalidInput, ServiceError

PRODUCTION = "production"
DEMO = "demo"


@dataclass(frozen=True)
class DatabaseInfo:
    kind: str
    business_date: _dt.date


def open_database(url: str | None = None, *, initialize: bool = True, allow_owner: bool = False) -> sessionmaker[Session]:
    """Open and upgrade the database at ``url`` (resolved as ``--db`` would be).

    With ``initialize`` (the default) a database without a business date or
    kind gets today's date and the kind ``production``; ``keel init`` passes
    False and sets them itself.  On PostgreSQL a login that owns the books is
    refused (:func:`_check_not_owner`) unless ``allow_owner`` (the set-up verbs
    ``keel init`` and ``keel demo``, and ``--allow-owner``) or
    ``KEEL_ALLOW_OWNER=1``.  Every problem is a one-line ServiceError.
    Close it with :func:`close_database`.
    """
    resolved = resolve_url(url)
    shown = display_url(resolved)
    check_book_file(resolved)
    try:
        prepared = prepare_database(resolved)
    except BadBusyTimeout as exc:
        raise ServiceError(str(exc)) from None
    except MigrationError as exc:  # includes DatabaseTooNew: its message says what to do
        raise ServiceError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise ServiceError(f"cannot open the database at {shown}: {_reason(exc)}") from None
    try:
        _check_append_only(prepared.engine, shown)
        if not (allow_owner or os.environ.get(ENV_ALLOW_OWNER, "").strip().lower() in ("1", "true", "yes", "on")):
            _check_not_owner(prepared.engine, shown)
    except BaseException:
        prepared.engine.dispose()
        raise
    factory = session_factory(prepared.engine)
    if initialize:
        try:
            initialize_database(factory)
        except BaseException:
            prepared.engine.dispose()
            raise
    return factory


#: The SQLite triggers that keep the books append-only (migrations 0001, 0002, 0008, 0011, 0015).
APPEND_ONLY_TABLES = ("ledger_entries", "notes", "audit_events", "contacts", "letters", "letter_templates",
                      "loan_flag_events", "month_end_snapshots", "ledger_day_totals")


def _check_append_only(engine: Engine, shown: str) -> None:
    """Refuse a SQLite book whose append-only triggers are gone (issue 12): someone holding the file dropped
    them, and Keel cannot vouch for its books.  On SQLite Keel detects this; it cannot prevent it."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        present = set(connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
    wanted = [f"{t}_{kind}" for t in APPEND_ONLY_TABLES for kind in ("no_update", "no_delete", "no_replace")]
    missing = [name for name in wanted if name not in present]
    if missing:
        raise ServiceError(
            f"The database at {shown} has lost {len(missing)} of the triggers that keep its books append-only "
            f"(first: {missing[0]}); it may have been tampered with. Keel will not open it: restore a backup")


#: Set to 1 to let a desk work as the owner of a PostgreSQL database's tables (``--allow-owner``).
ENV_ALLOW_OWNER = "KEEL_ALLOW_OWNER"


def _check_not_owner(engine: Engine, shown: str) -> None:
    """Refuse to do desk work on PostgreSQL as a login that could rewrite the books (issue 12).

    The owner of the tables (or a superuser) can disable the append-only triggers and then
    edit or delete the ledger and the audit trail; desks sign in as a least-privilege desk
    role instead (``keel db roles``, docs/security.md).  Migrations and set-up legitimately
    run as the owner: they pass ``allow_owner``.
    """
    if engine.dialect.name != "postgresql":
        return
    from app.db.roles import owner_privilege

    try:
        with engine.connect() as connection:
            who = owner_privilege(connection)
    except SQLAlchemyError as exc:
        raise ServiceError(f"cannot open the database at {shown}: {_reason(exc)}") from None
    if who is not None:
        raise ServiceError(
            f"Keel will not do desk work on {shown} as {who}: that login could rewrite the books. Sign the "
            f"desks in as a least-privilege desk role (set one up with keel db roles), or work as the owner "
            f"anyway with --allow-owner or {ENV_ALLOW_OWNER}=1")


def check_book_file(url: str) -> None:
    """Refuse a SQLite book file that is empty, not SQLite, or damaged, naming the latest backup (issue 12).

    Run before anything opens the file, so a damaged book is never upgraded, initialized or written
    to (``PRAGMA quick_check``; ``keel verify`` runs the full integrity check).  A file that does not
    exist yet passes: whether a command may create a book is its own decision (``keel init``,
    ``keel demo`` and the desktop's first run do; :func:`require_existing_book` refuses for the rest).
    Other databases pass unchecked.
    """
    from app.db import integrity
    from app.db.session import sqlite_path

    path = sqlite_path(url)
    if path is None or not path.exists():
        return
    problem = integrity.file_problem(path)
    if problem is None:
        found = integrity.quick_check(path)
        if found:
            more = f"; and {len(found) - 1} more problems" if len(found) > 1 else ""
            problem = f"is damaged ({found[0]}{more})"
    if problem is not None:
        raise ServiceError(f"The book at {path} {problem}. Keel will not open it: {integrity.backup_advice(path)}")


def require_existing_book(url: str | None) -> None:
    """Refuse a SQLite book that does not exist: only ``keel init`` (and ``keel demo``, ``keel db upgrade``)
    create one, so a mistyped path is reported rather than made into a new, empty book (issue 12)."""
    from app.db.session import sqlite_path

    resolved = resolve_url(url)
    path = sqlite_path(resolved)
    if path is not None and not path.exists():
        raise ServiceError(f"There is no Keel book at {path}; check the path, or create a new book there with "
                           "'keel init'")


def close_database(factory: sessionmaker[Session]) -> None:
    """Release the connections of a factory made by :func:`open_database`."""
    bind = factory.kw.get("bind")
    dispose = getattr(bind, "dispose", None)
    if dispose is not None:
        dispose()


def initialize_database(
    factory: sessionmaker[Session],
    kind: str | None = None,
    business_date: _dt.date | None = None,
) -> DatabaseInfo:
    """Give the database a kind and a business date where it has none.

    ``kind`` defaults to ``production`` and ``business_date`` to today's date
    (the first business day is the day the book opens).  An explicit value
    different from the stored one is accepted only while the database has no
    users -- before anyone could have posted on it; afterwards only end of
    day moves the business date, and a production book never becomes a demo.
    """
    if kind is not None and kind not in DATABASE_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(DATABASE_KINDS)}; got {kind!r}")
    # Every start-up passes here: a book that needs nothing is only read, so opening it never
    # waits for another desk's write lock (issue 12); otherwise the write unit checks again.
    with unit_of_work(factory, write=False) as session:
        ready = _initialized(session, kind, business_date)
    if ready is not None:
        return ready
    with unit_of_work(factory, write=True) as session:
        stored_kind = get_database_kind(session)
        stored_date = get_business_date(session)
        empty = _no_users(session)
        changes: dict[str, str] = {}

        if stored_kind is None or (kind is not None and kind != stored_kind):
            new_kind = kind or PRODUCTION
            if stored_kind is not None and not empty:
                raise ServiceError(
                    f"This database is already a {stored_kind} database and has users; "
                    f"it cannot become a {new_kind} database"
                )
            set_database_kind(session, new_kind)
            changes["kind"] = new_kind
            stored_kind = new_kind

        if stored_date is None or (business_date is not None and business_date != stored_date):
            new_date = business_date or _dt.date.today()
            if stored_date is not None and not empty:
                raise ServiceError(
                    f"This database's business date is already {stored_date.isoformat()}; "
                    "only end of day moves it"
                )
            set_business_date(session, new_date)
            changes["business_date"] = new_date.isoformat()
            stored_date = new_date

        if empty and get_setting(session, SETTING_RULES_REVISION) is None:
            # A new book is derived under this Keel's servicing rules from its first entry.
            set_setting(session, SETTING_RULES_REVISION, str(RULES_REVISION))
            changes["servicing_rules_revision"] = str(RULES_REVISION)
        _book_keys(session)  # a new book gets its key (kept outside the database) before its first audit row
        sealed = personal.seal_legacy(session)  # a book from before revision 0013 had them in the clear
        if changes:
            audit.record(session, None, "database.initialized", entity="settings", details=changes)
        if sealed:
            audit.record(session, None, "personal_data.sealed", entity="persons", details={"people": sealed})
        return DatabaseInfo(stored_kind, stored_date)


def _book_keys(session: Session) -> keys.BookKeys:
    try:
        return keys.book_keys(session)[0]
    except keys.BookKeyProblem as exc:
        raise ServiceError(str(exc)) from None


def _initialized(session: Session, kind: str | None, business_date: _dt.date | None) -> DatabaseInfo | None:
    """The database's info when :func:`initialize_database` would change nothing; else None."""
    stored_kind = get_database_kind(session)
    stored_date = get_business_date(session)
    if stored_kind is None or stored_date is None:
        return None
    if (kind is not None and kind != stored_kind) or (business_date is not None and business_date != stored_date):
        return None
    if get_setting(session, SETTING_RULES_REVISION) is None and _no_users(session):
        return None
    if get_setting(session, keys.SETTING_BOOK_ID) is None or get_setting(session, keys.SETTING_KEY_CHECK) is None:
        return None  # the book gets its key
    _book_keys(session)  # the key must be on this machine (read only: the book already has one)
    if personal.has_legacy(session):
        return None  # plain personal data to seal
    return DatabaseInfo(stored_kind, stored_date)


def database_info(factory: sessionmaker[Session]) -> DatabaseInfo | None:
    """The kind and business date, or None if the database was never initialized."""
    with unit_of_work(factory, write=False) as session:
        kind = get_database_kind(session)
        day = get_business_date(session)
    if kind is None or day is None:
        return None
    return DatabaseInfo(kind, day)


def database_is_empty(factory: sessionmaker[Session]) -> bool:
    """True while the database has no user at all (its first run)."""
    with unit_of_work(factory, write=False) as session:
        return _no_users(session)


def _no_users(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(User))


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def test_connection(url: str) -> str:
    """Connect to ``url`` and say what is there, changing nothing (no upgrade, no set-up).

    Returns a one-line description; a problem is a one-line ServiceError.
    """
    from sqlalchemy import text as sql

    from app.db.migrate import current_revision, head_revision
    from app.db.session import display_url, make_engine

    shown = display_url(url)
    try:
        engine = make_engine(url)
    except Exception as exc:  # a malformed URL or a missing driver
        raise ServiceError(f"{shown}: {exc}") from None
    try:
        with engine.connect() as connection:
            connection.execute(sql("SELECT 1"))
            revision = current_revision(connection)
    except SQLAlchemyError as exc:
        raise ServiceError(f"cannot reach {shown}: {_reason(exc)}") from None
    finally:
        engine.dispose()
    head = head_revision()
    if revision is None:
        return f"Connected to {shown}: an empty database; Keel will set it up on first use"
    if revision == head:
        return f"Connected to {shown}: a Keel database, up to date"
    return f"Connected to {shown}: a Keel database at revision {revision}; Keel will upgrade it to {head}"
