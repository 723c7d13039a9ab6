"""The engine on hand-worked loans.  Every figure is worked out in the comments."""

from datetime import date
from decimal import Decimal as D

import pytest

from app.domain.engine import Event, advance, initial_state, replay, snapshot
from app.domain.errors import InputError
from app.domain.terms import terms_from_dict


def make_terms(**overrides):
    data = {"principal": "10000", "rate": "12", "term": 12, "start": "2026-01-01", "first_due": "2026-02-01"}
    data.update(overrides)
    return terms_from_dict(data)


def pay(event_id, when, amount):
    return Event(event_id, "payment", when, D(amount))


def on_time(count):
    return [pay(f"p{k}", date(2026 + (k // 12), k % 12 + 1, 1), "888.49") for k in range(1, count + 1)]


def run(terms, events, as_of):
    state, entries = replay(terms, events, as_of)
    return snapshot(state, terms), {entry.id: entry for entry in entries}


def test_on_time_loan_follows_the_schedule_and_pays_off():
    terms = make_terms()
    events = on_time(11) + [pay("p12", date(2027, 1, 1), "888.47")]
    snap, entries = run(terms, events, date(2027, 1, 5))
    assert (entries["p1"].interest, entries["p1"].principal) == (D("100.00"), D("788.49"))
    assert (entries["p2"].interest, entries["p2"].principal) == (D("92.12"), D("796.37"))
    assert snap.status == "paid_off"
    assert snap.principal == D("0.00") and snap.payoff == D("0.00")
    assert snap.paid_through == date(2027, 1, 1)
    assert snap.next_due is None


def test_delinquent_loan_walks_through_buckets_and_back_to_current():
    terms = make_terms(late_fee={"grace_days": 10, "fixed": "25.00"})
    events = on_time(3)  # paid Feb, Mar, Apr; nothing for May 1 and Jun 1
    # On May 11 (last grace day) no fee yet; on May 12 the fee for installment 4.
    snap, entries = run(terms, events, date(2026, 5, 11))
    assert snap.fees == 0 and snap.days_past_due == 10 and snap.bucket == "1-29"
    snap, entries = run(terms, events, date(2026, 5, 12))
    assert entries["late_fee:4"].amount == D("25.00") and entries["late_fee:4"].date == date(2026, 5, 12)
    snap, entries = run(terms, events, date(2026, 6, 15))
    # Installments 4 and 5 bill 76.11 (7,610.80 x 1%) and 67.98 (6,798.42 x 1%);
    # June 1 -> 15 is 14 days on 5,977.91: 5,977.91 x 12% x 14/360 = 27.897 -> 27.90.
    assert snap.accrued_interest == D("76.11") + D("67.98") + D("27.90")
    assert snap.fees == D("50.00")
    assert snap.amount_due == D("888.49") * 2 + D("50.00")
    assert snap.days_past_due == 45 and snap.bucket == "30-59"  # May 1 -> Jun 15
    assert snap.paid_through == date(2026, 4, 1) and snap.next_due == date(2026, 5, 1)
    assert snap.principal == D("7610.80")
    # 7,610.80 x 12% / 360 = 2.5369 -> 2.54
    assert snap.per_diem == D("2.54")
    assert snap.payoff == D("7610.80") + snap.accrued_interest + D("50.00")
    for as_of, days, bucket in [
        (date(2026, 7, 1), 61, "60-89"),
        (date(2026, 8, 1), 92, "90-119"),
        (date(2026, 8, 29), 120, "120+"),
    ]:
        snap, _ = run(terms, events, as_of)
        assert (snap.days_past_due, snap.bucket) == (days, bucket)
    # Paying both installments and both fees on Jun 20 makes the loan current.
    cure = pay("cure", date(2026, 6, 20), "1826.98")
    snap, entries = run(terms, events + [cure], date(2026, 6, 20))
    assert entries["cure"].interest == D("76.11") + D("67.98")
    assert entries["cure"].principal == D("812.38") + D("820.51")
    assert entries["cure"].fees == D("50.00")
    assert (snap.days_past_due, snap.bucket, snap.fees) == (0, "current", D("0.00"))
    assert snap.paid_through == date(2026, 6, 1) and snap.next_due == date(2026, 7, 1)


def test_simple_interest_paid_ten_days_late():
    terms = make_terms(principal="12000", rate="10", day_count="actual/365", interest="simple")
    # Level payment 12,000 at 10%/12 for 12: 1,054.99.
    snap, _ = run(terms, [], date(2026, 2, 10))
    assert snap.next_payment == D("1054.99")
    assert snap.days_past_due == 9 and snap.amount_due == D("1054.99")
    events = [pay("late", date(2026, 2, 11), "1054.99"), pay("next", date(2026, 3, 1), "1054.99")]
    snap, entries = run(terms, events, date(2026, 3, 1))
    # Jan 1 -> Feb 11 is 41 days: 12,000 x 10% x 41/365 = 134.7945 -> 134.79.
    assert (entries["late"].interest, entries["late"].principal) == (D("134.79"), D("920.20"))
    # Feb 11 -> Mar 1 is 18 days on 11,079.80: 54.6401 -> 54.64.
    assert (entries["next"].interest, entries["next"].principal) == (D("54.64"), D("1000.35"))
    assert snap.principal == D("11079.80") - D("1000.35")
    assert snap.days_past_due == 0 and snap.next_due == date(2026, 4, 1)


def test_simple_interest_accrues_to_but_not_including_the_date():
    terms = make_terms(principal="36500", rate="10", day_count="actual/365", interest="simple")
    # 36,500 x 10% / 365 = 10.00 a day; Jan 1 -> Jan 11 is 10 days.
    snap, _ = run(terms, [], date(2026, 1, 11))
    assert snap.accrued_interest == D("100.00") and snap.per_diem == D("10.00")
    assert snap.payoff == D("36600.00")


def test_early_payment_meets_the_next_installment():
    terms = make_terms()
    snap, entries = run(terms, [pay("early", date(2026, 1, 20), "888.49")], date(2026, 2, 5))
    assert (entries["early"].interest, entries["early"].principal) == (D("100.00"), D("788.49"))
    assert snap.paid_through == date(2026, 2, 1) and snap.next_due == date(2026, 3, 1)
    assert snap.days_past_due == 0 and snap.amount_due == 0


def test_early_simple_interest_payment_pays_interest_only_to_its_date():
    terms = make_terms(principal="36500", rate="10", day_count="actual/365", interest="simple", term=24)
    snap, entries = run(terms, [pay("early", date(2026, 1, 21), "1000.00")], date(2026, 1, 21))
    # 20 days at 10.00 a day.
    assert (entries["early"].interest, entries["early"].principal) == (D("200.00"), D("800.00"))
    assert snap.principal == D("35700.00")


def test_nsf_reversal_with_fee():
    terms = make_terms(late_fee={"grace_days": 10, "fixed": "25.00"})
    events = [
        pay("p1", date(2026, 2, 1), "888.49"),
        Event("r1", "reversal", date(2026, 2, 10), of="p1"),
        Event("nsf1", "fee", date(2026, 2, 10), D("25.00"), kind="nsf"),
    ]
    snap, entries = run(terms, events, date(2026, 2, 10))
    assert entries["p1"].reversed is True
    assert (entries["p1"].interest, entries["p1"].principal) == (D("100.00"), D("788.49"))  # as first applied
    assert (entries["r1"].amount, entries["r1"].interest, entries["r1"].principal) == (D("-888.49"), D("-100.00"), D("-788.49"))
    assert snap.principal == D("10000.00")
    assert snap.fees == D("25.00")
    assert snap.amount_due == D("913.49")
    assert snap.days_past_due == 9
    # The check bounced, so installment 1 was not paid by Feb 11: late fee on Feb 12.
    snap, entries = run(terms, events, date(2026, 2, 12))
    assert "late_fee:1" in entries and snap.fees == D("50.00")


def test_reversal_state_equals_never_received():
    terms = make_terms(late_fee={"grace_days": 10, "fixed": "25.00"})
    base = on_time(2)
    with_reversed = base + [pay("x", date(2026, 3, 15), "300.00"), Event("rx", "reversal", date(2026, 3, 20), of="x")]
    assert replay(terms, with_reversed, date(2026, 6, 1))[0] == replay(terms, base, date(2026, 6, 1))[0]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"grace_days": 15, "percent": "5", "max": "25.00"}, D("25.00")),  # 5% of 888.49 = 44.42, capped at 25
        ({"grace_days": 15, "percent": "5", "min": "50.00"}, D("50.00")),  # 44.42 raised to the minimum 50
        ({"grace_days": 15, "percent": "5", "min": "10.00", "max": "100.00"}, D("44.42")),
        ({"grace_days": 15, "fixed": "35.00"}, D("35.00")),
    ],
)
def test_late_fee_percent_min_and_max(rule, expected):
    terms = make_terms(late_fee=rule)
    # Due Feb 1, grace 15 days: the last day on time, Feb 16, is Washington's Birthday, a bank
    # holiday, so a payment on Tuesday Feb 17 is on time (issue 9) and the fee falls on Feb 18.
    snap, entries = run(terms, [pay("ok", date(2026, 2, 17), "888.49")], date(2026, 3, 31))
    assert "late_fee:1" not in entries
    snap, entries = run(terms, [], date(2026, 2, 17))
    assert "late_fee:1" not in entries
    snap, entries = run(terms, [], date(2026, 2, 18))
    assert entries["late_fee:1"].amount == expected


