"""New, paid-off and charged-off loans; the portfolio by product; vintages (issue 13, item 1).

* **Loan activity** (a period, by month booked and product): loans boarded
  (``boarding`` and ``conversion`` entries) and their principal; loans paid
  off (loans whose status is paid off, dated by the last payment or
  write-off booked on them); loans charged off (``charge_off`` entries) and
  the balance charged off (its principal, interest and fees parts);
  recoveries received on charged-off loans.
* **Portfolio by product** (a date): active loans, principal, accrued
  interest, fees, loans and principal 30 days past due or more, loans on
  non-accrual, and the loans paid off and charged off -- from the cache as
  of the open business date, or from the month-end snapshot on or before a
  past date.
* **Vintages** (a month end): loans grouped by origination month (the
  note's start date), and for each month end since with a snapshot, the
  months on book and the cumulative share of the vintage's loans that have
  been 30 days past due or more (or charged off) at any month end so far, and
  the share charged off so far.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, case, func, literal_column, or_, select, type_coerce
from sqlalchemy.orm import Session

from app.db.models import LedgerEntry, Loan, LoanState, MonthEndSnapshot, Product, ProductVersion
from app.domain.money import ZERO, round_money
from app.reports.tabular import Column, Table
from app.services import permissions
from app.services.context import ServiceContext
from app.services.reports.common import (
    BOOKED_NOTE,
    SNAPSHOT_NOTE,
    Field,
    add,
    date_header,
    from_cents,
    from_interest_units,
    month_end,
    month_end_before,
    month_end_on_or_before,
    month_start,
    months_between,
    percent,
    period_header,
    raw,
    resolve_as_of,
    resolve_filters,
    resolve_period,
    tabulate,
)
from app.services.reports.day_totals import booked_by_day
from app.services.reports.delinquency import LATE_BUCKETS, has_snapshot, not_available, on_snapshot

OPENING_TYPES = ("boarding", "conversion")
ACTIVITY_TYPES = (*OPENING_TYPES, "charge_off", "charge_off_adjustment", "recovery")
PAYOFF_TYPES = ("payment", "write_off", "payoff_write_off")


def _product_code(session: Session) -> dict[int, str]:
    return {int(i): code for i, code in session.execute(select(Product.id, Product.code))}


# ---------------------------------------------------------------- loan activity


@dataclass(frozen=True)
class ActivityRow:
    month: date
    product: str
    new_loans: int
    new_principal: Decimal
    paid_off: int
    charged_off: int
    charged_off_amount: Decimal
    recovered: Decimal


@dataclass(frozen=True)
class ActivityTotals:
    new_loans: int
    new_principal: Decimal
    paid_off: int
    charged_off: int
    charged_off_amount: Decimal
    recovered: Decimal


ACTIVITY_FIELDS = (
    Field("month", Column("Month", "date")),
    Field("product", Column("Product")),
    Field("new_loans", Column("New loans", "int")),
    Field("new_principal", Column("New principal", "money")),
    Field("paid_off", Column("Paid off", "int")),
    Field("charged_off", Column("Charged off", "int")),
    Field("charged_off_amount", Column("Charged-off balance", "money")),
    Field("recovered", Column("Recovered", "money")),
)


@dataclass(frozen=True)
class LoanActivity:
    start: date
    end: date
    rows: tuple[ActivityRow, ...]
    totals: ActivityTotals
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def table(self) -> Table:
        return tabulate(f"New, paid-off and charged-off loans {self.start} to {self.end}", self.header, self.notes,
                        ACTIVITY_FIELDS, self.rows, self.totals)


def loan_activity(ctx: ServiceContext, start: date | None = None, end: date | None = None, *,
                  product: str | None = None, collector: str | None = None,
                  status: str | None = None) -> LoanActivity:
    """Loans boarded, paid off and charged off in the period, by month booked and product."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        first, last = resolve_period(session, start, end)
        filters = resolve_filters(session, product, collector, status)
        cells: dict[tuple[date, int], list[Any]] = defaultdict(lambda: [0, ZERO, 0, 0, ZERO, ZERO])
        for total in booked_by_day(session, first, last, filters, types=ACTIVITY_TYPES):
            cell = cells[(month_start(total.day), total.product_id)]
            if total.type in OPENING_TYPES:
                cell[0] += total.entries
                cell[1] += total.amount
            elif total.type == "recovery":
                cell[5] += total.amount
            else:
                if total.type == "charge_off":
                    cell[3] += total.entries
                cell[4] += total.principal + total.interest + total.fees
        # Each paid-off loan's last payment or write-off, looked up loan by loan through the
        # (loan_id, effective_date) index: paid-off loans are few, the ledger is large.  ``type || ''``
        # keeps SQLite off the index on type, which would read every payment of the book.
        last_paid = (
            select(func.max(LedgerEntry.business_date))
            .where(LedgerEntry.loan_id == Loan.id, (LedgerEntry.type + "").in_(PAYOFF_TYPES))
            .correlate(Loan)
            .scalar_subquery()
        )
        paid = (
            select(Loan.id.label("loan_id"), ProductVersion.product_id.label("product_id"), last_paid.label("day"))
            .join(ProductVersion, ProductVersion.id == Loan.product_version_id)
            .where(Loan.status == "paid_off", *filters.on_loan(Loan.id))
            .subquery("paid")
        )
        for day, product_id, count in session.execute(
            select(paid.c.day, paid.c.product_id, func.count())
            .where(paid.c.day >= first, paid.c.day <= last)
            .group_by(paid.c.day, paid.c.product_id)
        ):
            cells[(month_start(day), int(product_id))][2] += int(count)
        codes = _product_code(session)
    rows = tuple(ActivityRow(month, codes[product_id], *values)
                 for (month, product_id), values in sorted(cells.items(), key=lambda i: (i[0][0], codes[i[0][1]])))
    totals = ActivityTotals(sum(r.new_loans for r in rows), add(r.new_principal for r in rows),
                            sum(r.paid_off for r in rows), sum(r.charged_off for r in rows),
                            add(r.charged_off_amount for r in rows), add(r.recovered for r in rows))
    notes = (BOOKED_NOTE, "Paid off: loans whose status is paid off now, counted in the month of the last payment "
                          "or write-off booked on them. Charged-off balance: the principal, interest and fees taken "
                          "off the books, with the books' later corrections to it.")
    return LoanActivity(first, last, rows, totals, notes, period_header(first, last, filters))


