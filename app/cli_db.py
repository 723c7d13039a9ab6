"""``keel db upgrade`` and ``keel db current``."""

from __future__ import annotations

import argparse

from sqlalchemy.exc import SQLAlchemyError

from app.cli import CliError
from app.db.migrate import (
    DatabaseTooNew,
    MigrationError,
    database_status,
    prepare_database,
)
from app.db.session import display_url, make_engine, resolve_url, sqlite_path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="create, upgrade or inspect the database")
    db_sub = db.add_subparsers(dest="db_command")

    up = db_sub.add_parser(
        "upgrade",
        help="create the database or bring it to this Keel's schema (backs up a SQLite file first)",
    )
    _add_db_option(up)
    up.set_defaults(handler=_upgrade)

    current = db_sub.add_parser("current", help="show the database's schema revision")
    _add_db_option(current)
    current.set_defaults(handler=_current)

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
        prepared = prepare_database(url)
    except (DatabaseTooNew, MigrationError) as exc:
        raise CliError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise CliError(f"cannot upgrade the database at {shown}: {_reason(exc)}") from None
    prepared.engine.dispose()
    if prepared.backup is not None:
        print(f"Backed up the database to {prepared.backup}")
    print(f"Database at {shown} is at revision {prepared.revision} (head)")
    return 0


def _current(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    shown = display_url(url)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise CliError(f"no database at {shown}; create it with: keel db upgrade")
    engine = make_engine(url)
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


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
