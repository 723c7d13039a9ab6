"""Delinquency aging by bucket and roll rates month over month (issue 13, item 1).

Aging counts the **active** loans in each bucket (``current``, ``1-29``,
``30-59``, ``60-89``, ``90-119``, ``120+``) with their principal and each
bucket's share of the loans and of the principal:

* as of the open business date: from the cache, the loans as they stand this
  morning (what the dashboard shows);
* as of a past date: from the snapshot of the month end on or before it, as
  that month end's close left the book -- it never changes, whatever is
  posted later, back-dated or not.  A month end without a snapshot is not
  available (see :mod:`app.services.reports.snapshots`).

Roll rates compare two consecutive month-end snapshots: of the loans active
in each bucket at the first month end, how many are in each bucket (or paid
off, charged off, transferred) at the next, as counts and as percents of the
row.  "Rolled forward" is the share that moved to a worse bucket or was
charged off; "cured" the share that is current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from app.db.models import BUCKETS, Loan, LoanState, MonthEndSnapshot
from app.domain.money import ZERO
from app.reports.tabular import Column, Table
from app.services import permissions
from app.services.context import ServiceContext
from app.services.errors import InvalidInput
from app.services.reports.common import (
    SNAPSHOT_NOTE,
    Field,
    Filters,
    add,
    date_header,
    money_field,
    money_sum,
    month_end_before,
    month_end_on_or_before,
    percent,
    resolve_as_of,
    resolve_filters,
    tabulate,
)

LATE_BUCKETS = ("30-59", "60-89", "90-119", "120+")  # 30 days past due or more
#: Where a loan active at one month end can be at the next.
ROLL_TARGETS = (*BUCKETS, "paid_off", "charged_off", "transferred", "not_recorded")
_WORSE = {bucket: set(BUCKETS[k + 1:]) | {"charged_off"} for k, bucket in enumerate(BUCKETS)}


def on_snapshot(filters: Filters, snap: Any) -> list[ColumnElement[bool]]:
    """Filters on a snapshot's own product, collector and status (as they were at its month end)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.product_id is not None:
        conditions.append(snap.product_id == filters.product_id)
    if filters.collector_id is not None:
        conditions.append(snap.collector_id == filters.collector_id)
    if filters.status is not None:
        conditions.append(snap.status == filters.status)
    return conditions


def has_snapshot(session: Session, day: date) -> bool:
    return bool(session.scalar(select(exists().where(MonthEndSnapshot.month_end == day))))


def not_available(day: date) -> InvalidInput:
    return InvalidInput("as_of", f"no month-end snapshot for {day}: not available (the month closed before Keel kept "
                                 f"them; an administrator can write one with keel snapshot --month-end {day})")


def bucket_figures(session: Session, filters: Filters | None = None,
                   month_end: date | None = None) -> dict[str, tuple[int, Decimal]]:
    """bucket -> (active loans, principal): from the cache now, or from the snapshot of ``month_end``.

    The dashboard's delinquency bars and the aging report are this one query.
    """
    filters = filters or Filters()
    if month_end is None:
        stmt = (
            select(LoanState.bucket, func.count(), money_sum(LoanState.principal))
            .join(Loan, Loan.id == LoanState.loan_id)
            .where(Loan.status == "active", *filters.on_loan(Loan.id))
            .group_by(LoanState.bucket)
        )
    else:
        snap = MonthEndSnapshot
        stmt = (
            select(snap.bucket, func.count(), money_sum(snap.principal))
            .where(snap.month_end == month_end, snap.status == "active", *on_snapshot(filters, snap))
            .group_by(snap.bucket)
        )
    return {bucket: (int(count), principal) for bucket, count, principal in session.execute(stmt)}


# ---------------------------------------------------------------- aging


@dataclass(frozen=True)
class AgingRow:
    bucket: str
    loans: int
    loans_percent: Decimal
    principal: Decimal
    principal_percent: Decimal