def test_late_fee_never_twice_for_one_installment():
    terms = make_terms(late_fee={"grace_days": 10, "fixed": "25.00"})
    snap, entries = run(terms, [], date(2026, 4, 30))
    late = sorted(key for key in entries if key.startswith("late_fee"))
    assert late == ["late_fee:1", "late_fee:2", "late_fee:3"]
    assert snap.fees == D("75.00")


def test_no_pyramiding_with_a_fees_first_waterfall():
    terms = make_terms(late_fee={"grace_days": 10, "fixed": "25.00"}, waterfall=["fees", "interest", "principal"])
    events = [
        pay("late1", date(2026, 2, 20), "888.49"),  # late: fee 25 assessed Feb 12
        pay("p2", date(2026, 3, 1), "888.49"),  # full installment on time
        pay("p3", date(2026, 4, 1), "888.49"),  # and again
    ]
    snap, entries = run(terms, events, date(2026, 4, 30))
    assert entries["late_fee:1"].amount == D("25.00")
    # The first payment met the fee first, so every later installment is 25.00 short...
    assert entries["late1"].fees == D("25.00")
    # ...but the only shortfall is the earlier fee: no late fee for installments 2 and 3.
    assert "late_fee:2" not in entries and "late_fee:3" not in entries
    assert snap.days_past_due == 0 and snap.bucket == "current"
    assert snap.amount_due == D("25.00")


