"""The Reports view (issue 13, item 5): choose a report, run it off the GUI thread, see it, export it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.services import servicing
from app.services.reports import trial_balance as tb
from app.ui.views import reports_view
from tests.services.loans import make_loan
from tests.ui.conftest import BUSINESS_DATE
from tests.ui.helpers import settle
from tests.ui.test_exports import save_as  # noqa: F401  (the fixture)

pytestmark = pytest.mark.qt


def _book(contexts) -> tuple[str, str]:
    admin, clerk = contexts["admin"], contexts["clerk"]
    first, second = make_loan(admin), make_loan(admin)
    # Both booked on the business date 2026-06-01: a check of $888.49 (effective Feb 1, back-dated) and an
    # ACH payment of $250.00.  Cash receipts for 2026-06-01: 2 payments, $888.49 + $250.00 = $1,138.49.
    servicing.post_payment(clerk, first, "888.49", date(2026, 2, 1), reference="CHK 1", confirm_backdated=True)
    servicing.post_payment(clerk, second, "250.00", method="ach")
    return first, second


def _open_reports(qtbot, open_window, role: str = "manager"):
    window = open_window(role)
    qtbot.keyClick(window, Qt.Key.Key_9, Qt.KeyboardModifier.ControlModifier)
    view = window.reports_view
    assert window.current_view() is view
    settle(qtbot, window.workspace.tasks)
    return window, view


def _run(qtbot, view):
    with qtbot.waitSignal(view.report_shown, timeout=15_000) as shown:
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    return shown.args[0]


def test_only_managers_and_admins_have_it(qtbot, desk, open_window) -> None:
    for role, has in (("clerk", False), ("collector", False), ("manager", True), ("admin", True)):
        window = open_window(role)
        assert (window.reports_view is not None) is has
        titles = [window.navigation.item(i).text() for i in range(window.navigation.count())]
        assert ("Reports" in titles) is has
        window.close()


def test_every_report_and_the_journal_are_offered(qtbot, desk, open_window) -> None:
    from app.services.reports.registry import REPORTS

    _, view = _open_reports(qtbot, open_window)
    names = [view.report_combo.itemData(i) for i in range(view.report_combo.count())]
    assert names == [*REPORTS, reports_view.JOURNAL]
    assert view.report_combo.itemText(0) == REPORTS["trial-balance"].description
    # A report on a date shows "as of"; a period shows from and to; the end-of-day report takes no filters.
    view.choose("trial-balance")
    assert view.as_of_edit.isVisibleTo(view) and not view.from_edit.isVisibleTo(view)
    view.choose("eod")
    assert view.from_edit.isVisibleTo(view) and view.to_edit.isVisibleTo(view)
    assert not view.as_of_edit.isVisibleTo(view) and not view.product_combo.isVisibleTo(view)
    view.choose("collections")
    assert view.collector_edit.isVisibleTo(view) and view.status_combo.isVisibleTo(view)


def test_trial_balance_shows_the_loans_and_the_services_totals(qtbot, desk, open_window) -> None:
    _, contexts = desk
    first, second = _book(contexts)
    window, view = _open_reports(qtbot, open_window)
    view.choose("trial-balance")
    table = _run(qtbot, view)
    service = tb.trial_balance(contexts["manager"], BUSINESS_DATE)
    assert service.totals.loans == 2

    model = view.model
    # Two loans, then the totals row.
    assert model.rowCount() == 3
    assert {model.value(r, 0) for r in range(2)} == {first, second}
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    totals = model.rowCount() - 1
    assert model.data(model.index(totals, 0)) == "Total"
    assert model.data(model.index(totals, 0), Qt.ItemDataRole.FontRole).bold()
    principal = headers.index("Principal")
    assert model.value(totals, principal) == service.totals.principal
    assert model.value(totals, headers.index("Interest receivable")) == service.totals.interest
    # Money as the desk shows it, right-aligned; the typed value stays Decimal.
    shown = model.data(model.index(totals, principal))
    assert shown == f"${service.totals.principal:,.2f}"
    assert model.data(model.index(totals, principal), Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    assert table.totals[principal] == service.totals.principal
    # The notes and the as-of date under the table.
    assert "As of: 2026-06-01" in view.notes_label.text()
    for note in service.notes:
        assert note in view.notes_label.text()
    assert view.count_label.text() == "2 rows, then the totals"

    # Copy (no row selected: every row) puts tab-separated text with the titles on the clipboard.
    view.copy()
    lines = QApplication.clipboard().text().splitlines()
    assert lines[0].split("\t")[:2] == ["Loan", "Product"]
    assert lines[-1].split("\t")[principal] == f"{service.totals.principal:.2f}"
    window.close()


def test_cash_receipts_for_a_typed_period_exports_to_xlsx(
        qtbot, desk, open_window, save_as, tmp_path) -> None:  # noqa: F811
    _, contexts = desk
    _book(contexts)
    window, view = _open_reports(qtbot, open_window)
    view.choose("cash-receipts")
    # Typed as a clerk would, US style; read as 2026-06-01.
    for edit in (view.from_edit, view.to_edit):
        edit.line_edit.clear()
        edit.line_edit.setFocus()
        qtbot.keyClicks(edit.line_edit, "06/01/2026")
    assert view.from_edit.value() == view.to_edit.value() == date(2026, 6, 1)
    with qtbot.waitSignal(view.report_shown, timeout=15_000) as shown:
        qtbot.keyClick(view.to_edit.line_edit, Qt.Key.Key_Return)
    table = shown.args[0]
    headers = [c.name for c in table.columns]
    received, payments = headers.index("Received"), headers.index("Payments")
    # 2 payments: $888.49 + $250.00 = $1,138.49 (see _book).
    assert table.totals[received] == Decimal("1138.49")
    assert table.totals[payments] == 2
    assert sorted(row[received] for row in table.rows) == [Decimal("250.00"), Decimal("888.49")]

    # Export... through the real button, the save dialog answering with a path.
    path = tmp_path / "cash.xlsx"
    save_as["path"] = path
    with qtbot.waitSignal(view.table_export.exported, timeout=15_000) as exported:
        qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    assert exported.args[0].ok
    sheet = openpyxl.load_workbook(path).active
    cells = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert cells[0][0] == "Cash receipts 2026-06-01 to 2026-06-01"
    assert "From: 2026-06-01" in [row[0] for row in cells]
    assert "Exported by: manager" in [row[0] for row in cells]
    header_at = next(i for i, row in enumerate(cells) if row[0] == "Business date" and row[1] == "Method")
    body = cells[header_at + 1:]
    assert len(body) == 3  # two rows of receipts, then the totals
    assert body[-1][received] == pytest.approx(1138.49)
    window.close()


def test_a_bad_date_is_refused_naming_the_field(qtbot, desk, open_window) -> None:
    window, view = _open_reports(qtbot, open_window)
    view.choose("cash-receipts")
    view.from_edit.line_edit.setText("2026-13-40")
    view.run()
    assert view.problem_label.text().startswith("From:")
    assert view.shown_table is None
    window.close()


def test_the_journal_runs_for_a_period(qtbot, desk, open_window) -> None:
    _, contexts = desk
    _book(contexts)
    window, view = _open_reports(qtbot, open_window)
    view.choose(reports_view.JOURNAL)
    table = _run(qtbot, view)
    assert table.title == "General ledger journal"
    debit, credit = [c.name for c in table.columns].index("debit"), [c.name for c in table.columns].index("credit")
    assert sum(row[debit] for row in table.rows) == sum(row[credit] for row in table.rows)
    window.close()


def test_aging_shows_its_buckets_as_bars(qtbot, desk, open_window) -> None:
    _, contexts = desk
    _book(contexts)
    window, view = _open_reports(qtbot, open_window)
    view.choose("aging")
    _run(qtbot, view)
    aging = view.result
    assert view.chart.isVisibleTo(view)
    assert view.chart.labels == [row.bucket for row in aging.rows]
    assert view.chart.values == [row.principal for row in aging.rows]
    assert sum(view.chart.values) == aging.totals.principal
    # Another report: no chart.
    view.choose("trial-balance")
    _run(qtbot, view)
    assert not view.chart.isVisibleTo(view)
    window.close()