@dataclass(frozen=True)
class AgingTotals:
    loans: int
    loans_percent: Decimal
    principal: Decimal
    principal_percent: Decimal
    #: 30 days past due or more
    late_loans: int
    late_principal: Decimal
    late_percent: Decimal  # of principal


AGING_FIELDS = (
    Field("bucket", Column("Bucket")),
    Field("loans", Column("Loans", "int")),
    Field("loans_percent", Column("Loans %", "percent"), percent=True),
    money_field("principal", "Principal"),
    Field("principal_percent", Column("Principal %", "percent"), percent=True),
)


@dataclass(frozen=True)
class Aging:
    as_of: date
    #: The month end read (None: the cache, as of the open business date).
    month_end: date | None
    rows: tuple[AgingRow, ...]
    totals: AgingTotals
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def table(self) -> Table:
        when = self.month_end or self.as_of
        return tabulate(f"Delinquency aging as of {when}", self.header, self.notes, AGING_FIELDS, self.rows,
                        self.totals)


def _aging_rows(found: dict[str, tuple[int, Decimal]]) -> tuple[tuple[AgingRow, ...], AgingTotals]:
    loans = sum(count for count, _ in found.values())
    principal = add(amount for _, amount in found.values())
    rows = tuple(
        AgingRow(bucket, count, percent(count, loans), amount, percent(amount, principal))
        for bucket in BUCKETS
        for count, amount in [found.get(bucket, (0, ZERO))]
    )
    late = [found.get(bucket, (0, ZERO)) for bucket in LATE_BUCKETS]
    late_principal = add(amount for _, amount in late)
    totals = AgingTotals(loans, percent(loans, loans), principal, percent(principal, principal),
                         sum(count for count, _ in late), late_principal, percent(late_principal, principal))
    return rows, totals


