"""The statement cycle on hand-worked dates (issue 13, item 4): app/domain/statement_cycle.py.

Each test walks a loan through the calendar one closed day at a time, as end
of day does, and asks the rules at every close which letters to queue.  The
loans are monthly unless said otherwise; ``grace`` is the late fee's grace
period, which is the courtesy period of 12 CFR 1026.41(b) (comment 41(b)-2).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.engine import Event, advance, initial_state
from app.domain.statement_cycle import (
    MAIL_WITHIN_DAYS,
    REMINDER,
    STATEMENT,
    Exemptions,
    LoanFacts,
    courtesy_end,
    may_notice,
    notices_due,
)
from app.domain.terms import add_months, terms_from_dict

ONE = timedelta(days=1)


def make_terms(first_due: str, *, start: str | None = None, grace: int | None = 15, **extra: object):
    data: dict[str, object] = {"principal": "10000", "rate": "12", "term": 12, "first_due": first_due,
                               "start": start or add_months(date.fromisoformat(first_due), -1, 1).isoformat()}
    if grace is not None:
        data["late_fee"] = {"grace_days": grace, "fixed": "25.00"}
    data.update(extra)
    return terms_from_dict(data)


def walk(terms, last: date, *, boarded: date | None = None, events=(), facts: dict | None = None, **rules):
    """(closed day, kind, cycle due, mail by) for every letter the rules queue from the boarding day to ``last``."""
    boarded = boarded or terms.start
    state = initial_state(terms)
    found = []
    day = terms.start
    while day <= last:
        state, _ = advance(state, terms, [e for e in events if e.date == day], day)
        if day >= boarded:
            notices = notices_due(day, terms, state, LoanFacts(boarded, **(facts or {})), **rules)
            if notices:  # end of day's cheap first pass must never miss a loan that is due something
                assert may_notice(day, terms, state, boarded, **{k: v for k, v in rules.items() if k != "exemptions"})
            for notice in notices:
                found.append((day, notice.kind, notice.cycle_due, notice.mail_by))
        day += ONE
    return found


def statements(found):
    return [(closed, cycle) for closed, kind, cycle, _ in found if kind == STATEMENT]


# ---------------------------------------------------------------- consumer loans


def test_a_consumer_loan_due_the_20th_gets_its_statement_at_the_close_of_the_5th():
    # Due the 20th, statement 15 days before: 20 - 15 = the 5th of each month.
    terms = make_terms("2027-02-20", start="2027-01-20")
    found = walk(terms, date(2027, 5, 31), statement_days=15)
    assert statements(found) == [
        (date(2027, 2, 5), date(2027, 2, 20)),
        (date(2027, 3, 5), date(2027, 3, 20)),
        (date(2027, 4, 5), date(2027, 4, 20)),
        (date(2027, 5, 5), date(2027, 5, 20)),
    ]
    assert [mail for *_, mail in found] == [None] * 4  # no Regulation Z deadline for a consumer loan
    # Ten days before instead: the 10th.
    assert statements(walk(terms, date(2027, 3, 31), statement_days=10))[:2] == [
        (date(2027, 2, 10), date(2027, 2, 20)), (date(2027, 3, 10), date(2027, 3, 20))]
    # 0: no statements for the product.
    assert walk(terms, date(2027, 5, 31), statement_days=0) == []


def test_due_the_31st_and_february():
    # Due the 31st, clamped to the month's end: Jan 31, Feb 28, Mar 31, Apr 30 (2027).
    # 15 days before: Jan 16, Feb 13 (28 - 15), Mar 16, Apr 15 (30 - 15).
    terms = make_terms("2027-01-31", start="2026-12-31")
    assert statements(walk(terms, date(2027, 4, 30), statement_days=15)) == [
        (date(2027, 1, 16), date(2027, 1, 31)),
        (date(2027, 2, 13), date(2027, 2, 28)),
        (date(2027, 3, 16), date(2027, 3, 31)),
        (date(2027, 4, 15), date(2027, 4, 30)),
    ]
    # A leap year: due Feb 29, 2028, so its statement closes Feb 14 (29 - 15).
    leap = make_terms("2028-01-31", start="2027-12-31")
    assert statements(walk(leap, date(2028, 3, 31), statement_days=15)) == [
        (date(2028, 1, 16), date(2028, 1, 31)),
        (date(2028, 2, 14), date(2028, 2, 29)),
        (date(2028, 3, 16), date(2028, 3, 31)),
    ]
    # Due the 1st with 30 days' notice: the statement for March 1 closes Jan 30 (Feb has 28 days),
    # the one for Feb 1 closes Jan 2.
    early = make_terms("2027-02-01", start="2027-01-01")
    assert statements(walk(early, date(2027, 2, 28), statement_days=30)) == [
        (date(2027, 1, 2), date(2027, 2, 1)), (date(2027, 1, 30), date(2027, 3, 1))]


def test_a_loan_boarded_after_its_statement_day_is_caught_up_on_its_first_night():
    # Boarded Feb 10, after Feb 5 (the statement day for Feb 20): billed at the close of Feb 10.
    terms = make_terms("2027-02-20", start="2027-01-20")
    assert statements(walk(terms, date(2027, 3, 31), boarded=date(2027, 2, 10), statement_days=15)) == [
        (date(2027, 2, 10), date(2027, 2, 20)), (date(2027, 3, 5), date(2027, 3, 20))]


def test_a_biweekly_loan_gets_each_installments_statement_15_days_ahead():
    # Every 14 days from Feb 6, 2027: Feb 6, Feb 20, Mar 6; 15 days before: Jan 22, Feb 5, Feb 19.
    terms = make_terms("2027-02-06", start="2027-01-06", frequency="biweekly", term=26)
    assert statements(walk(terms, date(2027, 2, 28), statement_days=15)) == [
        (date(2027, 1, 22), date(2027, 2, 6)), (date(2027, 2, 5), date(2027, 2, 20)),
        (date(2027, 2, 19), date(2027, 3, 6))]


# ---------------------------------------------------------------- mortgages (12 CFR 1026.41(b))


def test_a_mortgage_due_the_1st_with_a_15_day_courtesy_period_is_billed_by_the_20th():
    # Cycle due Mar 1: after Feb 1's courtesy period, Feb 2..16; queued at the close of Feb 16,
    # to be mailed within four days (comment 41(b)-1): by Feb 20 = 1 + 15 + 4.
    terms = make_terms("2027-02-01", start="2027-01-01", grace=15)
    found = walk(terms, date(2027, 6, 15), facts={"mortgage": True}, statement_days=15)
    assert [(closed, cycle, mail) for closed, _, cycle, mail in found] == [
        # The first statement has no previous cycle: 15 days before Feb 1.
        (date(2027, 1, 17), date(2027, 2, 1), None),
        (date(2027, 2, 16), date(2027, 3, 1), date(2027, 2, 20)),
        (date(2027, 3, 16), date(2027, 4, 1), date(2027, 3, 20)),
        (date(2027, 4, 16), date(2027, 5, 1), date(2027, 4, 20)),
        # May 16, 2027 is a Sunday: a payment on Monday the 17th is on time, so the courtesy period
        # runs through the 17th, and the statement is mailed by the 21st.
        (date(2027, 5, 17), date(2027, 6, 1), date(2027, 5, 21)),
    ]
    for closed, _, cycle, mail in found[1:]:
        assert closed <= date(cycle.year, cycle.month, 1) - timedelta(days=1)
        assert mail == closed + timedelta(days=MAIL_WITHIN_DAYS)


def test_a_mortgage_due_the_31st_across_february_and_a_holiday():
    # Jan 31 + 15 = Feb 15, 2027, Washington's Birthday (a bank holiday): the courtesy period runs
    # through Tuesday Feb 16; the cycle due Feb 28 is queued then, mailed by Feb 20.
    # Feb 28 + 15 = Mar 15 (a Monday): the cycle due Mar 31 is queued at its close, mailed by Mar 19.
    terms = make_terms("2027-01-31", start="2026-12-31", grace=15)
    assert courtesy_end(terms, date(2027, 1, 31)) == date(2027, 2, 16)
    found = walk(terms, date(2027, 3, 31), facts={"mortgage": True}, statement_days=15)
    assert [(closed, cycle, mail) for closed, _, cycle, mail in found] == [
        (date(2027, 1, 16), date(2027, 1, 31), None),
        (date(2027, 2, 16), date(2027, 2, 28), date(2027, 2, 20)),
        (date(2027, 3, 15), date(2027, 3, 31), date(2027, 3, 19)),
    ]


def test_a_mortgage_without_a_late_fee_is_billed_right_after_each_due_date():
    # No late fee, no courtesy period: queued at the close of the due date itself.
    terms = make_terms("2027-02-01", start="2027-01-01", grace=None)
    found = walk(terms, date(2027, 3, 31), facts={"mortgage": True})
    assert [(closed, cycle, mail) for closed, _, cycle, mail in found] == [
        (date(2027, 1, 17), date(2027, 2, 1), None),
        (date(2027, 2, 1), date(2027, 3, 1), date(2027, 2, 5)),
        (date(2027, 3, 1), date(2027, 4, 1), date(2027, 3, 5)),
    ]


def test_exemptions_suppress_a_mortgages_statements_and_only_a_mortgages():
    terms = make_terms("2027-02-01", start="2027-01-01", grace=15)
    last = date(2027, 4, 30)
    for basis in ("own_loans", "housing_finance_agency", "nonprofit"):
        small = Exemptions(small_servicer=basis)
        assert walk(terms, last, facts={"mortgage": True}, exemptions=small) == []  # 1026.41(e)(4)
        assert len(walk(terms, last, exemptions=small)) == 4  # a consumer loan is billed as before
    coupons = Exemptions(coupon_books=True)
    assert walk(terms, last, facts={"mortgage": True}, exemptions=coupons) == []  # 1026.41(e)(3)
    # More than 45 days delinquent: the (d)(8) delinquency information is due in writing
    # (1026.41(e)(3)(iv)), so the statement (with its delinquency notice) still goes.
    late = walk(terms, last, facts={"mortgage": True, "days_past_due": 46}, exemptions=coupons)
    assert [closed for closed, *_ in late] == [date(2027, 1, 17), date(2027, 2, 16), date(2027, 3, 16),
                                                date(2027, 4, 16)]
    assert walk(terms, last, facts={"mortgage": True, "days_past_due": 45}, exemptions=coupons) == []


def test_who_gets_no_statement():
    terms = make_terms("2027-02-20", start="2027-01-20")
    last = date(2027, 3, 31)
    # A consumer loan's borrower who asked us to stop, or has a lawyer: none.
    assert walk(terms, last, facts={"cease_contact": True}) == []
    assert walk(terms, last, facts={"attorney_represented": True}) == []
    # A mortgage's periodic statement is still required (Regulation Z; CFPB Bulletin 2013-12).
    assert len(walk(terms, last, facts={"mortgage": True, "cease_contact": True})) == 2
    # Hardship and dispute stop collection letters, not statements.
    assert len(walk(terms, last, facts={"hardship": True, "dispute": True})) == 2
    # Paid off: nothing after the payoff (on Feb 1: 10,000.00 plus 12 days' interest, more than enough).
    paid = walk(terms, last, events=[Event("p", "payment", date(2027, 2, 1), D("10100.00"))])
    assert statements(paid) == []


# ---------------------------------------------------------------- reminders


def test_reminders_go_only_to_loans_that_have_not_paid():
    # Due the 20th, reminder 3 days before: the close of the 17th, if the installment is unpaid.
    terms = make_terms("2027-02-20", start="2027-01-20")
    last = date(2027, 3, 31)
    reminders = [(closed, cycle) for closed, kind, cycle, _ in walk(terms, last, reminder_days=3) if kind == REMINDER]
    assert reminders == [(date(2027, 2, 17), date(2027, 2, 20)), (date(2027, 3, 17), date(2027, 3, 20))]
    # The February installment (888.49) paid on Feb 10: no reminder for it; March's still comes.
    paid = walk(terms, last, reminder_days=3, events=[Event("p", "payment", date(2027, 2, 10), D("888.49"))])
    assert [(closed, cycle) for closed, kind, cycle, _ in paid if kind == REMINDER] == [
        (date(2027, 3, 17), date(2027, 3, 20))]
    # Part paid (500.00 of 888.49): still unpaid, so it is reminded.
    part = walk(terms, last, reminder_days=3, events=[Event("p", "payment", date(2027, 2, 10), D("500.00"))])
    assert (date(2027, 2, 17), date(2027, 2, 20)) in [(c, d) for c, k, d, _ in part if k == REMINDER]
    # Off unless the product asks for them, and never to a flagged loan or borrower.
    assert [k for _, k, _, _ in walk(terms, last)] == [STATEMENT, STATEMENT]
    for flag in ("hardship", "dispute", "cease_contact", "attorney_represented"):
        assert REMINDER not in [k for _, k, _, _ in walk(terms, last, reminder_days=3, facts={flag: True})]


# ---------------------------------------------------------------- invariants


@settings(max_examples=25, deadline=None)
@given(day=st.integers(1, 31), month=st.integers(1, 12), days=st.integers(1, 28), mortgage=st.booleans(),
       grace=st.sampled_from([None, 5, 10, 15]))
def test_every_cycle_is_queued_once_before_its_due_date(day, month, days, mortgage, grace):
    """A year walked day by day from the funding date: each of the 12 installments is billed exactly
    once, before its due date -- a consumer loan's (and a mortgage's first) ``days`` before it or on the
    first night if that is earlier; a mortgage's later ones at the close of the previous courtesy period."""
    first_due = add_months(date(2027, month, 1), 0, day)
    terms = make_terms(first_due.isoformat(), start=add_months(first_due, -1, first_due.day).isoformat(),
                       grace=grace)
    dues = [add_months(first_due, k, first_due.day) for k in range(12)]
    found = statements(walk(terms, dues[-1], facts={"mortgage": mortgage}, statement_days=days))
    assert [cycle for _, cycle in found] == dues
    for (closed, cycle), previous in zip(found, [None, *dues[:-1]], strict=True):
        assert closed < cycle
        if previous is None or not mortgage:
            assert closed == max(cycle - timedelta(days=days), terms.start)
        else:
            assert closed == min(courtesy_end(terms, previous), cycle - ONE)
