"""Allocation override in payment entry (issue 11, item 4): a manager's, posted through servicing.post_payment.

The loan is the textbook one of tests/services/loans.py: 10,000.00 at 12 % for
12 months from 2026-01-01, nothing paid; the business date is 2026-06-01.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.services import accounts, servicing
from tests.services.loans import make_loan
from tests.ui.helpers import settle
from tests.ui.test_safe_entry import fill_payment

pytestmark = pytest.mark.qt


def payments(ctx, number: str) -> list[accounts.LedgerLine]:
    return [line for line in accounts.account(ctx, number).lines if line.type == "payment"]


def type_amount(qtbot, edit, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)


def open_dialog(qtbot, view):
    qtbot.waitUntil(lambda: view.preview_is_current() and view.override_button.isEnabled(), timeout=15_000)
    qtbot.mouseClick(view.override_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(view, "override_dialog", None) is not None
                    and view.override_dialog.isVisible(), timeout=5_000)
    return view.override_dialog


def test_a_manager_splits_a_payment_refused_until_it_adds_up_then_posts_it(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("manager")
    view = window.payment_view
    window.show_view(view)
    fill_payment(qtbot, view, number, "500.00", None, "CHK 9")
    dialog = open_dialog(qtbot, view)
    # The product's order is shown beside each part: 500.00 all on the oldest installment's interest
    # (10,000.00 x 1 % = 100.00) and then its principal (400.00).
    assert dialog.edits["interest"].value() == D("100.00") and dialog.edits["principal"].value() == D("400.00")

    # 100.00 + 350.00 + 0 + 0 = 450.00, not 500.00: refused in words, nothing posted.
    type_amount(qtbot, dialog.edits["principal"], "350.00")
    assert dialog.total_label.text() == "The parts add up to $450.00: $50.00 left to split."
    dialog.reason_combo.setCurrentIndex(dialog.reason_combo.findData("court_order"))
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    assert dialog.isVisible()
    assert dialog.error.text() == "Allocation: the parts add up to 450.00, not the payment's 500.00."
    assert payments(contexts["manager"], number) == []

    # 250.00 interest + 250.00 principal = 500.00: accepted; the preview shows the split.
    type_amount(qtbot, dialog.edits["interest"], "250.00")
    type_amount(qtbot, dialog.edits["principal"], "250.00")
    assert dialog.total_label.text() == "The parts add up to the payment, $500.00."
    with qtbot.waitSignal(view.preview_shown, timeout=15_000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible() if _alive(dialog) else True, timeout=5_000)
    assert view.allocation["interest"].text() == "$250.00" and view.allocation["principal"].text() == "$250.00"
    assert "Court order" in view.override_label.text() and view.remove_override_button.isVisible()

    window.activateWindow()
    view.reference_edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view.reference_edit, timeout=5_000)
    with qtbot.waitSignal(view.payment_posted, timeout=15_000):
        qtbot.keyClick(view.reference_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "allocation overridden" in view.result_label.text()
    [line] = payments(contexts["manager"], number)
    assert (line.amount, line.interest, line.principal) == (D("500.00"), D("250.00"), D("250.00"))
    # Principal 10,000.00 - 250.00 = 9,750.00; listed with its reason code in the overrides report.
    assert accounts.account(contexts["manager"], number).snapshot.principal == D("9750.00")
    [listed] = servicing.overrides_report(contexts["manager"])
    assert listed.loan_number == number and listed.reason_code == "court_order"
    assert listed.split == {"interest": D("250.00"), "principal": D("250.00"), "fees": D("0.00"),
                            "suspense": D("0.00")}
    assert view.override() is None and not view.override_label.isVisible()


def test_changing_the_amount_drops_the_override_and_says_so(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("manager")
    view = window.payment_view
    window.show_view(view)
    fill_payment(qtbot, view, number, "500.00", None, "")
    dialog = open_dialog(qtbot, view)
    type_amount(qtbot, dialog.edits["interest"], "500.00")
    type_amount(qtbot, dialog.edits["principal"], "0")
    dialog.reason_combo.setCurrentIndex(dialog.reason_combo.findData("borrower_request"))
    with qtbot.waitSignal(view.preview_shown, timeout=15_000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert view.override() is not None
    # Opened again: the split in use, and the product's order still beside it (100.00 interest, 400.00 principal).
    again = open_dialog(qtbot, view)
    assert again.edits["interest"].value() == D("500.00") and again.reason() == "borrower_request"
    assert "$400.00" in [label.text() for label in again.findChildren(type(again.total_label))]
    again.reject()
    type_amount(qtbot, view.amount_edit, "600.00")
    assert view.override() is None
    assert view.override_label.text().startswith("The allocation override was removed because the payment changed")
    # The product's order again: 100.00 interest, 500.00 principal of the oldest installment.
    qtbot.waitUntil(lambda: view.preview_is_current(), timeout=15_000)
    assert view.allocation["interest"].text() == "$100.00" and view.allocation["principal"].text() == "$500.00"


def test_a_split_needs_a_reason(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("manager")
    view = window.payment_view
    window.show_view(view)
    fill_payment(qtbot, view, number, "100.00", None, "")
    dialog = open_dialog(qtbot, view)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == "Reason: choose why the payment is applied this way."
    assert dialog.reason_combo.property("problemOutline") is True


@pytest.mark.parametrize("role", ["clerk", "collector"])
def test_the_override_is_hidden_without_the_permission(desk, open_window, role) -> None:
    window = open_window(role)
    assert not window.payment_view.override_button.isVisibleTo(window)


def _alive(widget) -> bool:
    try:
        widget.objectName()
    except RuntimeError:
        return False
    return True
