"""Sessions that hold (issue 11, item 7): what re-reading the actor in every unit of work costs.

    python benchmarks/bench_sessions.py [--db URL] [--runs 2000]

Prints the median time of an empty read-only unit of work with the actor
check (``ServiceContext.unit``) and without it (``unit_of_work``), the
difference per unit, and the median of posting one payment and of checking a
password (sign-in, approval: argon2id with its production parameters).
Uses the demo database (``keel demo``) unless ``--db`` names another; a
payment posted here is posted for real, so it works on a copy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from app.db.session import unit_of_work
from app.services import demo, search, servicing, setup, users
from app.services.context import ServiceContext
from app.services.errors import NeedsApproval


def _median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a copy of the demo database)")
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="keel-bench-"))
    url = args.db
    if url is None:
        source = demo.demo_database_url().removeprefix("sqlite:///")
        if not Path(source).exists():
            raise SystemExit("build the demo database first: keel demo")
        shutil.copy(source, folder / "demo.sqlite3")
        url = f"sqlite:///{folder / 'demo.sqlite3'}"
    factory = setup.open_database(url)
    try:
        ctx = ServiceContext(factory, users.authenticate(factory, "clerk", users.DEMO_PASSWORD))

        def checked() -> None:
            with ctx.unit(write=False):
                pass

        def plain() -> None:
            with unit_of_work(factory, write=False):
                pass

        with_check, without = _median_ms(checked, args.runs), _median_ms(plain, args.runs)
        print(f"read unit of work, {args.runs} runs: {with_check:.3f} ms with the actor check, "
              f"{without:.3f} ms without; the check costs {with_check - without:.3f} ms a unit")
        loans = [hit.loan_number for hit in search.search_loans(ctx, "KL-1", limit=20)]
        count = iter(range(10**6))

        def pay() -> None:
            number = loans[next(count) % len(loans)]
            try:
                servicing.post_payment(ctx, number, "1.00", reference=f"BENCH-{next(count)}")
            except NeedsApproval:  # a paid-off demo loan: $1.00 is above its payoff
                pass

        print(f"post one $1.00 payment: {_median_ms(pay, 40):.1f} ms median of 40")
        print(f"check a password (sign-in): {_median_ms(lambda: users.authenticate(factory, 'clerk', 'demo'), 10):.1f}"
              " ms median of 10 (argon2id, production parameters)")
    finally:
        setup.close_database(factory)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