# ---------------------------------------------------------------- portfolio by product


@dataclass(frozen=True)
class ProductRow:
    product: str
    loans: int
    principal: Decimal
    accrued_interest: Decimal
    fees: Decimal
    late_loans: int
    late_principal: Decimal
    late_percent: Decimal  # of principal
    non_accrual: int
    paid_off: int
    charged_off: int


@dataclass(frozen=True)
class ProductTotals:
    loans: int
    principal: Decimal
    accrued_interest: Decimal
    fees: Decimal
    late_loans: int
    late_principal: Decimal
    non_accrual: int
    paid_off: int
    charged_off: int
    late_percent: Decimal


PRODUCT_FIELDS = (
    Field("product", Column("Product")),
    Field("loans", Column("Active loans", "int")),
    Field("principal", Column("Principal", "money")),
    Field("accrued_interest", Column("Accrued interest", "money")),
    Field("fees", Column("Fees", "money")),
    Field("late_loans", Column("30+ loans", "int")),
    Field("late_principal", Column("30+ principal", "money")),
    Field("late_percent", Column("30+ %", "percent"), percent=True),
    Field("non_accrual", Column("Non-accrual", "int")),
    Field("paid_off", Column("Paid off", "int")),
    Field("charged_off", Column("Charged off", "int")),
)


@dataclass(frozen=True)
class Portfolio:
    as_of: date
    month_end: date | None  # None: the cache, as of the open business date
    rows: tuple[ProductRow, ...]
    totals: ProductTotals
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def table(self) -> Table:
        return tabulate(f"Portfolio by product as of {self.month_end or self.as_of}", self.header, self.notes,
                        PRODUCT_FIELDS, self.rows, self.totals)


