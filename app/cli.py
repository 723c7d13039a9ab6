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
                 "cli_people", "cli_report"):
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
        print(f"keel: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (``keel ... | head``): not an error worth a traceback.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("keel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
