"""Invariants of the servicing rules over random loans and random event streams (issue 9).

Loans: every frequency, day count, interest method and amortization, late-fee rules,
tolerance, payoff tolerance, excess and partial rules.  Streams: early, late, short and
double payments, two checks on one day, reversals, NSF fees, waivers, rate changes.
"""

from __future__ import annotations

import os
import random
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.engine import Event, replay, snapshot
from app.domain.errors import InputError
from app.domain.terms import terms_from_dict

D = Decimal
money = st.integers(min_value=1_000_00, max_value=250_000_00).map(lambda c: D(c).scaleb(-2))
# KEEL_PROPERTY_EXAMPLES=5000 for a deep run; the suite's default keeps it to seconds.
SETTINGS = settings(max_examples=int(os.environ.get("KEEL_PROPERTY_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def loans(draw):
    start = draw(st.dates(min_value=date(2021, 1, 1), max_value=date(2029, 12, 31)))
    return terms_from_dict({
        "principal": str(draw(money)),
        "rate": str(D(draw(st.integers(0, 2400))).scaleb(-2)),
        "term": draw(st.integers(1, 36)),
        "frequency": draw(st.sampled_from(["monthly", "semi-monthly", "biweekly", "weekly"])),
        "start": start.isoformat(),
        "first_due": (start + timedelta(days=draw(st.integers(10, 45)))).isoformat(),
        "day_count": draw(st.sampled_from(["30/360", "actual/365", "actual/360", "actual/actual"])),
        "interest": draw(st.sampled_from(["scheduled", "simple"])),
        "amortization": draw(st.sampled_from(["level", "equal-principal"])),
        "late_fee": draw(st.sampled_from([
            {"grace_days": 10, "fixed": "25.00"},
            {"grace_days": 15, "percent": "5", "min": "15.00", "max": "100.00"},
            {"grace_days": 0, "percent": "4"},
        ])),
        "tolerance": draw(st.sampled_from(["0.00", "5.00"])),
        "payoff_tolerance": draw(st.sampled_from(["0.00", "1.00"])),
        "waterfall": draw(st.permutations(["interest", "principal", "fees"])),
        "excess": draw(st.sampled_from(["principal", "suspense", "installments"])),
        "partial": draw(st.sampled_from(["apply", "suspense"])),
    })


@st.composite
def streams(draw, terms, count=14):
    """Random events; ids are unique; the list is in date order (shuffled by the tests that need it)."""
    installment = max(terms.principal / terms.term, D(1)).quantize(D("0.01"))
    events: list[Event] = []
    payments: list[Event] = []
    day = terms.start
    for index in range(draw(st.integers(0, count))):
        day += timedelta(days=draw(st.integers(1, 40)))
        kind = draw(st.sampled_from(["pay", "pay", "pay", "split", "reverse", "nsf", "waive", "rate"]))
        if kind == "pay":
            factor = draw(st.sampled_from([D("0.5"), D("1"), D("1"), D("2"), D("0.97")]))
            amount = max((installment * factor).quantize(D("0.01")), D("0.01"))
            payments.append(Event(f"p{index}", "payment", day, amount))
            events.append(payments[-1])
        elif kind == "split":
            amount = installment
            first = (amount * D(draw(st.integers(1, 99))) / 100).quantize(D("0.01"))
            for part, value in (("a", first), ("b", amount - first)):
                if value > 0:
                    payments.append(Event(f"p{index}{part}", "payment", day, value))
                    events.append(payments[-1])
        elif kind == "reverse" and payments:
            target = draw(st.sampled_from(payments))
            if all(e.of != target.id for e in events):
                events.append(Event(f"r{index}", "reversal", day, of=target.id))
        elif kind == "nsf":
            events.append(Event(f"f{index}", "fee", day, D("25.00"), kind="nsf"))
        elif kind == "waive":
            fees = [e for e in events if e.type == "fee"]
            of = draw(st.sampled_from([e.id for e in fees] + ["late_fee:1", "late_fee:2"]))
            events.append(Event(f"w{index}", "waiver", day, of=of))
        elif kind == "rate":
            events.append(Event(f"t{index}", "terms_change", day, rate=D(draw(st.integers(0, 2000))).scaleb(-2)))
    return events, day


def _replay(terms, events, to_date):
    try:
        return replay(terms, events, to_date)
    except InputError:
        return None  # e.g. a waiver the stream made larger than its fee: refused, as it should be


@SETTINGS
@given(st.data())
def test_every_entry_adds_up_and_no_balance_goes_negative(data):
    terms = data.draw(loans())
    events, last = data.draw(streams(terms))
    result = _replay(terms, events, last + timedelta(days=20))
    if result is None:
        return
    state, entries = result
    for entry in entries:
        if entry.type in ("payment", "reversal"):
            parts = entry.interest + entry.principal + entry.fees + entry.suspense + entry.refund
            assert parts == entry.amount, entry
    assert state.principal >= 0 and state.suspense >= 0 and state.refund_due >= 0
    assert all(fee.remaining >= 0 for fee in state.fees)
    snap = snapshot(state, terms)
    # The payoff is what it says it is made of.
    if snap.status == "active":
        assert snap.payoff == max(snap.principal + snap.accrued_interest + snap.fees - snap.suspense, D(0))
    assert snap.net_due == max(snap.amount_due - snap.suspense, D(0))


@SETTINGS
@given(st.data())
def test_paying_the_payoff_closes_the_loan_with_no_refund(data):
    # No payoff collects interest for days after its date: paying the quoted payoff on
    # its date pays the loan off exactly, and a payoff never falls as days pass.
    terms = data.draw(loans())
    events, last = data.draw(streams(terms, count=6))
    day = last + timedelta(days=data.draw(st.integers(1, 30)))
    result = _replay(terms, events, day)
    if result is None or result[0].status != "active":
        return
    snap = snapshot(result[0], terms)
    if snap.payoff <= 0:
        return
    later = snapshot(replay(terms, events, day + timedelta(days=5))[0], terms)
    if later.status == "active" and later.fees == snap.fees:
        assert later.payoff >= snap.payoff - D("0.01")
    state, _ = replay(terms, [*events, Event("payoff", "payment", day, snap.payoff)], day)
    assert state.status == "paid_off", snapshot(state, terms)
    # The payoff itself leaves no refund (one owed from an earlier overpayment stays as it was).
    assert state.refund_due == result[0].refund_due and state.principal == 0


@SETTINGS
@given(st.data())
def test_same_day_split_equals_one_payment(data):
    terms = data.draw(loans())
    events, last = data.draw(streams(terms, count=5))
    day = last + timedelta(days=data.draw(st.integers(1, 40)))
    amount = D(data.draw(st.integers(2, 300_000))).scaleb(-2)
    first = D(data.draw(st.integers(1, int(amount * 100) - 1))).scaleb(-2)
    one = _replay(terms, [*events, Event("x", "payment", day, amount)], day + timedelta(days=3))
    two = _replay(terms, [*events, Event("x", "payment", day, first), Event("y", "payment", day, amount - first)],
                  day + timedelta(days=3))
    if one is None or two is None:
        return
    assert one[0] == two[0]


@SETTINGS
@given(st.data())
def test_input_order_does_not_matter(data):
    terms = data.draw(loans())
    events, last = data.draw(streams(terms))
    shuffled = list(events)
    random.Random(data.draw(st.integers(0, 10_000))).shuffle(shuffled)
    a = _replay(terms, events, last + timedelta(days=10))
    b = _replay(terms, shuffled, last + timedelta(days=10))
    assert (a is None) == (b is None)
    if a is not None and b is not None:
        assert a[0] == b[0]


@SETTINGS
@given(st.data())
def test_reversal_then_repost_gives_back_the_state(data):
    terms = data.draw(loans())
    events, last = data.draw(streams(terms, count=6))
    payments = [e for e in events if e.type == "payment" and all(r.of != e.id for r in events)]
    if not payments:
        return
    target = data.draw(st.sampled_from(payments))
    end = last + timedelta(days=15)
    repost = Event(f"{target.id}-again", "payment", target.date, target.amount)
    before = _replay(terms, events, end)
    after = _replay(terms, [*events, Event("rev", "reversal", last + timedelta(days=1), of=target.id), repost], end)
    if before is None or after is None:
        return
    assert before[0] == after[0]


@SETTINGS
@given(loans())
def test_the_last_installment_never_asks_more_than_the_payoff(terms):
    # Pay each installment as billed, on its due date; the last one (a balloon, or a
    # simple-interest loan's final bill) never asks more than the payoff on that date.
    from app.domain.engine import advance, initial_state

    state = initial_state(terms)
    for n in range(terms.term + 1):
        snap = snapshot(state, terms)
        if snap.status != "active" or snap.next_due is None or snap.next_due <= state.date:
            break
        due_day = snap.next_due
        on_due = snapshot(advance(state, terms, [], due_day)[0], terms)
        if on_due.amount_due <= 0:
            break
        assert on_due.amount_due <= on_due.payoff + on_due.suspense, (n, on_due)
        state, _ = advance(state, terms, [Event(f"p{n}", "payment", due_day, on_due.amount_due)], due_day)
    assert snapshot(state, terms).status == "paid_off"
