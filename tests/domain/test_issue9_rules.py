"""The servicing rules a review found wrong (issue 9), on hand-worked loans.

Base loan unless a test says otherwise: 10,000.00 at 12 %, 12 monthly installments,
start 2026-01-01, first due 2026-02-01, 30/360, scheduled interest.  The level
installment is 888.49 (10,000 x 0.01 / (1 - 1.01^-12) = 888.4879 -> 888.49); the
first period's interest is 10,000 x 1 % = 100.00, so installment 1 is 100.00 of
interest and 788.49 of principal, leaving 9,211.51.
"""

from datetime import date
from decimal import Decimal as D
from itertools import permutations

import pytest

from app.domain.engine import Event, replay, snapshot
from app.domain.errors import InputError
from app.domain.terms import terms_from_dict, terms_to_dict


def make_terms(**overrides):
    data = {"principal": "10000", "rate": "12", "term": 12, "start": "2026-01-01", "first_due": "2026-02-01"}
    data.update(overrides)
    return terms_from_dict(data)


def pay(event_id, when, amount):
    return Event(event_id, "payment", when, D(amount))


def run(terms, events, as_of):
    state, entries = replay(terms, events, as_of)
    return snapshot(state, terms), {entry.id: entry for entry in entries}


FEB_1 = pay("p1", date(2026, 2, 1), "888.49")


# ---------------------------------------------------------------- 1. simple interest


def test_simple_interest_payment_meets_all_accrued_interest_before_principal():
    # actual/365 simple.  Feb 1: 31 days on 10,000: 10,000 x 12 % x 31/365 = 101.92;
    # 883.49 pays 101.92 of interest and 781.57 of principal -> 9,218.43, 5.00 short.
    # Feb 25: 24 days on 9,218.43: 9,218.43 x 12 % x 24/365 = 72.737 -> 72.74.  The
    # 888.49 meets all of that interest first, then principal 888.49 - 72.74 = 815.75.
    terms = make_terms(interest="simple", day_count="actual/365")
    events = [pay("a", date(2026, 2, 1), "883.49"), pay("b", date(2026, 2, 25), "888.49")]
    snap, entries = run(terms, events, date(2026, 2, 25))
    assert (entries["a"].interest, entries["a"].principal) == (D("101.92"), D("781.57"))
    assert (entries["b"].interest, entries["b"].principal) == (D("72.74"), D("815.75"))
    assert snap.accrued_interest == D("0.00")
    assert snap.principal == D("9218.43") - D("815.75")


def test_simple_interest_curtailment_meets_interest_first():
    # Nothing due on Feb 10 after an on-time Feb 1 payment; 2,000.00 on Feb 10 meets the
    # next installment (888.49) and curtails the rest, but interest comes first either way:
    # actual/365, 9 days on 9,218.43 (see above) = 9,218.43 x 12 % x 9/365 = 27.276 -> 27.28.
    terms = make_terms(interest="simple", day_count="actual/365")
    events = [pay("a", date(2026, 2, 1), "883.49"), pay("b", date(2026, 2, 10), "2000.00")]
    snap, entries = run(terms, events, date(2026, 2, 10))
    assert entries["b"].interest == D("27.28")
    assert entries["b"].principal == D("2000.00") - D("27.28")
    assert snap.accrued_interest == D("0.00")


# ---------------------------------------------------------------- 2. equal principal, simple


def test_simple_equal_principal_bills_each_periods_interest_once():
    # 12,000.00, 12 installments of 1,000.00 principal plus interest, simple, 30/360.
    # Feb 1 bills 1,000.00 + 12,000 x 1 % = 1,120.00.  No payment: Mar 1's accrual is
    # 240.00 in all, of which 120.00 is already billed, so Mar 1 bills 1,000 + 120 = 1,120.00.
    # Late fee 5 % of 1,120.00 = 56.00 after 10 days of grace (Feb 12).
    # As of Mar 1: 1,120.00 + 1,120.00 + 56.00 = 2,296.00 due; 240.00 of interest accrued.
    terms = make_terms(principal="12000", interest="simple", amortization="equal-principal",
                       late_fee={"grace_days": 10, "percent": "5", "min": "15.00", "max": "100.00"})
    snap, entries = run(terms, [], date(2026, 3, 1))
    assert entries["late_fee:1"].amount == D("56.00")
    assert snap.amount_due == D("2296.00")
    assert snap.accrued_interest == D("240.00")
    assert snap.payoff == D("12000.00") + D("240.00") + D("56.00")
    # Installment 2's late fee is 5 % of its own 1,120.00 too, not of an inflated bill.
    snap, entries = run(terms, [], date(2026, 3, 12))
    assert entries["late_fee:2"].amount == D("56.00")


