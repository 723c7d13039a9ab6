"""``keel keys status`` and ``keel keys restore``: the book's key, kept outside the database.

The key seals the audit trail and encrypts personal data at rest.  ``status``
says where this machine keeps it and whether it holds this book's key (never
the key).  ``restore`` puts it back on a new machine, or after a restore of a
backup, from the recovery key shown once when the book was set up: typed at
the prompt (not echoed), or read from a file with ``--from-file`` -- never as
an argument, which other local users could read in the process list.
``recovery --file PATH`` (admins, audited) writes the recovery key to a new
0600 file, for a book that got its key when this Keel upgraded it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli import CliError
from app.cli_support import (
    add_db_arg,
    add_db_user_args,
    cli_context,
    interactive,
    print_json,
    prompt_password,
    run_service,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("keys", help="the book's key: where it is kept; restore it from the recovery key")
    keys_sub = parser.add_subparsers(dest="keys_command")

    status = keys_sub.add_parser("status", help="where this machine keeps the book's key, and whether it has it")
    add_db_arg(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_status)

    restore = keys_sub.add_parser(
        "restore", help="keep the book's key on this machine, from its recovery key",
        description="Typed at the prompt, or --from-file PATH (a file holding the recovery key).")
    add_db_arg(restore)
    restore.add_argument("--from-file", metavar="PATH", help="read the recovery key from this file")
    restore.set_defaults(handler=_restore)

    recovery = keys_sub.add_parser(
        "recovery", help="write the book's recovery key to a new file (admins; audited; never shown on screen)")
    recovery.add_argument("--file", required=True, metavar="PATH", help="the new file (created 0600)")
    add_db_user_args(recovery)
    recovery.set_defaults(handler=_recovery)

    def _help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=_help)


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from app.services import setup

    return setup.open_database(args.db, initialize=False)


@run_service
def _status(args: argparse.Namespace) -> int:
    from app.services import setup
    from app.services.integrity import key_status

    factory = _open(args)
    try:
        status = key_status(factory)
    finally:
        setup.close_database(factory)
    if args.json:
        print_json(status)
    elif status.present:
        print(f"This machine holds the key of book {status.book_id} ({status.kept_in}).")
        if not status.recovery_handed_over:
            print("Its recovery key has never been saved: an admin runs `keel keys recovery --file PATH`.")
    else:
        print(f"Book {status.book_id or '(none)'}: {status.problem}.")
    return 0 if status.present else 1


@run_service
def _restore(args: argparse.Namespace) -> int:
    from app.services import setup
    from app.services.integrity import restore_key

    if args.from_file:
        try:
            text = Path(args.from_file).read_text(encoding="utf-8", errors="replace")[:4096]
        except OSError as exc:
            raise CliError(f"--from-file: cannot read {args.from_file}: {exc.strerror or exc}") from None
    elif interactive():
        text = prompt_password("Recovery key: ")
    else:
        text = sys.stdin.read(4096)
    factory = _open(args)
    try:
        status = restore_key(factory, text)
    finally:
        setup.close_database(factory)
    print(f"The key of book {status.book_id} is kept on this machine ({status.kept_in}).")
    return 0


@run_service
def _recovery(args: argparse.Namespace) -> int:
    from app.services.integrity import save_recovery_key

    path = save_recovery_key(cli_context(args), Path(args.file))
    print(f"The book's recovery key is in {path} (readable by you only). Keep it apart from this computer, then "
          "delete the file.")
    return 0
