"""CLI: ``keel demo [--loans N] [--seed S] [--days D] [--db URL]`` builds the demo portfolio."""

from __future__ import annotations

import argparse
import sys
import time

from app.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from app.cli_support import whole_arg

    demo = sub.add_parser("demo", help="build the demo portfolio in a new database")
    demo.add_argument("--loans", type=whole_arg(1, 1_000_000), default=200, help="how many loans (default 200)")
    demo.add_argument("--seed", type=whole_arg(0, 2**63 - 1), default=7, help="random seed: the same seed builds the same book")
    demo.add_argument("--days", type=whole_arg(1, 3650), default=90, help="business days lived with end of day (default 90)")
    demo.add_argument("--db", help="database URL (default: keel-demo.sqlite3 in your data folder)")
    demo.add_argument("--replace", action="store_true", help="delete an existing demo SQLite file first")
    demo.add_argument("--if-missing", action="store_true", help="do nothing if the demo database already exists")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from app.db.session import display_url, sqlite_path
    from app.services.demo import build_demo, demo_database_url
    from app.services.errors import ServiceError
    from app.services.setup import close_database, open_database

    if args.loans < 1 or args.loans > 1_000_000:
        raise CliError(f"--loans: {args.loans} is outside 1 to 1,000,000")
    if args.days < 1 or args.days > 3650:
        raise CliError(f"--days: {args.days} is outside 1 to 3,650")
    url = args.db or demo_database_url()
    path = sqlite_path(url)
    if args.if_missing and path is not None and path.exists() and not args.replace:
        return 0
    if args.replace and path is not None and path.exists():
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    shown = {"label": ""}
    began = time.perf_counter()

    def progress(done: int, total: int, label: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{label}: {done:,}/{total:,}   ", end="", file=sys.stderr, flush=True)
        elif label != shown["label"]:
            print(f"{label}...", file=sys.stderr)
        shown["label"] = label

    try:
        # Building a book is the owner's work, like migrating it: no owner refusal here.
        factory = open_database(url, initialize=False, allow_owner=True)
        try:
            result = build_demo(factory, loans=args.loans, seed=args.seed, days=args.days, progress=progress)
        finally:
            close_database(factory)
    except ServiceError as exc:
        raise CliError(str(exc)) from None
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(
        f"Demo portfolio: {result.loans:,} loans on {display_url(url)} in {time.perf_counter() - began:.1f} s "
        f"(boarding {result.board_seconds:.1f} s, {args.days} business days lived in {result.live_seconds:.1f} s; "
        f"{result.payments_posted:,} payments, {result.reversals} reversals, {result.contacts} contacts).\n"
        f"Business date {result.business_date}. Sign in as admin, manager, clerk or collector; the password is 'demo'."
    )
    return 0
