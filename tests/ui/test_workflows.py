"""The desktop's tasks end to end, offscreen, on a real SQLite file (issue 5, item 11).

The loan in most tests is the textbook one of tests/services/test_servicing.py:
10,000.00 at 12 % for 12 months, 888.49 a month from 2026-02-01, late fee
25.00 after 10 days; the business date is 2026-06-01.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog

from app.domain.money import format_money
from app.services import accounts, collections, dashboard, servicing
from app.ui.dialogs.connection_dialog import Connection
from app.ui.dialogs.reverse_dialog import ReverseDialog
from app.ui.dialogs.sign_in_dialog import SignInDialog
from app.ui.workers import TaskRunner
from tests.services.loans import make_loan
from tests.ui.conftest import PASSWORDS
from tests.ui.helpers import settle, visible

pytestmark = pytest.mark.qt


def three_paid(ctx) -> str:
    """Installments 1-3 paid on their due dates; 4 (May 1) and 5 (June 1) open, one late fee."""
    number = make_loan(ctx)
    for day in (date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)):
        servicing.post_payment(ctx, number, "888.49", day, reference=f"chk-{day}", confirm_backdated=True)
    return number


def focused():
    return QApplication.focusWidget()


def type_text(qtbot, text: str) -> None:
    """Type as a person does: each key goes to whatever has the focus then (an editor opens on the first)."""
    for char in text:
        qtbot.keyClicks(focused(), char)


# ---------------------------------------------------------------- signing in


def test_sign_in(qtbot, desk, db_file_url) -> None:
    from PySide6.QtCore import QSettings

    tasks = TaskRunner()
    dialog = SignInDialog(QSettings(), tasks, Connection("given", db_file_url, "test database"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled(), timeout=15_000)
    assert not visible(dialog.full_name)  # a database with users: no first-admin form

    dialog.username.setFocus()
    qtbot.keyClicks(dialog.username, "clerk")
    qtbot.keyClicks(dialog.password, "wrong-password")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "wrong password" in dialog.message.text(), timeout=15_000)
    assert dialog.password.text() == ""

    qtbot.keyClicks(dialog.password, PASSWORDS["clerk"])
    with qtbot.waitSignal(dialog.accepted, timeout=15_000):
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    signed = dialog.result_value
    assert signed is not None and signed.actor.username == "clerk" and signed.actor.role == "clerk"
    assert signed.business_date == date(2026, 6, 1)
    assert QSettings().value("signin/last_user") == "clerk"
    tasks.wait_for_all(5000)


def test_first_run_creates_the_first_administrator(qtbot, tmp_path) -> None:
    from PySide6.QtCore import QSettings

    from app.services import setup

    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    tasks = TaskRunner()
    # A book named with --db that does not exist is reported, not made (issue 12: only 'keel init' and the
    # local book's first run create one) ...
    missing = SignInDialog(QSettings(), tasks, Connection("given", url, "new database"))
    qtbot.addWidget(missing)
    missing.show()
    qtbot.waitUntil(lambda: "There is no Keel book" in missing.message.text(), timeout=15_000)
    assert not (tmp_path / "new.sqlite3").exists() and not missing.ok_button.isEnabled()
    # ... and one that exists with no users yet (as 'keel db upgrade' leaves it) asks for its first administrator.
    setup.close_database(setup.open_database(url, initialize=False))
    dialog = SignInDialog(QSettings(), tasks, Connection("given", url, "new database"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled(), timeout=15_000)
    assert visible(dialog.full_name) and "no users yet" in dialog.intro.text()
    dialog.username.setText("ada")
    dialog.full_name.setText("Ada Admin")
    dialog.password.setText("a-long-secret")
    dialog.repeat.setText("a-long-secret")
    with qtbot.waitSignal(dialog.accepted, timeout=15_000):
        dialog.ok_button.click()
    assert dialog.result_value.actor.role == "admin"
    setup.close_database(dialog.result_value.factory)
    tasks.wait_for_all(5000)


# ---------------------------------------------------------------- search


def test_search_and_open_an_account(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = three_paid(contexts["admin"])
    window = open_window("clerk")
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    box = window.search_box
    with qtbot.waitSignal(box.results_shown, timeout=15_000) as shown:
        qtbot.keyClicks(box, f"borrower{number[-3:]}")  # the last name make_loan gives
    assert [hit.loan_number for hit in shown.args[0]] == [number]
    assert box.popup.isVisible()
    with qtbot.waitSignal(window.account_view.account_shown, timeout=15_000):
        qtbot.keyClick(box, Qt.Key.Key_Return)
    view = window.account_view
    assert window.current_view() is view
    assert view.loan_number == number
    assert view.borrower_label.text() == f"Pat Borrower{number[-3:]}"
    assert view.badge.text() == "31 days past due (30-59)"  # colour and words
    assert view.figures["principal"].text() == "$7,610.80"
    assert view.figures["amount_due"].text() == format_money(D("888.49") * 2 + D("25.00"))
    assert view.figures["figure_principal" if False else "principal"].alignment() & Qt.AlignmentFlag.AlignRight
    # The full ledger: the boarding, three payments and the derived late fee.
    types = [line.type for line in view.ledger_model.rows()]
    assert types.count("payment") == 3 and "boarding" in types


def test_as_of_a_past_date(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = three_paid(contexts["admin"])
    window = open_window("clerk")
    window.open_account(number)
    view = window.account_view
    qtbot.waitUntil(lambda: view.data is not None, timeout=15_000)
    with qtbot.waitSignal(view.account_shown, timeout=15_000):
        view.as_of_edit.set_value(date(2026, 4, 2))
    assert view.data.account.snapshot.as_of == date(2026, 4, 2)
    assert view.badge.text() == "Current"
    assert "as of 2026-04-02" in view.as_of_note.text()


# ---------------------------------------------------------------- posting


def test_post_a_payment_by_keyboard_alone(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = three_paid(contexts["admin"])
    window = open_window("clerk")
    view = window.payment_view
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.current_view() is view
    view.loan_edit.setFocus()  # what showing the view does on a real desktop (offscreen has no active window)
    qtbot.keyClicks(focused(), number)
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert focused() is view.amount_edit
    qtbot.keyClicks(focused(), "1801.98")
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)  # effective date: the business date
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)  # method: check
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert focused() is view.reference_edit
    with qtbot.waitSignal(view.preview_shown, timeout=15_000):
        qtbot.keyClicks(focused(), "CHK 2041")
    # The preview shows exactly how it will be applied before anything is posted.
    assert view.allocation["interest"].text() == "$144.09"  # 76.11 + 67.98
    assert view.allocation["principal"].text() == "$1,632.89"  # 812.38 + 820.51
    assert view.allocation["fees"].text() == "$25.00"
    qtbot.waitUntil(view.preview_is_current, timeout=15_000)
    qtbot.keyClick(focused(), Qt.Key.Key_Return)  # Enter never posts (issue 11) ...
    settle(qtbot, window.workspace.tasks)
    assert "Ctrl+Enter" in view.problem_label.text() and "Posted" not in view.result_label.text()
    with qtbot.waitSignal(view.payment_posted, timeout=15_000) as posted:  # ... Ctrl+Enter does
        qtbot.keyClick(focused(), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    entry_id = posted.args[0].entry_id
    assert "Posted" in view.result_label.text()
    assert focused() is view.loan_edit and view.loan_edit.text() == ""  # ready for the next one
    settle(qtbot, window.workspace.tasks)

    window.open_account(number)
    account = window.account_view
    qtbot.waitUntil(lambda: account.select_entry(entry_id), timeout=15_000)
    line = account.selected_line()
    assert (line.amount, line.interest, line.principal, line.fees) == (
        D("1801.98"), D("144.09"), D("1632.89"), D("25.00"))
    assert line.reference == "CHK 2041" and line.method == "check"
    assert account.badge.text() == "Current"


def test_payment_entry_refuses_bad_input(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = window.payment_view
    window.show_view(view)
    view.loan_edit.setText("NO-SUCH-LOAN")
    view.amount_edit.setText("10.00")
    view._inputs_changed()
    qtbot.waitUntil(lambda: "no loan numbered" in view.problem_label.text(), timeout=15_000)
    assert not view.post_button.isEnabled()
    view.loan_edit.setText(number)
    view.amount_edit.setText("0")
    view._inputs_changed()
    assert "more than zero" in view.problem_label.text()
    view.post()
    settle(qtbot, window.workspace.tasks)
    assert view.date_edit.maximum == view.date_edit.value() == date(2026, 6, 1)  # no date after the business date
    assert [l for l in accounts.account(contexts["clerk"], number).lines if l.type == "payment"] == []


def test_a_batch_that_does_not_balance_cannot_post(qtbot, desk, open_window) -> None:
    _, contexts = desk
    first, second = make_loan(contexts["admin"]), make_loan(contexts["admin"])
    window = open_window("clerk")
    view = window.batch_view
    window.show_view(view)
    view.control_edit.setFocus()
    qtbot.keyClicks(view.control_edit, "1000.00")
    qtbot.keyClick(view.control_edit, Qt.Key.Key_Return)
    grid = view.grid
    assert grid.currentIndex().row() == 0 and grid.currentIndex().column() == 0
    # Loan, Tab, amount, Tab, reference, Enter -- twice.
    for number, amount, reference in ((first, "600.00", "CHK 1"), (second, "300.00", "CHK 2")):
        type_text(qtbot, number)
        qtbot.keyClick(focused(), Qt.Key.Key_Tab)
        type_text(qtbot, amount)
        qtbot.keyClick(focused(), Qt.Key.Key_Tab)
        type_text(qtbot, reference)
        qtbot.keyClick(focused(), Qt.Key.Key_Return)
        qtbot.wait(20)  # Qt commits an editor on Enter through a queued call
    settle(qtbot, window.workspace.tasks)
    assert view.model.count() == 2
    assert view.total_label.text() == "$900.00"
    assert "-$100.00" in view.difference_label.text() and "short" in view.difference_label.text()
    assert not view.post_button.isEnabled()
    qtbot.keyClick(grid, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Enter: post all
    settle(qtbot, window.workspace.tasks)
    assert "does not balance" in view.status_label.text()
    assert not [l for n in (first, second) for l in accounts.account(contexts["clerk"], n).lines
                if l.type == "payment"]

    # Correct the second amount: now it balances and posts, all together.
    view.model.setData(view.model.index(1, 1), D("400.00"))
    assert "balanced" in view.difference_label.text() and view.post_button.isEnabled()
    with qtbot.waitSignal(view.batch_posted, timeout=15_000) as posted:
        view.post_button.click()
    assert posted.args[0].count == 2 and posted.args[0].total == D("1000.00")
    assert view.model.count() == 0


def test_batch_lists_every_problem_from_the_service(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = window.batch_view
    window.show_view(view)
    view.control_edit.set_value(D("50.00"))
    view.model.setData(view.model.index(0, 0), "NOPE-1")
    view.model.setData(view.model.index(0, 1), D("25.00"))
    view.model.setData(view.model.index(1, 0), number)
    view.model.setData(view.model.index(1, 1), D("25.00"))
    settle(qtbot, window.workspace.tasks)
    assert "no loan numbered \u201cNOPE-1\u201d" in view.model.data(view.model.index(0, 5))
    assert not view.post_button.isEnabled()  # balanced, but row 1 has a problem
    view.check()
    settle(qtbot, window.workspace.tasks)
    assert any("NOPE-1" in view.problems_list.item(i).text() for i in range(view.problems_list.count()))


# ---------------------------------------------------------------- reversing


def test_reverse_a_payment(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = three_paid(contexts["admin"])
    posted = servicing.post_payment(contexts["clerk"], number, "888.49", reference="CHK 77")
    window = open_window("manager")
    window.open_account(number)
    view = window.account_view
    qtbot.waitUntil(lambda: view.select_entry(posted.entry_id), timeout=15_000)
    assert visible(view.reverse_button) and view.reverse_button.isEnabled()
    assert view.reverse_action.isVisible() and view.reverse_action.isEnabled()
    view.reverse_action.trigger()
    dialog = view.findChild(ReverseDialog)
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.ok.isEnabled(), timeout=15_000)
    assert "Principal" in dialog.preview_label.toPlainText()
    assert dialog.nsf_check.isChecked()  # NSF is the first reason: the fee box starts ticked (issue 11)
    dialog.reason.setCurrentIndex(dialog.reason.findData("nsf"))
    dialog.nsf_check.setChecked(False)
    qtbot.waitUntil(lambda: dialog.ok.isEnabled(), timeout=15_000)
    with qtbot.waitSignal(view.account_shown, timeout=15_000):
        dialog.ok.click()
    lines = view.ledger_model.rows()
    reversal = [l for l in lines if l.type == "reversal"]
    assert len(reversal) == 1 and reversal[0].reverses_id == posted.entry_id
    assert reversal[0].amount == D("-888.49")
    original = next(l for l in lines if l.entry_id == posted.entry_id)
    assert view.ledger_model.reversed_by(original) == reversal[0].entry_id
    row = view.ledger_model.row_of_entry(posted.entry_id)
    link = next(i for i, c in enumerate(view.ledger_model.columns) if c.title == "Link")
    assert "reversed by" in view.ledger_model.data(view.ledger_model.index(row, link))
    assert view.ledger_model.data(view.ledger_model.index(row, 0), Qt.ItemDataRole.FontRole).strikeOut()


def test_a_user_without_the_permission_does_not_see_reverse(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = three_paid(contexts["admin"])
    window = open_window("clerk")
    window.open_account(number)
    view = window.account_view
    qtbot.waitUntil(lambda: view.data is not None, timeout=15_000)
    view.tabs.setCurrentIndex(2)
    payment = next(i for i, l in enumerate(view.ledger_model.rows()) if l.type == "payment")
    view.select_ledger_row(payment)
    assert not visible(view.reverse_button)
    assert not view.reverse_action.isVisible()
    assert not view.reverse_action.isEnabled()
    menu_texts = [a.text() for menu in window.menuBar().actions() for a in menu.menu().actions() if a.isVisible()]
    assert not any("Reverse" in text for text in menu_texts)
    view.reverse_selected()  # even called directly, nothing opens
    assert view.findChild(ReverseDialog) is None


# ---------------------------------------------------------------- collections


def test_log_a_promise_in_collections(qtbot, desk, open_window) -> None:
    _, contexts = desk
    late = three_paid(contexts["admin"])
    other = make_loan(contexts["admin"])  # nothing paid: 120 days past due, first in the queue
    window = open_window("collector")
    view = window.collections_view
    assert window.current_view() is view  # a collector's desk opens on the queue
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert window.current_view() is view
    settle(qtbot, window.workspace.tasks)
    assert [item.loan_number for item in view.model.rows()] == [other, late]
    assert view.current_loan() == other
    qtbot.keyClick(view.table, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)  # next account
    assert view.current_loan() == late
    assert view.figures["amount_due"].text() == "$1,801.98"
    view.outcome_combo.setCurrentIndex(view.outcome_combo.findData("promise_to_pay"))
    assert visible(view.promise_box)
    row = view.promise_rows[0]
    row.date_edit.set_value(date(2026, 6, 5))
    row.amount_edit.set_value(D("900.00"))
    second = view.promise_rows[1]
    second.date_edit.set_value(date(2026, 6, 12))
    second.amount_edit.set_value(D("901.98"))
    view.note_edit.setPlainText("Will pay in two parts")
    settle(qtbot, window.workspace.tasks)
    view.note_edit.setFocus()
    with qtbot.waitSignal(view.contact_logged, timeout=15_000):
        qtbot.keyClick(view.note_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    promises = collections.promises(contexts["collector"], late)
    assert [(p.due_date, p.amount, p.status) for p in promises] == [
        (date(2026, 6, 5), D("900.00"), "open"), (date(2026, 6, 12), D("901.98"), "open")]
    history = collections.contact_history(contexts["collector"], late)
    assert history[0].outcome == "promise_to_pay" and history[0].note == "Will pay in two parts"
    settle(qtbot, window.workspace.tasks)
    # The promised account leaves the queue (a live promise), the collector moves on.
    assert [item.loan_number for item in view.model.rows()] == [other]


# ---------------------------------------------------------------- dashboard


def test_dashboard_figures_equal_the_service(qtbot, desk, open_window) -> None:
    _, contexts = desk
    three_paid(contexts["admin"])
    make_loan(contexts["admin"])
    paid = make_loan(contexts["admin"])
    for day in (date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)):
        servicing.post_payment(contexts["admin"], paid, "888.49", day, confirm_backdated=True)
    window = open_window("manager")
    view = window.dashboard_view
    if view.data is None:
        with qtbot.waitSignal(view.dashboard_shown, timeout=15_000):
            view.refresh()
    expected = dashboard.dashboard(contexts["manager"])
    assert view.data == expected
    k = expected.kpis
    assert view.tiles["principal"].value.text() == format_money(k.outstanding_principal)
    assert view.tiles["open"].value.text() == "3"
    assert view.tiles["collected"].value.text() == format_money(k.collected_this_month)
    # June 1 against May 1 (like for like, issue 11), not against all of May.
    assert view.tiles["collected"].detail.text().startswith(
        f"Jun 1\N{EN DASH}1; vs May 1\N{EN DASH}1 {format_money(k.collected_last_month_to_date)}")
    assert view.tiles["delinquency"].value.text() == f"{k.delinquency_rate_30:.2f} %"
    # The charts carry the service's series exactly (Decimals; floats only place the bars).
    assert view.principal_chart.values == [f.amount for f in expected.principal_by_month]
    assert view.payments_chart.values == [f.amount for f in expected.payments_by_month]
    assert sum(view.payments_chart.values, D(0)) == sum((f.amount for f in expected.payments_by_month), D(0))
    past_due = [b for b in expected.delinquency_by_bucket if b.bucket != "current"]
    assert view.bucket_chart.values == [b.principal for b in past_due]
    assert view.bucket_model.rows() == list(expected.delinquency_by_bucket)
    assert sum((b.principal for b in view.bucket_model.rows()), D(0)) == k.outstanding_principal

    # Click the 120+ bar: the loans behind it.
    view.show_bucket("120+")
    settle(qtbot, window.workspace.tasks)
    dialogs = [d for d in view.findChildren(QDialog) if d.isVisible()]
    assert len(dialogs) == 1
    assert [line.loan_number for line in dialogs[0].model.rows()] == [
        line.loan_number for line in dashboard.loans_in_bucket(contexts["manager"], "120+")]
    dialogs[0].reject()


def test_window_layout_persists(qtbot, desk, open_window) -> None:
    window = open_window("admin")
    window.show_view(window.collections_view)
    window.resize(760, 540)
    window.close()
    again = open_window("admin")
    qtbot.waitUntil(lambda: again.current_view() is again.collections_view, timeout=5000)
    assert again.size().height() == 540  # offscreen screens are narrow: the width is clamped to fit
    assert "2026-06-01" in again.date_label.text() and "Admin" in again.user_label.text()
