"""Money: the one place Keel makes, rounds and formats amounts.

Amounts are :class:`decimal.Decimal` in exact cents.  Interest accrued between
billing points carries more places (:data:`INTEREST_PLACES`) and is rounded
only when it is billed, paid or shown.  Rounding is half-up (US servicing
practice) and always names its rounding mode, because decimal contexts are
per thread and a Qt worker does not inherit the GUI thread's context.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import ParamSpec, TypeVar

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: Places kept for interest accrued but not yet billed or paid.
INTEREST_PLACES = Decimal("1E-10")

# A fixed context for divisions inside the engine: 34 significant digits,
# independent of whatever context the calling thread has.
_CTX = Context(prec=34, rounding=ROUND_HALF_UP)
ENGINE_CONTEXT = _CTX

#: The largest magnitude any typed or stored number may have: 15 digits before the point.
#: Money is stored as integer cents (and interest in 1e-10 units) in 64-bit columns;
#: an amount beyond this is refused where it is typed, not by an overflow later.
MAX_MAGNITUDE = Decimal("1E15")
# Plain decimal text only: an optional sign, ASCII digits, one optional point.  No
# exponents (``1e33``), no non-ASCII digits (full-width or Arabic-Indic), no NaN/Infinity.
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Commas only between thousands (``1,234,567.89``): ``1,2,3`` is a typing slip, not 123.
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")
_WHOLE_TEXT = re.compile(r"[+-]?[0-9]+")
#: The range of a stored whole number: the 64-bit integer columns (equal to ``app.db.types.BIGINT_MIN/MAX``,
#: which the domain may not import; a test holds them equal).
WHOLE_MIN, WHOLE_MAX = -(2**63), 2**63 - 1
#: Rates are percentages: ``6.875`` is 6.875 %.
MAX_RATE_PERCENT = Decimal(100)
#: Places a typed rate may carry (a note's APR is quoted to three or four).
RATE_PLACES = 10

_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_engine_context(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` under the engine's own decimal context.

    Decimal contexts are per thread and a Qt worker starts with the default
    one (or whatever a library left behind); the engine's results must not
    depend on it, so its public entry points pin the context they compute in.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with localcontext(_CTX):
            return fn(*args, **kwargs)

    return wrapper


def to_decimal(value: object, field: str = "amount") -> Decimal:
    """Exactly one way to turn text, an int or a Decimal into a Decimal.

    Floats are refused outright: ``0.1`` as a float is not ten cents.
    """
    from app.domain.errors import InputError

    if isinstance(value, bool):
        raise InputError(field, f"{value!r} is not a number")
    if isinstance(value, float):
        raise InputError(field, f"must be a decimal string, not a binary float ({value!r})")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-$"):
            text = "-" + text[2:]
        elif text.startswith("$"):
            text = text[1:]
        shown = _shown(value)
        if "," in text:
            if not _GROUPED.fullmatch(text):
                if _NUMBER_TEXT.fullmatch(text.replace(",", "")):
                    raise InputError(field, f"{shown!r} has a comma out of place (commas go between thousands: "
                                            "1,234.56)")
            else:
                text = text.replace(",", "")
        if len(text) > 40 or not _NUMBER_TEXT.fullmatch(text):
            if any(ch.isdigit() and not "0" <= ch <= "9" for ch in text):
                raise InputError(field, f"{shown!r} has digits other than 0-9")
            if re.fullmatch(r"[+-]?[0-9.,]+[eE][+-]?[0-9]+", text):
                raise InputError(field, f"{shown!r} is not a plain amount: write it out without an exponent")
            if _NUMBER_TEXT.fullmatch(text):
                raise InputError(field, f"{shown!r} is too large (at most 15 digits before the decimal point)")
            raise InputError(field, f"{shown!r} is not a number")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise InputError(field, f"{shown!r} is not a number") from None
    else:
        raise InputError(field, f"{_shown(value)!r} is not a number")
    if not result.is_finite():
        raise InputError(field, f"{_shown(value)!r} is not a finite number")
    if abs(result) >= MAX_MAGNITUDE:
        raise InputError(field, f"{_shown(value)!r} is too large (at most 15 digits before the decimal point)")
    return result


class _Plain(str):
    """Text that :func:`repr` shows without quotes (a number quoted in a message)."""

    def __repr__(self) -> str:
        return str(self)


def _shown(value: object) -> object:
    """``value`` fit to quote in a one-line message: long text cut short, a number as its digits."""
    if isinstance(value, str):
        return value if len(value) <= 40 else value[:37] + "..."
    if isinstance(value, (Decimal, int)):
        text = str(value)
        return _Plain(text if len(text) <= 40 else text[:37] + "...")
    text = repr(value)
    return _Plain(text if len(text) <= 40 else text[:37] + "...")


def to_rate(value: object, field: str = "rate", *, maximum: Decimal = MAX_RATE_PERCENT) -> Decimal:
    """A rate in percent (``'6.875'`` is 6.875 %), 0 to ``maximum``, read by :func:`to_decimal`'s rules."""
    from app.domain.errors import InputError

    if isinstance(value, str) and value.strip().endswith("%"):
        value = value.strip()[:-1]
    rate = to_decimal(value, field)
    if not 0 <= rate <= maximum:
        raise InputError(field, f"{rate} is outside 0 to {maximum} percent")
    exponent = rate.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -RATE_PLACES:
        raise InputError(field, f"{_shown(value)!r} has more than {RATE_PLACES} decimal places")
    return rate


