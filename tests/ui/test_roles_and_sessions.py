"""Roles, limits and sessions at the desk (issue 11, item 7), driven by keyboard offscreen.

The loan is the textbook one of tests/services/loans.py (10,000.00 at 12 % for 12 months from
2026-01-01, 888.49 a month); the business date is 2026-06-01; the clerk's posting limit is the
default $10,000.00.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from app.db.models import AuditEvent, LedgerEntry
from app.services import accounts, security, users
from app.ui.dialogs.approval_dialog import ApprovalDialog
from app.ui.dialogs.connection_dialog import Connection
from app.ui.dialogs.password_dialog import ChangePasswordDialog
from app.ui.dialogs.sign_in_dialog import SignInDialog
from app.ui.idle_lock import LockDialog
from app.ui.workers import TaskRunner
from tests.services.loans import make_loan
from tests.ui.conftest import PASSWORDS
from tests.ui.helpers import settle

pytestmark = pytest.mark.qt


def focused():
    return QApplication.focusWidget()


def _top(kind):
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]
    return found[0] if found else None


def _wait_for(qtbot, kind):
    qtbot.waitUntil(lambda: _top(kind) is not None, timeout=15_000)
    return _top(kind)


def _type_payment(qtbot, window, number: str, amount: str, reference: str) -> None:
    view = window.payment_view
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    view.loan_edit.setFocus()
    qtbot.keyClicks(focused(), number)
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    qtbot.keyClicks(focused(), amount)
    for _ in range(3):  # date (the business date), method (check), then the reference
        qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    with qtbot.waitSignal(view.preview_shown, timeout=15_000):
        qtbot.keyClicks(focused(), reference)
    qtbot.waitUntil(view.preview_is_current, timeout=15_000)


def test_a_payment_above_the_clerks_limit_is_approved_at_the_desk(qtbot, desk, open_window) -> None:
    factory, contexts = desk
    number = make_loan(contexts["admin"], principal="50000.00")
    window = open_window("clerk")
    view = window.payment_view
    _type_payment(qtbot, window, number, "12,000.00", "CHK 77")
    qtbot.keyClick(view.reference_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    dialog = _wait_for(qtbot, ApprovalDialog)
    # The service's words: $12,000.00 is above the clerk's $10,000.00.
    assert "above the clerk's posting limit of $10,000.00" in dialog.reasons_label.text()
    # A wrong password is refused by the service, and nothing is posted; the dialog comes back.
    qtbot.keyClicks(dialog.approver, "manager")
    qtbot.keyClicks(dialog.password, "not-the-password")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Approval refused: unknown user or wrong password" in view.problem_label.text(),
                    timeout=15_000)
    settle(qtbot, window.workspace.tasks)
    with factory() as session:
        assert session.scalar(select(LedgerEntry.id).where(LedgerEntry.reference == "CHK 77")) is None
    # Post again (Ctrl+Enter in the form): asked again, approved by the manager this time.
    qtbot.waitUntil(lambda: _top(ApprovalDialog) is None, timeout=15_000)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=15_000)
    view.reference_edit.setFocus()
    qtbot.keyClick(view.reference_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    dialog = _wait_for(qtbot, ApprovalDialog)
    qtbot.keyClicks(dialog.approver, "manager")
    qtbot.keyClicks(dialog.password, PASSWORDS["manager"])
    with qtbot.waitSignal(view.payment_posted, timeout=15_000) as posted:
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    settle(qtbot, window.workspace.tasks)
    with factory() as session:
        payload = session.scalar(select(LedgerEntry.payload).where(LedgerEntry.id == posted.args[0].entry_id))
        granted = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "approval.granted")).all()
    assert payload["approval"]["by"] == "manager"
    assert [g["for_user"] for g in granted] == ["clerk"]


def test_a_deactivated_clerk_is_signed_out_at_the_next_action(qtbot, desk, open_window, db_file_url) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    signed_out = []
    window.sign_out_requested.connect(lambda: signed_out.append(window.ended_reason))
    users.deactivate_user(contexts["admin"], "clerk")  # from another desk, while this one is open
    _type_payment_attempt = window.payment_view
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    _type_payment_attempt.loan_edit.setFocus()
    qtbot.keyClicks(focused(), number)  # the look-up is the next action: refused, and the desk signs out
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: bool(signed_out), timeout=15_000)
    assert "clerk has been deactivated" in signed_out[0]
    # The next sign-in dialog says why.
    tasks = TaskRunner()
    dialog = SignInDialog(QSettings(), tasks, Connection("given", db_file_url, "test database"),
                          notice=signed_out[0])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled(), timeout=15_000)
    assert "deactivated" in dialog.message.text()
    tasks.wait_for_all(5000)


def test_a_demoted_manager_cannot_assess_a_fee_from_the_open_desk(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("manager")
    ended = []
    window.sign_out_requested.connect(lambda: ended.append(window.ended_reason))
    window.open_account(number)
    settle(qtbot, window.workspace.tasks)
    users.set_role(contexts["admin"], "manager", "clerk")
    dialog = window.account_view.assess_fee()
    dialog.amount_edit.setFocus()
    qtbot.keyClicks(dialog.amount_edit, "15.00")
    qtbot.waitUntil(lambda: bool(ended), timeout=15_000)
    assert "changed from manager to clerk" in ended[0]
    assert all(line.type != "fee" for line in accounts.account(contexts["admin"], number).lines)


def test_an_admin_reset_makes_the_user_choose_a_password_at_sign_in(qtbot, desk, db_file_url) -> None:
    factory, contexts = desk
    users.set_password(contexts["admin"], "clerk", "reset-by-admin")
    tasks = TaskRunner()
    dialog = SignInDialog(QSettings(), tasks, Connection("given", db_file_url, "test database"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled(), timeout=15_000)
    dialog.username.setFocus()
    qtbot.keyClicks(dialog.username, "clerk")
    qtbot.keyClicks(dialog.password, "reset-by-admin")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    change = _wait_for(qtbot, ChangePasswordDialog)
    assert change.current.text() == "reset-by-admin"
    qtbot.keyClicks(change.new, "my-own-choice")
    qtbot.keyClicks(change.repeat, "my-own-chioce")  # a typo: refused in words, the field outlined
    qtbot.keyClick(change.repeat, Qt.Key.Key_Return)
    assert "differ" in change.message.text() and change.repeat.property("problemOutline")
    change.repeat.clear()
    qtbot.keyClicks(change.repeat, "my-own-choice")
    with qtbot.waitSignal(dialog.accepted, timeout=15_000):
        qtbot.keyClick(change.repeat, Qt.Key.Key_Return)
    assert dialog.result_value is not None and not dialog.result_value.actor.must_change_password
    assert users.authenticate(factory, "clerk", "my-own-choice").username == "clerk"
    tasks.wait_for_all(5000)


def test_the_idle_desk_locks_and_the_password_resumes_it(qtbot, desk, open_window) -> None:
    window = open_window("collector")
    lock = window.idle_lock
    lock.minutes = 1
    lock.timer.setInterval(50)  # a fiftieth of a second instead of the setting's minutes
    lock.timer.start()
    dialog = _wait_for(qtbot, LockDialog)
    qtbot.keyClicks(dialog.password, "wrong")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "wrong password" in dialog.message.text(), timeout=15_000)
    assert dialog.isVisible()
    qtbot.keyClick(dialog.password, Qt.Key.Key_Escape)  # Esc does not unlock
    assert dialog.isVisible()
    qtbot.keyClicks(dialog.password, PASSWORDS["collector"])
    with qtbot.waitSignal(dialog.finished, timeout=15_000):
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert lock.dialog is None and window.isVisible()
    lock.timer.stop()
    # Ctrl+L locks at once.
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    dialog = _wait_for(qtbot, LockDialog)
    signed_out = []
    window.sign_out_requested.connect(lambda: signed_out.append(True))
    dialog.sign_out_button.click()
    qtbot.waitUntil(lambda: bool(signed_out), timeout=15_000)


def test_change_own_password_from_the_file_menu(qtbot, desk, open_window) -> None:
    factory, _ = desk
    window = open_window("collector")
    window.findChild(type(window.post_action), "changePasswordAction").trigger()
    dialog = _wait_for(qtbot, ChangePasswordDialog)
    qtbot.keyClicks(dialog.current, "not-it")
    qtbot.keyClicks(dialog.new, "brand-new-secret")
    qtbot.keyClicks(dialog.repeat, "brand-new-secret")
    qtbot.keyClick(dialog.repeat, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "not your current password" in dialog.message.text(), timeout=15_000)
    assert dialog.current.property("problemOutline")
    dialog.current.clear()
    qtbot.keyClicks(dialog.current, PASSWORDS["collector"])
    with qtbot.waitSignal(dialog.accepted, timeout=15_000):
        qtbot.keyClick(dialog.current, Qt.Key.Key_Return)
    assert users.authenticate(factory, "collector", "brand-new-secret").username == "collector"


def test_the_security_panel_saves_and_refuses_in_words(qtbot, desk, open_window) -> None:
    _, contexts = desk
    window = open_window("admin")
    admin = window.admin_view
    window.show_view(admin)
    panel = admin.security
    assert panel is not None
    admin.tabs.setCurrentWidget(panel)
    panel.refresh()
    qtbot.waitUntil(lambda: panel.limit_edits["clerk"].text() != "", timeout=15_000)
    panel.attempts.setFocus()
    panel.attempts.selectAll()
    qtbot.keyClicks(panel.attempts, "3")
    panel.limit_edits["clerk"].setFocus()
    panel.limit_edits["clerk"].selectAll()
    qtbot.keyClicks(panel.limit_edits["clerk"], "2,500.00")
    panel.no_limit["manager"].setChecked(True)
    panel.save_button.click()
    qtbot.waitUntil(lambda: panel.message.text().startswith("Saved"), timeout=15_000)
    saved = security.security_settings(contexts["clerk"])
    assert (saved.lockout_attempts, saved.payment_limit("clerk"), saved.payment_limit("manager")) == (
        3, D("2500.00"), None)
    panel.waiver.clear()
    panel.save_button.click()
    assert panel.message.text() == "Waivers need approval above: type an amount."
    # The permissions tab shows the matrix the services check.
    table = admin.permissions.table
    texts = [table.item(r, 0).text() for r in range(table.rowCount())]
    row = texts.index("Set the hardship flag (end of day then waives late fees)")
    assert [table.item(row, c).text() for c in range(1, 5)] == ["", "", "\N{CHECK MARK}", "\N{CHECK MARK}"]


def test_a_collector_sets_a_dispute_but_may_not_clear_it(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("collector")
    window.open_account(number)
    settle(qtbot, window.workspace.tasks)
    view = window.account_view
    assert not view.desk_actions["hardshipAction"].isVisible()  # setting hardship is a manager's
    dialog = view.dispute_flag()
    settle(qtbot, window.workspace.tasks)
    assert not dialog.clear_radio.isEnabled() and dialog.set_radio.isChecked()
    dialog.reject()



@pytest.mark.parametrize("role", ["clerk", "collector", "manager", "admin"])
def test_each_role_sees_the_views_and_tabs_its_permissions_allow(qtbot, desk, open_window, role) -> None:
    """The desk's own doors follow the matrix: what a role may not do is not offered (issue 11)."""
    from app.services import permissions

    window = open_window(role)
    can = lambda p: permissions.role_allows(role, p)  # noqa: E731
    titles = [view.title for view in window.views]
    assert ("Batch entry" in titles) is can(permissions.POST_BATCH)
    assert ("Audit" in titles) is can(permissions.VIEW_REPORTS)
    assert window.post_action.isEnabled() is can(permissions.POST_PAYMENT)
    admin = window.admin_view
    assert (admin is not None) is any(can(p) for p in (permissions.RUN_EOD, permissions.MANAGE_PRODUCTS,
                                                       permissions.MANAGE_USERS, permissions.MANAGE_SETTINGS))
    if admin is not None:
        tabs = [admin.tabs.tabText(i).replace("&", "") for i in range(admin.tabs.count())]
        assert ("Users and roles" in tabs) is can(permissions.MANAGE_USERS)
        assert ("Security" in tabs) is can(permissions.MANAGE_SETTINGS)
        assert "Permissions" in tabs
