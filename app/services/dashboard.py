"""The portfolio at a glance: KPI figures, chart series and the loans behind them.

The desktop dashboard and ``keel dashboard --json`` both call :func:`dashboard`,
so the screen and the terminal cannot disagree.  Every figure is a set-based
query over ``loan_states`` (the cached state of each loan as of the open
business date), ``ledger_entries`` and ``promises``; nothing here loops over
loans in Python.

Definitions (the ones a manager would ask about):

* **Outstanding principal** -- the sum of every loan's principal.  For the
  open business date it is the cache; for an earlier ``as_of`` it is the cache
  rolled back through every later ledger entry's principal movement (see
  *principal movement* below), so the series and the tile agree at every
  month end.
* **Open loans** -- loans with principal outstanding on ``as_of``.
* **30+ delinquency rate** -- principal of loans 30 or more days past due as a
  percentage of outstanding principal (and the count of those loans).  Days
  past due and buckets come from the cache, that is as of the open business
  date, whatever ``as_of`` is: ``delinquency_as_of`` says so.
* **Collected** -- payments received (by effective date) net of reversals
  (dated the day the payment was reversed).  "This month" is the month of
  ``as_of`` up to ``as_of``; "last month" is the whole month before it.
* **Promise-kept rate** -- of the promises to pay falling due within the
  chart window (twelve months to ``as_of``) and already settled by end of day,
  the percentage kept in full.  Partly kept counts as not kept, and is shown.
* **Principal movement** of a ledger entry -- what it did to principal:
  ``+amount`` for a boarding or conversion (the money lent or taken over),
  ``+principal`` for an adjustment, ``-principal`` for everything else (a
  payment's share to principal, a reversal's negative share, a write-off or
  charge-off).  These are the allocations stored when each entry was posted.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select, type_coerce
from sqlalchemy.orm import Session

from app.db.models import BUCKETS, LedgerEntry, Loan, LoanParty, LoanState, Person
from app.db.types import Money
from app.domain.money import ZERO, round_money
from app.services import permissions
from app.services.context import ServiceContext
from app.services.errors import InvalidInput
from app.services.ledger import business_date
from app.services.reports.collecting import promise_outcomes
from app.services.reports.delinquency import bucket_figures

MONTHS = 12
HUNDRED = Decimal(100)
#: Ledger types that bring principal onto the books.
_OPENING_TYPES = ("boarding", "conversion")
#: Every ledger type whose entries can move principal (accruals, fees and waivers never do).  Naming
#: them lets an index on (type, effective_date) skip the daily accruals, most of a ledger's rows.
PRINCIPAL_TYPES = ("boarding", "conversion", "payment", "reversal", "adjustment", "write_off", "payoff_write_off",
                   "charge_off",
                   # the books' re-applications of principal (issue 9; cost recovery and interest
                   # recognition move only booked principal, not the contract's, and are left out)
                   "reallocation", "suspense_applied", "charge_off_adjustment")
COLLECTED_TYPES = ("payment", "reversal")


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Kpis:
    as_of: date
    business_date: date
    delinquency_as_of: date
    outstanding_principal: Decimal
    open_loans: int
    delinquent_30_loans: int
    delinquent_30_principal: Decimal
    delinquency_rate_30: Decimal  # percent of outstanding principal, two places
    collected_this_month: Decimal
    collected_last_month: Decimal
    #: Like for like (issue 11): last month from its 1st to the same day of the month as ``as_of``
    #: (its last day when it is shorter), and that day.
    collected_last_month_to_date: Decimal
    last_month_to: date
    promises_kept: int
    promises_partly_kept: int
    promises_broken: int
    promise_kept_rate: Decimal | None  # percent, two places; None when no promise was settled


@dataclass(frozen=True)
class MonthFigure:
    """One month of a series: ``month`` is its first day."""

    month: date
    amount: Decimal
    count: int | None  # payments in the month; None where a count means nothing (principal)


@dataclass(frozen=True)
class BucketFigure:
    bucket: str
    loans: int
    principal: Decimal


@dataclass(frozen=True)
class Dashboard:
    kpis: Kpis
    principal_by_month: tuple[MonthFigure, ...]  # outstanding at each month end (as_of for the last)
    payments_by_month: tuple[MonthFigure, ...]  # net collected, and the number of payments
    delinquency_by_bucket: tuple[BucketFigure, ...]  # every bucket, current first


@dataclass(frozen=True)
class LoanLine:
    """A loan in a drill-down list; ``amount`` is the figure it contributes to the bar."""

    loan_number: str
    borrower: str
    status: str
    bucket: str
    days_past_due: int
    principal: Decimal
    amount_due: Decimal
    amount: Decimal


# ---------------------------------------------------------------- helpers


def _money(expr: ColumnElement[Any]) -> ColumnElement[Decimal]:
    """A SUM over Money columns, read back as an exact Decimal (NULL -> 0.00)."""
    return type_coerce(func.coalesce(expr, literal(0)), Money())


def _movement() -> ColumnElement[Any]:
    """What an entry did to principal, in the column's stored units (see the module docstring)."""
    return case(
        (LedgerEntry.type.in_(_OPENING_TYPES), LedgerEntry.amount),
        (LedgerEntry.type == "adjustment", LedgerEntry.principal),
        else_=-LedgerEntry.principal,
    )


