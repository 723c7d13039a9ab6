"""Reports benchmark (issue 13, item 7): every report for a month on a large book.

    python benchmarks/reports.py [--loans 100000] [--db URL] [--keep FILE]

Builds the demo portfolio through the services (200 loans, 90 business days
lived with end of day, so three month ends closed with their snapshots),
then copies its loans in SQL -- cached states, every ledger entry (daily
accruals included), month-end snapshots, contacts and promises -- until
there are ``--loans`` loans, as ``bench_eod.py`` does (a benchmark fixture,
not a way to make data).  The closed days' totals are then written for the grown book, as end of day
would have written them.  Then it times, for the last complete month:

* every report of the registry (a period report for the month, a date
  report as of its month end; aging and portfolio also as of today, from the
  cache);
* writing one month end's snapshot (the INSERT ... SELECT end of day runs),
  in a transaction that is rolled back;
* the trial balance written as XLSX.

Prints seconds per report.  Target: under 3 s each on SQLite and PostgreSQL.
``--db`` takes an empty database URL (default: a temporary SQLite file), or
one an earlier run built, which is reused; ``--keep FILE`` keeps the SQLite
book for the next run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from app.db.models import LedgerEntry, Loan
from app.db.settings import get_business_date
from app.reports import tabular
from app.services import users
from app.services.context import ServiceContext
from app.services.demo import build_demo
from app.services.reports import day_totals, snapshots
from app.services.reports.common import Filters, month_end_before
from app.services.reports.registry import REPORTS, ReportParams, run_report
from app.services.setup import close_database, open_database

LOAN_COLUMNS = ("product_version_id, status, delinquency, terms, boarded_on, boarded_by_id, reg_f_applies, hardship, "
                "dispute, created_at, version")
STATE_COLUMNS = ("as_of, principal, accrued_interest, fees, suspense, refund_due, paid_through, next_due, amount_due, "
                 "days_past_due, bucket, status, per_diem, payoff, engine_state, version")
ENTRY_COLUMNS = ("seq, type, effective_date, posted_at, business_date, amount, interest, principal, fees, escrow, "
                 "suspense, refund, fee_kind, method, reference, reason_code, payload, batch_id, user_id")
SNAPSHOT_COLUMNS = ("month_end, product_id, collector_id, status, delinquency, bucket, days_past_due, principal, "
                    "accrued_interest, fees, suspense, amount_due, booked_principal, booked_interest, booked_fees, "
                    "booked_suspense, booked_refund, state_as_of, source, created_at")
CONTACT_COLUMNS = "person_id, at, channel, outcome, note, override_reason, user_id, created_at, correction_reason"
PROMISE_COLUMNS = ("due_date, amount, status, paid_amount, settled_on, created_by_id, created_at, correction_reason, "
                   "version")


def _offset(column: str, by: int) -> str:
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {column} + {by} END"


def grow(factory: Any, target: int) -> int:
    """Copy the book's loans (and everything of theirs the reports read) until there are ``target`` loans."""
    with factory() as session, session.begin():
        base = session.scalar(select(func.count()).select_from(Loan)) or 1
        tops = {table: session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table}"))
                for table in ("loans", "ledger_entries", "contacts", "promises")}
        copies = max(0, (target - base + base - 1) // base)
        for k in range(1, copies + 1):
            lo, eo = k * tops["loans"], k * tops["ledger_entries"]
            co, po = k * tops["contacts"], k * tops["promises"]
            session.execute(text(
                f"INSERT INTO loans (id, loan_number, los_reference, {LOAN_COLUMNS}) SELECT id + {lo}, "
                f"loan_number || '-{k}', NULL, {LOAN_COLUMNS} FROM loans WHERE id <= {tops['loans']}"))
            session.execute(text(
                f"INSERT INTO loan_states (loan_id, {STATE_COLUMNS}) SELECT loan_id + {lo}, {STATE_COLUMNS} "
                f"FROM loan_states WHERE loan_id <= {tops['loans']}"))
            session.execute(text(
                f"INSERT INTO ledger_entries (id, loan_id, reverses_id, {ENTRY_COLUMNS}) SELECT id + {eo}, "
                f"loan_id + {lo}, {_offset('reverses_id', eo)}, {ENTRY_COLUMNS} FROM ledger_entries "
                f"WHERE id <= {tops['ledger_entries']}"))
            session.execute(text(
                f"INSERT INTO month_end_snapshots (loan_id, {SNAPSHOT_COLUMNS}) SELECT loan_id + {lo}, "
                f"{SNAPSHOT_COLUMNS} FROM month_end_snapshots WHERE loan_id <= {tops['loans']}"))
            session.execute(text(
                f"INSERT INTO contacts (id, loan_id, corrects_id, {CONTACT_COLUMNS}) SELECT id + {co}, "
                f"loan_id + {lo}, {_offset('corrects_id', co)}, {CONTACT_COLUMNS} FROM contacts "
                f"WHERE id <= {tops['contacts']}"))
            session.execute(text(
                f"INSERT INTO promises (id, loan_id, contact_id, corrects_id, {PROMISE_COLUMNS}) SELECT id + {po}, "
                f"loan_id + {lo}, {_offset('contact_id', co)}, {_offset('corrects_id', po)}, {PROMISE_COLUMNS} "
                f"FROM promises WHERE id <= {tops['promises']}"))
        if session.get_bind().dialect.name == "postgresql":
            for table in ("loans", "ledger_entries", "contacts", "promises"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
            session.execute(text("ANALYZE"))
        else:
            session.execute(text("ANALYZE"))
        return int(session.scalar(select(func.count()).select_from(Loan)) or 0)


def timed(label: str, work: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - began
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--db", help="a database URL: empty (the book is built) or a book an earlier run built "
                                     "(default: a temporary SQLite file)")
    parser.add_argument("--keep", help="build the SQLite book at this path and keep it (reused if it exists)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each report; the best is printed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{args.keep or Path(folder) / 'bench.sqlite3'}"
        factory = open_database(url, initialize=False)
        with factory() as session:
            reuse = bool(session.scalar(select(func.count()).select_from(Loan)))  # a book kept from an earlier run
        dialect = factory.kw["bind"].dialect.name
        if not reuse:
            began = time.perf_counter()
            # The closed days' totals are written once the book is grown, as end of day would have
            # written them had it closed those days on the large book.
            saved = snapshots.write_day_totals
            snapshots.write_day_totals = lambda session, day: None  # type: ignore[assignment]
            try:
                build_demo(factory, loans=200, days=90)
            finally:
                snapshots.write_day_totals = saved  # type: ignore[assignment]
            loans = grow(factory, args.loans)
            with factory() as session, session.begin():
                first = session.scalar(select(func.min(LedgerEntry.business_date)))
                today = get_business_date(session)
                assert first is not None and today is not None
                while first < today:
                    day_totals.write_day_totals(session, first)
                    first += timedelta(days=1)
            print(f"book ({dialect}): {loans:,} loans ready in {time.perf_counter() - began:.1f} s")
        admin = ServiceContext(factory, users.authenticate(factory, "admin", users.DEMO_PASSWORD))
        with factory() as session:
            today = get_business_date(session)
            assert today is not None
            loans = session.scalar(select(func.count()).select_from(Loan)) or 0
            entries = session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
        last = month_end_before(today)
        first = last.replace(day=1)
        with factory() as session:
            in_month = session.scalar(select(func.count()).select_from(LedgerEntry).where(
                LedgerEntry.business_date >= first, LedgerEntry.business_date <= last)) or 0
        print(f"{loans:,} loans, {entries:,} ledger entries ({in_month:,} booked in {first:%B %Y}); "
              f"business date {today}; {dialect}")
        slowest = 0.0
        # The journal last: a month of it is millions of rows, and what they leave behind slows what follows.
        for name, spec in sorted(REPORTS.items(), key=lambda item: item[0] == "journal"):
            cases = [ReportParams(start=first, end=last)] if spec.takes == "period" else [ReportParams(as_of=last)]
            if name in ("aging", "portfolio", "trial-balance"):
                cases.append(ReportParams())  # as of the open business date
            if name == "interest-income":  # filtered by status: the totals know only the product, so the entries
                cases.append(ReportParams(start=first, end=last, status="active"))
            if name == "journal":  # one day's journal
                cases.append(ReportParams(start=last, end=last))
            for params in cases:
                rounds = 1 if name == "journal" else args.rounds  # a month's journal is every entry of it
                best, result = min((timed(name, lambda: run_report(admin, name, params)) for _ in range(rounds)),
                                   key=lambda pair: pair[0])
                when = f"{params.start} to {params.end}" if spec.takes == "period" else str(params.as_of or today)
                when += f" ({params.status})" if params.status else ""
                rows = len(result.table().rows)
                if name != "journal":
                    slowest = max(slowest, best)
                print(f"  {name:<16} {when:<34} {best:7.3f} s  ({rows:,} rows)")
        tb = run_report(admin, "trial-balance", ReportParams(as_of=last))
        path = Path(folder) / "trial-balance.xlsx"
        elapsed, _ = timed("xlsx", lambda: tabular.write_xlsx(tb.table(), path))
        print(f"  trial balance as XLSX: {len(tb.table().rows):,} rows in {elapsed:.2f} s")
        # What end of day adds to closing a day: the day's totals (their SELECT, for the last closed day) ...
        with factory() as session:
            began = time.perf_counter()
            found = day_totals._from_entries(session, today - timedelta(days=1), today - timedelta(days=1),
                                             Filters(), None)
            elapsed = time.perf_counter() - began
        print(f"  one closed day's totals (the SELECT of end of day's INSERT): {len(found)} rows in {elapsed:.2f} s")
        # ... and at a month end the snapshot: its SELECT for the last month end (its booked window is the whole
        # month), and the INSERT ... SELECT itself for a later day, in a transaction that is rolled back.
        with factory() as session:
            names, stmt = snapshots.snapshot_select(session, last, "end_of_day")
            made = stmt.subquery()
            booked = [made.c[k] for k, name in enumerate(names) if name.startswith("booked_")]
            began = time.perf_counter()
            # Every booked column summed, so no database can skip the month's window as a count could.
            rows, *_ = session.execute(select(func.count(), *[func.sum(column) for column in booked])).one()
            elapsed = time.perf_counter() - began
        print(f"  month-end snapshot of {last} (its SELECT, a month of entries): {rows:,} loans in {elapsed:.2f} s")
        with factory() as session:
            began = time.perf_counter()
            written = snapshots._copy_cache(session, today, "end_of_day")
            elapsed = time.perf_counter() - began
            session.rollback()
        print(f"  month-end snapshot INSERT ... SELECT (as of {today}): {written:,} loans in {elapsed:.2f} s")
        print(f"slowest report but the journal: {slowest:.2f} s (target < 3 s)")
        close_database(factory)


if __name__ == "__main__":
    main()
