"""The date interest is paid to, as a payoff statement prints it (issue 11).

A servicer's "interest paid to" date is the first day whose interest has not
been paid: interest for every day before it is settled, and a payoff's
interest runs from it.  It is not the installment paid-through date, which
moves only when a whole installment (interest and principal, within the
tolerance) is met:

* **Scheduled interest** is paid in arrears, one period per installment: the
  installment due on D carries the interest for the days before D.  Interest
  is paid to the due date of the last installment whose billed interest was
  paid in full, counting installments in order and stopping at the first one
  whose interest is short.  A partial payment that met the next installment's
  interest but not its principal moves this date and not the paid-through
  date; an installment counted paid by the tolerance while its interest is
  short does not move it.
* **Simple daily interest**: payments meet accrued interest first, so interest
  is paid to the day accrual restarted (``accrual_from``) when nothing accrued
  before it is unpaid.  When some is (a payment smaller than the interest),
  the date is moved back by the whole days the unpaid interest stands for at
  the per diem, rounded up, so the statement never claims a day as paid that
  was not.

Hand-worked cases are in ``tests/domain/test_interest_paid.py``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_CEILING

from app.domain.daycount import per_diem_interest
from app.domain.engine import LoanState
from app.domain.money import ZERO, round_money
from app.domain.terms import Terms


def interest_paid_to(state: LoanState, terms: Terms) -> date | None:
    """The first day whose interest is unpaid (None: no interest paid yet on a scheduled loan)."""
    if terms.interest == "scheduled":
        return _scheduled(state)
    return _simple(state, terms)


def _scheduled(state: LoanState) -> date | None:
    through = state.paid_through
    for inst in sorted(state.installments, key=lambda i: i.n):
        if inst.paid_interest < inst.interest:
            if through is not None and inst.due <= through:
                # Counted paid by the tolerance with its interest short: interest is
                # paid only to the installment before it that was met in full.
                earlier = [i.due for i in state.installments if i.n < inst.n and i.paid_interest >= i.interest]
                return max(earlier) if earlier else None
            return through
        if through is None or inst.due > through:
            through = inst.due
    return through


def _simple(state: LoanState, terms: Terms) -> date:
    unpaid = round_money(state.accrued)
    if unpaid <= ZERO:
        return state.accrual_from
    daily = per_diem_interest(state.principal, state.rate, state.accrual_from, terms.day_count)
    if daily <= ZERO:
        return state.accrual_from
    days = int((unpaid / daily).to_integral_value(rounding=ROUND_CEILING))
    return state.accrual_from - timedelta(days=days)


__all__ = ["interest_paid_to"]
