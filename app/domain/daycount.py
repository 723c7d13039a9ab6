"""Day-count conventions: how much of a year lies between two dates.

* ``30/360``  — 30/360 US, Bond basis (ISDA 2006 §4.16(f)): D1 = 31 → 30;
  D2 = 31 → 30 only when D1 is 30 or 31.  No end-of-February rule, so
  Jan 31 → Feb 28 counts 28 days.
* ``actual/365`` — Actual/365 Fixed: actual days over 365, leap years too.
* ``actual/360`` — actual days over 360.
* ``actual/actual`` — Actual/Actual ISDA: the days in each calendar year over
  that year's length (366 in a leap year), split at the year end.

Under 30/360 a monthly (semi-monthly) installment's regular period is
exactly 1/12 (1/24) of a year (issue 9): :func:`days_into_period` counts the
30/360 days from a regular period's start to a date, capped at 30 (15), with
the period's due date counting as its last day.  Which periods are regular is
the schedule's business (:mod:`app.domain.periods`).

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


def days_into_period(period_start: date, period_end: date, on: date, full: int) -> int:
    """30/360 days from the start of a regular period to ``on``, for ``period_start <= on``.

    ``full`` is the period's length in 30/360 days (30 monthly, 15
    semi-monthly).  The count is capped at ``full`` and the due date
    (``period_end``) counts as the last day, so the whole period is always
    ``full`` days whatever the calendar: Jan 31 -> Feb 28 is 30, not 28, and
    Feb 28 -> Mar 31 is 30, not 33.  The count never decreases as ``on``
    moves forward, so interest between two dates inside a period, the
    difference of two counts, is never negative and adds up exactly.
    """
    if on >= period_end:
        return full
    if on <= period_start:
        return 0
    return min(days_360(period_start, on), full)


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


def per_diem_interest(amount: Decimal, rate: Decimal, day: date, convention: str) -> Decimal:
    """One day's interest: the per diem for ``day``, the first day after a payoff good on ``day``.

    Interest to a date counts the days before it, so paying a day after a
    payoff quote adds the interest of the quote's own date.  Under
    actual/actual each day has its own year's basis (issue 9): a quote good
    through Dec 31, 2027 divides by 365, one good through Jan 1, 2028 by 366.
    Under 30/360 the per diem is the nominal rate / 360 (the calendar's day
    of Feb 28 -> Mar 1 would count 3).  Not rounded.
    """
    return _divide(_multiply(amount, rate), year_basis(convention, day))


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
