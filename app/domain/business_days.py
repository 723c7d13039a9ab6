"""Business days: the US banking calendar the late-fee rule follows.

Issue 9: when the last day to pay on time (the due date, plus the grace
period where there is one) falls on a Saturday, a Sunday or a day the Federal
Reserve Banks are closed, a payment on the next business day is on time for
late fees.  The due date itself does not move, and days past due still count
from it.

The holidays are the Federal Reserve's (``holidays.financial_holidays(
"FederalReserve")``), not the general US calendar: when a holiday falls on a
Saturday the Reserve Banks open the Friday before (Independence Day 2026 is a
Saturday, and Friday 2026-07-03 is a business day), and a Sunday holiday
closes the Monday after.  Each year's holidays are computed once.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

import holidays

_ONE_DAY = timedelta(days=1)


@functools.lru_cache(maxsize=256)
def bank_holidays(year: int) -> frozenset[date]:
    """The days of ``year`` the Federal Reserve Banks are closed, weekends aside."""
    return frozenset(holidays.financial_holidays("FederalReserve", years=year))


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
    the next business day when the bank is closed on it.
    """
    return next_business_day(due + timedelta(days=grace_days)) + _ONE_DAY