def aging(ctx: ServiceContext, as_of: date | None = None, *, product: str | None = None,
          collector: str | None = None, status: str | None = None) -> Aging:
    """Active loans by bucket: count, principal, percents (see the module docstring for the source)."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        day, today = resolve_as_of(session, as_of)
        filters = resolve_filters(session, product, collector, status)
        if day == today:
            month: date | None = None
            found = bucket_figures(session, filters)
            notes = ["As of the open business date: every active loan as it stands this morning (the cache), "
                     "with its product, collector and status now."]
        else:
            month = month_end_on_or_before(day)
            if not has_snapshot(session, month):
                raise not_available(month)
            found = bucket_figures(session, filters, month)
            notes = [f"As of the month end {month}" + ("" if month == day else f", the last on or before {day}")
                     + ": every loan active then, with the product, collector and status it had then.",
                     SNAPSHOT_NOTE,
                     "Days past due are counted on the morning after the month end, as the desk saw them."]
    rows, totals = _aging_rows(found)
    return Aging(day, month, rows, totals, tuple(notes), date_header(month or day, filters))


# ---------------------------------------------------------------- roll rates


@dataclass(frozen=True)
class RollCell:
    from_bucket: str
    to: str
    loans: int
    percent: Decimal  # of the from-bucket's loans


@dataclass(frozen=True)
class RollRow:
    from_bucket: str
    loans: int
    counts: tuple[int, ...]  # by ROLL_TARGETS
    percents: tuple[Decimal, ...]
    cured_percent: Decimal
    rolled_forward_percent: Decimal


@dataclass(frozen=True)
class RollRates:
    from_month_end: date
    to_month_end: date
    rows: tuple[RollRow, ...]
    totals: RollRow  # from_bucket "Total"
    cells: tuple[RollCell, ...]
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def count(self, from_bucket: str, to: str) -> int:
        return next((c.loans for c in self.cells if c.from_bucket == from_bucket and c.to == to), 0)

    def table(self) -> Table:
        targets = [t for t in ROLL_TARGETS if t != "not_recorded" or any(r.counts[-1] for r in self.rows)]
        columns = [Column("From"), Column("Loans", "int")]
        columns += [Column(f"To {t.replace('_', ' ')}", "int") for t in targets]
        columns += [Column(f"To {t.replace('_', ' ')} %", "percent") for t in targets]
        columns += [Column("Cured %", "percent"), Column("Rolled forward %", "percent")]
        index = [ROLL_TARGETS.index(t) for t in targets]

        def line(row: RollRow) -> list[Any]:
            return [row.from_bucket, row.loans, *[row.counts[k] for k in index],
                    *[row.percents[k] / 100 for k in index], row.cured_percent / 100,
                    row.rolled_forward_percent / 100]

        return Table(f"Roll rates {self.from_month_end} to {self.to_month_end}", columns,
                     [line(row) for row in self.rows],
                     filters=tuple(self.header) + tuple(("Note", n) for n in self.notes), totals=line(self.totals))


def _roll_row(name: str, counts: list[int], worse: set[str]) -> RollRow:
    loans = sum(counts)
    percents = tuple(percent(c, loans) for c in counts)
    cured = percent(counts[ROLL_TARGETS.index("current")], loans)
    forward = percent(sum(c for t, c in zip(ROLL_TARGETS, counts, strict=True) if t in worse), loans)
    return RollRow(name, loans, tuple(counts), percents, cured, forward)


def roll_rates(ctx: ServiceContext, as_of: date | None = None, *, product: str | None = None,
               collector: str | None = None, status: str | None = None) -> RollRates:
    """Bucket-to-bucket movement from the month end before ``as_of``'s month end to that month end.

    ``as_of`` defaults to the last month end closed; any date means the month end on or before it.
    """
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        day, today = resolve_as_of(session, as_of)
        filters = resolve_filters(session, product, collector, status)
        to_end = month_end_on_or_before(day)
        if to_end >= today:
            to_end = month_end_before(today)
        from_end = month_end_before(to_end)
        for needed in (from_end, to_end):
            if not has_snapshot(session, needed):
                raise not_available(needed)
        was, now = aliased(MonthEndSnapshot, name="was"), aliased(MonthEndSnapshot, name="now")
        target = case((now.loan_id.is_(None), literal("not_recorded")), (now.status == "active", now.bucket),
                      else_=now.status)
        found = session.execute(
            select(was.bucket, target, func.count())
            .outerjoin(now, and_(now.loan_id == was.loan_id, now.month_end == to_end))
            .where(was.month_end == from_end, was.status == "active", *on_snapshot(filters, was))
            .group_by(was.bucket, target)
        ).all()
    counts = {(f, t): int(n) for f, t, n in found}
    rows = tuple(_roll_row(b, [counts.get((b, t), 0) for t in ROLL_TARGETS], _WORSE[b]) for b in BUCKETS)
    total_counts = [sum(row.counts[k] for row in rows) for k in range(len(ROLL_TARGETS))]
    # The totals' "rolled forward": every row's loans that moved to a worse place than their own bucket.
    forward = sum(row.counts[k] for row in rows for k, t in enumerate(ROLL_TARGETS) if t in _WORSE[row.from_bucket])
    totals = _roll_row("Total", total_counts, set())
    totals = RollRow("Total", totals.loans, totals.counts, totals.percents, totals.cured_percent,
                     percent(forward, totals.loans))
    cells = tuple(RollCell(row.from_bucket, t, row.counts[k], row.percents[k])
                  for row in rows for k, t in enumerate(ROLL_TARGETS))
    notes = (f"Loans active at {from_end} by their bucket then, against where each is at {to_end}; percents are of "
             "the row. Product, collector and status filters are those the loan had at the first month end.",
             SNAPSHOT_NOTE)
    header = (("From month end", from_end.isoformat()), ("To month end", to_end.isoformat()), *filters.shown)
    return RollRates(from_end, to_end, rows, totals, cells, notes, header)


__all__ = ["Aging", "AgingRow", "AgingTotals", "LATE_BUCKETS", "ROLL_TARGETS", "RollCell", "RollRates", "RollRow",
           "aging", "bucket_figures", "has_snapshot", "not_available", "on_snapshot", "roll_rates"]
