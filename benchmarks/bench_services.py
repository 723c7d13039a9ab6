"""Service benchmark (issue 3): demo build, posting, account load, verify.

    python benchmarks/bench_services.py [--loans 50000] [--days 2] [--db URL]

Prints: the time ``keel demo`` takes for ``--loans`` loans (boarding their
history, then ``--days`` business days lived with end of day); the median
time to post one payment; the median time to load an account with 30 years
of history (a mortgage boarded with 360 monthly payments); and ``verify``
time per 10,000 loans.  Targets: post < 50 ms, account < 50 ms, verify 50,000
loans < 60 s, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.db.models import Loan
from app.domain.engine import Event, advance, initial_state, snapshot
from app.domain.money import money_str
from app.services import accounts, boarding, products, servicing, users, verify
from app.services.context import ServiceContext
from app.services.demo import build_demo
from app.services.ledger import business_date
from app.services.setup import close_database, open_database


def thirty_year_loan(admin: ServiceContext, folder: Path) -> str:
    """Board a mortgage funded 30 years ago with its 359 monthly payments (history boarding)."""
    with admin.unit(write=False) as session:
        today = business_date(session)
        rules = products.rules_of(products.product_version_on(session, "MORT30", today))
    start = today.replace(day=1) - timedelta(days=365 * 30 - 60)
    start = start.replace(day=1)
    first = (start + timedelta(days=32)).replace(day=1)
    note = {"principal": "250000.00", "rate": "6.5", "term": 360, "start": start.isoformat(),
            "first_due": first.isoformat()}
    terms, _ = products.engine_terms(rules, note)
    from app.domain.schedule import build_schedule

    rows = [row for row in build_schedule(terms).rows if row.due < today][:-1]
    history = [{"date": row.due.isoformat(), "amount": money_str(row.payment)} for row in rows]
    state, _ = advance(initial_state(terms), terms,
                       [Event(f"h{k}", "payment", row.due, row.payment) for k, row in enumerate(rows)],
                       today - timedelta(days=1))
    snap = snapshot(state, terms, today)
    record = {
        "los_reference": "BENCH-30Y", "loan_number": "KL-930000", "product": "MORT30", "boarding_type": "history",
        **note,
        "borrower": {"first_name": "Long", "last_name": "History", "address_line1": "1 Elm St", "city": "Albany",
                     "state": "NY", "postal_code": "12207", "tax_id": "900-70-0001"},
        "conversion": {"date": today.isoformat(), "principal": money_str(snap.principal),
                       "next_due": snap.next_due.isoformat(),
                       **({"paid_through": snap.paid_through.isoformat()} if snap.paid_through else {})},
        "history": history,
    }
    path = folder / "thirty-years.json"
    path.write_text(json.dumps({"loans": [record]}))
    boarding.board_file(admin, path)
    return "KL-930000"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--db", help="an empty database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        url = args.db or f"sqlite:///{folder / 'bench.sqlite3'}"
        factory = open_database(url, initialize=False)
        dialect = factory.kw["bind"].dialect.name
        began = time.perf_counter()
        result = build_demo(factory, loans=args.loans, days=args.days)
        print(f"demo ({dialect}): {result.loans:,} loans in {time.perf_counter() - began:.1f} s "
              f"(history boarding {result.board_seconds:.1f} s; {args.days} days lived with end of day in "
              f"{result.live_seconds:.1f} s)")
        admin = ServiceContext(factory, users.authenticate(factory, "admin", users.DEMO_PASSWORD))
        clerk = ServiceContext(factory, users.authenticate(factory, "clerk", users.DEMO_PASSWORD))
        with factory() as session:
            numbers = list(session.scalars(select(Loan.loan_number).where(Loan.status == "active")))
        rng = random.Random(3)
        samples = []
        for k in range(200):
            number = rng.choice(numbers)
            began = time.perf_counter()
            servicing.post_payment(clerk, number, "25.00", reference=f"bench-{k}", confirm_duplicate=True)
            samples.append(time.perf_counter() - began)
        print(f"post one payment: median {statistics.median(samples) * 1000:.1f} ms "
              f"(p90 {sorted(samples)[179] * 1000:.1f} ms, 200 payments)")
        long_one = thirty_year_loan(admin, folder)
        samples = []
        for _ in range(30):
            began = time.perf_counter()
            acct = accounts.account(clerk, long_one)
            samples.append(time.perf_counter() - began)
        print(f"account with 30 years of history ({len(acct.lines)} ledger lines): "
              f"median {statistics.median(samples) * 1000:.1f} ms (30 loads)")
        with factory() as session:
            total = session.scalar(select(func.count()).select_from(Loan))
        began = time.perf_counter()
        report = verify.verify(admin)
        elapsed = time.perf_counter() - began
        print(f"verify: {report.loans_checked:,} loans in {elapsed:.1f} s ({elapsed / total * 10_000:.1f} s per "
              f"10,000 loans), {len(report.differences)} differences")
        close_database(factory)


if __name__ == "__main__":
    main()
