"""Booked-ledger benchmark (issue 9): the stronger verify, and a year of end of day on the demo book.

    python benchmarks/bench_books.py [--loans 200] [--days 90] [--year 365] [--db URL]

Builds the demo portfolio through the services (``keel demo`` defaults), then:

1. times ``verify`` in one process — the cache check plus the booked-ledger
   check (booked sums by part in one ``GROUP BY`` per chunk against the replay
   less the memo) — and the booked-sums query on its own, per 10,000 loans;
2. closes ``--year`` more business days with ``run_eod`` (no further payments:
   loans go delinquent, to non-accrual and are charged off on the way);
3. verifies again: the run passes only if booked ledger = replay for every loan.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.db.models import Loan, LedgerEntry
from app.services import users, verify
from app.services.books import booked_sums
from app.services.context import ServiceContext
from app.services.demo import build_demo
from app.services.eod import run_eod
from app.services.ledger import business_date
from app.services.setup import close_database, open_database


def timed_verify(admin: ServiceContext, label: str) -> verify.VerifyReport:
    began = time.perf_counter()
    report = verify.verify(admin, workers=1)
    elapsed = time.perf_counter() - began
    print(f"verify ({label}): {report.loans_checked:,} loans in {elapsed:.2f} s "
          f"({elapsed / max(report.loans_checked, 1) * 10_000:.1f} s per 10,000 loans, one process); "
          f"{len(report.differences)} cache and {len(report.book_differences)} booked-ledger differences")
    d = report.deficiency
    print(f"  books: charged-off deficiency {d.principal + d.interest + d.fees} (principal {d.principal}, "
          f"interest {d.interest}, fees {d.fees}), recovered {report.recovered}, interest off the books on "
          f"non-accrual {report.memo_non_accrual.interest}")
    return report


def cache_only_verify(admin: ServiceContext) -> float:
    """The same verify with the booked-ledger check switched off (what verify cost before issue 9)."""
    saved = verify.booked_sums, verify._check_books
    verify.booked_sums = lambda session, ids: {}  # type: ignore[assignment]
    verify._check_books = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        began = time.perf_counter()
        report = verify.verify(admin, workers=1)
        return (time.perf_counter() - began) / max(report.loans_checked, 1) * 10_000
    finally:
        verify.booked_sums, verify._check_books = saved


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--year", type=int, default=365)
    parser.add_argument("--db", help="an empty database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        factory = open_database(url, initialize=False)
        began = time.perf_counter()
        result = build_demo(factory, loans=args.loans, days=args.days)
        print(f"demo: {result.loans:,} loans, {args.days} days lived, in {time.perf_counter() - began:.1f} s")
        admin = ServiceContext(factory, users.authenticate(factory, "admin", users.DEMO_PASSWORD))
        report = timed_verify(admin, "demo as built")
        print(f"verify with the cache check only: {cache_only_verify(admin):.1f} s per 10,000 loans (for comparison)")
        with factory() as session:
            ids = list(session.scalars(select(Loan.id).order_by(Loan.id)))
            entries = session.scalar(select(func.count()).select_from(LedgerEntry))
            began = time.perf_counter()
            for start in range(0, len(ids), verify.CHUNK):
                booked_sums(session, ids[start : start + verify.CHUNK])
            sums = time.perf_counter() - began
        print(f"booked sums alone: {sums:.3f} s for {len(ids):,} loans and {entries:,} entries "
              f"({sums / max(len(ids), 1) * 10_000:.2f} s per 10,000 loans)")
        with factory() as session:
            first = business_date(session)
        began = time.perf_counter()
        summary = run_eod(admin, first + timedelta(days=args.year - 1))
        elapsed = time.perf_counter() - began
        charge_offs = sum(day.charge_offs for day in summary.days)
        errors = sum(len(day.errors) for day in summary.days)
        print(f"end of day: {len(summary.days)} days closed in {elapsed:.1f} s ({elapsed / max(len(summary.days), 1):.3f}"
              f" s a day), {charge_offs} charge-offs, {errors} loan errors")
        report = timed_verify(admin, f"after {args.year} more days")
        print(f"verify with the cache check only: {cache_only_verify(admin):.1f} s per 10,000 loans (for comparison)")
        print("booked ledger = replay for every loan:", "yes" if report.ok else "NO")
        close_database(factory)
        if not report.ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
