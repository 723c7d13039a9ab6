"""Money parsing/rounding and day counts, against hand-worked values."""

from datetime import date
from decimal import Decimal

import pytest

from app.domain.daycount import days_360, interest_between, year_basis, year_fraction
from app.domain.errors import InputError
from app.domain.money import format_money, money_str, round_money, to_money, to_rate, to_whole


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


@pytest.mark.parametrize("text", ["1,2,3", "12,34", "1,23.00", ",100", "1,,000", "1000,"])
def test_commas_go_only_between_thousands(text):
    # Issue 12: "1,2,3" was read as 123.00.
    with pytest.raises(InputError, match="comma out of place|is not a number"):
        to_money(text, "amount")


@pytest.mark.parametrize(("text", "value"), [("1,234", "1234.00"), ("12,345,678.9", "12345678.90"), ("-$1,000", "-1000.00")])
def test_thousands_separators(text, value):
    assert to_money(text) == Decimal(value)


@pytest.mark.parametrize(("value", "expected"), [("12", 12), (" 7 ", 7), ("-3", -3), (Decimal("40"), 40), (360, 360)])
def test_to_whole_reads_plain_whole_numbers(value, expected):
    assert to_whole(value, "term") == expected


@pytest.mark.parametrize(("value", "problem"), [
    ("\uff11\uff12", "'\uff11\uff12' has digits other than 0-9"),  # int() takes full-width digits
    ("1_000", "'1_000' is not a whole number"),  # ... and underscores
    ("1e3", "'1e3' is not a whole number"),
    ("12.5", "'12.5' is not a whole number"),
    (Decimal("1.5"), "1.5 is not a whole number"),
    (True, "True is not a whole number"),
    (1.0, "1.0 is not a whole number"),
    ("9" * 30, f"'{'9' * 30}' is too large (at most 9223372036854775807)"),
    (2**63, "9223372036854775808 is outside -9223372036854775808 to 9223372036854775807"),
])
def test_to_whole_refuses_what_int_would_take(value, problem):
    with pytest.raises(InputError) as info:
        to_whole(value, "term")
    assert (info.value.field, info.value.problem) == ("term", problem)


def test_to_whole_bounds():
    assert to_whole("360", "term", 1, 1200) == 360
    with pytest.raises(InputError, match=r"^term: 1201 is outside 1 to 1200$"):
        to_whole("1201", "term", 1, 1200)


def test_whole_numbers_fit_the_columns():
    from app.db.types import BIGINT_MAX, BIGINT_MIN
    from app.domain.money import WHOLE_MAX, WHOLE_MIN

    assert (WHOLE_MIN, WHOLE_MAX) == (BIGINT_MIN, BIGINT_MAX)


@pytest.mark.parametrize(("value", "expected"), [("6.875", "6.875"), ("12%", "12"), (" 0 ", "0"), ("100", "100")])
def test_to_rate_reads_percentages(value, expected):
    assert to_rate(value) == Decimal(expected)


@pytest.mark.parametrize(("value", "problem"), [
    ("1E+400", "'1E+400' is not a plain amount: write it out without an exponent"),
    ("100.01", "100.01 is outside 0 to 100 percent"),
    ("-1", "-1 is outside 0 to 100 percent"),
    ("\uff16", "'\uff16' has digits other than 0-9"),
    ("6.12345678901", "'6.12345678901' has more than 10 decimal places"),
])
def test_to_rate_refuses(value, problem):
    with pytest.raises(InputError) as info:
        to_rate(value, "rate")
    assert info.value.problem == problem


def test_messages_quote_long_input_short():
    with pytest.raises(InputError) as info:
        to_money("x" * 100_000, "amount")
    assert info.value.problem == f"'{'x' * 37}...' is not a number"
