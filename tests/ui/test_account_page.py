"""The account page a servicer expects (issue 11, item 5), driven by keyboard and mouse offscreen.

The loan is tests/services/test_account_page.py's: 10,000.00 at 12 % for 12
months from 2025-10-01, five payments of 888.49 (Nov 1 .. Mar 1), the Mar 1
payment reversed on the business date 2026-06-01, a co-borrower, a vehicle and
a property.  Worked there by hand: interest paid 2025 = 192.12, 2026 to date =
160.26, maturity 2026-10-01, principal 6,798.42.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from PySide6.QtCore import QPoint, Qt

from app.ui.models.record_table_model import RawRole
from tests.services.test_account_page import _loan
from tests.ui.helpers import settle

pytestmark = pytest.mark.qt


def _column(view, title: str) -> int:
    return next(i for i, c in enumerate(view.ledger_model.columns) if c.title == title)


def _shown(view, title: str) -> list:
    """A column's raw values in the order the table shows them (through the sort and filter)."""
    proxy, column = view.ledger_proxy, _column(view, title)
    return [proxy.index(row, column).data(RawRole) for row in range(proxy.rowCount())]


def _open_by_keyboard(qtbot, window, number: str):
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    box = window.search_box
    assert box.hasFocus()
    with qtbot.waitSignal(box.results_shown, timeout=15_000):
        qtbot.keyClicks(box, f"borrower{number[-3:]}")  # the last name make_loan gives
    with qtbot.waitSignal(window.account_view.account_shown, timeout=15_000):
        qtbot.keyClick(box, Qt.Key.Key_Return)
    return window.account_view


