"""The Requests view: the Reg X / Reg Z worklist (issue 11, item 4).

Business date Monday 2026-06-01.  Dates counted by hand in tests/services/test_requests.py: a notice received
Wed 2026-05-20 is acknowledged by Thu 05-28 (Memorial Day skipped) and answered by Fri 07-03 (Juneteenth
skipped); a payoff statement asked for Fri 05-29 is due Tue 06-09.
"""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.services import requests
from tests.services.test_requests import mortgage
from tests.ui.helpers import settle

pytestmark = pytest.mark.qt

D = dt.date


def open_requests(qtbot, open_window, role: str = "clerk"):
    window = open_window(role)
    view = window.requests_view
    qtbot.keyClick(window, Qt.Key.Key_8, Qt.KeyboardModifier.ControlModifier)
    assert window.current_view() is view
    settle(qtbot, window.workspace.tasks)
    return window, view


def test_logging_a_notice_shows_its_due_dates_and_the_worklist_marks_overdue_in_red(qtbot, desk,
                                                                                   open_window) -> None:
    _, contexts = desk
    number = mortgage(contexts["admin"])
    requests.log_request(contexts["clerk"], number, "payoff_request", received_on=D(2026, 5, 29),
                         description="Payoff for a sale")
    window, view = open_requests(qtbot, open_window)
    assert view.model.rowCount() == 1

    view.loan_edit.setFocus()
    qtbot.keyClicks(view.loan_edit, number)
    qtbot.keyClick(view.loan_edit, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is view.kind_combo  # "Notice of error" is the first kind
    view.received_edit.line_edit.setFocus()
    view.received_edit.line_edit.selectAll()
    for char in "05/20/2026":
        qtbot.keyClick(view.received_edit.line_edit, char)
    qtbot.waitUntil(lambda: "July 3, 2026" in view.due_label.text(), timeout=15_000)
    assert view.due_label.text() == ("Due: acknowledge by <b>Thursday, May 28, 2026</b>, respond by "
                                     "<b>Friday, July 3, 2026</b>.")
    # Nothing written yet: refused in words, the field outlined.
    qtbot.mouseClick(view.log_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    assert view.log_message.text().startswith("Description: say what the borrower wrote")
    assert view.description_edit.property("problemOutline") is True
    assert len(requests.requests(contexts["clerk"])) == 1

    view.description_edit.setFocus()
    qtbot.keyClicks(view.description_edit, "May payment applied to the wrong month")
    assert "a written request typed in Requests" in " ".join(window.unsaved_work())  # quitting would ask
    with qtbot.waitSignal(view.request_saved, timeout=15_000):
        qtbot.mouseClick(view.log_button, Qt.MouseButton.LeftButton)
    assert "acknowledge by 2026-05-28, respond by 2026-07-03" in view.log_message.text()
    settle(qtbot, window.workspace.tasks)
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=15_000)
    # Earliest next due first: the notice (acknowledge by 05-28, overdue) above the payoff (06-09).
    first, second = view.model.rows()
    assert (first.kind, first.next_due, first.overdue) == ("notice_of_error", D(2026, 5, 28), True)
    assert (second.kind, second.next_due, second.overdue) == ("payoff_request", D(2026, 6, 9), False)
    assert view.model.index(0, 1).data() == "2026-05-28 overdue"
    assert view.model.index(0, 0).data(Qt.ItemDataRole.ForegroundRole).color().name() == "#a00000"
    assert view.model.index(1, 0).data(Qt.ItemDataRole.ForegroundRole) is None
    assert view.count_label.text() == "2 requests, 1 overdue"

    # Acknowledge it today: next, respond by 07-03, no longer overdue.
    view.table.selectRow(0)
    assert view.ack_button.isEnabled()
    with qtbot.waitSignal(view.request_saved, timeout=15_000):
        qtbot.mouseClick(view.ack_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    qtbot.waitUntil(lambda: not view.model.rows()[0].overdue or view.model.rows()[1].kind == "notice_of_error",
                    timeout=15_000)
    notice = next(r for r in view.model.rows() if r.kind == "notice_of_error")
    assert (notice.acknowledged_on, notice.next_step, notice.next_due) == (D(2026, 6, 1), "respond", D(2026, 7, 3))
    assert view.model.rows()[0].kind == "payoff_request"  # 06-09 is now the earliest

    # Answering needs a note; with one, the request leaves the open worklist.
    row = [r.kind for r in view.model.rows()].index("payoff_request")
    view.table.selectRow(row)
    qtbot.mouseClick(view.answer_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    assert view.done_message.text().startswith("Note: say how it was answered")
    view.done_note.setFocus()
    qtbot.keyClicks(view.done_note, "Statement mailed")
    with qtbot.waitSignal(view.request_saved, timeout=15_000):
        qtbot.mouseClick(view.answer_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=15_000)
    assert view.model.rows()[0].kind == "notice_of_error"
    # Double-click opens the account.
    view.table.selectRow(0)
    view.table.doubleClicked.emit(view.model.index(0, 2))
    settle(qtbot, window.workspace.tasks)
    assert window.current_view() is window.account_view


def test_a_loan_that_is_not_a_mortgage_is_refused_naming_the_loan(qtbot, desk, open_window) -> None:
    from tests.services.loans import make_loan

    _, contexts = desk
    car = make_loan(contexts["admin"])
    window, view = open_requests(qtbot, open_window, "collector")
    view.loan_edit.setText(car)
    view.description_edit.setPlainText("Wrong late fee")
    qtbot.mouseClick(view.log_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    assert view.log_message.text() == (f"Loan number: {car} is not secured by real estate; Regulation X requests "
                                       "are for mortgage loans.")
    assert view.loan_edit.property("problemOutline") is True
    assert requests.requests(contexts["collector"]) == []
