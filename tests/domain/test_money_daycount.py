"""Money parsing/rounding and day counts, against hand-worked values."""

from datetime import date
from decimal import Decimal

import pytest

from app.domain.daycount import days_360, interest_between, year_basis, year_fraction
from app.domain.errors import InputError
from app.domain.money import format_money, money_str, round_money, to_money


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", "12.00"), ("12.3", "12.30"), ("$1,234.56", "1234.56"), (" -3 ", "-3.00"), (Decimal("0.10"), "0.10"), (7, "7.00")],
)
def test_to_money_reads_exact_cents(text, expected):
    assert to_money(text) == Decimal(expected)
    assert money_str(to_money(text)) == expected


@pytest.mark.parametrize("bad", [0.1, "abc", "1.005", "NaN", "Infinity", None, True])
def test_to_money_refuses_floats_and_garbage(bad):
    with pytest.raises(InputError) as info:
        to_money(bad, "payment.amount")
    assert info.value.field == "payment.amount"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.005", "0.01"), ("0.0049", "0.00"), ("-0.005", "-0.01"), ("2.675", "2.68"), ("1.125", "1.13")],
)
def test_round_money_is_half_up(value, expected):
    assert round_money(Decimal(value)) == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", "$0.00"), ("1234.5", "$1,234.50"), ("-1234567.891", "-$1,234,567.89"), ("0.004", "$0.00")],
)
def test_format_money(value, expected):
    assert format_money(Decimal(value)) == expected


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ((2026, 1, 31), (2026, 2, 28), 28),  # Bond basis: no end-of-February rule
        ((2026, 1, 30), (2026, 3, 31), 60),  # D1 = 30 so D2 = 31 becomes 30
        ((2026, 1, 29), (2026, 3, 31), 62),  # D1 < 30 so D2 stays 31
        ((2026, 2, 28), (2026, 3, 31), 33),
        ((2026, 1, 31), (2026, 3, 31), 60),  # D1 = 31 -> 30, then D2 -> 30
        ((2026, 1, 1), (2027, 1, 1), 360),
    ],
)
def test_days_360_us_bond_basis(start, end, days):
    assert days_360(date(*start), date(*end)) == days


def test_year_fractions():
    assert year_fraction(date(2024, 1, 1), date(2025, 1, 1), "actual/365") == (366, 365)  # fixed 365 in a leap year
    assert year_fraction(date(2026, 1, 1), date(2026, 2, 1), "actual/360") == (31, 360)
    # Actual/Actual splits at the year end: 31 days of 2023 over 365 plus 14 of 2024 over 366.
    num, den = year_fraction(date(2023, 12, 1), date(2024, 1, 15), "actual/actual")
    assert Decimal(num) / Decimal(den) == Decimal(31) / 365 + Decimal(14) / 366
    assert year_fraction(date(2024, 3, 1), date(2024, 3, 11), "actual/actual") == (10, 366)
    assert year_fraction(date(2026, 3, 1), date(2026, 2, 1), "30/360") == (0, 1)


def test_interest_between_is_exact_until_rounded():
    # 10,000 x 12% x 15/360 = 50 exactly; 12,000 x 10% x 41/365 = 134.7945...
    assert interest_between(Decimal("10000"), Decimal("0.12"), date(2026, 1, 1), date(2026, 1, 16), "30/360") == 50
    value = interest_between(Decimal("12000"), Decimal("0.10"), date(2026, 1, 1), date(2026, 2, 11), "actual/365")
    assert round_money(value) == Decimal("134.79")
    assert value > Decimal("134.7945") and value < Decimal("134.7946")


def test_year_basis():
    assert year_basis("30/360", date(2024, 1, 1)) == 360
    assert year_basis("actual/365", date(2024, 1, 1)) == 365
    assert year_basis("actual/actual", date(2024, 1, 1)) == 366
    assert year_basis("actual/actual", date(2025, 1, 1)) == 365


@pytest.mark.parametrize("text", ["1e33", "1E+400", "\uff11\uff12", "\u0661\u0662", "nan", "Infinity", "12..5",
                                  "9" * 16, "1" * 60, "0x10", "1_000"])
def test_amounts_refuse_exponents_foreign_digits_and_absurd_sizes(text):
    # Issue 12: these reached a traceback (or stored nonsense) before; now one field-named line.
    with pytest.raises(InputError) as info:
        to_money(text, "amount")
    assert info.value.field == "amount" and "\n" not in info.value.problem


@pytest.mark.parametrize("text, value", [("12.30", "12.30"), ("$1,234.50", "1234.50"), ("-$5", "-5.00"),
                                         (".5", "0.50"), ("999999999999999.99", "999999999999999.99")])
def test_amounts_in_plain_decimal_text(text, value):
    assert to_money(text) == Decimal(value)
