"""A real end-of-day process killed with SIGKILL mid-way, then resumed (issue 4).

Two copies of one SQLite database: one closes its days in a single
uninterrupted run; the other's run is killed after its first chunks commit,
and a second run finishes.  Their ledgers and caches must be identical, and
so must their records of each day (issue 12: a resumed run recorded only its
own part of the day).

The same on SQLite and PostgreSQL in one process: runs that fail after some
chunks of a day committed, resumed until the book is closed, against an
uninterrupted run on an identical book and against the ledger's own sums.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from app.db.models import EodRun
from app.services import eod as eod_service
from app.services import servicing
from app.services.setup import close_database, open_database
from tests.conftest import DATABASES, _new_database

from .conftest import PASSWORDS, seed
from .loans import make_loan

THROUGH = "2026-06-20"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def build(path: Path) -> None:
    url = f"sqlite:///{path}"
    factory = open_database(url, initialize=False)
    contexts = seed(factory)
    clerk = contexts["clerk"]
    for index in range(240):
        number = make_loan(clerk, start="2026-05-01", first_due="2026-06-01",
                           principal=f"{5000 + index * 37}.00")
        if index % 3 == 0:
            servicing.post_payment(clerk, number, "300.00", reference=f"p{index}")
    close_database(factory)


def eod(path: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, KEEL_PASSWORD=PASSWORDS["admin"])
    return subprocess.Popen(
        [sys.executable, "-m", "app", "eod", "--db", f"sqlite:///{path}", "--user", "admin",
         "--through", THROUGH, "--chunk", "20"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def dump(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        return {
            "ledger": db.execute(
                "SELECT loan_id, seq, type, effective_date, amount, interest, principal, fees, payload "
                "FROM ledger_entries ORDER BY loan_id, seq").fetchall(),
            # Every column but the version counter, which counts writes.
            "states": db.execute(
                "SELECT " + ", ".join(
                    name for (_, name, *_rest) in db.execute("PRAGMA table_info(loan_states)") if name != "version"
                ) + " FROM loan_states ORDER BY loan_id").fetchall(),
            "loans": db.execute("SELECT id, status, delinquency FROM loans ORDER BY id").fetchall(),
            "date": db.execute("SELECT value FROM system_settings WHERE key = 'business_date'").fetchall(),
            "letters": db.execute("SELECT loan_id, kind, queued_on FROM letter_queue ORDER BY id").fetchall(),
        }


def day_records(path: Path) -> list[tuple[Any, ...]]:
    """Each closed day's record: loans, interest, fees, late fees, status changes and the summary."""
    with sqlite3.connect(path) as db:
        return [(*row[:-1], json.loads(row[-1])) for row in db.execute(
            "SELECT business_date, loans_processed, interest_accrued, fees_assessed, late_fees, status_changes, "
            "summary FROM eod_runs WHERE status = 'completed' ORDER BY business_date")]


def test_killed_end_of_day_resumes_to_the_same_books(tmp_path):
    whole, killed = tmp_path / "whole.sqlite3", tmp_path / "killed.sqlite3"
    build(whole)
    shutil.copy(whole, killed)

    straight = eod(whole)
    out, err = straight.communicate(timeout=600)
    assert straight.returncode == 0, err

    victim = eod(killed)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.05)
        with sqlite3.connect(killed, timeout=30) as db:
            row = db.execute("SELECT COUNT(*), MAX(loans_processed) FROM eod_runs").fetchone()
        # Kill it in the middle of a later day, after some chunks of that day committed.
        if row[0] >= 3 and (row[1] or 0) >= 40:
            break
        assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    interrupted = dump(killed)
    assert interrupted["date"] != [(date(2026, 6, 21).isoformat(),)]

    resumed = eod(killed)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    a, b = dump(whole), dump(killed)
    for key in a:
        assert a[key] == b[key], key
    assert len(a["ledger"]) > 240 * 20  # a day's accrual for each loan, and the late fees
    # The day the kill cut in two is recorded whole, as the uninterrupted run recorded it (issue 12).
    records = day_records(killed)
    assert records == day_records(whole)
    assert [r[1] for r in records] == [240] * 20
    with sqlite3.connect(killed) as db:
        accrued = dict(db.execute("SELECT business_date, SUM(amount) FROM ledger_entries WHERE type = 'accrual' "
                                  "GROUP BY business_date"))
    assert {r[0]: r[2] for r in records} == accrued  # both in cents, as stored


# ---------------------------------------------------------------- both databases, in one process

THROUGH_DAY = date(2026, 6, 15)
#: The days whose third chunk of four fails: status changes (June 1), late fees (June 12) and
#: letters (June 15) each fall on a day two runs shared.
FAILING_DAYS = (date(2026, 6, 1), date(2026, 6, 12), date(2026, 6, 15))


