"""Every servicing action on one loan, from the account view's Actions menu (issue 11, item 4).

Each dialog is driven with real keystrokes and the test asserts what the
service recorded; a parametrised test checks each action is shown exactly to
the roles that hold its permission.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from PySide6.QtCore import Qt

from app.services import accounts, flags, permissions, servicing
from app.ui.views.account_view import AccountView
from app.services.approvals import Approval
from tests.services.loans import make_loan
from tests.ui.conftest import PASSWORDS
from tests.ui.helpers import settle

pytestmark = pytest.mark.qt

ROLES = ("clerk", "collector", "manager", "admin")


def open_account(qtbot, window, number: str) -> AccountView:
    view = window.account_view
    with qtbot.waitSignal(view.account_shown, timeout=15_000):
        window.open_account(number)
    settle(qtbot, window.workspace.tasks)
    return view


def type_into(qtbot, widget, text: str) -> None:
    widget.setFocus()
    qtbot.keyClicks(widget, text)


def previewed(qtbot, dialog) -> None:
    """Wait for the preview of what the form holds now and for Apply to be ready."""
    qtbot.waitUntil(lambda: dialog.ok.isEnabled(), timeout=15_000)


def ledger_types(ctx, number: str) -> list[str]:
    return [line.type for line in accounts.account(ctx, number).lines]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name, permission", [(n, p) for n, _t, p, _o in AccountView.DESK_ACTIONS])
def test_each_desk_action_is_shown_only_to_roles_with_its_permission(qtbot, make_workspace, role, name,
                                                                     permission) -> None:
    workspace = make_workspace(role)
    view = AccountView(workspace)
    qtbot.addWidget(view)
    allowed = permission in permissions.ROLE_PERMISSIONS[role]
    assert view.desk_actions[name].isVisible() is allowed
    view.loan_number = "KL-NONE"  # an opener refuses without the permission, whatever calls it
    opener = next(o for n, _t, _p, o in AccountView.DESK_ACTIONS if n == name)
    dialog = getattr(view, opener)()
    assert (dialog is not None) is allowed
    if dialog is not None:
        dialog.reject()
        settle(qtbot, workspace.tasks)


def test_a_fee_is_assessed_back_dated_only_after_its_box_is_ticked(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("manager")
    view = open_account(qtbot, window, number)
    assert view.actions_button.isVisible()
    dialog = view.assess_fee()
    type_into(qtbot, dialog.amount_edit, "15.00")
    line = dialog.effective_edit.line_edit
    line.setFocus()
    line.selectAll()
    qtbot.keyClicks(line, "05/20/2026")
    qtbot.waitUntil(lambda: dialog.backdated_check.isVisibleTo(dialog), timeout=15_000)
    assert not dialog.ok.isEnabled()  # back-dated: not until reviewed
    rows = {dialog.changes_table.item(r, 0).text(): (dialog.changes_table.item(r, 1).text(),
                                                     dialog.changes_table.item(r, 2).text())
            for r in range(dialog.changes_table.rowCount())}
    fees_before, fees_after = (D(text.replace("$", "").replace(",", "")) for text in rows["Fees"])
    assert fees_after - fees_before == D("15.00")
    qtbot.mouseClick(dialog.backdated_check, Qt.MouseButton.LeftButton)
    previewed(qtbot, dialog)
    type_into(qtbot, dialog.reason_edit, "copy of the note")
    with qtbot.waitSignal(dialog.applied, timeout=15_000):
        dialog.ok.click()
    settle(qtbot, window.workspace.tasks)
    fee = [line for line in accounts.account(contexts["manager"], number).lines if line.type == "fee"]
    assert [(f.amount, f.effective_date, f.note) for f in fee] == [(D("15.00"), date(2026, 5, 20), "copy of the note")]


def test_a_waiver_larger_than_the_fee_is_refused_on_the_amount_field(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    fee = servicing.assess_fee(contexts["manager"], number, "20.00", "other")
    window = open_window("manager")
    view = open_account(qtbot, window, number)
    dialog = view.waive_fee()
    qtbot.waitUntil(lambda: dialog.fee_combo.findData(str(fee.entry_id)) >= 0, timeout=15_000)
    dialog.fee_combo.setCurrentIndex(dialog.fee_combo.findData(str(fee.entry_id)))
    type_into(qtbot, dialog.amount_edit, "25.00")
    qtbot.waitUntil(lambda: dialog.error.text().startswith("Amount:"), timeout=15_000)
    assert "more than the 20.00 outstanding" in dialog.error.text()
    assert "border" in dialog.amount_edit.styleSheet() and not dialog.ok.isEnabled()
    dialog.amount_edit.selectAll()
    qtbot.keyClicks(dialog.amount_edit, "5.00")
    type_into(qtbot, dialog.reason_edit, "goodwill")
    previewed(qtbot, dialog)
    assert dialog.amount_edit.styleSheet() == ""
    with qtbot.waitSignal(dialog.applied, timeout=15_000):
        dialog.ok.click()
    settle(qtbot, window.workspace.tasks)
    left = dict((fid, amount) for fid, _k, amount in servicing.outstanding_fees(contexts["manager"], number))
    assert left[str(fee.entry_id)] == D("15.00")


def test_a_principal_adjustment_needs_a_reason(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    before = accounts.account(contexts["manager"], number).snapshot.principal
    window = open_window("manager")
    view = open_account(qtbot, window, number)
    dialog = view.adjust_principal()
    type_into(qtbot, dialog.amount_edit, "-12.34")
    qtbot.waitUntil(lambda: dialog.changes_table.rowCount() > 0, timeout=15_000)
    assert not dialog.ok.isEnabled()  # no reason yet
    type_into(qtbot, dialog.reason_edit, "boarding error")
    previewed(qtbot, dialog)
    with qtbot.waitSignal(dialog.applied, timeout=15_000):
        dialog.ok.click()
    settle(qtbot, window.workspace.tasks)
    assert accounts.account(contexts["manager"], number).snapshot.principal == before - D("12.34")
    assert ledger_types(contexts["manager"], number)[-1] == "adjustment"


def test_a_refund_and_a_small_balance_write_off(qtbot, desk, open_window) -> None:
    _, contexts = desk
    manager = contexts["manager"]
    over, short = make_loan(contexts["admin"]), make_loan(contexts["admin"])
    # $40 over the payoff: approved by a second user (issue 11, item 7).
    servicing.post_payment(manager, over, accounts.payoff_quote(manager, over).payoff + D("40.00"), reference="o",
                           approval=Approval("admin", PASSWORDS["admin"]))
    servicing.post_payment(manager, short, accounts.payoff_quote(manager, short).payoff - D("3.00"), reference="s")
    window = open_window("manager")

    view = open_account(qtbot, window, over)
    dialog = view.pay_refund()
    type_into(qtbot, dialog.reference_edit, "CHK 901")
    previewed(qtbot, dialog)  # blank amount: the whole refund due
    with qtbot.waitSignal(dialog.applied, timeout=15_000):
        dialog.ok.click()
    settle(qtbot, window.workspace.tasks)
    refund = [line for line in accounts.account(manager, over).lines if line.type == "refund"]
    assert [(r.amount, r.reference) for r in refund] == [(D("40.00"), "CHK 901")]

    view = open_account(qtbot, window, short)
    dialog = view.write_off()
    previewed(qtbot, dialog)
    with qtbot.waitSignal(dialog.applied, timeout=15_000):
        dialog.ok.click()
    settle(qtbot, window.workspace.tasks)
    assert accounts.account(manager, short).snapshot.status == "paid_off"


def test_a_write_off_above_the_threshold_is_refused_in_words(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("manager")
    view = open_account(qtbot, window, number)
    dialog = view.write_off()
    qtbot.waitUntil(lambda: "above the small-balance threshold" in dialog.error.text(), timeout=15_000)
    assert not dialog.ok.isEnabled()
    dialog.reject()


def test_a_dispute_is_recorded_with_its_form_and_validation_period(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("collector")
    view = open_account(qtbot, window, number)
    assert not view.desk_actions["regFAction"].isVisible()
    dialog = view.dispute_flag()
    qtbot.waitUntil(lambda: dialog.state is not None, timeout=15_000)
    assert dialog.form_combo.isVisibleTo(dialog) and not dialog.basis_combo.isVisibleTo(dialog)
    type_into(qtbot, dialog.reason_edit, "says the May payment was made")
    assert not dialog.ok.isEnabled()  # written or oral, inside the period or not: not yet said
    dialog.form_combo.setFocus()
    qtbot.keyClick(dialog.form_combo, Qt.Key.Key_Down)
    dialog.within_combo.setFocus()
    qtbot.keyClick(dialog.within_combo, Qt.Key.Key_Down)
    assert dialog.ok.isEnabled()
    with qtbot.waitSignal(dialog.flag_set, timeout=15_000):
        dialog.ok.click()
    settle(qtbot, window.workspace.tasks)
    state = flags.loan_flags(contexts["collector"], number)
    assert state.dispute and not state.hardship
    event = state.history[0]
    assert (event.flag, event.on, event.dispute_form, event.within_validation_period, event.user) == (
        "dispute", True, "written", True, "collector")
    assert event.effective_date == window.workspace.business_date


def test_reg_f_is_set_per_loan_with_its_ground(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("manager")
    view = open_account(qtbot, window, number)
    dialog = view.reg_f_flag()
    qtbot.waitUntil(lambda: dialog.state is not None, timeout=15_000)
    assert dialog.flag() == "reg_f" and dialog.basis_combo.isVisibleTo(dialog)
    type_into(qtbot, dialog.reason_edit, "bought from First Bank in default")
    assert not dialog.ok.isEnabled()
    dialog.basis_combo.setCurrentIndex(dialog.basis_combo.findData("bought_in_default"))
    with qtbot.waitSignal(dialog.flag_set, timeout=15_000):
        dialog.ok.click()
    settle(qtbot, window.workspace.tasks)
    state = flags.loan_flags(contexts["manager"], number)
    assert state.reg_f and state.history[0].reg_f_basis == "bought_in_default"
