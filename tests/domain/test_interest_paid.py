"""The "interest paid to" date on hand-worked loans (issue 11)."""

from datetime import date
from decimal import Decimal as D

from app.domain.engine import Event, replay, snapshot
from app.domain.interest_paid import interest_paid_in, interest_paid_to
from app.domain.terms import terms_from_dict


def make_terms(**overrides):
    # 10,000.00 at 12 % for 12 months, 30/360: payment 888.49; installment 1 is
    # 100.00 interest + 788.49 principal, installment 2 is 92.12 + 796.37.
    data = {"principal": "10000", "rate": "12", "term": 12, "start": "2026-01-01", "first_due": "2026-02-01"}
    data.update(overrides)
    return terms_from_dict(data)


def pay(event_id, when, amount):
    return Event(event_id, "payment", when, D(amount))


def state_of(terms, events, as_of):
    state, _ = replay(terms, events, as_of)
    return state, snapshot(state, terms)


def test_scheduled_on_time_interest_is_paid_to_the_last_due_date():
    terms = make_terms()
    state, snap = state_of(terms, [pay("p1", date(2026, 2, 1), "888.49")], date(2026, 2, 15))
    assert snap.paid_through == date(2026, 2, 1)
    assert interest_paid_to(state, terms) == date(2026, 2, 1)


def test_scheduled_partial_payment_pays_the_next_interest_but_not_the_installment():
    # Feb 1 paid in full.  On Mar 1 only 200.00 comes in: the waterfall meets
    # installment 2's interest (92.12) first and 107.88 of its principal, so
    # installment 2 is not paid (paid-through stays Feb 1), but its interest,
    # the interest for February, is: interest is paid to March 1.
    terms = make_terms()
    events = [pay("p1", date(2026, 2, 1), "888.49"), pay("p2", date(2026, 3, 1), "200.00")]
    state, snap = state_of(terms, events, date(2026, 3, 10))
    assert snap.paid_through == date(2026, 2, 1)
    assert interest_paid_to(state, terms) == date(2026, 3, 1)


def test_scheduled_payment_short_of_the_interest_leaves_the_date():
    # 50.00 on Mar 1 is less than installment 2's 92.12 interest: still Feb 1.
    terms = make_terms()
    events = [pay("p1", date(2026, 2, 1), "888.49"), pay("p2", date(2026, 3, 1), "50.00")]
    state, _ = state_of(terms, events, date(2026, 3, 10))
    assert interest_paid_to(state, terms) == date(2026, 2, 1)


def test_scheduled_nothing_paid_yet():
    terms = make_terms()
    state, _ = state_of(terms, [], date(2026, 1, 20))
    assert interest_paid_to(state, terms) is None


def test_simple_interest_is_paid_to_the_payment_date():
    # Simple daily interest: the Feb 1 payment meets the 31 days' interest
    # accrued since Jan 1 first, so interest is paid to Feb 1.
    terms = make_terms(interest="simple", day_count="actual/365")
    state, _ = state_of(terms, [pay("p1", date(2026, 2, 1), "888.49")], date(2026, 2, 20))
    assert interest_paid_to(state, terms) == date(2026, 2, 1)


def test_simple_interest_payment_short_of_the_interest_moves_back_by_whole_days():
    # 10,000.00 at 12 % actual/365 earns 3.2877 a day; Jan 1 -> Feb 1 is 31 days,
    # 101.92.  A 50.00 payment on Feb 1 leaves 51.92 unpaid: 51.92 / 3.2877 =
    # 15.8 days, rounded up to 16, so interest is paid to Feb 1 - 16 = Jan 16.
    terms = make_terms(interest="simple", day_count="actual/365")
    state, _ = state_of(terms, [pay("p1", date(2026, 2, 1), "50.00")], date(2026, 2, 20))
    assert interest_paid_to(state, terms) == date(2026, 1, 16)


# ---------------------------------------------------------------- interest paid in a period (issue 11)


def test_interest_paid_in_a_year_counts_payments_by_effective_date_and_reversals_off():
    # Installment 1 (Feb 1): 100.00 interest; installment 2 (Mar 1): 92.12 (9,211.51 x 1 % = 92.1151).
    # A payment reversed on Mar 10: its 92.12 counts on Mar 1 and comes off on Mar 10.
    terms = make_terms()
    events = [pay("p1", date(2026, 2, 1), "888.49"), pay("p2", date(2026, 3, 1), "888.49"),
              Event("r2", "reversal", date(2026, 3, 10), of="p2")]
    _, entries = replay(terms, events, date(2026, 3, 31))
    assert interest_paid_in(entries, date(2026, 1, 1), date(2026, 12, 31)) == D("100.00")
    assert interest_paid_in(entries, date(2026, 1, 1), date(2026, 3, 5)) == D("192.12")  # 100.00 + 92.12
    assert interest_paid_in(entries, date(2026, 3, 2), date(2026, 3, 31)) == D("-92.12")
    assert interest_paid_in(entries, date(2025, 1, 1), date(2025, 12, 31)) == D("0.00")


def test_interest_paid_in_adds_what_a_prior_servicer_reported():
    # Converted mid-year with 412.50 paid at the prior servicer; one payment here with 100.00 interest.
    terms = make_terms()
    _, entries = replay(terms, [pay("p1", date(2026, 2, 1), "888.49")], date(2026, 2, 28))
    assert interest_paid_in(entries, date(2026, 1, 1), date(2026, 12, 31), carried=D("412.50")) == D("512.50")


def test_interest_paid_in_ignores_fees_and_principal_only_entries():
    # A 250.00 payment on a loan owing 100.00 interest and a 25.00 fee... only the interest part counts.
    terms = make_terms()
    events = [Event("f1", "fee", date(2026, 1, 15), D("25.00"), kind="other"), pay("p1", date(2026, 2, 1), "888.49")]
    _, entries = replay(terms, events, date(2026, 2, 28))
    assert interest_paid_in(entries, date(2026, 1, 1), date(2026, 12, 31)) == D("100.00")