def test_installment_short_within_tolerance_counts_as_paid():
    terms = make_terms(late_fee={"grace_days": 10, "fixed": "25.00"}, tolerance="5.00")
    snap, entries = run(terms, [pay("short", date(2026, 2, 1), "885.00")], date(2026, 2, 20))
    assert "late_fee:1" not in entries
    assert snap.days_past_due == 0
    assert snap.amount_due == D("3.49")  # still owed
    assert snap.next_due == date(2026, 3, 1)


def test_payoff_quote_with_per_diem():
    terms = make_terms()
    snap, _ = run(terms, on_time(1), date(2026, 2, 16))
    # Feb 1 -> Feb 16 is 15 days on 9,211.51: 9,211.51 x 12% x 15/360 = 46.0575 -> 46.06.
    assert snap.accrued_interest == D("46.06")
    assert snap.payoff == D("9257.57")
    # 9,211.51 x 12% / 360 = 3.0705 -> 3.07
    assert snap.per_diem == D("3.07")
    # Paying exactly the quote on that date pays the loan off.
    snap, entries = run(terms, on_time(1) + [pay("off", date(2026, 2, 16), "9257.57")], date(2026, 2, 16))
    assert snap.status == "paid_off"
    assert (entries["off"].interest, entries["off"].principal, entries["off"].refund) == (D("46.06"), D("9211.51"), D("0.00"))


def test_money_beyond_the_payoff_is_a_refund_never_negative_principal():
    terms = make_terms()
    # Jan 1 -> Jan 16: 10,000 x 12% x 15/360 = 50.00 interest, so 10,050.00 pays off.
    snap, entries = run(terms, [pay("big", date(2026, 1, 16), "10100.00")], date(2026, 1, 31))
    assert entries["big"].interest == D("50.00") and entries["big"].principal == D("10000.00")
    assert entries["big"].refund == D("50.00")
    assert snap.status == "paid_off" and snap.principal == D("0.00") and snap.refund_due == D("50.00")


