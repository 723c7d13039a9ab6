"""``keel gl``: the journal, its drill-down, the account mapping and the control totals from a terminal."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal as D

import pytest
from openpyxl import load_workbook

from app.cli import main
from app.services import servicing, setup, users
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed
from tests.services.loans import make_loan

DAY = ["--from", "2026-06-01", "--to", "06/01/2026"]


@pytest.fixture
def book(tmp_path, monkeypatch):
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    monkeypatch.setenv("KEEL_PASSWORD", "")  # run() sets it per role; restored after the test
    url = f"sqlite:///{tmp_path / 'gl.sqlite3'}"
    factory = setup.open_database(url)
    contexts = seed(factory)
    number = make_loan(contexts["admin"], start="2026-05-01", first_due="2026-06-01")
    servicing.post_payment(contexts["admin"], number, "888.49", method="check")  # 100.00 interest, 788.49 principal
    yield url
    setup.close_database(factory)


def run(url, role, *args):
    import os

    os.environ["KEEL_PASSWORD"] = PASSWORDS[role]
    return main(["gl", *args, "--db", url, "--user", role])


def test_journal_json_rows_use_the_csv_headings_and_money_as_strings(book, capsys):
    assert run(book, "manager", "journal", *DAY, "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert set(rows[0]) == {"journal_no", "date", "account_number", "account_name", "debit", "credit", "memo",
                            "reference"}
    assert {r["journal_no"] for r in rows} == {"GL-20260601-TEST"} and rows[0]["date"] == "2026-06-01"
    # boarding 10,000 + the May interest 100.00 + the check 888.49 = 10,988.49 each side
    assert sum(D(r["debit"]) for r in rows) == sum(D(r["credit"]) for r in rows) == D("10988.49")
    assert ("1000", "888.49", "0.00") in {(r["account_number"], r["debit"], r["credit"]) for r in rows}


def test_journal_csv_on_stdout_in_the_quickbooks_layout(book, capsys):
    assert run(book, "manager", "journal", *DAY, "--layout", "qbo") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["JournalNo", "JournalDate", "AccountName", "Debits", "Credits", "Description", "Name"]
    assert {r[1] for r in rows[1:]} == {"06/01/2026"}
    assert ["GL-20260601-TEST", "06/01/2026", "Cash", "888.49", "", "Payments (check)", ""] in rows


def test_journal_xlsx_needs_a_file_and_reads_back_in_the_xero_layout(book, tmp_path, capsys):
    assert run(book, "manager", "journal", *DAY, "--format", "xlsx") == 2
    assert "--out" in capsys.readouterr().err
    out = tmp_path / "june.xlsx"
    assert run(book, "manager", "journal", *DAY, "--format", "xlsx", "--layout", "xero", "--out", str(out)) == 0
    assert "debits $10,988.49 = credits $10,988.49" in capsys.readouterr().err
    values = list(load_workbook(out).active.values)
    assert values[0][:6] == ("*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount")
    assert {v[1] for v in values[1:]} == {"01 Jun 2026"} and sum(D(str(v[5])) for v in values[1:]) == 0
    assert run(book, "manager", "journal", *DAY, "--format", "csv", "--out", str(tmp_path / "june.xlsx")) == 2


def test_journal_refuses_bad_input_in_one_line(book, capsys):
    assert run(book, "manager", "journal", "--from", "2026-06-02", "--to", "2026-06-01") == 2
    err = capsys.readouterr().err
    assert err.startswith("keel: error: from: ") and err.count("\n") == 1
    assert run(book, "manager", "journal", "--from", "soon", "--to", "2026-06-01") == 2
    assert "--from" in capsys.readouterr().err
    assert run(book, "clerk", "journal", *DAY) == 2
    assert "report.view" in capsys.readouterr().err


def test_entries_show_what_is_behind_a_journal_entry(book, capsys):
    assert run(book, "manager", "entries", "GL-20260601-TEST", "--account", "1000") == 0
    out = capsys.readouterr().out
    assert out.startswith("GL-20260601-TEST: 2 ledger entries")
    assert "boarding" in out and "payment" in out and "Cr $10,000.00" in out
    assert run(book, "manager", "entries", "GL-20260601-TEST", "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["type"] for r in rows} == {"boarding", "accrual_adjustment", "payment"}
    assert run(book, "manager", "entries", "GL-2026-06-01") == 2
    assert "journal:" in capsys.readouterr().err


def test_accounts_are_shown_and_set_by_an_administrator(book, capsys):
    assert run(book, "manager", "accounts") == 0
    out = capsys.readouterr().out
    assert "charge-off method: allowance" in out and "loans_receivable" in out and "1200" in out
    assert run(book, "manager", "accounts", "--set", "cash=1001:Operating cash") == 2
    assert "settings.manage" in capsys.readouterr().err
    assert run(book, "admin", "accounts", "--set", "cash=1001:Operating cash", "--set", "fee_income=4150",
               "--charge-off-method", "direct", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["charge_off_method"] == "direct"
    by_role = {a["role"]: a for a in shown["accounts"]}
    assert (by_role["cash"]["number"], by_role["cash"]["name"]) == ("1001", "Operating cash")
    assert (by_role["fee_income"]["number"], by_role["fee_income"]["name"]) == ("4150", "Fee income")
    assert run(book, "admin", "accounts", "--set", "vault=1") == 2
    assert "role: 'vault'" in capsys.readouterr().err
    assert run(book, "manager", "journal", *DAY, "--layout", "qbo") == 0
    assert "Operating cash" in capsys.readouterr().out


def test_control_ties_to_the_books(book, capsys):
    assert run(book, "manager", "control") == 0
    out = capsys.readouterr().out
    # 10,000.00 - 788.49 = 9,211.51 of principal, on both sides
    assert [line.split() for line in out.splitlines() if line.startswith("Loans receivable")] == [
        ["Loans", "receivable", "$9,211.51", "$9,211.51"]]
    assert "control accounts equal the booked ledger" in out
    assert run(book, "manager", "control", "--as-of", "2026-05-31", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ok"] and shown["control"]["principal"] == {"gl": "0.00", "booked": "0.00"}
    assert shown["as_of"] == date(2026, 5, 31).isoformat()


def test_gl_alone_names_its_commands(book, capsys):
    assert main(["gl"]) == 2
    assert "journal, entries, accounts or control" in capsys.readouterr().err