def to_whole(value: object, field: str, low: int = WHOLE_MIN, high: int = WHOLE_MAX) -> int:
    """A whole number (a count, a term, an id) from text, an int or an integral Decimal, ``low`` to ``high``.

    The same rules as amounts: ASCII digits only (``int()`` would take full-width
    digits and ``1_000``), no exponent, nothing beyond the 64-bit columns.
    """
    from app.domain.errors import InputError

    if isinstance(value, bool) or isinstance(value, float):
        raise InputError(field, f"{value!r} is not a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value() or abs(value) > WHOLE_MAX:
            raise InputError(field, f"{_shown(value)!r} is not a whole number")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _WHOLE_TEXT.fullmatch(text) or len(text) > 20:
            if any(ch.isdigit() and not "0" <= ch <= "9" for ch in text):
                raise InputError(field, f"{_shown(value)!r} has digits other than 0-9")
            if _WHOLE_TEXT.fullmatch(text):
                raise InputError(field, f"{_shown(value)!r} is too large (at most {high})")
            raise InputError(field, f"{_shown(value)!r} is not a whole number")
        number = int(text)
    else:
        raise InputError(field, f"{_shown(value)!r} is not a whole number")
    if not low <= number <= high:
        raise InputError(field, f"{_shown(str(number))} is outside {low} to {high}")
    return number


def to_money(value: object, field: str = "amount") -> Decimal:
    """Parse an amount that must be whole cents (``'12.30'``, ``12``, ``Decimal('1.5')``)."""
    from app.domain.errors import InputError

    result = to_decimal(value, field)
    if result != result.quantize(CENT, rounding=ROUND_HALF_UP, context=_CTX):
        raise InputError(field, f"{_shown(value)!r} has more than two decimal places")
    return result.quantize(CENT, rounding=ROUND_HALF_UP, context=_CTX)


def round_money(value: Decimal) -> Decimal:
    """Round to the cent, half-up.  The only rounding of money in Keel."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP, context=_CTX)


def round_interest(value: Decimal) -> Decimal:
    """Keep accrued interest to :data:`INTEREST_PLACES`, half-up."""
    return value.quantize(INTEREST_PLACES, rounding=ROUND_HALF_UP, context=_CTX)


def divide(numerator: Decimal, denominator: Decimal | int) -> Decimal:
    """Divide with 34 significant digits regardless of the thread's context."""
    return _CTX.divide(numerator, denominator)


def multiply(*factors: Decimal | int) -> Decimal:
    """Multiply exactly (to 34 significant digits) regardless of the thread's context."""
    result = Decimal(factors[0])
    for factor in factors[1:]:
        result = _CTX.multiply(result, factor)
    return result


def power(base: Decimal, exponent: int) -> Decimal:
    return _CTX.power(base, exponent)


def money_str(value: Decimal) -> str:
    """Two-decimal text for JSON and files: ``'1234.50'``, ``'-3.00'``."""
    return str(round_money(value))


def format_money(value: Decimal, symbol: str = "$") -> str:
    """Thousands separators and two places, minus sign before the symbol: ``-$1,234.50``."""
    rounded = round_money(value)
    sign = "-" if rounded < 0 else ""
    return f"{sign}{symbol}{abs(rounded):,.2f}"