def _collected() -> ColumnElement[Any]:
    """Money received: a payment's amount, a reversal's (negative) amount."""
    return case((LedgerEntry.type.in_(("payment", "reversal")), LedgerEntry.amount), else_=literal(0))


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _window(as_of: date, months: int) -> list[date]:
    first = _add_months(_month_start(as_of), -(months - 1))
    return [_add_months(first, i) for i in range(months)]


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    if whole == 0:
        return ZERO
    return round_money(part * HUNDRED / whole)


def _check_as_of(session: Session, as_of: date | None) -> tuple[date, date]:
    today = business_date(session)
    day = today if as_of is None else as_of
    if day > today:
        raise InvalidInput("as_of", f"{day} is after the open business date {today}")
    return day, today


# ---------------------------------------------------------------- the dashboard


def _principal_now(session: Session) -> Decimal:
    return session.scalar(select(_money(func.sum(LoanState.principal)))) or ZERO


@dataclass
class _Months:
    """One pass over the window's ledger entries, folded into months."""

    moved: dict[date, Decimal]  # principal movement in each month (first day -> amount)
    collected: dict[date, Decimal]  # net received in each month
    payments: dict[date, int]  # payments in each month


def _ledger_months(session: Session, first: date, as_of: date) -> _Months:
    """The window's principal movements and payments in one query, grouped by day.

    Grouping by the date itself (not a month expression per row) lets SQLite
    and PostgreSQL read the entries in index order; the few hundred days are
    folded into months here.  Only the types that move principal are read, so
    an index on (type, effective_date, amount, principal) answers it without
    touching the daily accruals (see the issue-5 note).
    """
    stmt = (
        select(
            LedgerEntry.effective_date,
            _money(func.sum(_movement())),
            _money(func.sum(_collected())),
            func.sum(case((LedgerEntry.type == "payment", 1), else_=0)),
        )
        .where(LedgerEntry.type.in_(PRINCIPAL_TYPES), LedgerEntry.effective_date >= first,
               LedgerEntry.effective_date <= as_of)
        .group_by(LedgerEntry.effective_date)
    )
    months = _Months({}, {}, {})
    for day, moved, collected, count in session.execute(stmt):
        key = _month_start(day)
        months.moved[key] = months.moved.get(key, ZERO) + moved
        months.collected[key] = months.collected.get(key, ZERO) + collected
        months.payments[key] = months.payments.get(key, 0) + int(count or 0)
    return months