def test_open_by_keyboard_and_read_the_summary_and_ledger(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number, reversed_id = _loan(contexts["admin"])
    window = open_window("clerk")
    view = _open_by_keyboard(qtbot, window, number)
    assert view.loan_number == number

    f = view.figures
    assert f["last_payment"].text() == "$888.49 on 2026-02-01"  # the Mar 1 payment was reversed
    assert f["maturity"].text() == "2026-10-01"
    assert f["interest_paid_ytd"].text() == "$160.26"  # 84.15 + 76.11 + 67.98 - 67.98
    assert f["interest_paid_last_year"].text() == "$192.12"  # 100.00 + 92.12
    form = view.interest_box.layout()
    assert form.labelForField(f["interest_paid_ytd"]).text() == "2026 to 2026-06-01"
    assert form.labelForField(f["interest_paid_last_year"]).text() == "2025"
    assert view.collateral_label.text() == ("2021 Toyota Camry\nVIN 4T1BF1FK5CU123456\nValued at $18,500.00\n\n"
                                            "9 Oak Ave\nPeoria, IL 61602")
    assert view.co_borrowers_label.text() == "Robin Cosigner (co-borrower)"

    # The ledger's running principal, in date order: 10,000.00 less each payment's principal.
    view.tabs.setCurrentIndex(2)
    payments = [(line.effective_date.isoformat(), line.principal_balance)
                for line in view.ledger_model.rows() if line.type == "payment"]
    assert payments == [("2025-11-01", D("9211.51")), ("2025-12-01", D("8415.14")), ("2026-01-01", D("7610.80")),
                        ("2026-02-01", D("6798.42")), ("2026-03-01", D("5977.91"))]
    balance = _column(view, "Balance")
    last = view.ledger_proxy.rowCount() - 1
    assert view.ledger_proxy.index(last, balance).data() == "$6,798.42"  # the reversal put 820.51 back
    # The audit tab in words, newest first.
    assert view.audit_model.rows()[0].sentence == (
        f"Ada Admin reversed payment #{reversed_id} of $888.49 (insufficient funds).")
    assert "{" not in "".join(view.audit_model.data(view.audit_model.index(r, 1))
                              for r in range(view.audit_model.rowCount()))


def test_ledger_sorts_by_a_clicked_header_and_filters(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number, _ = _loan(contexts["admin"])
    window = open_window("clerk")
    window.resize(1366, 768)
    view = _open_by_keyboard(qtbot, window, number)
    view.tabs.setCurrentIndex(2)
    qtbot.waitUntil(lambda: view.ledger_table.isVisible(), timeout=5_000)
    header = view.ledger_table.horizontalHeader()
    amount = _column(view, "Amount")

    def click(column: int) -> None:
        x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))

    click(amount)  # ascending: the reversal's -888.49 first, the boarding's 10,000.00 last
    values = [v for v in _shown(view, "Amount") if v is not None]
    assert values == sorted(values) and values[0] == D("-888.49") and values[-1] == D("10000.00")
    click(amount)  # descending
    values = [v for v in _shown(view, "Amount") if v is not None]
    assert values == sorted(values, reverse=True)
    view.ledger_order_button.click()
    assert _shown(view, "Effective") == [line.effective_date for line in view.ledger_model.rows()]

    # Filter by kind, then by words typed in the box.
    view.ledger_kind.setCurrentIndex(view.ledger_kind.findData("money"))
    assert set(_shown(view, "Type")) == {"payment", "reversal"}
    view.ledger_filter.setFocus()
    qtbot.keyClicks(view.ledger_filter, "chk-2026-02")
    assert _shown(view, "Reference") == ["chk-2026-02-01"]
    assert view.ledger_count.text() == f"1 of {view.ledger_model.rowCount()} lines"
    # The selection and Reverse follow the filtered row to its entry.
    view.ledger_table.selectRow(0)
    assert view.selected_line().reference == "chk-2026-02-01"
    view.ledger_filter.clear()
    view.ledger_kind.setCurrentIndex(0)
    assert view.ledger_proxy.rowCount() == view.ledger_model.rowCount()

    # At 1366x768 every key column is on screen without scrolling sideways.
    viewport = view.ledger_table.viewport().width()
    for title in ("#", "Effective", "Type", "Amount", "Interest", "Principal", "Balance", "Fees"):
        column = _column(view, title)
        right = header.sectionViewportPosition(column) + header.sectionSize(column)
        assert right <= viewport, f"{title} is cut off ({right} > {viewport})"
    for title in ("Suspense", "Refund"):  # never used on this loan: hidden
        assert view.ledger_table.isColumnHidden(_column(view, title))
    # The header's menu shows a hidden column again, and the choice holds when the account is re-read.
    menu = view.ledger_columns_menu()
    suspense = next(a for a in menu.actions() if a.text() == "Suspense")
    assert not suspense.isChecked()
    suspense.trigger()
    assert not view.ledger_table.isColumnHidden(_column(view, "Suspense"))
    with qtbot.waitSignal(view.account_shown, timeout=15_000):
        view.refresh()
    assert not view.ledger_table.isColumnHidden(_column(view, "Suspense"))
    assert view.ledger_table.isColumnHidden(_column(view, "Refund"))
    settle(qtbot, window.workspace.tasks)


def test_the_letters_tab_says_what_waits_for_the_next_letter_run() -> None:
    """Statements end of day queued show on the account before they are printed (issue 13, item 4)."""
    from datetime import date
    from types import SimpleNamespace

    from app.services.letters import QueuedLetter
    from app.ui.views.account_view import letters_note

    waiting = SimpleNamespace(letters=(), queued_letters=(
        QueuedLetter(1, "statement", date(2026, 6, 6), "payment due 2026-06-20, 15 days ahead", date(2026, 6, 20)),
        QueuedLetter(2, "late-notice", date(2026, 7, 5), "15 days past due")))
    assert letters_note(waiting) == (  # type: ignore[arg-type]
        "No letter has been sent yet. Waiting for the next letter run: Statement for the payment due 2026-06-20 "
        "(queued 2026-06-06); Late notice (queued 2026-07-05).")
    assert letters_note(SimpleNamespace(letters=(object(),), queued_letters=())).startswith(  # type: ignore[arg-type]
        "Letters sent to this borrower, newest first.")
