"""``keel init``, ``keel user add|list|passwd|role|deactivate|activate|unlock``, ``keel security``, ``keel permissions``."""

from __future__ import annotations

import argparse
import datetime as _dt
import os
from pathlib import Path

from app.cli import CliError
from app.cli_support import (
    ENV_ADMIN_PASSWORD,
    ENV_NEW_PASSWORD,
    add_db_arg,
    add_db_user_args,
    ask,
    cli_context,
    interactive,
    new_password,
    print_json,
    run_service,
    username_from,
)
from app.db.models import USER_ROLES
from app.db.session import display_url, resolve_url
from app.services import integrity, setup, users


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    init = sub.add_parser(
        "init",
        help="set up a new production database and its first admin",
        description=(
            "Create (or upgrade) the database, give it its first business date and "
            "create its first administrator.  The admin's name is --user (or $KEEL_USER, "
            f"or asked); the password is ${ENV_ADMIN_PASSWORD} or typed twice."
        ),
    )
    add_db_arg(init)
    init.add_argument("--user", metavar="NAME", help="the first admin's username")
    init.add_argument("--full-name", metavar="NAME", help="the first admin's full name")
    init.add_argument(
        "--business-date",
        metavar="YYYY-MM-DD",
        type=_date,
        help="the first open business day (default: today)",
    )
    init.add_argument(
        "--recovery-key-file",
        metavar="PATH",
        help="write the book's recovery key to this new file (created 0600) instead of showing it",
    )
    init.set_defaults(handler=_init)

    user = sub.add_parser("user", help="manage users and roles (admins)")
    user_sub = user.add_subparsers(dest="user_command")
    password_note = f"The new password is ${ENV_NEW_PASSWORD} or typed twice."

    add = user_sub.add_parser("add", help="add a user", description=f"Add a user. {password_note}")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=USER_ROLES)
    add.add_argument("--full-name", required=True, metavar="NAME")
    add_db_user_args(add)
    add.set_defaults(handler=_add)

    lst = user_sub.add_parser("list", help="list users")
    lst.add_argument("--json", action="store_true", help="print JSON")
    add_db_user_args(lst)
    lst.set_defaults(handler=_list)

    passwd = user_sub.add_parser(
        "passwd",
        help="change a password (yours, or anyone's as an admin)",
        description=f"Change a password. {password_note}",
    )
    passwd.add_argument("name", metavar="NAME")
    add_db_user_args(passwd)
    # handler_name: a user whose password an administrator reset may run only this until they choose one.
    passwd.set_defaults(handler=_passwd, handler_name="passwd")

    role = user_sub.add_parser("role", help="change a user's role")
    role.add_argument("name", metavar="NAME")
    role.add_argument("role", metavar="ROLE", choices=USER_ROLES)
    add_db_user_args(role)
    role.set_defaults(handler=_role)

    deactivate = user_sub.add_parser("deactivate", help="stop a user from signing in")
    deactivate.add_argument("name", metavar="NAME")
    add_db_user_args(deactivate)
    deactivate.set_defaults(handler=_deactivate)

    activate = user_sub.add_parser("activate", help="let a deactivated user sign in again")
    activate.add_argument("name", metavar="NAME")
    add_db_user_args(activate)
    activate.set_defaults(handler=_activate)

    unlock = user_sub.add_parser("unlock", help="lift a lockout after too many wrong passwords")
    unlock.add_argument("name", metavar="NAME")
    add_db_user_args(unlock)
    unlock.set_defaults(handler=_unlock)

    def _help(args: argparse.Namespace) -> int:
        user.print_help()
        return 2

    user.set_defaults(handler=_help)

    sec = sub.add_parser("security", help="show or change the sign-in lockout, idle lock, posting limits and "
                         "approval thresholds (admins change them)")
    sec.add_argument("--lockout-attempts", metavar="N", help="wrong passwords in a row before the lockout")
    sec.add_argument("--lockout-minutes", metavar="M", help="how long a lockout lasts")
    sec.add_argument("--idle-lock-minutes", metavar="M", help="lock the desktop after M idle minutes (0: never)")
    sec.add_argument("--limit", action="append", metavar="ROLE=AMOUNT",
                     help="largest payment ROLE posts without approval; ROLE=none removes the limit (repeatable)")
    sec.add_argument("--waiver-approval-above", metavar="AMOUNT", help="waivers above this need approval")
    sec.add_argument("--override-approval-above", metavar="AMOUNT",
                     help="allocation overrides of payments above this need approval")
    sec.add_argument("--json", action="store_true")
    add_db_user_args(sec)
    sec.set_defaults(handler=_security)

    perms = sub.add_parser("permissions", help="print the permission matrix (role by action)")
    perms.add_argument("--json", action="store_true")
    perms.set_defaults(handler=_permissions)


def _date(text: str) -> _dt.date:
    """A typed date, read as every date field reads one (years 1900 to 2199, ASCII digits)."""
    from app.domain.date_input import parse_typed_date
    from app.domain.errors import InputError

    try:
        return parse_typed_date(text, "date")
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.problem) from None