def _principal_series(session: Session, window: list[date], as_of: date, now: Decimal,
                      months: _Months) -> list[MonthFigure]:
    """Outstanding principal at each month end of the window (``as_of`` for its own month).

    outstanding(D) = outstanding now - the movements dated after D: one query for
    the movements after ``as_of``, the window's months for the rest, then a
    running total backwards.
    """
    tail = session.scalar(select(_money(func.sum(_movement()))).where(
        LedgerEntry.type.in_(PRINCIPAL_TYPES), LedgerEntry.effective_date > as_of)) or ZERO
    running = now - tail
    figures = [MonthFigure(window[-1], running, None)]
    for later, earlier in zip(reversed(window[1:]), reversed(window[:-1])):
        running -= months.moved.get(later, ZERO)
        figures.append(MonthFigure(earlier, running, None))
    figures.reverse()
    return figures


def _payments_series(window: list[date], months: _Months) -> list[MonthFigure]:
    return [MonthFigure(first, months.collected.get(first, ZERO), months.payments.get(first, 0)) for first in window]


def _buckets(session: Session) -> list[BucketFigure]:
    # The aging report's query (app.services.reports.delinquency), from the cache: active loans by bucket.
    found = bucket_figures(session)
    return [BucketFigure(bucket, *found.get(bucket, (0, ZERO))) for bucket in BUCKETS]


def _open_loans(session: Session, as_of: date, today: date) -> int:
    if as_of == today:
        return int(session.scalar(select(func.count()).select_from(LoanState).where(LoanState.principal > 0)) or 0)
    later = (
        select(LedgerEntry.loan_id, func.sum(_movement()).label("moved"))
        .where(LedgerEntry.type.in_(PRINCIPAL_TYPES), LedgerEntry.effective_date > as_of)
        .group_by(LedgerEntry.loan_id)
        .subquery()
    )
    principal_then = LoanState.principal - func.coalesce(later.c.moved, 0)
    stmt = (
        select(func.count())
        .select_from(LoanState)
        .outerjoin(later, later.c.loan_id == LoanState.loan_id)
        .where(principal_then > 0)
    )
    return int(session.scalar(stmt) or 0)


def _collected_between(session: Session, first: date, last: date) -> Decimal:
    stmt = select(_money(func.sum(_collected()))).where(
        LedgerEntry.type.in_(("payment", "reversal")),
        LedgerEntry.effective_date >= first,
        LedgerEntry.effective_date <= last,
    )
    return session.scalar(stmt) or ZERO


def _promises(session: Session, first: date, as_of: date) -> dict[str, int]:
    # The collections report's query (app.services.reports.collecting), added up over every collector.
    counts: dict[str, int] = {}
    for outcome in promise_outcomes(session, first, as_of).values():
        for status, (count, _) in outcome.items():
            counts[status] = counts.get(status, 0) + count
    return counts


def dashboard(ctx: ServiceContext, as_of: date | None = None, *, months: int = MONTHS) -> Dashboard:
    """Every figure of the dashboard as of ``as_of`` (default: the open business date)."""
    permissions.require(ctx.actor, permissions.VIEW)
    if not 1 <= months <= 120:
        raise InvalidInput("months", f"{months} is outside 1 to 120")
    with ctx.unit(write=False) as session:
        day, today = _check_as_of(session, as_of)
        window = _window(day, months)
        now = _principal_now(session)
        months_found = _ledger_months(session, window[0], day)
        principal_series = _principal_series(session, window, day, now, months_found)
        payments_series = _payments_series(window, months_found)
        outstanding = principal_series[-1].amount
        buckets = _buckets(session)
        late_loans = sum(b.loans for b in buckets if b.bucket not in ("current", "1-29"))
        late_principal = sum((b.principal for b in buckets if b.bucket not in ("current", "1-29")), ZERO)
        cached_total = sum((b.principal for b in buckets), ZERO)
        this_month = months_found.collected.get(_month_start(day), ZERO)
        previous = _add_months(_month_start(day), -1)
        if previous >= window[0]:
            last_month = months_found.collected.get(previous, ZERO)
        else:
            last_month = _collected_between(session, previous, _month_end(previous))
        same_day = min(_month_end(previous), previous + timedelta(days=day.day - 1))  # Mar 31 -> Feb 28
        last_month_to_date = _collected_between(session, previous, same_day)
        promised = _promises(session, window[0], day)
        kept, partly, broken = promised.get("kept", 0), promised.get("partly_kept", 0), promised.get("broken", 0)
        settled = kept + partly + broken
        kpis = Kpis(
            as_of=day,
            business_date=today,
            delinquency_as_of=today,
            outstanding_principal=outstanding,
            open_loans=_open_loans(session, day, today),
            delinquent_30_loans=late_loans,
            delinquent_30_principal=late_principal,
            delinquency_rate_30=_percent(late_principal, cached_total),
            collected_this_month=this_month,
            collected_last_month=last_month,
            collected_last_month_to_date=last_month_to_date,
            last_month_to=same_day,
            promises_kept=kept,
            promises_partly_kept=partly,
            promises_broken=broken,
            promise_kept_rate=_percent(Decimal(kept), Decimal(settled)) if settled else None,
        )
        return Dashboard(
            kpis=kpis,
            principal_by_month=tuple(principal_series),
            payments_by_month=tuple(payments_series),
            delinquency_by_bucket=tuple(buckets),
        )


