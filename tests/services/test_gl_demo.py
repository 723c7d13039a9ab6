"""The demo book's whole history through the general ledger, on SQLite and PostgreSQL (issue 13, item 6).

A small demo (history loans boarded from another servicer, weeks of payments, reversals, late fees,
non-accrual and charge-offs through end of day) is built once per database; its journal from the
first business day to today balances entry by entry, the control accounts equal what ``keel verify``
reports as booked, and each export layout reads back with the right headings and balanced amounts.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app.reports import gl_export
from app.reports.tabular import json_rows
from app.services import demo, setup, users, verify
from app.services.context import ServiceContext
from app.services.gl import control, journal
from app.services.ledger import business_date
from tests.conftest import DATABASES, _new_database
from tests.services.conftest import FAST_HASHER

DAYS = 20


@dataclass
class Demo:
    admin: ServiceContext
    first: date
    today: date


@pytest.fixture(scope="module", params=DATABASES)
def demo_book(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    url, cleanup = _new_database(request.param, request, tmp_path_factory.mktemp("gl-demo"))
    saved, users.HASHER = users.HASHER, FAST_HASHER
    factory = setup.open_database(url, initialize=False)
    try:
        built = demo.build_demo(factory, loans=12, seed=11, days=DAYS)
        assert built.loans > 0
        admin = ServiceContext(factory, users.authenticate(factory, "admin", users.DEMO_PASSWORD))
        with admin.unit(write=False) as session:
            today = business_date(session)
        yield Demo(admin, today.fromordinal(today.toordinal() - DAYS), today)
    finally:
        users.HASHER = saved
        setup.close_database(factory)
        cleanup()


def test_the_whole_history_of_the_demo_balances_and_ties_to_the_books(demo_book):
    result = journal.journal(demo_book.admin, date(2000, 1, 1), demo_book.today)
    assert len(result.entries) > DAYS  # a journal entry for (nearly) every day and product
    assert all(entry.debits == entry.credits and entry.lines for entry in result.entries)
    assert result.debits == result.credits > 0
    # the boarding day holds the opening balances against conversion clearing (history loans)
    first_day = [e for e in result.entries if e.date == demo_book.first]
    assert first_day and all(any(line.role == "conversion_clearing" for line in e.lines) for e in first_day)
    totals = control.control_totals(demo_book.admin)
    report = verify.verify(demo_book.admin, workers=1)
    assert report.ok and totals.ok, totals.differences
    assert totals.loans_receivable == report.booked.principal > 0
    assert totals.interest_receivable == report.booked.interest
    # the journal's lines on loans receivable add up to the control account
    moved = sum((line.debit - line.credit for line in result.lines if line.role == "loans_receivable"), D("0"))
    assert moved == totals.loans_receivable


def _csv(path: Path, encoding: str) -> list[list[str]]:
    with open(path, encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


def _money(text: str) -> D:
    return D(text) if text else D("0")


def test_each_layout_reads_back_with_its_headings_and_balanced_amounts(demo_book, tmp_path):
    month = journal.journal(demo_book.admin, demo_book.first, demo_book.today)
    lines = month.lines
    # general: BOM and the Keel headings; XLSX with the title and filters above them
    path = gl_export.write_journal(month, "general", tmp_path / "general.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = _csv(path, "utf-8-sig")
    assert rows[0] == ["journal_no", "date", "account_number", "account_name", "debit", "credit", "memo",
                       "reference"]
    assert len(rows) == 1 + len(lines)
    assert sum(_money(r[4]) for r in rows[1:]) == sum(_money(r[5]) for r in rows[1:]) == month.debits
    sheet = load_workbook(gl_export.write_journal(month, "general", tmp_path / "general.xlsx")).active
    values = list(sheet.values)
    header = values.index(("journal_no", "date", "account_number", "account_name", "debit", "credit", "memo",
                           "reference"))
    assert values[0][0] == "General ledger journal" and header == 2 + len(gl_export.journal_table(month).filters)
    assert sheet.freeze_panes == f"A{header + 2}"
    body = values[header + 1:]
    assert len(body) == len(lines) and isinstance(body[0][1], datetime)  # a date cell, not text
    assert sum(D(str(r[4])) for r in body) == sum(D(str(r[5])) for r in body)
    # QuickBooks Online: its headings first, no BOM, MM/DD/YYYY, one of Debits and Credits filled
    path = gl_export.write_journal(month, "qbo", tmp_path / "qbo.csv")
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = _csv(path, "utf-8")
    assert rows[0] == ["JournalNo", "JournalDate", "AccountName", "Debits", "Credits", "Description", "Name"]
    assert all(bool(r[3]) != bool(r[4]) for r in rows[1:])
    first = month.entries[0]
    assert rows[1][:2] == [first.journal_no, f"{first.date:%m/%d/%Y}"]
    assert sum(_money(r[3]) for r in rows[1:]) == sum(_money(r[4]) for r in rows[1:]) == month.debits
    sheet = load_workbook(gl_export.write_journal(month, "qbo", tmp_path / "qbo.xlsx")).active
    values = list(sheet.values)
    assert values[0] == ("JournalNo", "JournalDate", "AccountName", "Debits", "Credits", "Description", "Name")
    assert len(values) == 1 + len(lines)
    # Xero: its template headings, signed amounts adding up to zero for each journal, the tax rate set
    path = gl_export.write_journal(month, "xero", tmp_path / "xero.csv")
    rows = _csv(path, "utf-8")
    assert rows[0] == ["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount", "TrackingName1",
                       "TrackingOption1", "TrackingName2", "TrackingOption2"]
    by_journal: dict[tuple[str, str], D] = {}
    for r in rows[1:]:
        by_journal[(r[0], r[1])] = by_journal.get((r[0], r[1]), D("0")) + D(r[5])
    assert len(by_journal) == len(month.entries) and set(by_journal.values()) == {D("0.00")}
    assert {r[4] for r in rows[1:]} == {"Tax Exempt"}
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    assert rows[1][1] == f"{first.date.day:02d} {months[first.date.month - 1]} {first.date.year}"
    sheet = load_workbook(gl_export.write_journal(month, "xero", tmp_path / "xero.xlsx")).active
    values = list(sheet.values)
    assert values[0][:6] == ("*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount")
    assert sum(D(str(r[5])) for r in values[1:]) == 0
    # JSON rows use the CSV headings, money as two-decimal strings
    items = json_rows(gl_export.journal_table(month, "qbo"))
    assert set(items[0]) == {"JournalNo", "JournalDate", "AccountName", "Debits", "Credits", "Description", "Name"}
    assert all(v is None or len(v.split(".")[1]) == 2 for item in items for v in (item["Debits"], item["Credits"]))