@run_service
def _init(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    # Setting up a book is the owner's work (docs/security.md): no owner refusal here.
    factory = setup.open_database(url, initialize=False, allow_owner=True)
    try:
        if not setup.database_is_empty(factory):
            raise CliError(f"the database at {display_url(url)} is already set up; sign in with --user")
        name = username_from(args)
        if name is None:
            if not interactive():
                raise CliError("give the first admin's name with --user NAME")
            name = ask("Admin username")
        full_name = args.full_name
        if not full_name:
            full_name = ask("Full name") if interactive() else "Administrator"
        password = new_password(ENV_ADMIN_PASSWORD, "the first admin's password", name)
        # Check the admin's details before writing the settings, so a bad name
        # or short password leaves the database as it was.
        users.normalize_username(name)
        target = _recovery_target(args.recovery_key_file)
        info = setup.initialize_database(factory, kind=setup.PRODUCTION, business_date=args.business_date)
        users.bootstrap_admin(factory, name, full_name, password)
        print(
            f"Database at {display_url(url)} is ready: {info.kind}, business date "
            f"{info.business_date.isoformat()}, first admin {users.normalize_username(name)}"
        )
        recovery = integrity.recovery_key_to_show(factory)
        if recovery is not None:
            _hand_over_recovery_key(recovery, target)
            integrity.recovery_key_shown(factory, None, "file" if target is not None else "keel init")
    finally:
        setup.close_database(factory)
    return 0


def _recovery_target(path_text: str | None) -> Path | None:
    if path_text is None:
        return None
    path = Path(path_text)
    if path.exists():
        raise CliError(f"--recovery-key-file: {path} already exists; name a new file")
    if not path.parent.is_dir():
        raise CliError(f"--recovery-key-file: no folder {path.parent}")
    return path


def _hand_over_recovery_key(recovery: str, target: Path | None) -> None:
    """The recovery key, once: to a new 0600 file, or on the terminal with what it is for."""
    if target is not None:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(recovery + "\n")
        print(f"The book's recovery key is in {target} (readable by you only). Keep it apart from this computer "
              "and delete the file once it is safe: with it, a backup of this book can be read on a new machine "
              "(keel keys restore).")
        return
    print()
    print("Recovery key (shown only now; write it down and keep it apart from this computer):")
    print(f"    {recovery}")
    print("A backup of this book can be read on a new machine only with it (keel keys restore).")


@run_service
def _add(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    password = new_password(ENV_NEW_PASSWORD, "the new user's password", args.name)
    info = users.create_user(ctx, args.name, args.full_name, args.role, password)
    print(f"Added {info.username} ({info.role})")
    return 0


@run_service
def _list(args: argparse.Namespace) -> int:
    ctx = cli_context(args, reading=True)
    found = users.list_users(ctx)
    if args.json:
        print_json(found)
        return 0
    rows = [("USERNAME", "FULL NAME", "ROLE", "ACTIVE", "LAST SIGN-IN", "NOTE")]
    for u in found:
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if u.last_login_at else "never"
        note = "; ".join(n for n, on in (("locked out", u.locked()), ("password reset: must change it",
                                                                      u.must_change_password)) if on)
        rows.append((u.username, u.full_name, u.role, "yes" if u.active else "no", last, note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


@run_service
def _passwd(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    password = new_password(ENV_NEW_PASSWORD, "the new password", args.name)
    users.set_password(ctx, args.name, password)
    print(f"Changed the password of {users.normalize_username(args.name)}")
    return 0


@run_service
def _role(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    info = users.set_role(ctx, args.name, args.role)
    print(f"{info.username} is now {info.role}")
    return 0


@run_service
def _deactivate(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    info = users.deactivate_user(ctx, args.name)
    print(f"Deactivated {info.username}")
    return 0


@run_service
def _activate(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    info = users.reactivate_user(ctx, args.name)
    print(f"Activated {info.username}")
    return 0


@run_service
def _unlock(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    info = users.unlock_user(ctx, args.name)
    print(f"Unlocked {info.username}")
    return 0


@run_service
def _security(args: argparse.Namespace) -> int:
    import dataclasses

    from app.services import security

    names = ("lockout_attempts", "lockout_minutes", "idle_lock_minutes", "waiver_approval_above",
             "override_approval_above")
    showing = not args.limit and all(getattr(args, name) is None for name in names)
    ctx = cli_context(args, reading=showing)
    current = security.security_settings(ctx)
    changes: dict[str, object] = {}
    for name in names:
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.limit:
        limits = dict(current.payment_limits)
        for item in args.limit:
            role, _, amount = item.partition("=")
            if not amount:
                raise CliError(f"--limit: {item!r} is not ROLE=AMOUNT (e.g. clerk=10000.00)")
            if amount.strip().lower() == "none":
                limits.pop(role.strip().lower(), None)
            else:
                limits[role.strip().lower()] = amount.strip()  # type: ignore[assignment]
        changes["payment_limits"] = limits
    if changes:
        current = security.save_security_settings(ctx, dataclasses.replace(current, **changes))  # type: ignore[arg-type]
    if args.json:
        print_json(current.as_dict())
        return 0
    print(f"Lockout: {current.lockout_attempts} wrong passwords in a row lock an account for "
          f"{current.lockout_minutes} minutes")
    print("Idle lock: " + (f"after {current.idle_lock_minutes} minutes" if current.idle_lock_minutes else "off"))
    for role in ("clerk", "collector", "manager", "admin"):
        limit = current.payment_limit(role)
        print(f"Posting limit, {role}: " + (f"${limit:,}" if limit is not None else "none"))
    print(f"Waivers above ${current.waiver_approval_above:,} and overrides of payments above "
          f"${current.override_approval_above:,} need a second user's approval")
    return 0


def _permissions(args: argparse.Namespace) -> int:
    from app.services import permissions

    if args.json:
        print_json({perm: {"action": text, **dict(zip(permissions.ROLES, held, strict=True))}
                    for perm, text, held in permissions.matrix_rows()})
    else:
        print(permissions.markdown_table(), end="")
    return 0
