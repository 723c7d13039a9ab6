"""Day-count conventions: how much of a year lies between two dates.

* ``30/360``  — 30/360 US, Bond basis (ISDA 2006 §4.16(f)): D1 = 31 → 30;
  D2 = 31 → 30 only when D1 is 30 or 31.  No end-of-February rule, so
  Jan 31 → Feb 28 counts 28 days.
* ``actual/365`` — Actual/365 Fixed: actual days over 365, leap years too.
* ``actual/360`` — actual days over 360.
* ``actual/actual`` — Actual/Actual ISDA: the days in each calendar year over
  that year's length (366 in a leap year), split at the year end.

Year fractions are exact integer ratios ``(numerator, denominator)``; the
interest on them is computed in one division, so nothing is rounded here
beyond the 34 significant digits of :func:`app.domain.money.divide`.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

from app.domain.money import ENGINE_CONTEXT as _CTX

_ZERO = Decimal(0)
_multiply = _CTX.multiply
_divide = _CTX.divide

DAY_COUNTS = ("30/360", "actual/365", "actual/360", "actual/actual")

_ALIASES = {
    "30/360": "30/360",
    "30/360 us": "30/360",
    "bond": "30/360",
    "actual/365": "actual/365",
    "act/365": "actual/365",
    "actual/365 fixed": "actual/365",
    "actual/360": "actual/360",
    "act/360": "actual/360",
    "actual/actual": "actual/actual",
    "act/act": "actual/actual",
}


def normalize(name: str) -> str | None:
    return _ALIASES.get(name.strip().lower())


def days_360(start: date, end: date) -> int:
    """30/360 US Bond basis day count from ``start`` to ``end``."""
    d1 = min(start.day, 30)
    d2 = end.day
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def year_fraction(start: date, end: date, convention: str) -> tuple[int, int]:
    """The fraction of a year from ``start`` to ``end`` as ``(numerator, denominator)``.

    Zero when ``end`` is not after ``start``: interest never runs backwards.
    """
    if end <= start:
        return (0, 1)
    if convention == "30/360":
        return (days_360(start, end), 360)
    days = (end - start).days
    if convention == "actual/365":
        return (days, 365)
    if convention == "actual/360":
        return (days, 360)
    if convention == "actual/actual":
        if start.year == end.year:
            return (days, 366 if calendar.isleap(start.year) else 365)
        # Split at each year end: days in a leap year count 1/366, others 1/365.
        leap_days = common_days = 0
        cursor = start
        while cursor.year < end.year:
            year_end = date(cursor.year + 1, 1, 1)
            if calendar.isleap(cursor.year):
                leap_days += (year_end - cursor).days
            else:
                common_days += (year_end - cursor).days
            cursor = year_end
        if calendar.isleap(end.year):
            leap_days += (end - cursor).days
        else:
            common_days += (end - cursor).days
        return (leap_days * 365 + common_days * 366, 365 * 366)
    raise ValueError(f"unknown day count {convention!r}")


def year_basis(convention: str, on: date) -> int:
    """Days in the year the per diem divides by (365 or 366 for actual/actual)."""
    if convention in ("30/360", "actual/360"):
        return 360
    if convention == "actual/365":
        return 365
    return 366 if calendar.isleap(on.year) else 365


def interest_between(amount: Decimal, rate: Decimal, start: date, end: date, convention: str) -> Decimal:
    """Interest on ``amount`` at annual ``rate`` (a fraction, 0.12 for 12%) from ``start`` to ``end``.

    Not rounded to cents: callers round when the interest is billed, paid or shown.
    """
    if end <= start:
        return _ZERO
    if convention == "30/360":  # the common case, without the tuple
        numerator, denominator = days_360(start, end), 360
    else:
        numerator, denominator = year_fraction(start, end, convention)
    return _divide(_multiply(_multiply(amount, rate), numerator), denominator)
