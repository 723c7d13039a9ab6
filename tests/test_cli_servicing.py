"""The servicing CLI end to end, as a script would use it: a fresh database, then the demo one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"


def keel(db: Path, *args: str, user: str = "admin", password: str = "admin-password-1", check: bool = True):
    env = dict(os.environ, KEEL_USER=user, KEEL_PASSWORD=password, KEEL_ADMIN_PASSWORD="admin-password-1",
               KEEL_NEW_PASSWORD="clerk-password-1")
    env.pop("KEEL_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "app", *args, "--db", f"sqlite:///{db}"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
def test_a_fresh_database_from_the_terminal(tmp_path):
    db = tmp_path / "keel.sqlite3"
    keel(db, "init", "--business-date", "2026-06-01", "--user", "admin")
    keel(db, "user", "add", "clerk", "--role", "clerk", "--full-name", "Casey Clerk")
    keel(db, "product", "add", str(SAMPLES / "products.json"))
    boarded = keel(db, "board", str(SAMPLES / "boarding-new.csv"), "--json")
    numbers = [loan["loan_number"] for loan in json.loads(boarded.stdout)["boarded"]]
    number = numbers[0]
    before = json.loads(keel(db, "account", number, "--json").stdout)
    assert {"as_of", "status", "principal", "accrued_interest", "fees", "suspense", "paid_through", "next_due",
            "amount_due", "days_past_due", "bucket", "per_diem", "payoff", "entries"} <= set(before)
    paid = json.loads(keel(db, "pay", number, "100.00", "--reference", "1001", "--json",
                           user="clerk", password="clerk-password-1").stdout)
    parts = paid["allocation"]
    assert sum(Decimal(value) for value in parts.values()) == Decimal("100.00")
    # The same payment again is refused as a likely duplicate: one line, non-zero exit.
    again = keel(db, "pay", number, "100.00", "--reference", "1001", user="clerk", password="clerk-password-1",
                 check=False)
    assert again.returncode != 0 and "duplicate" in again.stderr and "Traceback" not in again.stderr
    # A clerk may not reverse; the admin may.
    denied = keel(db, "reverse", str(paid["entry_id"]), "--reason", "nsf", user="clerk",
                  password="clerk-password-1", check=False)
    assert denied.returncode != 0 and "payment.reverse" in denied.stderr
    # Without a terminal to ask on, the preview is printed and nothing is done until --yes.
    asked = keel(db, "reverse", str(paid["entry_id"]), "--reason", "nsf", "--fee", "25.00", check=False)
    assert asked.returncode != 0 and "--yes" in asked.stderr and "fees" in asked.stdout
    keel(db, "reverse", str(paid["entry_id"]), "--reason", "nsf", "--fee", "25.00", "--note", "bank: NSF", "--yes")
    after = json.loads(keel(db, "account", number, "--json").stdout)
    assert after["principal"] == before["principal"] and after["fees"] == "25.00"
    quote = json.loads(keel(db, "payoff", number, "--date", "2026-06-10", "--json").stdout)
    assert set(quote) == {"loan_number", "date", "principal", "accrued_interest", "fees", "payoff", "per_diem"}
    assert quote["date"] == "2026-06-10" and quote["fees"] == "25.00"
    report = json.loads(keel(db, "verify", "--json").stdout)
    assert report["differences"] == [] and report["loans_checked"] == len(numbers)
    assert report["book_differences"] == []
    # A row written behind the application's back (the ledger only refuses UPDATE and DELETE):
    # verify names the loan and the figure, booked against replayed and cached, and exits 1.
    import sqlite3

    with sqlite3.connect(db) as raw:
        loan_id = raw.execute("SELECT id FROM loans WHERE loan_number = ?", (number,)).fetchone()[0]
        raw.execute("INSERT INTO ledger_entries (loan_id, seq, type, effective_date, business_date, posted_at, "
                    "amount, interest, principal, fees, escrow, suspense, refund, user_id) VALUES "
                    "(?, 999, 'late_fee', '2026-06-01', '2026-06-01', '2026-06-01 12:00:00', 500, 0, 0, 500, 0, 0, 0, 1)",
                    (loan_id,))
    failed = keel(db, "verify", check=False)
    assert failed.returncode == 1 and f"{number}: booked fees" in failed.stdout and "cached 25.00" in failed.stdout
    failed = json.loads(keel(db, "verify", "--json", check=False).stdout)
    assert failed["loans"] == [{"loan_number": number, "books": [
        {"loan_number": number, "figure": "fees", "booked": "30.00", "expected": "25.00", "replayed": "25.00",
         "cached": "25.00"}]}]
    bad = keel(db, "pay", "KL-999999", "5", check=False)
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "KL-999999" in bad.stderr


@pytest.mark.slow
def test_the_demo_portfolio_verifies(tmp_path):
    db = tmp_path / "demo.sqlite3"
    built = keel(db, "demo", "--loans", "25", "--days", "35", "--seed", "11")
    assert "Demo portfolio" in built.stdout
    report = json.loads(keel(db, "verify", "--json", password="demo").stdout)
    # The cache and the booked ledger both equal the replay (issue 9).
    assert report["differences"] == [] and report["book_differences"] == [] and report["ok"]
    queue = json.loads(keel(db, "queue", "--json", "--all", user="collector", password="demo").stdout)
    assert all({"loan_number", "borrower", "days_past_due", "amount_due", "score", "collector"} <= set(q) for q in queue)
    # Demo passwords are refused on a database that is not a demo one.
    other = tmp_path / "prod.sqlite3"
    keel(other, "init", "--business-date", "2026-06-01", "--user", "admin")
    refused = keel(other, "account", "KL-000001", password="demo", check=False)
    assert refused.returncode != 0 and "demo" in refused.stderr.lower()


def test_batch_drafts_are_listed_and_deleted_from_the_terminal(tmp_path, monkeypatch):
    from argon2 import PasswordHasher

    from app.services import batch_drafts, setup, users
    from app.services.batch_drafts import DraftRow
    from app.services.context import ServiceContext

    db = tmp_path / "keel.sqlite3"
    keel(db, "init", "--business-date", "2026-06-01", "--user", "admin")
    factory = setup.open_database(f"sqlite:///{db}")
    try:
        monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
        ctx = ServiceContext(factory, users.authenticate(factory, "admin", "admin-password-1"))
        draft = batch_drafts.create_draft(ctx, control_total="100.00", rows=[DraftRow("T-1", "60.00", "CHK 1")])
    finally:
        setup.close_database(factory)
    listed = json.loads(keel(db, "batch-drafts", "--json").stdout)["drafts"]
    assert [(d["id"], d["count"], d["total"], d["control_total"]) for d in listed] == [(draft.id, 1, "60.00", "100.00")]
    assert f"Draft {draft.id}: 1 payments, $60.00 (control $100.00)" in keel(db, "batch-drafts").stdout
    shown = keel(db, "batch-drafts", "--show", str(draft.id))
    assert "T-1" in shown.stdout and "60.00" in shown.stdout and "CHK 1" in shown.stdout
    one = json.loads(keel(db, "batch-drafts", "--show", str(draft.id), "--json").stdout)
    assert one["rows"][0] == {"loan_number": "T-1", "amount": "60.00", "reference": "CHK 1", "method": "",
                              "effective_date": ""}
    keel(db, "batch-drafts", "--delete", str(draft.id))
    assert json.loads(keel(db, "batch-drafts", "--json").stdout)["drafts"] == []
    missing = keel(db, "batch-drafts", "--delete", str(draft.id), check=False)
    assert missing.returncode != 0 and "no batch draft" in missing.stderr and "Traceback" not in missing.stderr
