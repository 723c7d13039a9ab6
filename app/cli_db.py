"""``keel db upgrade``, ``keel db current`` and ``keel db roles``."""

from __future__ import annotations

import argparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.cli import CliError
from app.db.migrate import (
    DatabaseTooNew,
    MigrationError,
    database_status,
    prepare_database,
)
from app.db.session import BadBusyTimeout, display_url, make_engine, resolve_url, sqlite_path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="create, upgrade or inspect the database")
    db_sub = db.add_subparsers(dest="db_command")

    up = db_sub.add_parser(
        "upgrade",
        help="create the database or bring it to this Keel's schema (backs it up first: a copy of a SQLite "
        "file, pg_dump of PostgreSQL)",
    )
    _add_db_option(up)
    up.add_argument(
        "--i-have-a-backup",
        action="store_true",
        help="upgrade PostgreSQL even when Keel cannot back it up with pg_dump (also $KEEL_I_HAVE_A_BACKUP=1)",
    )
    up.set_defaults(handler=_upgrade)

    current = db_sub.add_parser("current", help="show the database's schema revision")
    _add_db_option(current)
    current.set_defaults(handler=_current)

    roles = db_sub.add_parser(
        "roles",
        help="print (or --apply) the SQL for PostgreSQL's least-privilege owner and desk roles",
        description="Print the SQL that gives a shared PostgreSQL database an owner role (owns the schema, "
        "runs keel db upgrade) and a desk role (the desks' login: no DDL, and only SELECT and INSERT on the "
        "append-only books), or run it with --apply.  Both roles must exist; no password is ever part of it. "
        "See docs/security.md.",
    )
    roles.add_argument("--desk-role", metavar="NAME", required=True, help="the role the desks sign in as")
    roles.add_argument("--owner-role", metavar="NAME", required=True, help="the role that owns the schema and tables")
    roles.add_argument("--schema", metavar="NAME", default="public", help="the schema Keel's tables are in (public)")
    roles.add_argument(
        "--apply",
        action="store_true",
        help="run it in one transaction on --db as the connected user (a superuser or the owner role)",
    )
    _add_db_option(roles)
    roles.set_defaults(handler=_roles)

    def _help(args: argparse.Namespace) -> int:
        db.print_help()
        return 2

    db.set_defaults(handler=_help)


def _add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: KEEL_DATABASE_URL, else keel.sqlite3 in your data folder)",
    )


def _upgrade(args: argparse.Namespace) -> int:
    from app.services.errors import ServiceError
    from app.services.setup import check_book_file

    url = resolve_url(args.db)
    shown = display_url(url)
    try:
        check_book_file(url)  # an empty, foreign or damaged file is not upgraded (issue 12)
    except ServiceError as exc:
        raise CliError(str(exc)) from None
    try:
        prepared = prepare_database(url, i_have_a_backup=args.i_have_a_backup)
    except (DatabaseTooNew, MigrationError, BadBusyTimeout) as exc:
        raise CliError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise CliError(f"cannot upgrade the database at {shown}: {_reason(exc)}") from None
    prepared.engine.dispose()
    if prepared.backup is not None:
        print(f"Backed up the database to {prepared.backup}")
    if prepared.backup_skipped is not None:
        print(f"Not backed up by Keel ({prepared.backup_skipped}); upgraded on your word that you have a backup")
    print(f"Database at {shown} is at revision {prepared.revision} (head)")
    return 0


def _current(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    shown = display_url(url)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise CliError(f"no database at {shown}; create it with: keel db upgrade")
    try:
        engine = make_engine(url)
    except BadBusyTimeout as exc:
        raise CliError(str(exc)) from None
    try:
        status = database_status(engine)
    except SQLAlchemyError as exc:
        raise CliError(f"cannot open the database at {shown}: {_reason(exc)}") from None
    finally:
        engine.dispose()
    if status.state == "too_new":
        raise CliError(str(DatabaseTooNew(status.revision or "?")))
    if status.state == "empty":
        print(
            f"Database at {shown} has no Keel schema yet (head is {status.head}); "
            "run: keel db upgrade"
        )
    elif status.state == "behind":
        print(
            f"Database at {shown} is at revision {status.revision} "
            f"(behind head {status.head}); run: keel db upgrade"
        )
    else:
        print(f"Database at {shown} is at revision {status.revision} (head)")
    return 0


def _roles(args: argparse.Namespace) -> int:
    from app.db import roles

    try:
        script = roles.render_script(args.desk_role, args.owner_role, args.schema)
        statements = roles.role_statements(args.desk_role, args.owner_role, args.schema)
    except roles.RoleNameError as exc:
        raise CliError(str(exc)) from None
    if not args.apply:
        print(script, end="")
        return 0
    url = resolve_url(args.db)
    shown = display_url(url)
    if make_url(url).get_backend_name() != "postgresql":
        raise CliError(
            f"{shown} is not PostgreSQL: roles are for a shared PostgreSQL server (on SQLite Keel detects "
            "tampering by whoever holds the file; it cannot prevent it)")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            roles.execute(connection, statements)
    except SQLAlchemyError as exc:
        raise CliError(f"cannot apply the roles at {shown}: {_reason(exc)}") from None
    finally:
        engine.dispose()
    print(f"Applied the least-privilege roles at {shown}: owner {args.owner_role}, desk {args.desk_role}")
    return 0


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
