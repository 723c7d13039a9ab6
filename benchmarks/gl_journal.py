"""General-ledger benchmark (issue 13, item 7): a month's journal on a large book.

    python benchmarks/gl_journal.py [--loans 100000] [--days 30] [--db URL]

Builds a 200-loan demo portfolio through the services (history loans boarded,
then ``--days`` business days lived with payments, reversals and end of day),
then copies its loans and their whole ledgers in SQL until there are
``--loans`` loans — a benchmark fixture, as in ``bench_eod.py``, not a way to
make data — and times:

1. the journal of the lived month (every business day after boarding) — the
   one grouped query and the mapping of every group to balanced lines;
2. its export as XLSX in the general layout;
3. the control totals since inception (the whole ledger, boarding included).

Target (issue 13): the journal for a month on 100,000 loans in under 3 s on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from app.db.models import LedgerEntry, Loan
from app.db.settings import get_business_date
from app.reports import gl_export
from app.services import users
from app.services.context import ServiceContext
from app.services.demo import build_demo
from app.services.gl import control, journal
from app.services.setup import close_database, open_database


def grow(factory, target: int) -> tuple[int, int]:
    """Copy the demo's loans (with their ledgers, ``tx`` tokens included) until there are ``target`` loans."""
    with factory() as session, session.begin():
        base = session.scalar(select(func.count()).select_from(Loan))
        top_loan = session.scalar(text("SELECT max(id) FROM loans"))
        top_entry = session.scalar(text("SELECT max(id) FROM ledger_entries"))
        copies = max(0, (target - base + base - 1) // base)
        for k in range(1, copies + 1):
            lo, eo = k * top_loan, k * top_entry
            session.execute(text(
                f"INSERT INTO loans (id, loan_number, product_version_id, los_reference, status, delinquency, terms, "
                f"boarded_on, boarded_by_id, reg_f_applies, hardship, dispute, created_at, version) "
                f"SELECT id + {lo}, loan_number || '-{k}', product_version_id, NULL, status, delinquency, terms, "
                f"boarded_on, boarded_by_id, reg_f_applies, hardship, dispute, created_at, version FROM loans "
                f"WHERE id <= {top_loan}"))
            session.execute(text(
                f"INSERT INTO ledger_entries (id, loan_id, seq, type, effective_date, posted_at, business_date, amount, "
                f"interest, principal, fees, escrow, suspense, refund, reverses_id, fee_kind, method, reference, "
                f"reason_code, payload, batch_id, user_id, tx) "
                f"SELECT id + {eo}, loan_id + {lo}, seq, type, effective_date, posted_at, business_date, amount, "
                f"interest, principal, fees, escrow, suspense, refund, CASE WHEN reverses_id IS NULL THEN NULL "
                f"ELSE reverses_id + {eo} END, fee_kind, method, reference, reason_code, payload, batch_id, user_id, "
                f"tx FROM ledger_entries WHERE id <= {top_entry}"))
        if session.get_bind().dialect.name == "postgresql":
            for table in ("loans", "ledger_entries"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
    with factory() as session:
        session.execute(text("ANALYZE"))  # the planner's statistics for the grown tables, on either database
        session.commit()
        return (session.scalar(select(func.count()).select_from(Loan)),
                session.scalar(select(func.count()).select_from(LedgerEntry)))


def timed(label: str, work, repeat: int = 3):
    """The best of ``repeat`` runs (the first warms the database's cache)."""
    best, result = None, None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        elapsed = time.perf_counter() - began
        best = elapsed if best is None else min(best, elapsed)
    print(f"{label}: {best:.2f} s (best of {repeat})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30, help="business days the demo lives (the month timed)")
    parser.add_argument("--db", help="an empty database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        factory = open_database(url, initialize=False)
        began = time.perf_counter()
        build_demo(factory, loans=200, days=args.days)
        loans, entries = grow(factory, args.loans)
        print(f"book: {loans:,} loans, {entries:,} ledger entries, ready in {time.perf_counter() - began:.1f} s "
              f"({factory.kw['bind'].dialect.name})")
        admin = ServiceContext(factory, users.authenticate(factory, "admin", users.DEMO_PASSWORD))
        with factory() as session:
            today = get_business_date(session)
            first = today - timedelta(days=args.days - 1)
            in_month = session.scalar(select(func.count()).select_from(LedgerEntry)
                                      .where(LedgerEntry.business_date.between(first, today)))
        print(f"month {first} .. {today}: {in_month:,} ledger entries")
        month = timed("journal for the month", lambda: journal.journal(admin, first, today))
        print(f"  {len(month.entries)} journal entries, {len(month.lines)} lines, debits {month.debits} = "
              f"credits {month.credits}: {'balanced' if month.debits == month.credits else 'NOT BALANCED'}")
        timed("journal XLSX (general layout)",
              lambda: gl_export.write_journal(month, "general", Path(folder) / "journal.xlsx"), repeat=1)
        totals = timed("control totals since inception", lambda: control.control_totals(admin), repeat=1)
        print(f"  loans receivable {totals.loans_receivable}, interest receivable {totals.interest_receivable}: "
              f"{'equal the booked ledger' if totals.ok else f'DIFFER {totals.differences}'}")
        close_database(factory)


if __name__ == "__main__":
    main()