# ---------------------------------------------------------------- 3. matured with a balance


def test_a_balance_left_after_maturity_is_past_due():
    # 5,000.00 at 12 %, term 1, simple, actual/365.  Feb 1 bills the payoff:
    # 5,000 x 12 % x 31/365 = 50.96 -> 5,050.96.  Paid on Feb 20: 50 days of interest,
    # 5,000 x 12 % x 50/365 = 82.19, so principal 5,050.96 - 82.19 = 4,968.77 leaves 31.23.
    terms = make_terms(principal="5000", term=1, interest="simple", day_count="actual/365")
    snap, entries = run(terms, [pay("a", date(2026, 2, 20), "5050.96")], date(2026, 6, 1))
    assert entries["a"].principal == D("4968.77")
    assert snap.principal == D("31.23")
    # Feb 20 -> Jun 1 is 101 days: 31.23 x 12 % x 101/365 = 1.037 -> 1.04.
    assert snap.accrued_interest == D("1.04")
    assert snap.status == "active"
    assert snap.next_due == date(2026, 2, 1)
    assert snap.days_past_due == 120  # Feb 1 -> Jun 1
    assert snap.bucket == "120+"
    assert snap.amount_due == D("32.27")


# ---------------------------------------------------------------- 8 and 4. payoff


def test_payoff_credits_interest_paid_for_days_not_yet_elapsed():
    # After the Feb 1 installment (9,211.51 left), a direct payoff on Feb 17 is
    # 9,211.51 + 9,211.51 x 1 % x 16/30 (49.128 -> 49.13) = 9,260.64.
    terms = make_terms()
    snap, _ = run(terms, [FEB_1], date(2026, 2, 17))
    assert snap.payoff == D("9260.64")
    # 100.00 on Feb 10 (nothing due) is taken by installment 2 (due Mar 1): its whole
    # period's interest 92.12 (9,211.51 x 1 %) and 7.88 of principal.  By Feb 17 only
    # 16 of its 30 days have passed: 92.12 x 16/30 = 49.13 earned, 42.99 paid ahead.
    # The payoff is 9,203.63 - 42.99 = 9,160.64, exactly 100.00 less than the direct one.
    events = [FEB_1, pay("b", date(2026, 2, 10), "100.00")]
    snap, entries = run(terms, events, date(2026, 2, 17))
    assert (entries["b"].interest, entries["b"].principal) == (D("92.12"), D("7.88"))
    assert snap.principal == D("9203.63")
    assert snap.accrued_interest == D("-42.99")
    assert snap.payoff == D("9160.64")
    # Paying that payoff closes the loan with no refund; the payoff entry gives back the 42.99.
    snap, entries = run(terms, [*events, pay("c", date(2026, 2, 17), "9160.64")], date(2026, 2, 17))
    assert snap.status == "paid_off" and snap.refund_due == 0 and snap.principal == 0
    assert (entries["c"].interest, entries["c"].principal) == (D("-42.99"), D("9203.63"))


def test_one_cent_short_of_the_payoff_costs_one_cent():
    # 9,260.63 on Feb 17 against a payoff of 9,260.64: whatever the allocation, what is
    # left to pay off is 0.01 (not 42.99 more, as before).
    terms = make_terms()
    snap, _ = run(terms, [FEB_1, pay("a", date(2026, 2, 17), "9260.63")], date(2026, 2, 17))
    assert snap.payoff == D("0.01")
    assert snap.status == "active"


