"""The global audit search view (issue 11, item 5): managers and administrators only, filters, paging."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import Qt

from app.services import servicing
from app.ui.views import audit_view
from tests.services.loans import make_loan
from tests.ui.helpers import settle

pytestmark = pytest.mark.qt


def _history(contexts) -> tuple[str, str]:
    admin, clerk = contexts["admin"], contexts["clerk"]
    first, second = make_loan(admin), make_loan(admin)
    servicing.post_payment(clerk, first, "888.49", date(2026, 2, 1), reference="CHK 1", confirm_backdated=True)
    servicing.post_payment(clerk, second, "250.00", method="ach")
    servicing.assess_fee(contexts["manager"], first, "25.00", "nsf")
    return first, second


def test_only_managers_and_admins_have_it(qtbot, desk, open_window) -> None:
    for role, has in (("clerk", False), ("collector", False), ("manager", True), ("admin", True)):
        window = open_window(role)
        assert (window.audit_view is not None) is has
        window.close()


def test_search_by_user_action_and_loan_by_keyboard(qtbot, desk, open_window) -> None:
    _, contexts = desk
    first, second = _history(contexts)
    window = open_window("manager")
    qtbot.keyClick(window, Qt.Key.Key_7, Qt.KeyboardModifier.ControlModifier)
    view = window.audit_view
    assert window.current_view() is view
    with qtbot.waitSignal(view.page_shown, timeout=15_000):
        settle(qtbot, window.workspace.tasks)
    qtbot.waitUntil(lambda: view.user_combo.findData("clerk") >= 0, timeout=15_000)

    view.user_combo.setCurrentIndex(view.user_combo.findData("clerk"))
    view.action_combo.setCurrentIndex(view.action_combo.findData("payment"))
    with qtbot.waitSignal(view.page_shown, timeout=15_000) as shown:
        view.search_button.click()
    assert [line.loan_number for line in shown.args[0].lines] == [second, first]
    assert view.model.data(view.model.index(1, 2)) == (
        "Clerk User posted an $888.49 check payment effective Feb 1, 2026, back-dated (confirmed) "
        "(reference CHK 1).")
    assert view.count_label.text() == "Records 1\N{EN DASH}2 of 2 (page 1 of 1)"

    # A loan typed in the box and Enter: only that loan's records, whoever made them.
    view.user_combo.setCurrentIndex(0)
    view.action_combo.setCurrentIndex(0)
    view.loan_edit.setFocus()
    qtbot.keyClicks(view.loan_edit, first)
    with qtbot.waitSignal(view.page_shown, timeout=15_000) as shown:
        qtbot.keyClick(view.loan_edit, Qt.Key.Key_Return)
    sentences = [line.sentence for line in shown.args[0].lines]
    assert sentences[0] == "Manager User assessed a $25.00 NSF fee effective Jun 1, 2026."
    assert {line.loan_number for line in shown.args[0].lines} == {first}

    # Double-click opens the account.
    with qtbot.waitSignal(window.account_view.account_shown, timeout=15_000):
        view.table.selectRow(0)
        view._open_selected()
    assert window.account_view.loan_number == first


def test_refusals_name_the_field_and_leave_the_page(qtbot, desk, open_window) -> None:
    _, contexts = desk
    _history(contexts)
    window = open_window("admin")
    window.show_view(window.audit_view)
    view = window.audit_view
    qtbot.waitUntil(lambda: view.page is not None, timeout=15_000)
    before = view.model.rows()
    view.loan_edit.setText("T-999999")
    view.search_button.click()
    qtbot.waitUntil(lambda: view.problem_label.isVisible(), timeout=15_000)
    assert view.problem_label.text() == "Loan number: 'T-999999' is not a loan number on file."
    assert view.loan_edit.property("problemOutline")
    assert view.model.rows() == before
    view.loan_edit.clear()
    view.from_edit.set_value(date(2026, 6, 2))
    view.to_edit.set_value(date(2026, 6, 1))
    view.search_button.click()
    qtbot.waitUntil(lambda: view.to_edit.property("problemOutline") is True, timeout=15_000)
    assert view.problem_label.text() == "To: 2026-06-01 is before the from date 2026-06-02."


def test_pages(qtbot, desk, open_window, monkeypatch) -> None:
    _, contexts = desk
    _history(contexts)
    monkeypatch.setattr(audit_view, "PAGE_SIZE", 2)
    window = open_window("manager")
    window.show_view(window.audit_view)
    view = window.audit_view
    qtbot.waitUntil(lambda: view.page is not None, timeout=15_000)
    total = view.page.total
    assert total > 4 and view.model.rowCount() == 2 and view.next_button.isEnabled()
    assert not view.previous_button.isEnabled()
    first_page = view.model.rows()
    with qtbot.waitSignal(view.page_shown, timeout=15_000):
        view.next_button.click()
    assert view.page.page == 2 and view.previous_button.isEnabled()
    assert view.model.rows()[0].at <= first_page[-1].at
