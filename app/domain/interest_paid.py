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

Interest paid in a period (the account page's "interest paid this year" and
"last year", the figures a borrower asks for at tax time) is
:func:`interest_paid_in`: the interest part of every payment, recovery and
application of suspense whose effective date falls in the period, less the
interest part of any reversal dated in it.  A payment received in December and
reversed in January counts in December's year and comes off January's, as the
ledger shows it.  A loan converted from another servicer adds the interest the
prior servicer reported paid that year (the boarding file's
``interest_paid_ytd``) to the conversion year.

Hand-worked cases are in ``tests/domain/test_interest_paid.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Protocol

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


#: Entries whose interest column is interest received (a reversal's is negative).
RECEIPT_TYPES = ("payment", "recovery", "reversal", "suspense_applied")


class _Applied(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def date(self) -> date: ...
    @property
    def interest(self) -> Decimal: ...


def interest_paid_in(entries: Iterable[_Applied], first: date, last: date, *,
                     carried: Decimal = ZERO) -> Decimal:
    """Interest received with effective dates ``first`` to ``last`` (both included), plus ``carried``.

    ``entries`` are the engine's replayed entries (each payment as it is
    applied now; a reversed one as it was applied when received, with its
    reversal's negative parts); ``carried`` is a prior servicer's figure for
    the period, when the loan was converted inside it.
    """
    total = carried
    for entry in entries:
        if entry.type in RECEIPT_TYPES and first <= entry.date <= last:
            total += entry.interest
    return round_money(total)


__all__ = ["RECEIPT_TYPES", "interest_paid_in", "interest_paid_to"]