def test_payoff_tolerance_pays_the_loan_off_and_writes_off_the_shortfall():
    # payoff_tolerance 1.00: 9,260.63 pays interest to the date (49.13) and principal
    # 9,211.50; the 0.01 of principal left is written off by its own entry.
    terms = make_terms(payoff_tolerance="1.00")
    snap, entries = run(terms, [FEB_1, pay("a", date(2026, 2, 17), "9260.63")], date(2026, 2, 17))
    assert snap.status == "paid_off" and snap.payoff == 0
    assert (entries["a"].interest, entries["a"].principal) == (D("49.13"), D("9211.50"))
    written = entries["a:payoff_write_off"]
    assert written.type == "payoff_write_off" and written.amount == D("0.01") and written.principal == D("0.01")
    # Short by more than the tolerance: an ordinary payment.
    snap, entries = run(terms, [FEB_1, pay("a", date(2026, 2, 17), "9259.63")], date(2026, 2, 17))
    assert snap.status == "active" and "a:payoff_write_off" not in entries


def test_payoff_tolerance_round_trips_and_is_bounded():
    terms = make_terms(payoff_tolerance="0.50", waiver_credit="refund")
    assert terms_from_dict(terms_to_dict(terms)) == terms
    assert "payoff_tolerance" not in terms_to_dict(make_terms())  # stored terms of old loans read back the same
    with pytest.raises(InputError) as info:
        make_terms(payoff_tolerance="-1")
    assert info.value.field == "terms.payoff_tolerance"
    with pytest.raises(InputError):
        make_terms(payoff_tolerance="5000")


def test_payoff_is_net_of_suspense_and_net_due_less_suspense():
    # partial: suspense.  Feb 1 888.49 pays installment 1; 300.00 on Feb 10 is less than
    # a whole installment, so it is held.  Payoff on Feb 17 = 9,260.64 (above) less the
    # 300.00 held = 8,960.64.
    terms = make_terms(partial="suspense")
    events = [FEB_1, pay("b", date(2026, 2, 10), "300.00")]
    snap, _ = run(terms, events, date(2026, 2, 17))
    assert snap.suspense == D("300.00") and snap.payoff == D("8960.64")
    # On Mar 1 the installment (888.49) is due gross; the suspense meets it that day
    # (money held applies to installments now due), so check the day before: nothing
    # due yet, and net_due never goes below zero.
    assert snap.amount_due == 0 and snap.net_due == 0
    # Paying the quoted payoff leaves no refund.
    snap, _ = run(terms, [*events, pay("c", date(2026, 2, 17), "8960.64")], date(2026, 2, 17))
    assert snap.status == "paid_off" and snap.refund_due == 0 and snap.suspense == 0


def test_net_due_is_the_amount_due_less_suspense():
    # partial: suspense.  Mar 1 installment (888.49) not paid; 500.00 on Mar 5 is held
    # (less than a whole installment).  Amount due 888.49 gross, 388.49 net.
    terms = make_terms(partial="suspense")
    events = [FEB_1, pay("b", date(2026, 3, 5), "500.00")]
    snap, _ = run(terms, events, date(2026, 3, 6))
    assert snap.suspense == D("500.00")
    assert snap.amount_due == D("888.49") and snap.net_due == D("388.49")


# ---------------------------------------------------------------- 5. same day


def test_two_checks_on_one_day_equal_one_check_of_their_sum():
    terms = make_terms()
    one_state, one = replay(terms, [pay("a", date(2026, 2, 1), "1888.49")], date(2026, 3, 15))
    two_state, two = replay(
        terms, [pay("a", date(2026, 2, 1), "888.49"), pay("b", date(2026, 2, 1), "1000.00")], date(2026, 3, 15)
    )
    assert one_state == two_state
    # Installment 1 (100.00 + 788.49), then 1,000.00 curtails principal (excess: principal).
    a, b = {e.id: e for e in two}["a"], {e.id: e for e in two}["b"]
    assert (a.interest, a.principal) == (D("100.00"), D("788.49"))
    assert (b.interest, b.principal) == (D("0.00"), D("1000.00"))
    assert snapshot(one_state, terms).next_due == date(2026, 3, 1)  # a curtailment does not move it


