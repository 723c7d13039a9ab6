"""``keel report`` and ``keel snapshot`` (issue 13): the reports' services in a terminal.

The book is the hand-built portfolio of tests/services/test_reports.py (June and July 2026 closed).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal as D

import pytest

from app.cli import main
from app.reports import tabular
from app.services import setup, users
from app.services.reports.registry import REPORTS, ReportParams, run_report
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed
from tests.services.test_reports import JULY_END, build


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    saved = users.HASHER
    users.HASHER = FAST_HASHER
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'report.sqlite3'}"
    factory = setup.open_database(url)
    contexts = seed(factory)
    loans = build(contexts)
    yield url, contexts, loans
    setup.close_database(factory)
    users.HASHER = saved


@pytest.fixture
def manager(book, monkeypatch):
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["manager"])
    return ["--db", book[0], "--user", "manager"]


def test_list_prints_one_report_a_line_with_its_description(capsys):
    assert main(["report", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(REPORTS)
    assert lines[0].startswith("trial-balance  Trial balance by loan: ")
    for line, spec in zip(lines, REPORTS.values(), strict=True):
        assert line.endswith(spec.description)


def test_json_rows_use_the_csv_header_and_money_as_strings(book, manager, capsys):
    _, _, loans = book
    assert main(["report", "trial-balance", "--as-of", "2026-07-31", "--format", "json", *manager]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["report"] == "trial-balance" and document["parameters"] == {"As of": "2026-07-31"}
    assert document["notes"]
    a = next(row for row in document["rows"] if row["Loan"] == loans["A"])
    assert a == {"Loan": loans["A"], "Product": "TEST", "Status": "active", "Principal": "9210.14",
                 "Interest receivable": "93.87", "Fees receivable": "0.00", "Suspense": "0.00", "Refund due": "0.00"}
    assert document["totals"]["Principal"] == "16210.14" and document["totals"]["Loan"] == "Total"


def test_csv_goes_to_stdout_as_the_service_makes_it(book, manager, capsys):
    _, contexts, _ = book
    assert main(["report", "aging", "--as-of", "07/31/2026", "--format", "csv", *manager]) == 0
    out = capsys.readouterr().out
    expected = run_report(contexts["manager"], "aging", ReportParams(as_of=JULY_END)).table()
    assert out == tabular.csv_text(expected)
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["Bucket", "Loans", "Loans %", "Principal", "Principal %"]
    assert rows[3] == ["30-59", "2", "66.67%", "7000.00", "43.18%"]


def test_xlsx_needs_a_file_and_reads_back_with_typed_cells(book, manager, capsys, tmp_path):
    from openpyxl import load_workbook

    assert main(["report", "cash-receipts", "--from", "2026-07-01", "--to", "2026-07-31", "--format", "xlsx",
                 *manager]) == 2
    assert "--out" in capsys.readouterr().err
    out = tmp_path / "cash.xlsx"
    assert main(["report", "cash-receipts", "--from", "2026-07-01", "--to", "2026-07-31", "--format", "xlsx",
                 "--out", str(out), *manager]) == 0
    sheet = load_workbook(out).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "Cash receipts 2026-07-01 to 2026-07-31"
    assert ("From: 2026-07-01",) == values[1][:1]
    header = next(k for k, row in enumerate(values) if row[0] == "Business date")
    assert sheet.freeze_panes == f"A{header + 2}"
    first = sheet.cell(row=header + 2, column=6)  # July 1's received
    assert D(str(first.value)) == D("1066.19") and first.number_format == tabular.MONEY_FORMAT
    assert sheet.cell(row=header + 2, column=1).value.date() == date(2026, 7, 1)


def test_wrong_dates_filters_and_names_are_one_line_errors(book, manager, capsys, monkeypatch):
    cases = [
        (["report", "journal", "--as-of", "2026-07-31", "--format", "csv"], "--as-of: journal is for a period"),
        (["report", "aging", "--from", "2026-07-01", "--format", "csv"], "--from: aging is for a date"),
        (["report", "aging", "--as-of", "2026-08-02", "--format", "csv"], "--as-of: 2026-08-02 is after"),
        (["report", "aging", "--as-of", "2026-05-31", "--format", "csv"], "not available"),
        (["report", "portfolio", "--product", "NOPE", "--format", "csv"], "--product: no product"),
        (["report", "eod", "--status", "active", "--format", "csv"], "--status: eod takes no status filter"),
        (["report", "nothing", "--format", "csv"], "'nothing' is not a report"),
        (["report", "aging"], "--format"),
    ]
    for argv, message in cases:
        assert main([*argv, *manager]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("keel: error: ") and message in err and err.count("\n") == 1, (argv, err)
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["clerk"])
    assert main(["report", "aging", "--format", "csv", "--db", book[0], "--user", "clerk"]) == 2
    assert "report.view" in capsys.readouterr().err


def test_snapshot_list(book, manager, capsys):
    assert main(["snapshot", "--list", *manager]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["2026-06-30", "2026-07-31"]
    assert "4 loans  end of day" in out[0]
    assert main(["snapshot", "--month-end", "2026-07-31", *manager]) == 2  # a manager does not run end of day
    assert "eod.run" in capsys.readouterr().err
