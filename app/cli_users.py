"""``keel init`` and ``keel user add|list|passwd|role|deactivate|activate``."""

from __future__ import annotations

import argparse
import datetime as _dt

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
from app.services import setup, users


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
    passwd.set_defaults(handler=_passwd)

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

    def _help(args: argparse.Namespace) -> int:
        user.print_help()
        return 2

    user.set_defaults(handler=_help)


def _date(text: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


@run_service
def _init(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    factory = setup.open_database(url, initialize=False)
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
        info = setup.initialize_database(factory, kind=setup.PRODUCTION, business_date=args.business_date)
        users.bootstrap_admin(factory, name, full_name, password)
    finally:
        setup.close_database(factory)
    print(
        f"Database at {display_url(url)} is ready: {info.kind}, business date "
        f"{info.business_date.isoformat()}, first admin {users.normalize_username(name)}"
    )
    return 0


@run_service
def _add(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    password = new_password(ENV_NEW_PASSWORD, "the new user's password", args.name)
    info = users.create_user(ctx, args.name, args.full_name, args.role, password)
    print(f"Added {info.username} ({info.role})")
    return 0


@run_service
def _list(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    found = users.list_users(ctx)
    if args.json:
        print_json(found)
        return 0
    rows = [("USERNAME", "FULL NAME", "ROLE", "ACTIVE", "LAST SIGN-IN")]
    for u in found:
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if u.last_login_at else "never"
        rows.append((u.username, u.full_name, u.role, "yes" if u.active else "no", last))
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