# ---------------------------------------------------------------- the loans behind a bar


def _lines(session: Session, amount: ColumnElement[Any] | None, where: list[ColumnElement[bool]],
           extra_from: Any = None, limit: int = 5000) -> list[LoanLine]:
    borrower = (
        select(LoanParty.loan_id.label("loan_id"), func.min(LoanParty.person_id).label("person_id"))
        .where(LoanParty.role == "borrower")
        .group_by(LoanParty.loan_id)
        .subquery()
    )
    columns: list[Any] = [
        Loan.loan_number, Person.first_name, Person.last_name, Person.organization_name, Loan.status,
        LoanState.bucket, LoanState.days_past_due, LoanState.principal, LoanState.amount_due,
    ]
    columns.append(amount if amount is not None else LoanState.principal)
    stmt = (
        select(*columns)
        .select_from(Loan)
        .join(LoanState, LoanState.loan_id == Loan.id)
        .outerjoin(borrower, borrower.c.loan_id == Loan.id)
        .outerjoin(Person, Person.id == borrower.c.person_id)
    )
    if extra_from is not None:
        stmt = stmt.join(extra_from, extra_from.c.loan_id == Loan.id)
    stmt = stmt.where(*where).order_by(Loan.loan_number).limit(limit)
    out = []
    for number, first, last, org, status, bucket, dpd, principal, due, value in session.execute(stmt):
        name = org or " ".join(p for p in (first, last) if p)
        out.append(LoanLine(number, name, status, bucket, int(dpd or 0), principal, due, value))
    return out


def loans_in_bucket(ctx: ServiceContext, bucket: str, limit: int = 5000) -> list[LoanLine]:
    """The active loans behind a delinquency bar (``amount`` is each loan's principal)."""
    permissions.require(ctx.actor, permissions.VIEW)
    if bucket not in BUCKETS:
        raise InvalidInput("bucket", f"{bucket!r} is not one of {', '.join(BUCKETS)}")
    with ctx.unit(write=False) as session:
        return _lines(session, None, [Loan.status == "active", LoanState.bucket == bucket], limit=limit)


def loans_paid_in_month(ctx: ServiceContext, month: date, limit: int = 5000) -> list[LoanLine]:
    """The loans behind a payments bar: net received from each in that month (``amount``)."""
    permissions.require(ctx.actor, permissions.VIEW)
    first, last = _month_start(month), _month_end(month)
    with ctx.unit(write=False) as session:
        paid = (
            select(LedgerEntry.loan_id.label("loan_id"), func.sum(_collected()).label("received"))
            .where(LedgerEntry.type.in_(("payment", "reversal")),
                   and_(LedgerEntry.effective_date >= first, LedgerEntry.effective_date <= last))
            .group_by(LedgerEntry.loan_id)
            .subquery()
        )
        return _lines(session, type_coerce(paid.c.received, Money()), [], extra_from=paid, limit=limit)


__all__ = [
    "BucketFigure",
    "Dashboard",
    "Kpis",
    "LoanLine",
    "MonthFigure",
    "dashboard",
    "loans_in_bucket",
    "loans_paid_in_month",
    "_month_end",
    "_month_start",
]