def portfolio(ctx: ServiceContext, as_of: date | None = None, *, product: str | None = None,
              collector: str | None = None, status: str | None = None) -> Portfolio:
    """Active loans and their balances and delinquency, by product."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        day, today = resolve_as_of(session, as_of)
        filters = resolve_filters(session, product, collector, status)
        month: date | None = None
        if day == today:
            source: Any = LoanState
            product_id: Any = ProductVersion.product_id
            status_col: Any = Loan.status
            stmt = (select().select_from(LoanState).join(Loan, Loan.id == LoanState.loan_id)
                    .join(ProductVersion, ProductVersion.id == Loan.product_version_id)
                    .where(*filters.on_loan(Loan.id)))
            delinquency: Any = Loan.delinquency
            notes = ["As of the open business date: every loan as it stands this morning (the cache)."]
        else:
            month = month_end_on_or_before(day)
            if not has_snapshot(session, month):
                raise not_available(month)
            source = MonthEndSnapshot
            product_id, status_col, delinquency = source.product_id, source.status, source.delinquency
            stmt = select().select_from(source).where(source.month_end == month, *on_snapshot(filters, source))
            notes = [f"As of the month end {month}, from its snapshot.", SNAPSHOT_NOTE]
        active = status_col == "active"
        late = and_(active, source.bucket.in_(LATE_BUCKETS))

        def when(condition: ColumnElement[bool], value: Any) -> Any:
            return func.sum(case((condition, value), else_=0))

        stmt = stmt.add_columns(
            product_id, when(active, 1), when(active, raw(source.principal)),
            when(active, raw(source.accrued_interest)), when(active, raw(source.fees)), when(late, 1),
            when(late, raw(source.principal)), when(and_(active, delinquency == "non_accrual"), 1),
            when(status_col == "paid_off", 1), when(status_col == "charged_off", 1),
        ).group_by(product_id)
        found = session.execute(stmt).all()
        codes = _product_code(session)
    rows = []
    for pid, loans, principal, interest, fees, late_loans, late_principal, non_accrual, paid, charged in found:
        amount = from_cents(principal)
        late_amount = from_cents(late_principal)
        accrued = round_money(from_interest_units(interest))
        rows.append(ProductRow(codes[int(pid)], int(loans or 0), amount, accrued, from_cents(fees), int(late_loans or 0),
                               late_amount, percent(late_amount, amount), int(non_accrual or 0), int(paid or 0),
                               int(charged or 0)))
    rows.sort(key=lambda r: r.product)
    principal_total = add(r.principal for r in rows)
    late_total = add(r.late_principal for r in rows)
    totals = ProductTotals(sum(r.loans for r in rows), principal_total, add(r.accrued_interest for r in rows),
                           add(r.fees for r in rows), sum(r.late_loans for r in rows), late_total,
                           sum(r.non_accrual for r in rows), sum(r.paid_off for r in rows),
                           sum(r.charged_off for r in rows), percent(late_total, principal_total))
    return Portfolio(day, month, tuple(rows), totals, tuple(notes), date_header(month or day, filters))


# ---------------------------------------------------------------- vintages


@dataclass(frozen=True)
class VintageRow:
    vintage: str  # origination month, "2026-01"
    month_end: date
    months_on_book: int
    loans: int
    delinquent_30: int  # been 30+ days past due (or charged off) at a month end by then
    delinquent_30_percent: Decimal
    charged_off: int
    charged_off_percent: Decimal


@dataclass(frozen=True)
class VintageTotals:
    """Every vintage at the report's month end."""

    loans: int
    delinquent_30: int
    delinquent_30_percent: Decimal
    charged_off: int
    charged_off_percent: Decimal


VINTAGE_FIELDS = (
    Field("vintage", Column("Vintage")),
    Field("month_end", Column("Month end", "date")),
    Field("months_on_book", Column("Months on book", "int")),
    Field("loans", Column("Loans", "int")),
    Field("delinquent_30", Column("Ever 30+", "int")),
    Field("delinquent_30_percent", Column("Ever 30+ %", "percent"), percent=True),
    Field("charged_off", Column("Charged off", "int")),
    Field("charged_off_percent", Column("Charged off %", "percent"), percent=True),
)


