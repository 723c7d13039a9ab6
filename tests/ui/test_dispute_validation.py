"""A dispute's "inside the validation period" answer, read from the validation notice Keel sent (issue 11).

12 CFR 1006.34(b)(5): the period ends 30 days after the consumer is assumed to receive the notice, five
days (not counting Saturdays, Sundays and federal holidays) after it is mailed.  Business date 2026-06-01.
"""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt

from app.services import flags, letters
from tests.services.loans import make_loan
from tests.ui.helpers import settle
from tests.ui.test_loan_actions import open_account, type_into
from tests.ui.test_more import lender

pytestmark = pytest.mark.qt


def reg_f_loan(contexts) -> str:
    number = make_loan(contexts["admin"])  # nothing paid since 2026-02-01: past due all spring
    flags.set_flag(contexts["manager"], number, "reg_f", True, reason="bought in default",
                   reg_f_basis="bought_in_default")
    lender(contexts["admin"])
    return number


@pytest.mark.parametrize(("letter_date", "ends", "inside"), [
    # Mon 06-01: Tue 06-02 = 1 .. Fri 06-05 = 4, Mon 06-08 = 5 (receipt); + 30 days = Wed 2026-07-08.
    (dt.date(2026, 6, 1), dt.date(2026, 7, 8), True),
    # Wed 04-01: Thu 04-02 = 1, Fri 04-03 = 2, Mon 04-06 .. Wed 04-08 = 3-5; + 30 days = Fri 2026-05-08.
    (dt.date(2026, 4, 1), dt.date(2026, 5, 8), False),
])
def test_the_validation_period_pre_selects_the_answer(qtbot, desk, open_window, letter_date, ends, inside) -> None:
    _, contexts = desk
    number = reg_f_loan(contexts)
    letters.issue_letter(contexts["admin"], "validation-notice", number, letter_date)
    state = flags.loan_flags(contexts["collector"], number)
    assert (state.validation_notice_date, state.validation_period_ends) == (letter_date, ends)
    window = open_window("collector")
    view = open_account(qtbot, window, number)
    dialog = view.dispute_flag()
    qtbot.waitUntil(lambda: dialog.state is not None, timeout=15_000)
    assert dialog.within_combo.currentData() is inside
    words = "inside it." if inside else "not inside it."
    assert dialog.validation_note.text() == (f"The validation notice of {letter_date} gave until {ends}: a dispute "
                                             f"dated 2026-06-01 is {words}")
    type_into(qtbot, dialog.reason_edit, "says the May payment was made")
    dialog.form_combo.setFocus()
    qtbot.keyClick(dialog.form_combo, Qt.Key.Key_Down)
    with qtbot.waitSignal(dialog.flag_set, timeout=15_000):
        dialog.ok.click()
    settle(qtbot, window.workspace.tasks)
    event = flags.loan_flags(contexts["collector"], number).history[0]
    assert (event.flag, event.within_validation_period) == ("dispute", inside)


def test_without_a_notice_the_collector_answers(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("collector")
    view = open_account(qtbot, window, number)
    dialog = view.dispute_flag()
    qtbot.waitUntil(lambda: dialog.state is not None, timeout=15_000)
    assert dialog.within_combo.currentIndex() == -1
    assert dialog.validation_note.text().startswith("Keel has sent no validation notice on this loan")
