"""Amortization schedules.

Conventions (DESIGN.md, issue 2):

* ``term`` counts installments.  The level payment uses the nominal periodic
  rate ``r = annual / periods per year`` (12, 24, 26 or 52):
  ``P·r / (1 − (1+r)^−n)``, rounded half-up to the cent; a 0 % loan pays
  ``P / n`` rounded half-up.
* Each period's interest is the balance times the annual rate times the
  period's year fraction under the day count (start → first due for the
  first period, so an odd first period simply has more or fewer days),
  rounded half-up to the cent.  Under 30/360 with ``thirty360: period``
  (the default) a regular monthly (semi-monthly) period is exactly 30 (15)
  days whatever the calendar; see :mod:`app.domain.periods`.
* The final installment absorbs the residual so the balance ends at exactly
  0.00; with a fixed payment too small to amortize it is a balloon.
* Equal-principal: each installment repays ``P / n`` rounded half-up, plus
  that period's interest; the last repays what is left.

The engine bills scheduled-interest installments with the same
:func:`period_interest`, so a loan paid exactly on time follows this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from app.domain import periods
from app.domain.daycount import interest_between, year_fraction
from app.domain.errors import InputError
from app.domain.money import CENT, ENGINE_CONTEXT, ZERO, divide, in_engine_context, multiply, power, round_money
from app.domain.terms import Terms, due_date


class ScheduleRow(NamedTuple):
    n: int
    due: date
    payment: Decimal
    interest: Decimal
    principal: Decimal
    balance: Decimal


@dataclass(frozen=True, slots=True)
class Schedule:
    payment: Decimal
    rows: tuple[ScheduleRow, ...]

    @property
    def total_interest(self) -> Decimal:
        return sum((row.interest for row in self.rows), ZERO)

    @property
    def total_payments(self) -> Decimal:
        return sum((row.payment for row in self.rows), ZERO)


def level_payment(principal: Decimal, annual_rate: Decimal, periods_per_year: int, n: int) -> Decimal:
    """The level installment for ``principal`` over ``n`` periods, rounded half-up to the cent."""
    if n <= 0:
        raise ValueError("n must be positive")
    if principal <= 0:
        return ZERO
    if annual_rate == 0:
        return round_money(divide(principal, n))
    r = divide(annual_rate, periods_per_year)
    factor = ENGINE_CONTEXT.subtract(1, power(ENGINE_CONTEXT.add(1, r), -n))
    return round_money(divide(multiply(principal, r), factor))


def equal_principal_part(principal: Decimal, n: int) -> Decimal:
    return round_money(divide(principal, n))


def period_interest(balance: Decimal, annual_rate: Decimal, start: date, end: date, day_count: str) -> Decimal:
    """One period's interest, rounded half-up to the cent."""
    return round_money(interest_between(balance, annual_rate, start, end, day_count))


def scheduled_payment(terms: Terms) -> Decimal:
    """The installment the note calls for: the override, or the level payment."""
    if terms.payment is not None:
        return terms.payment
    if terms.amortization == "equal-principal":
        return equal_principal_part(terms.principal, terms.term)
    return level_payment(terms.principal, terms.annual_rate, terms.periods_per_year, terms.term)


@in_engine_context
def build_schedule(terms: Terms) -> Schedule:
    """The full schedule for ``terms`` if every installment is paid on its due date."""
    rate = terms.annual_rate
    payment = scheduled_payment(terms)
    balance = terms.principal
    frequency, first_due, day_count, term = terms.frequency, terms.first_due, terms.day_count, terms.term
    equal_principal = terms.amortization == "equal-principal"
    # The hot loop of a 30-year schedule: bind the context's methods once.
    multiply, divide, quantize = ENGINE_CONTEXT.multiply, ENGINE_CONTEXT.divide, Decimal.quantize
    rows: list[ScheduleRow] = []
    previous = terms.start
    by_period = periods.uses_periods(terms)
    for n in range(1, term + 1):
        due = due_date(frequency, first_due, n - 1)
        if by_period:
            numerator, denominator = periods.days_360_in_periods(
                previous, due, frequency=frequency, loan_start=terms.start, anchor_n=1, anchor_due=first_due,
                last_n=term, hint=n,
            ), 360
        else:
            numerator, denominator = year_fraction(previous, due, day_count)
        interest = quantize(divide(multiply(multiply(balance, rate), numerator), denominator), CENT, ROUND_HALF_UP, ENGINE_CONTEXT)
        if equal_principal:
            principal = payment if payment < balance else balance
        else:
            if n == 1 and terms.payment is not None and payment < interest:
                raise InputError("payment", f"{payment} does not cover the first period's interest {interest}")
            principal = payment - interest
            if principal < 0:
                principal = ZERO
            elif principal > balance:
                principal = balance
        if n == term:
            principal = balance
        balance -= principal
        rows.append(ScheduleRow(n, due, interest + principal, interest, principal, balance))
        previous = due
        if balance == 0:
            break
    return Schedule(payment if terms.amortization == "level" else rows[0].payment, tuple(rows))
