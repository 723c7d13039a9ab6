"""Letters benchmark (issue 6, item 7): 1,000 queued letters printed in one batch; target < 30 s.

Boards 1,000 past-due loans (seasoned, converted 2026-05-01 with the May 1
installment unpaid) into a throw-away SQLite database through the boarding
service, queues a late notice for each (as end of day does), then times
``letters.run_queued``: re-check, engine figures, one PDF per letter for the
records, the merged PDF for the printer, and the one transaction recording
1,000 Letter rows.

    python benchmarks/bench_letters.py [N]
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db.models import LetterQueueItem, Loan  # noqa: E402
from app.db.settings import set_setting  # noqa: E402
from app.services import boarding, letters, products, setup, users  # noqa: E402
from app.services.context import ServiceContext  # noqa: E402

DAY = dt.date(2026, 6, 1)
TARGET_SECONDS = 30.0


def build(folder: Path, count: int) -> ServiceContext:
    factory = setup.open_database(f"sqlite:///{folder / 'bench.sqlite3'}", initialize=False)
    setup.initialize_database(factory, kind="production", business_date=DAY)
    users.bootstrap_admin(factory, "admin", "Bench Admin", "bench-admin-1")
    admin = ServiceContext(factory, users.authenticate(factory, "admin", "bench-admin-1"))
    with admin.unit() as session:
        set_setting(session, "lender_name", "Harbor Point Lending")
        set_setting(session, "lender_address", "200 Harbor Street, Suite 400\nPortland ME 04101")
        set_setting(session, "lender_phone", "(207) 555-0100")
    products.create_product(admin, "STD", "Standard", {"late_fee": {"grace_days": 10, "fixed": "25.00"}}, "2020-01-01")
    loans = []
    for i in range(count):
        loans.append({
            "los_reference": f"BENCH-{i:05d}", "product": "STD", "boarding_type": "seasoned",
            "principal": "20000.00", "rate": "8.5", "term": 60, "start": "2025-01-01", "first_due": "2025-02-01",
            "borrower": {"first_name": "Pat", "last_name": f"Borrower {i:05d}", "address_line1": f"{i + 1} Main St",
                         "city": "Springfield", "state": "IL", "postal_code": "62701",
                         "tax_id": f"9{i // 10000 % 10}{i // 1000 % 10}-{i // 100 % 10}{i // 10 % 10}-{i % 10}{i:03d}"[:11]},
            "conversion": {"date": "2026-05-01", "principal": "17150.00", "accrued_interest": "0.00", "fees": "0.00",
                           "paid_through": "2026-04-01", "next_due": "2026-05-01", "payment": "410.33"},
        })
    path = folder / "loans.json"
    path.write_text(json.dumps({"loans": loans}), encoding="utf-8")
    boarding.board_file(admin, path)
    with admin.unit() as session:
        for loan_id in session.query(Loan.id).all():
            session.add(LetterQueueItem(loan_id=loan_id[0], kind="late-notice", queued_on=DAY,
                                        reason="15 days past due"))
    return admin


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory(prefix="keel-bench-letters-") as tmp:
        began = time.perf_counter()
        admin = build(Path(tmp), count)
        print(f"set-up: {count} past-due loans boarded and queued in {time.perf_counter() - began:.1f} s")
        began, cpu = time.perf_counter(), time.process_time()
        run = letters.run_queued(admin)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert len(run.records) == count, (len(run.records), run.dropped[:3])
        size = len(run.pdf_bytes) / 1e6
        per = seconds / count * 1000
        verdict = "OK" if seconds < TARGET_SECONDS * count / 1000 else "SLOW"
        print(f"{count} late notices in one batch: {seconds:.1f} s ({per:.1f} ms a letter; target < 30 s "
              f"for 1,000) {verdict}; CPU {cpu:.1f} s (the wall time grows on a busy machine)")
        print(f"merged PDF: {run.pages} pages, {size:.1f} MB; {len(run.records)} records, run {run.run_id}")
        bind = admin.factory.kw.get("bind")
        if bind is not None:
            bind.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