def test_excess_installments_pays_whole_installments_ahead():
    # 1,776.98 = two installments on Feb 1 with excess: installments: installment 1
    # (100.00 + 788.49) and installment 2 (92.12 + 796.37), so the next due date is Apr 1
    # and principal is 10,000 - 788.49 - 796.37 = 8,415.14.
    terms = make_terms(excess="installments")
    snap, entries = run(terms, [pay("a", date(2026, 2, 1), "1776.98")], date(2026, 2, 1))
    assert snap.next_due == date(2026, 4, 1) and snap.principal == D("8415.14")
    assert entries["a"].interest == D("192.12")
    # With the default the second 888.49 curtails and the next due date stays Mar 1.
    snap, _ = run(make_terms(), [pay("a", date(2026, 2, 1), "1776.98")], date(2026, 2, 1))
    assert snap.next_due == date(2026, 3, 1)


# ---------------------------------------------------------------- 6. waivers


LATE = {"grace_days": 10, "percent": "5", "min": "15.00", "max": "100.00"}


def test_a_waiver_larger_than_the_fee_is_refused_naming_the_amount():
    # Installment 1 unpaid: late fee 5 % of 888.49 = 44.42 on Feb 12.
    terms = make_terms(late_fee=LATE)
    with pytest.raises(InputError) as info:
        replay(terms, [Event("w", "waiver", date(2026, 2, 20), D("100.00"), of="late_fee:1")], date(2026, 2, 20))
    assert info.value.field == "amount" and "44.42" in info.value.problem
    snap, entries = run(terms, [Event("w", "waiver", date(2026, 2, 20), D("20.00"), of="late_fee:1")], date(2026, 2, 20))
    assert entries["w"].fees == D("-20.00") and snap.fees == D("24.42")


def test_waiving_a_paid_fee_credits_principal_or_refund_due():
    # 932.91 on Feb 15 = installment 1 (888.49) + the 44.42 late fee.  Waiving the fee on
    # Feb 20 gives the 44.42 back: to principal (9,211.51 - 44.42 = 9,167.09) by default,
    # or as a refund due with waiver_credit: refund.
    events = [pay("a", date(2026, 2, 15), "932.91"), Event("w", "waiver", date(2026, 2, 20), of="late_fee:1")]
    snap, entries = run(make_terms(late_fee=LATE), events, date(2026, 2, 20))
    assert entries["a"].fees == D("44.42")
    assert entries["w"].principal == D("44.42") and snap.principal == D("9167.09")
    snap, entries = run(make_terms(late_fee=LATE, waiver_credit="refund"), events, date(2026, 2, 20))
    assert entries["w"].refund == D("44.42") and snap.refund_due == D("44.42") and snap.principal == D("9211.51")
    # A fee cannot be waived twice.
    with pytest.raises(InputError):
        replay(make_terms(late_fee=LATE), [*events, Event("w2", "waiver", date(2026, 2, 21), D("1.00"), of="late_fee:1")],
               date(2026, 2, 21))


# ---------------------------------------------------------------- 7. event order


def test_a_waiver_listed_before_its_fee_is_accepted():
    terms = make_terms()
    events = [Event("w", "waiver", date(2026, 2, 20), of="nsf"),
              Event("nsf", "fee", date(2026, 2, 10), D("25.00"), kind="nsf")]
    snap, entries = run(terms, events, date(2026, 2, 20))
    assert entries["w"].fees == D("-25.00") and snap.fees == 0


def test_input_order_never_changes_the_result():
    terms = make_terms(late_fee=LATE, waterfall=["fees", "interest", "principal"])
    events = [
        pay("a", date(2026, 2, 15), "500.00"),
        Event("f", "fee", date(2026, 2, 15), D("25.00"), kind="nsf"),
        pay("b", date(2026, 2, 15), "433.49"),
        Event("t", "terms_change", date(2026, 2, 15), rate=D("10")),
        Event("w", "waiver", date(2026, 2, 15), D("10.00"), of="f"),
    ]
    results = {repr(replay(terms, list(order), date(2026, 4, 1))[0]) for order in permutations(events)}
    assert len(results) == 1