@dataclass(frozen=True)
class Vintages:
    month_end: date
    rows: tuple[VintageRow, ...]
    totals: VintageTotals
    missing: tuple[date, ...]  # month ends in the range without a snapshot
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def table(self) -> Table:
        return tabulate(f"Vintages as of {self.month_end}", self.header, self.notes, VINTAGE_FIELDS, self.rows,
                        self.totals)


def _origination(session: Session) -> ColumnElement[str]:
    """The note's start date (``loans.terms`` JSON ``start``) as ``YYYY-MM``."""
    if session.get_bind().dialect.name == "postgresql":
        start: ColumnElement[Any] = literal_column("(loans.terms::json ->> 'start')", Text)
    else:
        start = func.json_extract(type_coerce(Loan.terms, Text), "$.start")
    return func.substr(start, 1, 7)


def vintages(ctx: ServiceContext, as_of: date | None = None, *, product: str | None = None,
             collector: str | None = None, status: str | None = None) -> Vintages:
    """Cumulative 30+ delinquency and charge-off by origination month and months on book, from the snapshots."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        day, today = resolve_as_of(session, as_of)
        filters = resolve_filters(session, product, collector, status)
        last = month_end_on_or_before(day)
        if last >= today:
            last = month_end_before(today)
        if not has_snapshot(session, last):
            raise not_available(last)
        snap = MonthEndSnapshot
        ever_late = or_(and_(snap.status == "active", snap.days_past_due >= 30), snap.status == "charged_off")
        first_late = (select(snap.loan_id.label("loan_id"), func.min(snap.month_end).label("day"))
                      .where(ever_late, snap.month_end <= last).group_by(snap.loan_id).subquery("first_late"))
        first_off = (select(snap.loan_id.label("loan_id"), func.min(snap.month_end).label("day"))
                     .where(snap.status == "charged_off", snap.month_end <= last).group_by(snap.loan_id)
                     .subquery("first_off"))
        vintage = _origination(session).label("vintage")
        found = session.execute(
            select(snap.month_end, vintage, func.count(),
                   func.sum(case((first_late.c.day <= snap.month_end, 1), else_=0)),
                   func.sum(case((first_off.c.day <= snap.month_end, 1), else_=0)))
            .join(Loan, Loan.id == snap.loan_id)
            .outerjoin(first_late, first_late.c.loan_id == snap.loan_id)
            .outerjoin(first_off, first_off.c.loan_id == snap.loan_id)
            .where(snap.month_end <= last, *on_snapshot(filters, snap))
            .group_by(snap.month_end, vintage)
        ).all()
        have = set(session.scalars(select(snap.month_end).where(snap.month_end <= last).distinct()))
    rows = []
    for end, name, loans, late, off in found:
        origin = date.fromisoformat(f"{name}-01")
        count = int(loans)
        rows.append(VintageRow(name, end, months_between(origin, end), count, int(late or 0),
                               percent(int(late or 0), count), int(off or 0), percent(int(off or 0), count)))
    rows.sort(key=lambda r: (r.vintage, r.month_end))
    at_end = [r for r in rows if r.month_end == last]
    loans_now = sum(r.loans for r in at_end)
    late_now = sum(r.delinquent_30 for r in at_end)
    off_now = sum(r.charged_off for r in at_end)
    totals = VintageTotals(loans_now, late_now, percent(late_now, loans_now), off_now, percent(off_now, loans_now))
    missing = []
    if have:
        cursor = min(have)
        while cursor < last:
            cursor = month_end(date.fromordinal(cursor.toordinal() + 1))
            if cursor not in have:
                missing.append(cursor)
    notes = [f"Each vintage's loans at each month end with a snapshot up to {last}; ever 30+ counts a loan once it "
             "has been 30 days past due or more, or charged off, at any month end so far.", SNAPSHOT_NOTE]
    if missing:
        notes.append("Not available (no snapshot): " + ", ".join(d.isoformat() for d in missing) + ".")
    return Vintages(last, tuple(rows), totals, tuple(missing), tuple(notes), date_header(last, filters))


__all__ = ["ActivityRow", "ActivityTotals", "LoanActivity", "Portfolio", "ProductRow", "ProductTotals",
           "VintageRow", "VintageTotals", "Vintages", "loan_activity", "portfolio", "vintages"]

