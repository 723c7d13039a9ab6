"""The Reg X / Reg Z worklist: written requests logged with their due dates, marked done (issue 11).

The business date is Monday 2026-06-01.  Days are counted excluding Saturdays, Sundays and legal public
holidays (Memorial Day 2026-05-25, Juneteenth Friday 2026-06-19; Independence Day is Saturday 2026-07-04,
so Friday 07-03 counts), the day of receipt not counted.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.db.models import AuditEvent, Collateral, Loan
from app.services import requests
from app.services.errors import InvalidInput, PermissionDenied

from .loans import make_loan

D = dt.date


def mortgage(ctx) -> str:
    number = make_loan(ctx)
    with ctx.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        session.add(Collateral(loan_id=loan.id, kind="real_estate", address_line1="12 Elm St", city="Springfield",
                               state="IL", postal_code="62701"))
    return number


def test_requests_are_logged_with_their_due_dates_and_worked_earliest_first(contexts):
    clerk, collector = contexts["clerk"], contexts["collector"]
    number = mortgage(contexts["admin"])
    # Received Wed 05-20: Thu 05-21 = 1, Fri 05-22 = 2, (Mon 05-25 Memorial Day), Tue 05-26 = 3, Wed 05-27 = 4,
    # Thu 05-28 = 5 -> acknowledge by 05-28, overdue on 06-01.  Respond: Fri 05-29 = 6, Mon 06-01 .. Fri 06-05
    # = 7-11, 06-08 .. 06-12 = 12-16, 06-15 .. 06-18 = 17-20 (Juneteenth), 06-22 .. 06-26 = 21-25,
    # 06-29 .. 07-03 = 26-30 -> respond by Fri 2026-07-03.
    late = requests.log_request(clerk, number, "notice_of_error", received_on=D(2026, 5, 20),
                                description="The May payment was applied to the wrong month")
    assert (late.acknowledge_by, late.respond_by) == (D(2026, 5, 28), D(2026, 7, 3))
    assert (late.next_step, late.next_due, late.overdue) == ("acknowledge", D(2026, 5, 28), True)
    # Received Fri 05-22, a payoff-balance error: Tue 05-26 = 1 .. Fri 05-29 = 4, Mon 06-01 = 5 -> acknowledge by
    # 06-01 (due today, not overdue); Tue 06-02 = 6, Wed 06-03 = 7 -> respond by 06-03.
    payoff_error = requests.log_request(collector, number, "notice_of_error", subject="payoff_balance",
                                        received_on=D(2026, 5, 22), description="Payoff quote omits my escrow refund")
    assert (payoff_error.acknowledge_by, payoff_error.respond_by) == (D(2026, 6, 1), D(2026, 6, 3))
    assert payoff_error.overdue is False
    # A payoff statement asked for on Fri 05-29: Mon 06-01 = 1 .. Fri 06-05 = 5, Mon 06-08 = 6, Tue 06-09 = 7.
    statement = requests.log_request(clerk, number, "payoff", received_on=D(2026, 5, 29),
                                     description="Payoff good through June 30 for a refinance")
    assert (statement.kind, statement.acknowledge_by, statement.respond_by) == (
        "payoff_request", None, D(2026, 6, 9))

    listed = requests.requests(clerk, open_only=True)
    assert [(r.id, r.next_step, r.next_due, r.overdue) for r in listed] == [
        (late.id, "acknowledge", D(2026, 5, 28), True),
        (payoff_error.id, "acknowledge", D(2026, 6, 1), False),
        (statement.id, "respond", D(2026, 6, 9), False)]
    assert listed[0].borrower and listed[0].logged_by == "clerk"

    acked = requests.mark_request(collector, late.id, "acknowledged")
    assert (acked.acknowledged_on, acked.acknowledged_by, acked.next_step, acked.next_due, acked.overdue) == (
        D(2026, 6, 1), "collector", "respond", D(2026, 7, 3), False)
    answered = requests.mark_request(clerk, statement.id, "responded", note="Payoff statement mailed")
    assert answered.responded_on == D(2026, 6, 1) and answered.next_step is None
    assert [r.id for r in requests.requests(clerk, open_only=True)] == [payoff_error.id, late.id]
    assert [r.id for r in requests.requests(clerk)][-1] == statement.id  # answered ones last
    with contexts["admin"].unit(write=False) as session:
        actions = [e.action for e in session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "servicing_request").order_by(AuditEvent.id))]
    assert actions == ["servicing_request.logged"] * 3 + ["servicing_request.acknowledged",
                                                          "servicing_request.responded"]


def test_refusals_name_the_field_and_write_nothing(contexts):
    clerk, admin = contexts["clerk"], contexts["admin"]
    number = mortgage(admin)
    car = make_loan(admin)
    cases = [
        ({"loan_number": car, "kind": "notice_of_error", "description": "x"}, "loan_number"),
        ({"loan_number": number, "kind": "complaint", "description": "x"}, "kind"),
        ({"loan_number": number, "kind": "notice_of_error", "description": "  "}, "description"),
        ({"loan_number": number, "kind": "notice_of_error", "description": "x", "received_on": D(2026, 6, 2)},
         "received_on"),
        ({"loan_number": number, "kind": "payoff_request", "description": "x", "subject": "payoff_balance"}, "subject"),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidInput) as info:
            requests.log_request(clerk, **kwargs)
        assert info.value.field == field, kwargs
    assert requests.requests(clerk) == []
    logged = requests.log_request(clerk, number, "information_request", description="Who owns my loan?",
                                  subject="owner_identity", received_on=D(2026, 5, 29))
    # Owner's identity: Mon 06-01 = 1 .. Fri 06-05 = 5, 06-08 .. 06-12 = 6-10 -> 2026-06-12.
    assert logged.respond_by == D(2026, 6, 12)
    with pytest.raises(InvalidInput) as info:
        requests.mark_request(clerk, logged.id, "responded")
    assert info.value.field == "note"
    with pytest.raises(InvalidInput) as info:
        requests.mark_request(clerk, logged.id, "acknowledged", on=D(2026, 5, 28))
    assert info.value.field == "on" and "before the request was received" in str(info.value)
    done = requests.mark_request(clerk, logged.id, "respond", note="Owner's name and address sent")
    with pytest.raises(InvalidInput) as info:
        requests.mark_request(clerk, logged.id, "acknowledged")
    assert "already answered on 2026-06-01" in str(info.value)
    assert done.next_step is None and done.acknowledged_on is None  # the answer made the acknowledgment moot


def test_due_dates_are_shown_before_logging(contexts):
    assert requests.request_due_dates(contexts["clerk"], "notice_of_error", "payoff_balance", D(2026, 5, 22)) == (
        requests.DueDates(D(2026, 6, 1), D(2026, 6, 3)))
    with pytest.raises(InvalidInput) as info:
        requests.request_due_dates(contexts["clerk"], "payoff", "owner_identity", D(2026, 5, 22))
    assert info.value.field == "subject"


def test_only_desk_roles_log_requests(contexts):
    from app.services.context import Actor, ServiceContext

    number = mortgage(contexts["admin"])
    nobody = ServiceContext(contexts["clerk"].factory, Actor(0, "ghost", "viewer", ""))
    with pytest.raises(PermissionDenied):
        requests.log_request(nobody, number, "notice_of_error", description="x")
