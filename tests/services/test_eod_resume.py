"""A real end-of-day process killed with SIGKILL mid-way, then resumed (issue 4).

Two copies of one SQLite database: one closes its days in a single
uninterrupted run; the other's run is killed after its first chunks commit,
and a second run finishes.  Their ledgers and caches must be identical.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from app.services import servicing
from app.services.setup import close_database, open_database

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
