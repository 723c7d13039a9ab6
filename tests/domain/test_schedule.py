"""Schedules against published and hand-worked figures."""

from datetime import date
from decimal import Decimal

import pytest

from app.domain.errors import InputError
from app.domain.schedule import build_schedule, level_payment
from app.domain.terms import due_date, terms_from_dict


def terms(**overrides):
    data = {"principal": "10000", "rate": "12", "term": 12, "start": "2026-01-01", "first_due": "2026-02-01"}
    data.update(overrides)
    return terms_from_dict(data)


def test_ten_thousand_at_twelve_percent_for_a_year():
    # The textbook example: 888.49 a month, the last payment 888.47.
    schedule = build_schedule(terms())
    assert schedule.payment == Decimal("888.49")
    assert [row.payment for row in schedule.rows[:11]] == [Decimal("888.49")] * 11
    assert schedule.rows[-1].payment == Decimal("888.47")
    # 10,000 x 1% = 100.00; 9,211.51 x 1% = 92.1151 -> 92.12; 8,415.14 x 1% = 84.1514 -> 84.15
    assert [row.interest for row in schedule.rows[:3]] == [Decimal("100.00"), Decimal("92.12"), Decimal("84.15")]
    assert [row.balance for row in schedule.rows[:3]] == [Decimal("9211.51"), Decimal("8415.14"), Decimal("7610.80")]
    assert schedule.rows[-1].balance == Decimal("0.00")
    assert schedule.total_payments == Decimal("888.49") * 11 + Decimal("888.47")
    assert schedule.total_interest == schedule.total_payments - Decimal("10000")


def test_thirty_year_mortgage():
    # 200,000 at 6.5% for 360 months: 1,264.14 (standard mortgage tables).
    schedule = build_schedule(terms(principal="200000", rate="6.5", term=360))
    assert schedule.payment == Decimal("1264.14")
    first = schedule.rows[0]
    assert (first.interest, first.principal, first.balance) == (Decimal("1083.33"), Decimal("180.81"), Decimal("199819.19"))
    assert len(schedule.rows) == 360
    assert schedule.rows[-1].due == date(2056, 1, 1)
    assert schedule.rows[-1].balance == Decimal("0.00")
    assert sum(row.principal for row in schedule.rows) == Decimal("200000.00")
    # 100,000 at 6% for 30 years: 599.55.
    assert level_payment(Decimal("100000"), Decimal("0.06"), 12, 360) == Decimal("599.55")


def test_zero_percent_loan():
    schedule = build_schedule(terms(principal="1000", rate="0", term=3))
    assert [row.payment for row in schedule.rows] == [Decimal("333.33"), Decimal("333.33"), Decimal("333.34")]
    assert all(row.interest == 0 for row in schedule.rows)


def test_equal_principal():
    schedule = build_schedule(terms(principal="1200", term=12, amortization="equal-principal"))
    assert all(row.principal == Decimal("100.00") for row in schedule.rows)
    # 1,200 x 1% = 12.00, then 1,100 x 1% = 11.00 ...
    assert [row.interest for row in schedule.rows[:3]] == [Decimal("12.00"), Decimal("11.00"), Decimal("10.00")]
    assert schedule.rows[0].payment == Decimal("112.00")
    assert schedule.rows[-1].payment == Decimal("101.00")


def test_fixed_payment_too_small_is_a_balloon():
    schedule = build_schedule(terms(payment="500.00"))
    assert all(row.payment == Decimal("500.00") for row in schedule.rows[:11])
    # Principal left before the last installment plus its interest.
    last = schedule.rows[-1]
    assert last.payment > Decimal("4000")
    assert last.balance == Decimal("0.00")
    assert last.payment == last.interest + schedule.rows[-2].balance


def test_payment_that_does_not_cover_interest_is_refused():
    with pytest.raises(InputError, match="payment"):
        build_schedule(terms(payment="50.00"))


def test_odd_first_period_actual_365():
    # 45 days from Jan 1 to Feb 15: 10,000 x 12% x 45/365 = 147.945... -> 147.95
    schedule = build_schedule(terms(first_due="2026-02-15", day_count="actual/365"))
    assert schedule.rows[0].interest == Decimal("147.95")


def test_due_dates_keep_the_day_clamped_to_month_end():
    assert [due_date("monthly", date(2026, 1, 31), k) for k in range(4)] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert [due_date("semi-monthly", date(2026, 1, 15), k) for k in range(4)] == [
        date(2026, 1, 15),
        date(2026, 1, 30),
        date(2026, 2, 15),
        date(2026, 2, 28),
    ]
    assert due_date("biweekly", date(2026, 1, 2), 2) == date(2026, 1, 30)
    assert due_date("weekly", date(2026, 1, 2), 3) == date(2026, 1, 23)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("principal", "-5", "terms.principal"),
        ("rate", "200", "terms.rate"),
        ("term", 0, "terms.term"),
        ("start", "2026-02-30", "terms.start"),
        ("day_count", "30/365", "terms.day_count"),
        ("frequency", "yearly", "terms.frequency"),
        ("rate", 12.5, "terms.rate"),  # a binary float is refused
    ],
)
def test_bad_terms_name_the_field(field, value, message):
    with pytest.raises(InputError) as info:
        terms(**{field: value})
    assert info.value.field == message


def test_unknown_terms_field():
    with pytest.raises(InputError) as info:
        terms(colour="blue")
    assert info.value.field == "terms.colour"