def test_curtailment_saves_interest_from_the_next_installment():
    terms = make_terms()
    events = [pay("p1", date(2026, 2, 1), "1888.49"), pay("p2", date(2026, 3, 1), "888.49")]
    snap, entries = run(terms, events, date(2026, 3, 1))
    assert (entries["p1"].interest, entries["p1"].principal) == (D("100.00"), D("1788.49"))
    # (9,211.51 - 1,000) x 1% = 82.1151 -> 82.12
    assert entries["p2"].interest == D("82.12")
    assert snap.next_due == date(2026, 4, 1)  # a curtailment does not move the due date
    # Paid early in mid-period, a payment meets installment 2 (billed on 9,211.51) and the
    # rest is a curtailment that counts from installment 3 on.
    events = [pay("p1", date(2026, 2, 1), "888.49"), pay("extra", date(2026, 2, 15), "1888.49"),
              pay("p3", date(2026, 4, 1), "888.49")]
    snap, entries = run(terms, events, date(2026, 4, 1))
    assert entries["extra"].interest == D("92.12")
    assert entries["extra"].principal == D("796.37") + D("1000.00")
    # 9,211.51 - 1,000 - 796.37 = 7,415.14; x 1% = 74.15
    assert entries["p3"].interest == D("74.15")


def test_rate_change_recomputes_the_payment():
    terms = make_terms()
    events = on_time(6) + [Event("rc", "terms_change", date(2026, 7, 1), rate=D("6"))]
    snap, _ = run(terms, events, date(2026, 7, 1))
    # Principal after six installments 5,149.20; at 6%/12 over the 6 left: 873.28.
    assert snap.principal == D("5149.20")
    assert snap.next_payment == D("873.28")
    snap, entries = run(terms, events + [pay("p7", date(2026, 8, 1), "873.28")], date(2026, 8, 1))
    assert entries["p7"].interest == D("25.75")  # 5,149.20 x 0.5% = 25.746


def test_zero_percent_loan_never_accrues():
    terms = make_terms(principal="1200", rate="0")
    events = [pay(f"p{k}", date(2026, k + 1, 1), "100.00") for k in range(1, 12)] + [pay("p12", date(2027, 1, 1), "100.00")]
    snap, entries = run(terms, events[:5], date(2026, 6, 20))
    assert snap.accrued_interest == 0 and snap.per_diem == 0
    assert all(entry.interest == 0 for entry in entries.values())
    snap, _ = run(terms, events, date(2027, 1, 1))
    assert snap.status == "paid_off"


def test_partial_payments_held_in_suspense_until_a_full_installment():
    terms = make_terms(partial="suspense")
    snap, entries = run(terms, [pay("a", date(2026, 2, 1), "500.00")], date(2026, 2, 3))
    assert entries["a"].suspense == D("500.00") and entries["a"].principal == 0
    assert snap.suspense == D("500.00") and snap.days_past_due == 2
    events = [pay("a", date(2026, 2, 1), "500.00"), pay("b", date(2026, 2, 5), "400.00")]
    snap, entries = run(terms, events, date(2026, 2, 5))
    # 900.00 meets installment 1 (100.00 + 788.49); 11.51 left is a curtailment.
    assert entries["b"].suspense == D("-500.00")
    assert entries["b"].interest == D("100.00") and entries["b"].principal == D("788.49") + D("11.51")
    assert snap.suspense == 0 and snap.days_past_due == 0


def test_excess_to_suspense_meets_the_next_installment_when_due():
    terms = make_terms(excess="suspense")
    snap, entries = run(terms, [pay("two", date(2026, 2, 1), "1776.98")], date(2026, 2, 1))
    assert entries["two"].suspense == D("888.49")
    snap, entries = run(terms, [pay("two", date(2026, 2, 1), "1776.98")], date(2026, 3, 1))
    applied = [entry for entry in entries.values() if entry.type == "suspense_applied"]
    assert len(applied) == 1 and applied[0].interest == D("92.12") and applied[0].principal == D("796.37")
    assert snap.suspense == 0 and snap.next_due == date(2026, 4, 1)


def test_fee_waiver_by_engine_id():
    terms = make_terms(late_fee={"grace_days": 10, "fixed": "25.00"})
    events = [Event("w", "waiver", date(2026, 2, 20), of="late_fee:1")]
    snap, entries = run(terms, events, date(2026, 2, 20))
    assert entries["w"].fees == D("-25.00") and snap.fees == 0


