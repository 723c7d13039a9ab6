"""30/360 installment periods: which stretches of a schedule are regular, and their days.

The rule (issue 9, ``thirty360: period``, the default):

* Under 30/360, each regular monthly (semi-monthly) period is exactly 1/12
  (1/24) of a year whatever the calendar: 30 (15) days.  A loan due on the
  31st bills 30 days for Jan 31 -> Feb 28 (not 28) and for Feb 28 -> Mar 31
  (not 33).
* Within a regular period, interest to a date counts the 30/360 days from
  the period's start, capped at 30 (15), and the due date counts as the last
  day (:func:`app.domain.daycount.days_into_period`), so a payoff on a due
  date charges exactly the installment's interest.
* A regular period runs from one due date to the next.  The first period is
  regular when the loan starts exactly one period before its first due date
  (Dec 31 -> Jan 31, Jan 15 -> Feb 15); otherwise it is an odd first period
  and keeps the 30/360 days between its dates.  So does the period into a
  due date set by a terms change, whose start is not on the schedule, and
  any time after the last installment.
* Biweekly and weekly schedules, and the other day counts, are unchanged.

``thirty360: calendar`` keeps the plain 30/360 days between any two dates
(Jan 31 -> Feb 28 is 28 days) for loans boarded before this rule (migration
0004), so no existing book changes under its borrowers.

The due-date grid is the engine's: installment ``k`` (``k >= anchor_n``) is
due ``due_date(frequency, anchor_due, k - anchor_n)``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.domain.daycount import days_360, days_into_period, interest_between
from app.domain.money import ENGINE_CONTEXT as _CTX
from app.domain.money import ZERO
from app.domain.terms import Terms, due_date

#: 30/360 days in a regular period, by frequency (360 / periods a year).
REGULAR_DAYS = {"monthly": 30, "semi-monthly": 15}


def uses_periods(terms: Terms) -> bool:
    """Whether the period rule applies to this loan's day counting."""
    return terms.day_count == "30/360" and terms.thirty360 == "period" and terms.frequency in REGULAR_DAYS


def days_360_in_periods(
    start: date,
    end: date,
    *,
    frequency: str,
    loan_start: date,
    anchor_n: int,
    anchor_due: date,
    last_n: int,
    hint: int,
) -> int:
    """30/360 days from ``start`` to ``end`` under the period rule.

    The span is cut at the due dates it crosses; each piece inside a regular
    period counts ``days_into_period(end) - days_into_period(start)``, each
    piece elsewhere the plain 30/360 days.  ``hint`` is an installment number
    near ``start`` (the engine's next installment) so the search is short.
    """
    if end <= start:
        return 0
    full = REGULAR_DAYS[frequency]

    def due(k: int) -> date:
        return due_date(frequency, anchor_due, k - anchor_n)

    # The installment whose period holds ``start``: the first k due after it.
    k = min(max(hint, anchor_n), last_n + 1)
    while k > anchor_n and due(k - 1) > start:
        k -= 1
    while k <= last_n and due(k) <= start:
        k += 1
    total = 0
    cursor = start
    while cursor < end:
        if k > last_n:  # after the last installment: no periods
            return total + days_360(cursor, end)
        period_end = due(k)
        stop = min(end, period_end)
        period_start: date | None = None
        if k > anchor_n:
            period_start = due(k - 1)
        elif anchor_n == 1 and loan_start == due_date(frequency, anchor_due, -1):
            period_start = loan_start  # a first period exactly one period long
        if period_start is None:
            total += days_360(cursor, stop)  # an odd period keeps the days between its dates
        else:
            total += days_into_period(period_start, period_end, stop, full) - days_into_period(
                period_start, period_end, cursor, full
            )
        cursor = stop
        k += 1
    return total


def interest(
    terms: Terms,
    amount: Decimal,
    rate: Decimal,
    start: date,
    end: date,
    *,
    anchor_n: int = 1,
    anchor_due: date | None = None,
    last_n: int | None = None,
    hint: int = 1,
) -> Decimal:
    """Interest on ``amount`` at annual ``rate`` from ``start`` to ``end`` under the loan's day count.

    The same arithmetic as :func:`app.domain.daycount.interest_between`, with
    the period rule's days where it applies.  Not rounded.
    """
    if end <= start:
        return ZERO
    if not uses_periods(terms):
        return interest_between(amount, rate, start, end, terms.day_count)
    days = days_360_in_periods(
        start,
        end,
        frequency=terms.frequency,
        loan_start=terms.start,
        anchor_n=anchor_n,
        anchor_due=terms.first_due if anchor_due is None else anchor_due,
        last_n=terms.term if last_n is None else last_n,
        hint=hint,
    )
    return _CTX.divide(_CTX.multiply(_CTX.multiply(amount, rate), days), 360)
