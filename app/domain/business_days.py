"""Business days: the US banking calendar the late-fee rule follows.

Issue 9: when the last day to pay on time (the due date, plus the grace
period where there is one) falls on a Saturday, a Sunday or a day the Federal
Reserve Banks are closed, a payment on the next business day is on time for
late fees.  The due date itself does not move, and days past due still count
from it.

The holidays are the Federal Reserve Banks' published schedule, not the
general US calendar: when a holiday falls on a Saturday the Reserve Banks
open the Friday before (Independence Day 2026 is a Saturday, and Friday
2026-07-03 is a business day), and a Sunday holiday closes the Monday after.

The domain imports only the standard library, so the rules are written out
here; ``tests/domain/test_conventions.py`` checks them against the ``holidays``
package's ``financial_holidays("FederalReserve")`` for every year it covers.
Each year's holidays are computed once.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

_ONE_DAY = timedelta(days=1)
_MONDAY, _THURSDAY, _SUNDAY = 0, 3, 6


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0 = Monday) of a month; ``n = -1`` for the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - _ONE_DAY
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A fixed-date holiday on a Sunday closes the Monday after; on a Saturday nothing moves."""
    return day + _ONE_DAY if day.weekday() == _SUNDAY else day


def _federal_holidays(year: int) -> tuple[list[date], list[date]]:
    """The eleven federal holidays of ``year``: (fixed-date ones on their own dates, the Monday/Thursday ones)."""
    fixed = [date(year, 1, 1), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    if year >= 2021:
        fixed.append(date(year, 6, 19))  # Juneteenth National Independence Day
    floating = [
        _nth_weekday(year, 1, _MONDAY, 3),  # Birthday of Martin Luther King, Jr.
        _nth_weekday(year, 2, _MONDAY, 3),  # Washington's Birthday
        _nth_weekday(year, 5, _MONDAY, -1),  # Memorial Day
        _nth_weekday(year, 9, _MONDAY, 1),  # Labor Day
        _nth_weekday(year, 10, _MONDAY, 2),  # Columbus Day
        _nth_weekday(year, 11, _THURSDAY, 4),  # Thanksgiving Day
    ]
    return fixed, floating


@functools.lru_cache(maxsize=256)
def bank_holidays(year: int) -> frozenset[date]:
    """The weekdays of ``year`` the Federal Reserve Banks are closed (plus Saturday holidays, closed anyway)."""
    fixed, floating = _federal_holidays(year)
    return frozenset({_observed(day) for day in fixed} | set(floating))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def next_business_day(day: date) -> date:
    """``day`` itself when it is a business day, else the first business day after it."""
    while not is_business_day(day):
        day += _ONE_DAY
    return day


def late_fee_day(due: date, grace_days: int) -> date:
    """The first day an installment due on ``due`` can be charged a late fee.

    The day after the last day to pay on time: ``due + grace_days``, moved to
    the next business day when the banks are closed on it.
    """
    return next_business_day(due + timedelta(days=grace_days)) + _ONE_DAY


# ---------------------------------------------------------------- Regulation X / Z deadlines


@functools.lru_cache(maxsize=256)
def legal_public_holidays(year: int) -> frozenset[date]:
    """The legal public holidays of 5 U.S.C. 6103(a) in ``year``, on their own dates.

    Regulation X counts its deadlines in days "excluding legal public holidays,
    Saturdays, and Sundays" (12 CFR 1024.35(d), (e)(3); 1024.36(c), (d)(2)).
    A holiday falling on a weekend is excluded anyway; the weekday a Saturday or
    Sunday holiday is *observed* on by federal offices (6103(b)) is counted as
    a day here, which can only bring a deadline earlier, never later than the
    rule allows.  Inauguration Day is not listed (it closes offices in the
    Washington area only).
    """
    fixed, floating = _federal_holidays(year)
    return frozenset(fixed + floating)


def is_regulation_day(day: date) -> bool:
    """A day Regulation X counts: not a Saturday, a Sunday or a legal public holiday."""
    return day.weekday() < 5 and day not in legal_public_holidays(day.year)


def regulation_days_after(start: date, count: int) -> date:
    """The ``count``-th day after ``start`` that is not a Saturday, Sunday or legal public holiday.

    The day of receipt itself is not counted ("within five days ... after the
    servicer receives"), whatever day it is.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    day, left = start, count
    while left:
        day += _ONE_DAY
        if is_regulation_day(day):
            left -= 1
    return day
