"""Keel from a terminal: the same services the desktop calls, for batch jobs and scripting.

Every command prints either its result or one line ``keel: error: ...`` on stderr and
exits non-zero; a traceback is never the answer to bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's name
        raise CliError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="keel", description="Keel loan servicing")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    # Each command module adds its sub-parser and sets ``handler``.
    from app import cli_engine

    cli_engine.register(sub)
    for name in ("cli_db", "cli_gui", "cli_users", "cli_loans", "cli_actions", "cli_board", "cli_eod", "cli_demo",
                 "cli_collections", "cli_letters", "cli_dashboard", "cli_audit", "cli_requests", "cli_keys",
                 "cli_people", "cli_search", "cli_settings", "cli_gl", "cli_report"):
        try:
            module = __import__(f"app.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"app.{name}":
                raise
            continue
        module.register(sub)
    return parser


def _tell_busy(text: str) -> None:
    print(f"keel: {text[:1].lower()}{text[1:]}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        if not args_list:
            args_list = ["gui"]
        args = parser.parse_args(args_list)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return 2
        from app.services.errors import busy_notices

        # A unit of work waiting for another desk's SQLite write lock says so on stderr (issue 12).
        with busy_notices(_tell_busy):
            return handler(args)
    except CliError as exc:
        _say(str(exc))
        return 2
    except BrokenPipeError:
        # The reader went away (``keel ... | head``): not an error worth a traceback.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("keel: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- the last line of defence: never a traceback (issue 12)
        return _unexpected(exc)


def _say(message: str) -> None:
    """``keel: error: ...`` on one line, whatever the message held (a typed new line, a tab)."""
    print(f"keel: error: {' '.join(message.split())}", file=sys.stderr)


def _unexpected(exc: Exception) -> int:
    """A problem no handler turned into a message: a full disk, a damaged file, bad input a service let
    through, or a bug.  One line on stderr; a bug's traceback goes to the log file (or the terminal with
    KEEL_DEBUG=1), never to the person running the command."""
    import os

    from app.domain.errors import InputError
    from app.services.errors import ServiceError, storage_problem

    if os.environ.get("KEEL_DEBUG"):
        raise exc
    if isinstance(exc, (InputError, ServiceError)):
        _say(str(exc))
        return 2
    known = storage_problem(exc)
    if known is not None:
        _say(known)
        return 2
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        text = str(orig if orig is not None else exc).strip()
        _say(f"database error: {text.splitlines()[0] if text else type(exc).__name__}")
        return 2
    if isinstance(exc, RecursionError):
        _say("the input is nested too deeply to read")
        return 2
    if isinstance(exc, MemoryError):
        _say("the input is too large to read into memory")
        return 2
    where = _log_unexpected(exc)
    _say(f"something went wrong that Keel did not expect ({type(exc).__name__}); nothing was saved"
         + (f"; the details are in {where}" if where else ""))
    return 70  # EX_SOFTWARE


def _log_unexpected(exc: Exception) -> str | None:
    """Append the traceback to keel-cli.log in the user's log folder; its path, or None if that failed."""
    import datetime
    import traceback
    from pathlib import Path

    try:
        import platformdirs

        folder = Path(platformdirs.user_log_dir("Keel", "Keel"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "keel-cli.log"
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {datetime.datetime.now().isoformat(timespec='seconds')} keel {' '.join(sys.argv[1:2])}\n")
            log.write("".join(traceback.format_exception(exc)))
        return str(path)
    except Exception:  # noqa: BLE001 -- a log we cannot write must not become the traceback
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