def test_events_on_one_date_apply_in_list_order():
    terms = make_terms(late_fee={"grace_days": 0, "fixed": "10.00"}, waterfall=["fees", "interest", "principal"])
    # Installment 1 late: fee on Feb 2.  Then a fee-first payment and a reversal of nothing else.
    a = [pay("x", date(2026, 2, 5), "10.00"), pay("y", date(2026, 2, 5), "888.49")]
    _, entries = run(terms, a, date(2026, 2, 5))
    assert entries["x"].fees == D("10.00") and entries["y"].fees == 0


def test_replay_in_one_go_equals_day_by_day():
    terms = make_terms(late_fee={"grace_days": 10, "fixed": "25.00"}, interest="simple", day_count="actual/365")
    events = [pay("a", date(2026, 2, 3), "888.49"), pay("b", date(2026, 3, 20), "500.00"), pay("c", date(2026, 4, 2), "1300.00")]
    whole, _ = replay(terms, events, date(2026, 5, 31))
    state = initial_state(terms)
    day = state.date
    while day < date(2026, 5, 31):
        day = date.fromordinal(day.toordinal() + 1)
        state, _ = advance(state, terms, [e for e in events if e.date == day], day)
    assert state == whole


def test_bad_events_name_the_field():
    terms = make_terms()
    with pytest.raises(InputError) as info:
        replay(terms, [Event("r", "reversal", date(2026, 2, 1), of="nope")], date(2026, 3, 1))
    assert info.value.field == "events[0].of"
    with pytest.raises(InputError) as info:
        replay(terms, [pay("a", date(2026, 2, 1), "-5")], date(2026, 3, 1))
    assert info.value.field == "events[0].amount"


def test_results_do_not_depend_on_the_threads_decimal_context():
    import decimal

    terms = make_terms(principal="123456.78", rate="7.125", term=360, interest="simple", day_count="actual/actual")
    events = [pay("a", date(2026, 2, 3), "900.00"), pay("b", date(2026, 3, 9), "700.00")]
    expected = snapshot(*[replay(terms, events, date(2026, 6, 30))[0]], terms)
    with decimal.localcontext(decimal.Context(prec=6, rounding=decimal.ROUND_FLOOR)):
        terms_again = make_terms(principal="123456.78", rate="7.125", term=360, interest="simple", day_count="actual/actual")
        assert snapshot(replay(terms_again, events, date(2026, 6, 30))[0], terms_again) == expected


def test_allocation_override_places_the_money_as_directed():
    terms = make_terms(late_fee={"grace_days": 10, "fixed": "25.00"})
    # Installment 1 is late with a 25.00 fee; the servicer puts 888.49 all to principal and interest
    # as directed: 100.00 interest, 788.49 principal, nothing to the fee.
    split = (("interest", D("100.00")), ("principal", D("788.49")))
    events = [Event("o", "payment", date(2026, 2, 20), D("888.49"), split=split)]
    snap, entries = run(terms, events, date(2026, 2, 20))
    assert (entries["o"].interest, entries["o"].principal, entries["o"].fees) == (D("100.00"), D("788.49"), D("0.00"))
    assert snap.fees == D("25.00") and snap.days_past_due == 0
    # A part that cannot be placed (more interest than is owed) is held in suspense.
    split = (("interest", D("150.00")), ("principal", D("50.00")))
    snap, entries = run(terms, [Event("o", "payment", date(2026, 2, 20), D("200.00"), split=split)], date(2026, 2, 20))
    assert (entries["o"].interest, entries["o"].principal, entries["o"].suspense) == (D("100.00"), D("50.00"), D("50.00"))


def test_allocation_override_must_add_up():
    terms = make_terms()
    with pytest.raises(InputError) as info:
        replay(terms, [Event("o", "payment", date(2026, 2, 1), D("10.00"), split=(("interest", D("9.00")),))],
               date(2026, 2, 1))
    assert info.value.field == "events[0].split"


def test_a_principal_above_keels_ceiling_is_refused():
    """Issue 12: a $90-trillion loan was boarded and stopped end of day; $100,000,000.00 is the ceiling."""
    assert make_terms(principal="100000000.00").principal == D("100000000.00")
    with pytest.raises(InputError) as info:
        make_terms(principal="100000000.01")
    assert info.value.field == "terms.principal" and "Keel's limit of 100000000.00" in info.value.problem
    with pytest.raises(InputError):
        make_terms(principal="90000000000000.00")
