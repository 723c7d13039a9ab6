"""Regulation X / Z due dates, counted by hand across Thanksgiving, Christmas and New Year's Day 2026-27."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.business_days import legal_public_holidays, regulation_days_after
from app.domain.servicing_requests import DueDates, RequestRuleError, due_dates

# A notice received on Wednesday 2026-11-25, the day before Thanksgiving (Thursday 2026-11-26):
#   Thu 11-26 holiday, Fri 11-27 = 1, Mon 11-30 = 2, Tue 12-01 = 3, Wed 12-02 = 4, Thu 12-03 = 5 -> acknowledge
#   Fri 12-04 = 6, Mon 12-07 = 7 -> a payoff-balance error or a payoff statement
#   Dec 08-11 = 8-11, 14-18 = 12-16, 21-24 = 17-20 (Fri 12-25 Christmas), 28-31 = 21-24
#   (Fri 2027-01-01 New Year's Day), Jan 04-08 = 25-29, Mon 2027-01-11 = 30 -> respond
RECEIVED = date(2026, 11, 25)


def test_five_days_skip_thanksgiving() -> None:
    assert regulation_days_after(RECEIVED, 5) == date(2026, 12, 3)


def test_a_notice_of_error_is_acknowledged_in_5_days_and_answered_in_30() -> None:
    due = due_dates("notice_of_error", None, RECEIVED)
    assert (due.acknowledge_by, due.respond_by) == (date(2026, 12, 3), date(2027, 1, 11))


def test_a_payoff_balance_error_is_answered_in_7_days() -> None:
    due = due_dates("notice_of_error", "payoff_balance", RECEIVED)
    assert (due.acknowledge_by, due.respond_by) == (date(2026, 12, 3), date(2026, 12, 7))


def test_a_payoff_statement_is_due_in_7_business_days_with_no_acknowledgment() -> None:
    assert due_dates("payoff_request", None, RECEIVED) == DueDates(None, date(2026, 12, 7))


def test_the_owner_s_identity_is_due_in_10_days() -> None:
    # 8-11 as above: Tue 12-08 = 8, Wed 12-09 = 9, Thu 12-10 = 10.
    due = due_dates("information_request", "owner_identity", RECEIVED)
    assert (due.acknowledge_by, due.respond_by) == (date(2026, 12, 3), date(2026, 12, 10))


def test_received_on_a_saturday_counts_from_monday() -> None:
    # Sat 2026-07-04 (Independence Day on a Saturday; the Friday before is counted): Mon 07-06 = 1 ... Fri 07-10 = 5.
    assert regulation_days_after(date(2026, 7, 4), 5) == date(2026, 7, 10)
    # Received Thu 2026-07-02: Fri 07-03 (observed by offices, counted here) = 1, Mon 07-06 = 2, ... Thu 07-09 = 5.
    assert regulation_days_after(date(2026, 7, 2), 5) == date(2026, 7, 9)


def test_the_holidays_are_the_statute_s_dates() -> None:
    assert legal_public_holidays(2026) == {
        date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 5, 25), date(2026, 6, 19),
        date(2026, 7, 4), date(2026, 9, 7), date(2026, 10, 12), date(2026, 11, 11), date(2026, 11, 26),
        date(2026, 12, 25)}


@pytest.mark.parametrize(("kind", "subject", "field"), [
    ("complaint", None, "kind"),
    ("notice_of_error", "owner_identity", "subject"),
    ("information_request", "payoff_balance", "subject"),
    ("payoff_request", "payoff_balance", "subject"),
])
def test_requests_that_cannot_be_dated_name_the_field(kind, subject, field) -> None:
    with pytest.raises(RequestRuleError) as info:
        due_dates(kind, subject, RECEIVED)
    assert info.value.field == field


def test_the_next_step_and_whether_it_is_overdue() -> None:
    from app.domain.servicing_requests import NextStep, next_step

    ack, respond = date(2026, 12, 3), date(2027, 1, 11)
    # Due on the 3rd: on the 3rd it is due, not overdue; on the 4th it is overdue.
    assert next_step(ack, respond, None, None, date(2026, 12, 3)) == NextStep("acknowledge", ack, False)
    assert next_step(ack, respond, None, None, date(2026, 12, 4)) == NextStep("acknowledge", ack, True)
    assert next_step(ack, respond, date(2026, 12, 1), None, date(2026, 12, 4)) == NextStep("respond", respond, False)
    assert next_step(ack, respond, None, date(2026, 12, 2), date(2027, 2, 1)) == NextStep(None, None, False)
    assert next_step(None, date(2026, 12, 7), None, None, date(2026, 12, 8)) == NextStep(
        "respond", date(2026, 12, 7), True)
