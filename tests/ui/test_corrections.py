"""Correcting a mis-logged contact or promise from the collections view (issue 11, item 4).

Append-only: the correction is a new row pointing at the original, which is
kept and shown struck through.  The loan is tests/services/loans.py's textbook
one, nothing paid (first in the queue on 2026-06-01).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from app.services import collections
from tests.services.loans import make_loan
from tests.ui.helpers import settle

pytestmark = pytest.mark.qt

CALLED = dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.UTC)


def select_row(table, row: int) -> None:
    table.selectionModel().select(table.model().index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                  | QItemSelectionModel.SelectionFlag.Rows)


def collections_for(qtbot, open_window, role: str = "collector", *, promised: bool = False):
    window = open_window(role)
    view = window.collections_view
    window.show_view(view)
    if promised:
        view.promised_check.setChecked(True)  # a promised account is off the queue by default
    settle(qtbot, window.workspace.tasks)
    qtbot.waitUntil(lambda: view.contacts_model.rowCount() > 0, timeout=15_000)
    return window, view


def test_a_contact_is_corrected_from_the_queue_and_the_original_struck_through(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    logged = collections.log_contact(contexts["collector"], number, channel="call", outcome="no_answer",
                                     note="rang", at=CALLED)
    window, view = collections_for(qtbot, open_window)
    assert view.current_loan() == number
    assert not view.correct_contact_button.isEnabled()  # nothing selected yet
    select_row(view.contacts_table, 0)
    assert view.correct_contact_button.isEnabled()
    qtbot.mouseClick(view.correct_contact_button, Qt.MouseButton.LeftButton)
    dialog = view.correction_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    assert dialog.outcome_combo.findData("promise_to_pay") == -1  # a promise is logged, never corrected into

    # No reason: refused in words, the field outlined, nothing recorded.
    dialog.outcome_combo.setCurrentIndex(dialog.outcome_combo.findData("contacted"))
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    assert dialog.isVisible()
    assert dialog.error.text() == "Reason: say what was logged wrongly (kept with the correction)."
    assert dialog.reason_edit.property("problemOutline") is True
    assert len(collections.contact_history(contexts["collector"], number)) == 1

    dialog.reason_edit.setFocus()
    qtbot.keyClicks(dialog.reason_edit, "she picked up")
    qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)  # Enter in a field never records it
    settle(qtbot, window.workspace.tasks)
    assert len(collections.contact_history(contexts["collector"], number)) == 1
    with qtbot.waitSignal(dialog.corrected, timeout=15_000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    qtbot.waitUntil(lambda: view.contacts_model.rowCount() == 2, timeout=15_000)
    correction, original = view.contacts_model.rows()
    assert (original.id, original.outcome, original.corrected_by_id) == (logged.contact_id, "no_answer", correction.id)
    assert (correction.outcome, correction.corrects_id, correction.correction_reason) == (
        "contacted", logged.contact_id, "she picked up")
    # The original row is struck through and says what corrected it; the correction says what it corrects.
    column = [c.title for c in view.contacts_model.columns].index("Correction")
    struck = view.contacts_model.index(1, 0).data(Qt.ItemDataRole.FontRole)
    assert struck is not None and struck.strikeOut()
    assert view.contacts_model.index(0, 0).data(Qt.ItemDataRole.FontRole) is None
    assert view.contacts_model.index(1, column).data() == f"Corrected by #{correction.id}"
    assert view.contacts_model.index(0, column).data() == f"Corrects #{logged.contact_id}: she picked up"
    select_row(view.contacts_table, 1)
    assert not view.correct_contact_button.isEnabled()  # a corrected contact: correct its correction


def test_an_open_promise_is_corrected_to_the_right_date_and_amount(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    logged = collections.log_contact(contexts["collector"], number, channel="call", outcome="promise_to_pay",
                                     promises=[(dt.date(2026, 6, 5), "125.00")], at=CALLED)
    window, view = collections_for(qtbot, open_window, promised=True)
    qtbot.waitUntil(lambda: view.promises_model.rowCount() == 1, timeout=15_000)
    select_row(view.promises_table, 0)
    qtbot.mouseClick(view.correct_promise_button, Qt.MouseButton.LeftButton)
    dialog = view.correction_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    dialog.due_edit.line_edit.setFocus()
    dialog.due_edit.line_edit.selectAll()
    qtbot.keyClicks(dialog.due_edit.line_edit, "06/12/2026")
    dialog.amount_edit.setFocus()
    dialog.amount_edit.selectAll()
    qtbot.keyClicks(dialog.amount_edit, "100.00")
    dialog.reason_edit.setFocus()
    qtbot.keyClicks(dialog.reason_edit, "she said the 12th")
    with qtbot.waitSignal(dialog.corrected, timeout=15_000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    listed = collections.promises(contexts["collector"], number)
    assert [(p.due_date, p.amount, p.status, p.corrects_id) for p in listed] == [
        (dt.date(2026, 6, 5), D("125.00"), "corrected", None),
        (dt.date(2026, 6, 12), D("100.00"), "open", logged.promises[0].id)]
    qtbot.waitUntil(lambda: view.promises_model.rowCount() == 2, timeout=15_000)
    assert view.promises_model.index(0, 0).data(Qt.ItemDataRole.FontRole).strikeOut()


def test_correcting_is_hidden_for_those_who_may_not_log_contacts(desk, open_window) -> None:
    window = open_window("clerk")
    view = window.collections_view
    assert not view.correct_contact_button.isVisibleTo(window)
    assert not view.correct_promise_button.isVisibleTo(window)
