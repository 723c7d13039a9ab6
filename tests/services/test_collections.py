"""Collections (issue 4, item 2): the queue, contacts, promises, Regulation F guardrails, assignment.

On SQLite and PostgreSQL through the ``contexts`` fixture; the command-line
tests run the real ``keel`` in a subprocess on a temporary SQLite file.

The business date is 2026-06-01.  Loans are made late by hand with 0 % terms,
so every figure is worked out on paper: a loan of 1,200.00 over 12 months pays
100.00 a month, and an installment unpaid 10 days after its due date draws
the late fee of 25.00 (tests/services/loans.py BASE_TERMS).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db.models import (
    AppendOnlyError,
    AuditEvent,
    CollectionAssignment,
    Contact,
    Loan,
    LoanParty,
    Person,
    Product,
    ProductVersion,
    Promise,
)
from app.db.settings import set_setting
from app.services import collections, servicing, users
from app.services.collections import AssignmentRule, _priority_score, settle_promises
from app.services.errors import (
    InvalidInput,
    NeedsConfirmation,
    NotFound,
    PermissionDenied,
)

from .conftest import FAST_HASHER, PASSWORDS
from .loans import make_loan

TODAY = dt.date(2026, 6, 1)
UTC = dt.UTC
ROOT = Path(__file__).resolve().parents[2]


def late_loan(ctx, *, principal: str, term: int, first_due: dt.date, **extra: object) -> str:
    """A 0 % loan whose first installment fell due on ``first_due`` and nothing paid."""
    start = (first_due.replace(day=1) - dt.timedelta(days=1)).replace(day=min(first_due.day, 28))
    return make_loan(ctx, principal=principal, rate="0", term=term, start=start.isoformat(),
                     first_due=first_due.isoformat(), **extra)


def current_loan(ctx) -> str:
    """Nothing due yet: first installment on 2026-06-15."""
    return make_loan(ctx, principal="1200.00", rate="0", term=12, start="2026-05-15", first_due="2026-06-15")


def edit(ctx, loan_number: str, *, loan: dict | None = None, person: dict | None = None) -> None:
    """Change a loan's or its borrower's columns directly (the borrower screens are another issue)."""
    with ctx.unit() as session:
        row = session.scalars(select(Loan).where(Loan.loan_number == loan_number)).one()
        for key, value in (loan or {}).items():
            setattr(row, key, value)
        if person:
            who = session.scalars(select(Person).join(LoanParty).where(LoanParty.loan_id == row.id)).one()
            for key, value in person.items():
                setattr(who, key, value)


def setting(ctx, key: str, value: str) -> None:
    with ctx.unit() as session:
        set_setting(session, key, value)


def settle(ctx, day: dt.date) -> collections.PromiseSettlement:
    with ctx.unit() as session:
        return settle_promises(session, day)


def by_number(items) -> dict[str, collections.QueueItem]:
    return {i.loan_number: i for i in items}


def add_user(contexts, name: str, role: str = "collector") -> None:
    users.create_user(contexts["admin"], name, f"{name.title()} Person", role, f"{name}-secret-1")


# ---------------------------------------------------------------------------
# The score
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dpd", "amount", "broken", "since", "score"),
    [
        (17, D("125.00"), 0, None, 17 + 12 + 0 + 30),
        (61, D("650.00"), 0, 3, 61 + 65 + 0 + 3),
        (12, D("9.99"), 2, 0, 12 + 0 + 50 + 0),
        (5, D("25000.00"), 0, 400, 5 + 100 + 0 + 30),  # both caps
        (5, D("100.00"), 0, -2, 5 + 10 + 0 + 0),  # a contact after the business date counts as today
    ],
)
def test_priority_score_formula(dpd, amount, broken, since, score):
    assert _priority_score(dpd, amount, broken, since) == score


# ---------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------
def test_queue_order_and_exact_scores(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    # A: due 05-15 (100.00), fee 25.00 after 05-26 (the grace period's last day, 05-25, is Memorial
    # Day: on time the next business day, issue 9): 17 days, 125.00, never contacted.
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    # B: due 04-01, 05-01, 06-01 (200.00 each), fees for April and May: 61 days, 650.00; called 05-29.
    b = late_loan(admin, principal="2400.00", term=12, first_due=dt.date(2026, 4, 1))
    # C: due 05-20 (100.00); the grace period ends Saturday 05-30, so a payment on Monday 06-01 is
    # still on time and no fee yet (issue 9): 12 days, 100.00; two broken promises this spring, one last year.
    c = late_loan(admin, principal="600.00", term=6, first_due=dt.date(2026, 5, 20))
    current = current_loan(admin)

    collections.log_contact(collector, b, channel="call", outcome="no_answer",
                            at=dt.datetime(2026, 5, 29, 15, 0, tzinfo=UTC))
    collections.log_contact(collector, c, channel="call", outcome="contacted",
                            at=dt.datetime(2026, 6, 1, 14, 0, tzinfo=UTC), note="will call back")
    with admin.unit() as session:
        loan_c = session.scalars(select(Loan).where(Loan.loan_number == c)).one()
        for due, settled, status in ((dt.date(2026, 4, 10), dt.date(2026, 4, 13), "broken"),
                                     (dt.date(2026, 5, 10), dt.date(2026, 5, 13), "broken"),
                                     (dt.date(2025, 11, 1), dt.date(2025, 11, 4), "broken"),  # over 90 days ago
                                     (dt.date(2026, 5, 1), dt.date(2026, 5, 4), "kept")):
            session.add(Promise(loan_id=loan_c.id, due_date=due, amount=D("50.00"), status=status,
                                paid_amount=D("0.00"), settled_on=settled, created_by_id=admin.actor.user_id))

    items = collections.queue(collector)
    assert [i.loan_number for i in items] == [b, c, a]
    got = by_number(items)
    assert current not in got

    assert (got[b].days_past_due, got[b].amount_due, got[b].bucket) == (61, D("650.00"), "60-89")
    assert got[b].score == 61 + 65 + 0 + 3 == 129
    assert got[b].last_outcome == "no_answer"
    assert got[b].last_contact == dt.datetime(2026, 5, 29, 15, 0, tzinfo=UTC)

    assert (got[c].days_past_due, got[c].amount_due, got[c].broken_promises) == (12, D("100.00"), 2)
    assert got[c].score == 12 + 10 + 50 + 0 == 72
    assert got[c].last_outcome == "contacted"

    assert (got[a].days_past_due, got[a].amount_due, got[a].bucket) == (17, D("125.00"), "1-29")
    assert got[a].score == 17 + 12 + 0 + 30 == 59
    assert got[a].last_contact is None and got[a].collector is None
    assert got[a].borrower.startswith("Pat Borrower") and got[a].product == "TEST"
    assert got[a].principal == D("1200.00") and got[a].next_due == dt.date(2026, 5, 15)
    assert got[a].flags == collections.Flags(False, False, False, False, False)


def test_queue_filters(contexts):
    admin, manager, collector = contexts["admin"], contexts["manager"], contexts["collector"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))  # 1-29
    b = late_loan(admin, principal="2400.00", term=12, first_due=dt.date(2026, 4, 1))  # 60-89
    c = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 4, 25))  # 30-59
    with admin.unit() as session:  # move c to another product
        product = Product(code="AUTO", name="Auto loans")
        session.add(product)
        session.flush()
        version = ProductVersion(product_id=product.id, effective_date=dt.date(2020, 1, 1), rules={})
        session.add(version)
        session.flush()
        session.scalars(select(Loan).where(Loan.loan_number == c)).one().product_version_id = version.id
    collections.reassign(manager, a, "collector")

    assert [i.loan_number for i in collections.queue(collector, bucket="30-59")] == [c]
    assert [i.loan_number for i in collections.queue(collector, bucket="60-89")] == [b]
    assert [i.loan_number for i in collections.queue(collector, product="AUTO")] == [c]
    assert {i.loan_number for i in collections.queue(collector, product="TEST")} == {a, b}
    mine = collections.queue(collector, collector="Collector")
    assert [(i.loan_number, i.collector) for i in mine] == [(a, "collector")]
    assert collections.queue(collector, collector="nobody") == []
    assert [i.loan_number for i in collections.queue(collector, limit=1)] == [b]
    with pytest.raises(InvalidInput) as bad:
        collections.queue(collector, bucket="current")
    assert bad.value.field == "bucket"
    with pytest.raises(InvalidInput):
        collections.queue(collector, limit=0)


def test_paid_off_or_cured_loans_leave_the_queue(contexts):
    admin, clerk, collector = contexts["admin"], contexts["clerk"], contexts["collector"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    assert a in by_number(collections.queue(collector))
    servicing.post_payment(clerk, a, "125.00")
    assert a not in by_number(collections.queue(collector))


def test_promised_account_is_hidden_until_the_promise_breaks(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    logged = collections.log_contact(collector, a, channel="call", outcome="promise",
                                     promises=[(dt.date(2026, 6, 5), "125.00")],
                                     at=dt.datetime(2026, 6, 1, 15, 0, tzinfo=UTC))
    assert logged.outcome == "promise_to_pay" and len(logged.promises) == 1

    assert a not in by_number(collections.queue(collector))
    shown = by_number(collections.queue(collector, include_promised=True))[a]
    assert shown.promise_due == dt.date(2026, 6, 5) and shown.last_outcome == "promise_to_pay"

    # Not yet: due 06-05 plus 3 days' grace is settled when 06-08 closes.
    assert settle(admin, dt.date(2026, 6, 7)).total == 0
    assert a not in by_number(collections.queue(collector))
    assert settle(admin, dt.date(2026, 6, 8)) == collections.PromiseSettlement(kept=0, partly_kept=0, broken=1)
    back = by_number(collections.queue(collector))[a]
    assert back.promise_due is None and back.broken_promises == 1
    assert back.score == 17 + 12 + 25 + 0  # contacted on the business date
    # Closing the same day again settles nothing twice.
    assert settle(admin, dt.date(2026, 6, 8)).total == 0


def test_one_broken_payment_of_a_plan_returns_the_account(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    collections.log_contact(collector, a, channel="call", outcome="promise_to_pay",
                            promises=[(dt.date(2026, 6, 5), "60.00"), ("2026-06-20", "65.00")])
    assert settle(admin, dt.date(2026, 6, 8)).broken == 1
    item = by_number(collections.queue(collector))[a]
    assert item.promise_due is None  # the 06-20 promise is open, but its plan is broken
    assert [p.status for p in collections.promises(collector, a)] == ["broken", "open"]


# ---------------------------------------------------------------------------
# Promise settlement
# ---------------------------------------------------------------------------
# The business date's morning in New York: when the borrowers promised.
CALLED = dt.datetime(2026, 6, 1, 14, 0, tzinfo=UTC)


def test_promises_kept_partly_kept_and_broken(contexts):
    admin, manager, clerk, collector = (contexts[r] for r in ("admin", "manager", "clerk", "collector"))
    kept, partly, broken, early = (
        late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15)) for _ in range(4))
    # A payment dated before the day of the promise is not a new payment.
    servicing.post_payment(clerk, early, "100.00", dt.date(2026, 5, 31), reference="before-the-call",
                           confirm_backdated=True)

    for number in (kept, partly, broken, early):
        collections.log_contact(collector, number, channel="call", outcome="promise",
                                promises=[(dt.date(2026, 6, 5), "100.00")], at=CALLED)
    servicing.post_payment(clerk, kept, "60.00", reference="one")
    servicing.post_payment(clerk, kept, "40.00", reference="two")
    servicing.post_payment(clerk, partly, "40.00")
    bounced = servicing.post_payment(clerk, broken, "100.00", reference="chk-9")
    servicing.reverse_payment(manager, bounced.entry_id, "nsf")

    result = settle(admin, dt.date(2026, 6, 8))
    assert result == collections.PromiseSettlement(kept=1, partly_kept=1, broken=2)
    outcome = {n: collections.promises(collector, n)[0] for n in (kept, partly, broken, early)}
    assert (outcome[kept].status, outcome[kept].paid_amount) == ("kept", D("100.00"))
    assert (outcome[partly].status, outcome[partly].paid_amount) == ("partly_kept", D("40.00"))
    assert (outcome[broken].status, outcome[broken].paid_amount) == ("broken", D("0.00"))
    assert (outcome[early].status, outcome[early].paid_amount) == ("broken", D("0.00"))
    assert {p.settled_on for p in outcome.values()} == {dt.date(2026, 6, 8)}


def test_a_plan_is_met_oldest_promise_first(contexts):
    admin, clerk, collector = contexts["admin"], contexts["clerk"], contexts["collector"]
    a = late_loan(admin, principal="2400.00", term=12, first_due=dt.date(2026, 4, 1))
    collections.log_contact(collector, a, channel="call", outcome="promise_to_pay", at=CALLED,
                            promises=[(dt.date(2026, 6, 20), "100.00"), (dt.date(2026, 6, 5), "100.00")])
    servicing.post_payment(clerk, a, "150.00")
    assert settle(admin, dt.date(2026, 6, 8)).kept == 1
    assert settle(admin, dt.date(2026, 6, 23)).partly_kept == 1
    assert [(p.due_date, p.status, p.paid_amount) for p in collections.promises(collector, a)] == [
        (dt.date(2026, 6, 5), "kept", D("100.00")), (dt.date(2026, 6, 20), "partly_kept", D("50.00"))]


def test_the_day_of_a_promise_is_the_borrowers_day(contexts):
    """20:30 in Los Angeles on 06-01 is 06-02 in UTC; the payment that evening is dated 06-01 and counts."""
    admin, clerk, collector = contexts["admin"], contexts["clerk"], contexts["collector"]
    west = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    edit(admin, west, person={"time_zone": "America/Los_Angeles"})
    collections.log_contact(collector, west, channel="call", outcome="promise", at=dt.datetime(2026, 6, 2, 3, 30, tzinfo=UTC),
                            promises=[(dt.date(2026, 6, 5), "125.00")])
    servicing.post_payment(clerk, west, "125.00")
    assert settle(admin, dt.date(2026, 6, 8)).kept == 1


def test_promise_grace_days_setting(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    collections.log_contact(collector, a, channel="call", outcome="promise_to_pay",
                            promises=[(dt.date(2026, 6, 5), "100.00")])
    setting(admin, collections.SETTING_PROMISE_GRACE_DAYS, "0")
    assert settle(admin, dt.date(2026, 6, 4)).total == 0
    assert settle(admin, dt.date(2026, 6, 5)).broken == 1


def test_a_new_promise_replaces_the_open_ones(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    first = collections.log_contact(collector, a, channel="call", outcome="promise_to_pay",
                                    promises=[(dt.date(2026, 6, 5), "100.00")])
    second = collections.log_contact(collector, a, channel="call", outcome="promise_to_pay",
                                     promises=[(dt.date(2026, 6, 12), "125.00")])
    assert second.cancelled_promises == (first.promises[0].id,)
    assert [(p.status, p.settled_on) for p in collections.promises(collector, a)] == [
        ("cancelled", TODAY), ("open", None)]
    assert settle(admin, dt.date(2026, 6, 8)).total == 0


# ---------------------------------------------------------------------------
# The contact log
# ---------------------------------------------------------------------------
def test_log_contact_validation(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))

    def refused(field: str, **kwargs: object) -> None:
        args = {"channel": "call", "outcome": "promise_to_pay"} | kwargs
        with pytest.raises(InvalidInput) as exc:
            collections.log_contact(collector, a, **args)
        assert exc.value.field == field, exc.value

    refused("promises")  # a promise needs dates and amounts
    refused("promises", promises=[(TODAY, "10.00")])  # not after the business date
    refused("promises", promises=[(TODAY + dt.timedelta(days=61), "10.00")])
    refused("promises", promises=[(dt.date(2026, 6, 5), "0.00")])
    refused("promises", promises=[(dt.date(2026, 6, 5), "10.001")])
    refused("promises", promises=[(dt.date(2026, 6, 5), "10.00"), (dt.date(2026, 6, 5), "5.00")])
    refused("promises", outcome="no_answer", promises=[(dt.date(2026, 6, 5), "10.00")])
    refused("outcome", outcome="maybe")
    refused("channel", channel="pigeon", outcome="no_answer")
    refused("at", outcome="no_answer", at=dt.datetime(2026, 5, 1, 12, 0))  # naive
    refused("at", outcome="no_answer", at=dt.datetime.now(UTC) + dt.timedelta(hours=1))
    refused("party", outcome="no_answer", party="guarantor")  # this loan has none
    with pytest.raises(NotFound):
        collections.log_contact(collector, "NO-SUCH", channel="call", outcome="no_answer")
    with pytest.raises(PermissionDenied):
        collections.log_contact(contexts["clerk"], a, channel="call", outcome="no_answer")
    assert collections.contact_history(collector, a) == []

    # Outcome and channel aliases; the 60th day is allowed.
    logged = collections.log_contact(collector, a, channel="Phone", outcome="left message", note=" voicemail ")
    assert (logged.channel, logged.outcome) == ("call", "left_message")
    collections.log_contact(collector, a, channel="sms", outcome="promise",
                            promises=[(TODAY + dt.timedelta(days=60), "125.00")])
    history = collections.contact_history(collector, a)
    assert [(c.channel, c.outcome) for c in history] == [("text", "promise_to_pay"), ("call", "left_message")]
    assert history[1].note == "voicemail" and history[1].user == "collector"
    assert history[1].party is not None and history[1].party.startswith("Pat Borrower")

    with admin.unit(write=False) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity == "contact").order_by(AuditEvent.id)).all()
    assert actions == ["contact.logged", "contact.logged"]


def test_contacts_are_append_only(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    logged = collections.log_contact(collector, a, channel="call", outcome="no_answer")
    with pytest.raises(AppendOnlyError):
        with admin.unit() as session:
            session.get(Contact, logged.contact_id).note = "edited"


# ---------------------------------------------------------------------------
# Regulation F guardrails
# ---------------------------------------------------------------------------
# A week in October 2025 (no daylight-saving change); 15:00 UTC is 11:00 in New York.
WEEK = [dt.datetime(2025, 10, day, 15, 0, tzinfo=UTC) for day in range(6, 13)]


def regf_loan(ctx, **person: object) -> str:
    number = late_loan(ctx, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    edit(ctx, number, loan={"reg_f_applies": True}, person=person or None)
    return number


def codes(rails) -> list[str]:
    return [g.code for g in rails]


def test_eighth_call_in_seven_days_needs_confirmation_and_the_override_is_logged(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = regf_loan(admin)
    for at in WEEK:  # seven attempts, none answered
        collections.log_contact(collector, a, channel="call", outcome="no_answer", at=at)
    eighth = WEEK[-1] + dt.timedelta(hours=3)
    assert codes(collections.check_contact(collector, a, "call", eighth)) == ["call_frequency"]
    assert collections.check_contact(collector, a, "email", eighth) == []  # calls only
    with pytest.raises(NeedsConfirmation) as asked:
        collections.log_contact(collector, a, channel="call", outcome="no_answer", at=eighth)
    assert codes(asked.value.preview) == ["call_frequency"]
    assert "1006.14(b)(2)(i)" in str(asked.value)

    logged = collections.log_contact(collector, a, channel="call", outcome="no_answer", at=eighth,
                                     override_reason="borrower asked us to call back tonight")
    assert codes(logged.overridden) == ["call_frequency"]
    history = collections.contact_history(collector, a)
    assert history[0].override_reason == "borrower asked us to call back tonight"
    assert all(c.override_reason is None for c in history[1:])
    with admin.unit(write=False) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.guardrail_overridden")).one()
    assert event.entity_id == str(logged.contact_id)
    assert event.details["reason"] == "borrower asked us to call back tonight"
    assert event.details["guardrails"] == ["call_frequency"]

    # A week after the second attempt, the first two have left the window: six remain.
    assert collections.check_contact(collector, a, "call", WEEK[1] + dt.timedelta(days=7)) == []


def test_a_call_within_seven_days_after_a_conversation_is_warned(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = regf_loan(admin)
    collections.log_contact(collector, a, channel="call", outcome="refused", at=WEEK[0])
    assert codes(collections.check_contact(collector, a, "call", WEEK[3])) == ["after_conversation"]
    assert collections.check_contact(collector, a, "text", WEEK[3]) == []
    assert collections.check_contact(collector, a, "call", WEEK[0] + dt.timedelta(days=7, hours=1)) == []


def test_a_call_at_half_past_seven_borrower_time_is_warned(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = regf_loan(admin, time_zone="America/Chicago")
    early = dt.datetime(2025, 10, 7, 12, 30, tzinfo=UTC)  # 07:30 in Chicago (CDT, UTC-5)
    rails = collections.check_contact(collector, a, "call", early)
    assert codes(rails) == ["inconvenient_time"] and "07:30" in rails[0].message
    assert collections.check_contact(collector, a, "call", early + dt.timedelta(hours=1)) == []
    late = dt.datetime(2025, 10, 8, 2, 1, tzinfo=UTC)  # 21:01 in Chicago
    assert codes(collections.check_contact(collector, a, "visit", late)) == ["inconvenient_time"]
    assert collections.check_contact(collector, a, "call", late - dt.timedelta(minutes=1)) == []  # 21:00
    assert collections.check_contact(collector, a, "letter", late) == []
    with pytest.raises(NeedsConfirmation):
        collections.log_contact(collector, a, channel="call", outcome="no_answer", at=early)


def test_guardrails_apply_to_regf_loans_or_to_all_by_setting(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    plain = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    early = dt.datetime(2025, 10, 7, 11, 0, tzinfo=UTC)  # 07:00 in New York
    assert collections.check_contact(collector, plain, "call", early) == []
    assert not by_number(collections.queue(collector))[plain].flags.reg_f
    setting(admin, collections.SETTING_REGF_ALL_LOANS, "true")
    assert codes(collections.check_contact(collector, plain, "call", early)) == ["inconvenient_time"]
    assert by_number(collections.queue(collector))[plain].flags.reg_f


def test_cease_contact_and_attorney_block_contact(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    ceased = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    lawyered = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    edit(admin, ceased, person={"cease_contact": True})
    edit(admin, lawyered, person={"attorney_represented": True})

    rails = collections.check_contact(collector, ceased, "call", WEEK[0])
    assert [(g.code, g.blocking) for g in rails] == [("cease_contact", True)]
    for number, regulation in ((ceased, "1006.6(c)"), (lawyered, "1006.6(b)(2)")):
        for channel in ("call", "email", "letter"):
            with pytest.raises(InvalidInput) as exc:
                collections.log_contact(collector, number, channel=channel, outcome="no_answer",
                                        override_reason="manager said so")
            assert exc.value.field == "loan" and regulation in str(exc.value)
    assert collections.contact_history(collector, ceased) == []

    # Still in the queue, flagged.
    got = by_number(collections.queue(collector))
    assert got[ceased].flags.cease_contact and got[ceased].flags.contact_blocked
    assert got[lawyered].flags.attorney and got[lawyered].flags.contact_blocked


def test_unknown_time_zone_is_a_warning(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = regf_loan(admin, time_zone="Mars/Olympus_Mons")
    assert codes(collections.check_contact(collector, a, "call", WEEK[0])) == ["unknown_time_zone"]


# ---------------------------------------------------------------------------
# Hardship and dispute
# ---------------------------------------------------------------------------
def test_round_robin_assignment_is_deterministic(contexts):
    admin, manager, collector = contexts["admin"], contexts["manager"], contexts["collector"]
    add_user(contexts, "carol")
    early = [late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15)) for _ in range(5)]
    older = [late_loan(admin, principal="2400.00", term=12, first_due=dt.date(2026, 4, 1)) for _ in range(2)]
    current_loan(admin)  # not past due: never assigned
    rules = [{"bucket": "1-29", "team": ["collector", "carol"]}, AssignmentRule(team=("manager",))]

    assert collections.assign_by_rules(manager, rules) == 7
    got = {i.loan_number: i.collector for i in collections.queue(collector)}
    assert [got[n] for n in sorted(early)] == ["collector", "carol", "collector", "carol", "collector"]
    assert [got[n] for n in older] == ["manager", "manager"]
    assert collections.assign_by_rules(manager, rules) == 0  # nothing moves on a second run

    # A manager's hand assignment stays; when carol leaves the team her loans go round the team again.
    collections.reassign(manager, sorted(early)[0], "carol")
    assert collections.assign_by_rules(manager, [{"bucket": "1-29", "team": ["collector"]},
                                                 {"team": ["manager"]}]) == 2
    got = {i.loan_number: i.collector for i in collections.queue(collector)}
    assert [got[n] for n in sorted(early)] == ["carol", "collector", "collector", "collector", "collector"]
    with admin.unit(write=False) as session:
        rows = {r.loan_id: r.rule for r in session.scalars(select(CollectionAssignment))}
    assert sorted(set(rows.values())) == ["all", "bucket:1-29", "manual"]


def test_assignment_rules_are_checked_and_can_be_saved(contexts):
    admin, manager, collector = contexts["admin"], contexts["manager"], contexts["collector"]
    add_user(contexts, "cleo", role="clerk")
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    for bad in ([{"team": ["ghost"]}], [{"team": ["cleo"]}], [{"team": []}], [{"bucket": "current", "team": ["collector"]}],
                [{"team": ["collector"], "colour": "red"}], "collector"):
        with pytest.raises(InvalidInput):
            collections.assign_by_rules(manager, bad)
    with pytest.raises(PermissionDenied):
        collections.assign_by_rules(collector, [{"team": ["collector"]}])
    assert collections.assign_by_rules(manager) == 0  # no saved rules yet
    collections.save_assignment_rules(manager, [{"product": "TEST", "team": ["Collector"]}])
    assert collections.assign_by_rules(manager) == 1
    assert by_number(collections.queue(collector))[a].collector == "collector"


def test_reassign_needs_a_manager(contexts):
    admin, manager, clerk, collector = (contexts[r] for r in ("admin", "manager", "clerk", "collector"))
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    for who in (clerk, collector):
        with pytest.raises(PermissionDenied):
            collections.reassign(who, a, "collector")
    with pytest.raises(InvalidInput):
        collections.reassign(manager, a, "clerk")  # a clerk does not work accounts
    done = collections.reassign(manager, a, "collector")
    assert (done.collector, done.previous) == ("collector", None)
    moved = collections.reassign(manager, a, "manager")
    assert (moved.collector, moved.previous) == ("manager", "collector")
    assert collections.reassign(manager, a, None).collector is None
    with admin.unit(write=False) as session:
        details = [e.details for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "queue.reassigned").order_by(AuditEvent.id))]
    assert details == [{"before": None, "after": "collector"}, {"before": "collector", "after": "manager"},
                       {"before": "manager", "after": None}]


# ---------------------------------------------------------------------------
# The command line, as a script runs it
# ---------------------------------------------------------------------------
def keel(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *argv], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def office(tmp_path, monkeypatch):
    """A SQLite file set up by ``keel init``, with a manager and a collector and three loans."""
    from app.services import setup
    from app.services.context import ServiceContext

    url = f"sqlite:///{tmp_path / 'office.sqlite3'}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_") or k == "KEEL_KEY_DIR"}
    base["KEEL_DATABASE_URL"] = url
    init = keel({**base, "KEEL_ADMIN_PASSWORD": PASSWORDS["admin"]},
                "init", "--user", "admin", "--business-date", TODAY.isoformat())
    assert init.returncode == 0, init.stderr

    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    factory = setup.open_database(url)
    try:
        admin = ServiceContext(factory, users.authenticate(factory, "admin", PASSWORDS["admin"]))
        for role in ("manager", "collector", "clerk"):
            users.create_user(admin, role, f"{role.title()} User", role, PASSWORDS[role])
        loans = [late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15)),
                 late_loan(admin, principal="2400.00", term=12, first_due=dt.date(2026, 4, 1))]
        current_loan(admin)
    finally:
        setup.close_database(factory)
    as_role = {role: {**base, "KEEL_USER": role, "KEEL_PASSWORD": PASSWORDS[role]}
               for role in ("manager", "collector", "clerk")}
    return as_role, loans


def test_cli_queue_contact_and_assign(office):
    env, (a, b) = office
    listed = keel(env["collector"], "queue", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["loan_number"], r["days_past_due"], r["amount_due"], r["score"], r["collector"]) for r in rows] == [
        (b, 61, "650.00", 61 + 65 + 30, None), (a, 17, "125.00", 17 + 12 + 30, None)]
    assert rows[0]["borrower"].startswith("Pat Borrower") and rows[0]["bucket"] == "60-89"
    assert rows[0]["next_due"] == "2026-04-01" and rows[0]["promise_due"] is None
    assert rows[0]["flags"]["contact_blocked"] is False

    contact = keel(env["collector"], "contact", a, "--outcome", "promise", "--promise", "2026-06-05:100.00",
                   "--promise", "2026-06-12:25.00", "--note", "pays Friday")
    assert contact.returncode == 0, contact.stderr
    assert "promise" in contact.stdout and "$100.00 by 2026-06-05" in contact.stdout

    hidden = json.loads(keel(env["collector"], "queue", "--json").stdout)
    assert [r["loan_number"] for r in hidden] == [b]
    shown = json.loads(keel(env["collector"], "queue", "--json", "--all").stdout)
    promised = next(r for r in shown if r["loan_number"] == a)
    assert promised["promise_due"] == "2026-06-05" and promised["last_outcome"] == "promise_to_pay"

    bad = keel(env["collector"], "contact", a, "--outcome", "promise", "--promise", "2026-06-05")
    assert bad.returncode == 2 and bad.stderr.startswith("keel: error: --promise")
    denied = keel(env["clerk"], "assign", b, "collector")
    assert denied.returncode == 2 and "queue.assign" in denied.stderr

    assigned = keel(env["manager"], "assign", b, "collector")
    assert assigned.returncode == 0, assigned.stderr
    mine = json.loads(keel(env["collector"], "queue", "--collector", "collector", "--json").stdout)
    assert [(r["loan_number"], r["collector"]) for r in mine] == [(b, "collector")]

    table = keel(env["collector"], "queue", "--bucket", "60-89")
    assert table.returncode == 0 and b in table.stdout and "1 account" in table.stdout

    history = json.loads(keel(env["collector"], "contacts", a, "--json").stdout)
    assert [c["outcome"] for c in history["contacts"]] == ["promise_to_pay"]
    assert [(p["due_date"], p["amount"], p["status"]) for p in history["promises"]] == [
        ("2026-06-05", "100.00", "open"), ("2026-06-12", "25.00", "open")]


# ---------------------------------------------------------------------------
# Corrections (issue 11): a new row points at the mis-logged one; nothing is edited
# ---------------------------------------------------------------------------
def test_a_mis_logged_contact_is_corrected_by_a_new_contact_pointing_at_it(contexts):
    admin, collector, clerk = contexts["admin"], contexts["collector"], contexts["clerk"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    logged = collections.log_contact(collector, a, channel="call", outcome="no_answer", note="rang twice",
                                     at=dt.datetime(2026, 6, 1, 14, 0, tzinfo=UTC))
    with pytest.raises(PermissionDenied):
        collections.correct_contact(clerk, logged.contact_id, reason="wrong outcome", outcome="contacted")
    with pytest.raises(InvalidInput) as info:
        collections.correct_contact(collector, logged.contact_id, reason="  ", outcome="contacted")
    assert info.value.field == "reason"
    with pytest.raises(InvalidInput) as info:
        collections.correct_contact(collector, logged.contact_id, reason="oops", channel="call")
    assert info.value.field == "contact" and "changes nothing" in str(info.value)
    with pytest.raises(InvalidInput) as info:
        collections.correct_contact(collector, logged.contact_id, reason="oops", outcome="promise_to_pay")
    assert info.value.field == "outcome"

    fixed = collections.correct_contact(collector, logged.contact_id, reason="she answered on the second ring",
                                        outcome="contacted", note="spoke with the borrower")
    assert fixed.corrected_id == logged.contact_id and fixed.contact.corrects_id == logged.contact_id
    history = collections.contact_history(collector, a)
    assert [(c.id, c.outcome, c.corrects_id, c.corrected_by_id) for c in history] == [
        (fixed.contact.id, "contacted", logged.contact_id, None),
        (logged.contact_id, "no_answer", None, fixed.contact.id),  # the original, untouched
    ]
    assert history[1].note == "rang twice" and history[0].correction_reason == "she answered on the second ring"
    # The original is corrected once: a second correction goes to the correction.
    with pytest.raises(InvalidInput) as info:
        collections.correct_contact(collector, logged.contact_id, reason="again", outcome="refused")
    assert f"already corrected by contact {fixed.contact.id}" in str(info.value)
    with admin.unit() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 2
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.corrected")).all()
        assert event.entity_id == str(fixed.contact.id)


def test_a_corrected_call_no_longer_counts_for_the_regulation_f_call_limit(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = regf_loan(admin)
    first = None
    for at in WEEK:  # seven call attempts...
        logged = collections.log_contact(collector, a, channel="call", outcome="no_answer", at=at)
        first = first or logged
    assert "call_frequency" in codes(collections.check_contact(collector, a, "call", WEEK[-1] + dt.timedelta(hours=2)))
    # ... but the first was a letter logged as a call: six calls in the window, no warning.
    collections.correct_contact(collector, first.contact_id, reason="it was the late notice", channel="letter",
                                outcome="left_message")
    assert "call_frequency" not in codes(
        collections.check_contact(collector, a, "call", WEEK[-1] + dt.timedelta(hours=2)))


def test_a_mis_logged_promise_is_corrected_and_end_of_day_settles_only_the_correction(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    logged = collections.log_contact(collector, a, channel="call", outcome="promise_to_pay",
                                     promises=[(dt.date(2026, 6, 5), "125.00")])
    [wrong] = logged.promises
    with pytest.raises(InvalidInput) as info:
        collections.correct_promise(collector, wrong.id, reason="typo", due_date=dt.date(2026, 6, 1))
    assert info.value.field == "promises" and "not after the business date" in str(info.value)
    fixed = collections.correct_promise(collector, wrong.id, reason="she said the 12th, $100",
                                        due_date="2026-06-12", amount="100.00")
    assert (fixed.promise.due_date, fixed.promise.amount, fixed.promise.corrects_id) == (
        dt.date(2026, 6, 12), D("100.00"), wrong.id)
    listed = collections.promises(collector, a)
    assert [(p.id, p.status, p.corrected_by_id) for p in listed] == [
        (wrong.id, "corrected", fixed.promise.id), (fixed.promise.id, "open", None)]
    # 06-05 + 3 days' grace would have broken the mis-logged promise on 06-08: nothing is settled then.
    assert settle(admin, dt.date(2026, 6, 8)).total == 0
    # The account stays off the queue: the corrected promise is live until 06-12.
    assert a not in by_number(collections.queue(collector))
    with pytest.raises(InvalidInput) as info:
        collections.correct_promise(collector, wrong.id, reason="again", amount="90.00")
    assert "already corrected" in str(info.value)


def test_correcting_a_promise_contact_to_another_outcome_withdraws_its_promises(contexts):
    admin, collector = contexts["admin"], contexts["collector"]
    a = late_loan(admin, principal="1200.00", term=12, first_due=dt.date(2026, 5, 15))
    logged = collections.log_contact(collector, a, channel="call", outcome="promise_to_pay",
                                     promises=[(dt.date(2026, 6, 5), "60.00"), (dt.date(2026, 6, 20), "65.00")])
    fixed = collections.correct_contact(collector, logged.contact_id, reason="logged on the wrong account",
                                        outcome="wrong_number")
    assert sorted(fixed.withdrawn_promises) == sorted(p.id for p in logged.promises)
    assert [p.status for p in collections.promises(collector, a)] == ["corrected", "corrected"]
    assert a in by_number(collections.queue(collector))  # no live promise: back on the queue


def test_cli_contact_correct(office):
    env, (a, _b) = office
    logged = keel(env["collector"], "contact", a, "--outcome", "promise", "--promise", "2026-06-05:100.00",
                  "--json")
    assert logged.returncode == 0, logged.stderr
    made = json.loads(logged.stdout)
    promise_id = made["promises"][0]["id"]
    fixed = keel(env["collector"], "contact-correct", "--promise", str(promise_id), "--due", "2026-06-09",
                 "--reason", "she said Tuesday")
    assert fixed.returncode == 0, fixed.stderr
    assert f"Promise {promise_id} on {a} corrected by promise" in fixed.stdout and "$100.00 by 2026-06-09" in fixed.stdout
    refused = keel(env["collector"], "contact-correct", "--contact", str(made["contact_id"]), "--reason", "x")
    assert refused.returncode == 2 and "changes nothing" in refused.stderr
    mixed = keel(env["collector"], "contact-correct", "--contact", str(made["contact_id"]), "--amount", "5",
                 "--reason", "x")
    assert mixed.returncode == 2 and "--promise ID" in mixed.stderr
    note = keel(env["collector"], "contact-correct", "--contact", str(made["contact_id"]), "--note",
                "pays Tuesday", "--reason", "note left out")
    assert note.returncode == 0, note.stderr
    listing = keel(env["collector"], "contacts", a)
    assert "[CORRECTED by " in listing.stdout and f"[corrects {made['contact_id']}: note left out]" in listing.stdout
    assert "corrected by " in listing.stdout and f"(corrects {promise_id})" in listing.stdout
