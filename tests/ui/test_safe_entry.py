"""Data entry that cannot mislead, and unsaved work that is never lost (issue 11, items 1 and 2).

Real key sequences typed into the real widgets; what was posted is read back
through the services.  The loan is the textbook one of tests/services/loans.py
(888.49 a month from 2026-02-01); the business date is Monday 2026-06-01.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton, QWidget

from app.db.models import Loan
from app.services import accounts, batch_drafts
from app.ui.widgets.date_edit import DateEdit
from tests.services.loans import make_loan
from tests.ui.helpers import message_boxes, settle

pytestmark = pytest.mark.qt


def focused() -> QWidget | None:
    return QApplication.focusWidget()


def payments(ctx, number: str) -> list[accounts.LedgerLine]:
    return [line for line in accounts.account(ctx, number).lines if line.type == "payment"]


def answer(qtbot, yes: bool) -> str:
    """Answer the question on screen; returns its text."""
    qtbot.waitUntil(lambda: bool(message_boxes()), timeout=15_000)
    box = message_boxes()[0]
    text = box.text()
    button = box.findChild(QPushButton, "confirmYes" if yes else "confirmNo")
    assert button is not None, text
    button.click()
    qtbot.waitUntil(lambda: box not in message_boxes(), timeout=5_000)
    return text


# ---------------------------------------------------------------- the date field alone


@pytest.mark.parametrize("typed", ["2026-11-20", "11/20/2026", "11202026", "11-20-2026"])
def test_date_field_takes_every_form_and_keeps_the_focus(qtbot, typed) -> None:
    from PySide6.QtWidgets import QLineEdit, QVBoxLayout

    form = QWidget()
    qtbot.addWidget(form)
    edit = DateEdit(form, field="Effective date")
    after = QLineEdit(form)
    layout = QVBoxLayout(form)
    layout.addWidget(edit)
    layout.addWidget(after)
    form.show()
    qtbot.waitExposed(form)
    form.activateWindow()
    qtbot.waitActive(form)
    qtbot.wait(10)
    edit.setFocus()
    qtbot.wait(10)
    assert focused() is edit.line_edit  # the field's focus is its text part
    seen: list[object] = []
    edit.value_changed.connect(seen.append)
    for char in typed:
        qtbot.keyClick(focused(), char)
        assert focused() is edit.line_edit  # a separator never moves the focus
    assert edit.value() == date(2026, 11, 20)
    assert seen[-1] == date(2026, 11, 20)
    assert edit.words_label.text() == "Friday, November 20, 2026"
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert edit.text() == "2026-11-20"  # shown as ISO once left


def test_date_field_says_what_is_wrong_with_the_field_named(qtbot) -> None:
    edit = DateEdit(field="Effective date")
    qtbot.addWidget(edit)
    edit.set_range(None, date(2026, 6, 1), maximum_name="the open business date")
    qtbot.keyClicks(edit.line_edit, "02/30/2026")
    assert edit.value() is None
    assert edit.problem() == "Effective date: \u201c02/30/2026\u201d is not a date: February 2026 has no day 30."
    assert edit.words_label.text() == edit.problem() and edit.line_edit.styleSheet()  # outlined
    edit.clear()
    qtbot.keyClicks(edit.line_edit, "06/02/2026")
    assert edit.value() is None and edit.problem() == (
        "Effective date: Tuesday, June 2, 2026 is after the open business date, Monday, June 1, 2026.")
    edit.clear()
    qtbot.keyClicks(edit.line_edit, "2026 x.05")  # space, letters and dots never get in
    assert edit.text() == "202605"
    edit.set_value(date(2026, 5, 31))
    qtbot.keyClick(edit.line_edit, Qt.Key.Key_Up)
    assert edit.value() == date(2026, 6, 1)
    qtbot.keyClick(edit.line_edit, Qt.Key.Key_Up)  # not past the maximum
    assert edit.value() == date(2026, 6, 1)


def test_date_field_calendar_pop_up(qtbot) -> None:
    edit = DateEdit(field="Effective date")
    qtbot.addWidget(edit)
    edit.show()
    edit.set_value(date(2026, 5, 4))
    qtbot.keyClick(edit.line_edit, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    calendar = edit.calendar()
    assert calendar is not None and calendar.isVisible()
    assert calendar.selectedDate().toPython() == date(2026, 5, 4)
    from PySide6.QtCore import QDate

    calendar.clicked.emit(QDate(2026, 5, 20))
    assert edit.value() == date(2026, 5, 20) and not calendar.isVisible()


# ---------------------------------------------------------------- payment entry


def fill_payment(qtbot, view, number: str, amount: str, day: str | None, reference: str) -> None:
    """Loan, Tab, amount, Tab, date, Tab, (method) Tab, reference -- keys only."""
    view.loan_edit.setFocus()
    qtbot.keyClicks(focused(), number)
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert focused() is view.amount_edit
    qtbot.keyClicks(focused(), amount)
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert focused() is view.date_edit.line_edit
    if day is not None:
        for char in day:
            qtbot.keyClick(focused(), char)
            assert focused() is view.date_edit.line_edit
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert focused() is view.method_combo
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert focused() is view.reference_edit
    qtbot.keyClicks(focused(), reference)


@pytest.mark.parametrize("typed", ["2026-05-20", "05/20/2026", "05202026", "5/20/2026"])
def test_a_back_dated_payment_typed_in_any_form_is_confirmed_in_words_and_posted_on_that_date(
        qtbot, desk, open_window, typed) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = window.payment_view
    window.show_view(view)
    fill_payment(qtbot, view, number, "$1,776.98", typed, "CHK 77")
    qtbot.waitUntil(lambda: view.preview_is_current() and view.post_button.isEnabled(), timeout=15_000)
    assert view.date_edit.words_label.text() == "Wednesday, May 20, 2026"
    qtbot.keyClick(focused(), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    text = answer(qtbot, yes=True)
    assert text.startswith("This payment will be posted as received on Wednesday, May 20, 2026, 12 days before "
                           "today's business date, Monday, June 1, 2026.")
    qtbot.waitUntil(lambda: "Posted" in view.result_label.text(), timeout=15_000)
    settle(qtbot, window.workspace.tasks)
    [line] = payments(contexts["clerk"], number)
    assert line.effective_date == date(2026, 5, 20) and line.amount == D("1776.98")
    assert line.reference == "CHK 77"


def test_declining_the_date_question_posts_nothing(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = window.payment_view
    window.show_view(view)
    fill_payment(qtbot, view, number, "100", "05012026", "CHK 1")
    qtbot.waitUntil(lambda: view.preview_is_current() and view.post_button.isEnabled(), timeout=15_000)
    qtbot.keyClick(focused(), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "Friday, May 1, 2026, 31 days before" in answer(qtbot, yes=False)
    settle(qtbot, window.workspace.tasks)
    assert payments(contexts["clerk"], number) == []
    assert view.loan_edit.text() == number  # the form is kept as typed


def test_a_stray_space_or_enter_in_the_form_never_posts(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = window.payment_view
    window.show_view(view)
    fill_payment(qtbot, view, number, "250.00", None, "CHK 5")  # the date stays the business date
    qtbot.waitUntil(lambda: view.preview_is_current() and view.post_button.isEnabled(), timeout=15_000)
    assert view.post_button.isEnabled()
    assert not view.post_button.autoDefault() and not view.post_button.isDefault()
    for field in (view.loan_edit, view.amount_edit, view.date_edit.line_edit, view.reference_edit):
        field.setFocus()
        qtbot.keyClick(field, Qt.Key.Key_Space)
        qtbot.keyClick(field, Qt.Key.Key_Return)
        qtbot.wait(50)
        settle(qtbot, window.workspace.tasks)
    assert message_boxes() == []
    assert payments(contexts["clerk"], number) == []
    assert view.amount_edit.value() == D("250.00") and view.date_edit.value() == date(2026, 6, 1)
    # Ctrl+P posts what is typed (the business date: no question).
    view.reference_edit.setFocus()
    qtbot.waitUntil(view.preview_is_current, timeout=15_000)
    with qtbot.waitSignal(view.payment_posted, timeout=15_000):
        qtbot.keyClick(focused(), Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    [line] = payments(contexts["clerk"], number)
    assert line.effective_date == date(2026, 6, 1) and line.amount == D("250.00")


def test_payment_entry_takes_a_loan_number_by_its_digits(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    with contexts["admin"].unit() as session:
        session.query(Loan).filter(Loan.loan_number == number).one().loan_number = "KL-100118"
    window = open_window("clerk")
    view = window.payment_view
    window.show_view(view)
    view.loan_edit.setFocus()
    qtbot.keyClicks(view.loan_edit, "100118")
    qtbot.waitUntil(lambda: "amount due" in view.loan_info.text(), timeout=15_000)
    qtbot.keyClick(view.loan_edit, Qt.Key.Key_Return)
    qtbot.keyClicks(focused(), "50")
    with qtbot.waitSignal(view.preview_shown, timeout=15_000):
        qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    with qtbot.waitSignal(view.payment_posted, timeout=15_000) as posted:
        view.post_button.click()
    assert posted.args[0].loan_number == "KL-100118"


def test_a_refused_amount_names_the_field_and_outlines_it(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = window.payment_view
    window.show_view(view)
    view.loan_edit.setFocus()
    qtbot.keyClicks(view.loan_edit, "NO-SUCH-1")
    qtbot.keyClick(view.loan_edit, Qt.Key.Key_Tab)
    qtbot.keyClicks(focused(), "10")
    qtbot.waitUntil(lambda: view.problem_label.text() != "", timeout=15_000)
    assert view.problem_label.text().startswith("Loan number: ")
    assert view.loan_edit.property("problemOutline") is True
    assert number  # the real loan is untouched


# ---------------------------------------------------------------- unsaved work


def type_batch_row(qtbot, view, number: str, amount: str, reference: str) -> None:
    for text in (number, amount, reference):
        for char in text:
            qtbot.keyClicks(focused(), char)
        qtbot.keyClick(focused(), Qt.Key.Key_Tab)
        qtbot.wait(20)


def test_a_draft_batch_survives_closing_the_window_and_posts_later(qtbot, desk, open_window, make_workspace) -> None:
    from app.ui.main_window import MainWindow

    _, contexts = desk
    first, second = make_loan(contexts["admin"]), make_loan(contexts["admin"])
    window = open_window("clerk")
    view = window.batch_view
    window.show_view(view)
    view.control_edit.setFocus()
    qtbot.keyClicks(view.control_edit, "$1,000.00")
    qtbot.keyClick(view.control_edit, Qt.Key.Key_Return)
    type_batch_row(qtbot, view, first, "600", "CHK 1")
    type_batch_row(qtbot, view, second, "300", "CHK 2")  # 100.00 short: not postable yet
    qtbot.waitUntil(lambda: view.model.count() == 2, timeout=5_000)
    qtbot.waitUntil(lambda: view._draft_id is not None and not view._save_timer.isActive()
                    and not view._draft_saving, timeout=15_000)
    settle(qtbot, window.workspace.tasks)
    window.close()
    text = answer(qtbot, yes=True)  # quitting with a batch on screen asks, and says it is kept
    assert "batch of 2 payments" in text and "kept as a draft" in text
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)

    [draft] = batch_drafts.list_drafts(contexts["clerk"])
    assert [(r.loan_number, r.amount, r.reference) for r in draft.rows] == [
        (first, "600.00", "CHK 1"), (second, "300.00", "CHK 2")]
    assert draft.control_total == D("1000.00")
    assert batch_drafts.list_drafts(contexts["manager"]) == []  # per user

    again = MainWindow(make_workspace("clerk"))
    qtbot.addWidget(again)
    again.show()
    again.show_view(again.batch_view)
    view = again.batch_view
    qtbot.waitUntil(lambda: view.model.count() == 2, timeout=15_000)
    assert view.control_edit.value() == D("1000.00")
    assert "Resumed your draft" in view.status_label.text()
    assert view.drafts_list.count() == 1 and "2 payments" in view.drafts_list.item(0).text()
    view.model.setData(view.model.index(1, 1), D("400.00"))
    qtbot.waitUntil(view.post_button.isEnabled, timeout=15_000)
    settle(qtbot, again.workspace.tasks)
    with qtbot.waitSignal(view.batch_posted, timeout=15_000):
        view.post_button.click()
    settle(qtbot, again.workspace.tasks)
    assert batch_drafts.list_drafts(contexts["clerk"]) == []
    assert [line.amount for line in payments(contexts["clerk"], second)] == [D("400.00")]
    again.close()  # nothing unsaved: no question
    assert message_boxes() == []


def test_drafts_are_listed_and_deleted_from_the_batch_view(qtbot, desk, open_window) -> None:
    _, contexts = desk
    kept = batch_drafts.create_draft(contexts["clerk"], control_total=D("5.00"),
                                     rows=[batch_drafts.DraftRow("T-1", "5.00")])
    window = open_window("clerk")
    view = window.batch_view
    window.show_view(view)
    qtbot.waitUntil(lambda: view.model.count() == 1, timeout=15_000)  # the newest draft is resumed
    view.new_batch()
    settle(qtbot, window.workspace.tasks)
    assert view.model.count() == 0 and view.drafts_list.count() == 1
    view.drafts_list.setCurrentRow(0)
    view.delete_draft_button.click()
    assert "Delete draft #" in answer(qtbot, yes=True)
    settle(qtbot, window.workspace.tasks)
    assert batch_drafts.list_drafts(contexts["clerk"]) == []
    assert not view.resume_button.isEnabled()
    assert kept.id


def test_quitting_with_a_half_typed_payment_asks(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = window.payment_view
    window.show_view(view)
    view.loan_edit.setFocus()
    qtbot.keyClicks(view.loan_edit, number)
    qtbot.keyClick(view.loan_edit, Qt.Key.Key_Tab)
    qtbot.keyClicks(focused(), "25")
    settle(qtbot, window.workspace.tasks)
    qtbot.keyClick(focused(), Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Q
    text = answer(qtbot, yes=False)
    assert text.startswith("Quit with unfinished work?") and f"payment of $25.00 to {number}" in text
    assert window.isVisible() and view.amount_edit.value() == D("25.00")  # nothing lost
    # Signing out asks the same way.
    window.findChild(type(window.post_action), "signOutAction").trigger()
    assert answer(qtbot, yes=True).startswith("Sign out with unfinished work?")
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)


def test_quitting_with_a_terms_change_typed_asks(qtbot, desk, open_window) -> None:
    from app.ui.dialogs.terms_dialog import TermsDialog

    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("manager")
    dialog = TermsDialog(window.workspace, number, window)
    dialog.show()
    qtbot.keyClicks(dialog.rate_edit, "9.5")
    window.close()
    assert "terms change to" in answer(qtbot, yes=False)
    assert window.isVisible()
    dialog.reject()
    window.close()
    assert message_boxes() == [] and not window.isVisible()
    assert isinstance(QMessageBox, type)
