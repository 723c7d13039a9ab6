"""End-of-day benchmark: one business day closed for a large open portfolio.

    python benchmarks/bench_eod.py [--loans 50000] [--db URL]

Builds a 200-loan demo portfolio through the services, then copies its loans
(with their cached states and ledgers) in SQL until there are ``--loans`` open
loans — a benchmark fixture, not a way to make data — and times one
``run_eod``.  Target (issue 4): under 20 s for 50,000 loans on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

from app.db.models import LoanState
from app.db.settings import get_business_date
from app.services import users
from app.services.context import ServiceContext
from app.services.demo import build_demo
from app.services.eod import run_eod
from app.services.setup import close_database, open_database

COPIED = {
    "loans": ("id", ["loan_number"]),
    "loan_states": ("loan_id", []),
    "ledger_entries": ("id", []),
}


def grow(factory, target: int) -> int:
    with factory() as session, session.begin():
        base = session.scalar(select(func.count()).select_from(LoanState))
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
                f"INSERT INTO loan_states SELECT loan_id + {lo}, as_of, principal, accrued_interest, fees, suspense, "
                f"refund_due, paid_through, next_due, amount_due, days_past_due, bucket, status, per_diem, payoff, "
                f"engine_state, version FROM loan_states WHERE loan_id <= {top_loan}"))
            session.execute(text(
                f"INSERT INTO ledger_entries (id, loan_id, seq, type, effective_date, posted_at, business_date, amount, "
                f"interest, principal, fees, escrow, suspense, refund, reverses_id, fee_kind, method, reference, "
                f"reason_code, payload, batch_id, user_id) "
                f"SELECT id + {eo}, loan_id + {lo}, seq, type, effective_date, posted_at, business_date, amount, "
                f"interest, principal, fees, escrow, suspense, refund, CASE WHEN reverses_id IS NULL THEN NULL "
                f"ELSE reverses_id + {eo} END, fee_kind, method, reference, reason_code, payload, batch_id, user_id "
                f"FROM ledger_entries WHERE id <= {top_entry} AND type <> 'accrual'"))
        if session.get_bind().dialect.name == "postgresql":
            for table, column in (("loans", "id"), ("ledger_entries", "id")):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                                     f"(SELECT max({column}) FROM {table}))"))
        return session.scalar(select(func.count()).select_from(LoanState).where(LoanState.status == "active"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=50_000)
    parser.add_argument("--db", help="an empty database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        factory = open_database(url, initialize=False)
        began = time.perf_counter()
        build_demo(factory, loans=200, days=2)
        open_loans = grow(factory, args.loans)
        print(f"portfolio: {open_loans:,} open loans ready in {time.perf_counter() - began:.1f} s "
              f"({factory.kw['bind'].dialect.name})")
        admin = ServiceContext(factory, users.authenticate(factory, "admin", users.DEMO_PASSWORD))
        with factory() as session:
            day = get_business_date(session)
        began = time.perf_counter()
        summary = run_eod(admin, day)
        elapsed = time.perf_counter() - began
        closed = summary.days[0]
        print(f"end of day: {closed.loans_processed:,} loans closed in {elapsed:.2f} s "
              f"({closed.loans_processed / elapsed:,.0f} loans/s); {closed.late_fees} late fees, "
              f"interest {closed.interest_accrued}, {closed.letters_queued} letters queued, "
              f"{len(closed.errors)} errors")
        close_database(factory)


if __name__ == "__main__":
    main()