@pytest.fixture(params=DATABASES)
def two_books(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two new, empty databases of one kind."""
    made = [_new_database(request.param, request, tmp_path) for _ in range(2)]
    yield made[0][0], made[1][0]
    for _, cleanup in made:
        cleanup()


def small_book(url: str) -> Any:
    """Twelve loans of 10,000.00 to 21,000.00 at 12 % for 12 months from 2026-05-01, first due 2026-06-01,
    late fee 25.00 after 10 days' grace; loans 0, 3, 6 and 9 paid 1,000.00 on 2026-06-01.
    Returns (factory, admin context)."""
    factory = open_database(url, initialize=False)
    contexts = seed(factory)
    for k in range(12):
        number = make_loan(contexts["clerk"], start="2026-05-01", first_due="2026-06-01",
                           principal=f"{10000 + 1000 * k}.00")
        if k % 3 == 0:
            servicing.post_payment(contexts["clerk"], number, "1000.00", reference=f"p{k}")
    return factory, contexts["admin"]


def recorded(admin: Any) -> list[tuple[Any, ...]]:
    with admin.unit(write=False) as session:
        runs = session.scalars(select(EodRun).where(EodRun.status == "completed").order_by(EodRun.business_date))
        return [(r.business_date, r.loans_processed, r.interest_accrued, r.fees_assessed, r.late_fees,
                 r.status_changes, r.summary["charge_offs"], r.summary["letters_queued"]) for r in runs]


def ledger_sums(admin: Any) -> dict[date, tuple[Decimal, Decimal, int]]:
    """Per business day, from the ledger in plain SQL (not the service's query): the day's own accrual
    entries, and the late fees end of day assessed (no reason code; the books pass's carry one)."""
    sql = text(
        "SELECT business_date, "
        "SUM(CASE WHEN type = 'accrual' THEN amount ELSE 0 END), "
        "SUM(CASE WHEN type = 'late_fee' AND reason_code IS NULL THEN amount ELSE 0 END), "
        "SUM(CASE WHEN type = 'late_fee' AND reason_code IS NULL THEN 1 ELSE 0 END) "
        "FROM ledger_entries WHERE effective_date = business_date GROUP BY business_date")
    with admin.unit(write=False) as session:
        rows = session.execute(sql).all()
    cents = Decimal("0.01")
    return {(day if isinstance(day, date) else date.fromisoformat(day)): (Decimal(interest) * cents,
                                                                          Decimal(fees) * cents, int(count))
            for day, interest, fees, count in rows}


def test_a_day_shared_by_failed_and_resumed_runs_is_recorded_from_the_ledger(two_books, monkeypatch):
    straight_url, failing_url = two_books
    straight_factory, straight = small_book(straight_url)
    failing_factory, failing = small_book(failing_url)
    try:
        eod_service.run_eod(straight, THROUGH_DAY, chunk=3)

        real = eod_service._process_chunk
        chunks: Counter[date] = Counter()
        failed: list[date] = []

        def fails_mid_day(session: Any, ctx: Any, ids: list[int], day: date, tally: Any) -> None:
            chunks[day] += 1
            if day in FAILING_DAYS and day not in failed and chunks[day] == 3:
                failed.append(day)
                raise RuntimeError("the machine went down")  # the chunk's transaction rolls back
            real(session, ctx, ids, day, tally)

        monkeypatch.setattr(eod_service, "_process_chunk", fails_mid_day)
        halted_on: list[tuple[date, str, int]] = []
        while True:
            try:
                summary = eod_service.run_eod(failing, THROUGH_DAY, chunk=3)
                break
            except RuntimeError:
                with failing.unit(write=False) as session:
                    run = session.scalars(select(EodRun).where(EodRun.status == "running")).one()
                    halted_on.append((run.business_date, run.status, run.loans_processed))
        # Each failure left its day open with two chunks of three loans committed.
        assert halted_on == [(day, "running", 6) for day in FAILING_DAYS]
        assert summary.days[-1].business_date == THROUGH_DAY and summary.days[-1].loans_processed == 12

        records, expected = recorded(failing), recorded(straight)
        assert records == expected  # as an uninterrupted run on the identical book recorded them
        assert len(records) == 15 and all(r[1] == 12 for r in records)  # one record a day, every loan closed
        sums = ledger_sums(failing)
        assert {r[0]: (r[2], r[3], r[4]) for r in records} == {day: sums[day] for day in sums if day <= THROUGH_DAY}
        by_day = {r[0]: r for r in records}
        # By hand: on 2026-06-12, the first day after the 10 days' grace of the June 1 installment, every
        # loan but one is late.  The level payment P x 0.01 / (1 - 1.01^-12) = P x 0.0888487887 is 888.49 on
        # loan 0's 10,000.00, which its 1,000.00 covers; loans 3, 6 and 9 paid 1,000.00 against 1,155.03,
        # 1,421.58 and 1,688.13 (13,000, 16,000 and 19,000); the other eight paid nothing.
        # 11 late fees x 25.00 = 275.00.
        assert by_day[date(2026, 6, 12)][3:5] == (Decimal("275.00"), 11)
        assert by_day[date(2026, 6, 1)][5] == 11  # the eleven unpaid loans went past due, across two runs
        assert by_day[date(2026, 6, 15)][7] == 11  # and got their letter at 15 days past due
    finally:
        close_database(straight_factory)
        close_database(failing_factory)
