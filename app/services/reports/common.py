"""What every report shares: its dates, its filters, money from SQL sums and the table it becomes.

* A report is for a **date** (``as_of``) or a **period** (``start`` to ``end``
  inclusive, by ``business_date``: the day the work was booked, so a closed
  day's figures never change).  Without dates a period is the month of the
  last closed day up to that day, and a date the open business date.
* **Filters** narrow the loans: ``product`` (a product code), ``collector``
  (a username: the loans assigned to that collector) and ``status`` (a loan
  status).  Reports that read the ledger or the cache use each loan's product,
  assignment and status *now*; reports read from month-end snapshots use the
  ones the loan had at that month end (each report's notes say which).
* Results are frozen dataclasses: rows, totals and notes; ``table()`` turns
  one into an :class:`app.reports.tabular.Table` for CSV, XLSX, JSON and the
  desktop.  Percentages are held as percents (``25.00``) and written to the
  table as fractions (the tabular ``percent`` kind).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import BigInteger, ColumnElement, Select, func, literal, select, type_coerce
from sqlalchemy.orm import Session, aliased

from app.db.models import LOAN_STATUSES, CollectionAssignment, Loan, Product, ProductVersion, User
from app.db.types import Money
from app.domain.money import ZERO, round_money
from app.reports.tabular import Column, Table
from app.services.errors import InvalidInput
from app.services.ledger import business_date

HUNDRED = Decimal(100)
#: The loan statuses a report may be filtered by (the desk's Status filter lists them).
REPORT_STATUSES: tuple[str, ...] = tuple(LOAN_STATUSES)
SelectT = TypeVar("SelectT", bound=Select)  # type: ignore[type-arg]

#: The note every report read from month-end snapshots carries (issue 13).
SNAPSHOT_NOTE = ("Month-end figures are the book as the close of each month end left it; they never change. "
                 "Work booked later, even when dated earlier (a back-dated payment or reversal), shows in the "
                 "month it was booked.")
BOOKED_NOTE = ("By business date: each entry counts on the day it was booked, so a closed day never changes; "
               "a back-dated entry shows on the day it was posted.")


# ---------------------------------------------------------------- dates


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def is_month_end(day: date) -> bool:
    return day == month_end(day)


def month_end_before(day: date) -> date:
    """The last day of the month before ``day``'s month."""
    return day.replace(day=1) - timedelta(days=1)


def month_end_on_or_before(day: date) -> date:
    return day if is_month_end(day) else month_end_before(day)


def month_start(day: date) -> date:
    return day.replace(day=1)


def months_between(first: date, later: date) -> int:
    """Whole calendar months from ``first``'s month to ``later``'s (Jan -> Mar is 2)."""
    return (later.year - first.year) * 12 + later.month - first.month


def resolve_period(session: Session, start: date | None, end: date | None) -> tuple[date, date]:
    """The period's first and last business dates (see the module docstring for the default)."""
    today = business_date(session)
    if end is None:
        end = today - timedelta(days=1) if start is None or start < today else today
    if start is None:
        start = month_start(end)
    if end > today:
        raise InvalidInput("to", f"{end} is after the open business date {today}")
    if start > end:
        raise InvalidInput("from", f"{start} is after the end of the period {end}")
    return start, end


def resolve_as_of(session: Session, as_of: date | None) -> tuple[date, date]:
    """(the date, the open business date); a date after the open business date is refused."""
    today = business_date(session)
    day = today if as_of is None else as_of
    if day > today:
        raise InvalidInput("as_of", f"{day} is after the open business date {today}")
    return day, today


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """The loans a report is narrowed to, resolved to ids (``shown`` is what the table's header says)."""

    product_id: int | None = None
    collector_id: int | None = None
    status: str | None = None
    shown: tuple[tuple[str, str], ...] = ()

    @property
    def any(self) -> bool:
        return self.product_id is not None or self.collector_id is not None or self.status is not None

    def loan_ids(self) -> Select[Any]:
        """The ids of the loans that pass, by their product, assignment and status now."""
        stmt = select(Loan.id)
        if self.product_id is not None:
            stmt = stmt.join(ProductVersion, ProductVersion.id == Loan.product_version_id).where(
                ProductVersion.product_id == self.product_id)
        if self.collector_id is not None:
            stmt = stmt.join(CollectionAssignment, CollectionAssignment.loan_id == Loan.id).where(
                CollectionAssignment.collector_id == self.collector_id)
        if self.status is not None:
            stmt = stmt.where(Loan.status == self.status)
        return stmt

    def on_loan(self, loan_id: Any) -> list[ColumnElement[bool]]:
        """Conditions on a loan id column (none when nothing is filtered): for small tables (contacts, promises)."""
        return [loan_id.in_(self.loan_ids())] if self.any else []

    def narrow(self, stmt: SelectT, loan_id: Any, *, joined: Any = None) -> SelectT:
        """``stmt`` joined to the loans that pass (nothing when nothing is filtered).

        Joins rather than ``loan_id IN (subquery)`` for the reads of a period's entries: given the
        subquery, SQLite reads every entry of every loan that passes through the loan index instead of
        the period's entries through the date index (4 s instead of a fraction of one on a large book).
        """
        if not self.any:
            return stmt
        # ``joined``: the statement joins the loans already (as that entity); filter on it, not on a second join.
        loan = joined if joined is not None else aliased(Loan, name="filter_loan")
        out: Any = stmt if joined is not None else stmt.join(loan, loan.id == loan_id)
        if self.product_id is not None:
            version = aliased(ProductVersion, name="filter_version")
            out = out.join(version, version.id == loan.product_version_id).where(
                version.product_id == self.product_id)
        if self.collector_id is not None:
            assigned = aliased(CollectionAssignment, name="filter_assignment")
            out = out.join(assigned, assigned.loan_id == loan.id).where(assigned.collector_id == self.collector_id)
        if self.status is not None:
            out = out.where(loan.status == self.status)
        narrowed: SelectT = out
        return narrowed


def resolve_filters(session: Session, product: str | None = None, collector: str | None = None,
                    status: str | None = None) -> Filters:
    """Look the filters up; an unknown product, collector or status is refused naming the field."""
    shown: list[tuple[str, str]] = []
    product_id = collector_id = None
    if product:
        code = product.strip().upper()
        product_id = session.scalar(select(Product.id).where(func.upper(Product.code) == code))
        if product_id is None:
            raise InvalidInput("product", f"no product is coded {product!r}")
        shown.append(("Product", code))
    if collector:
        name = collector.strip()
        collector_id = session.scalar(select(User.id).where(User.username == name))
        if collector_id is None:
            raise InvalidInput("collector", f"no user is named {collector!r}")
        shown.append(("Collector", name))
    chosen = None
    if status:
        chosen = status.strip().lower().replace(" ", "_").replace("-", "_")
        if chosen not in LOAN_STATUSES:
            raise InvalidInput("status", f"{status!r} is not one of {', '.join(LOAN_STATUSES)}")
        shown.append(("Status", chosen))
    return Filters(product_id, collector_id, chosen, tuple(shown))


# ---------------------------------------------------------------- money


def raw(column: Any) -> ColumnElement[Any]:
    """A Money or Interest column as its stored integer (cents; 1e-10 for interest)."""
    return type_coerce(column, BigInteger)


def money_sum(expr: Any) -> ColumnElement[Decimal]:
    """SUM of a Money column (or of raw cents), read back as an exact Decimal (NULL -> 0.00)."""
    return type_coerce(func.coalesce(func.sum(expr), literal(0)), Money())


def from_cents(value: Any) -> Decimal:
    """Stored integer cents as an exact two-place Decimal (``1234`` -> ``12.34``, ``0`` -> ``0.00``).

    ``scaleb`` moves the decimal point without rounding; a report reads hundreds of thousands of
    these, and this is several times quicker than the Money type's general decoder.
    """
    return Decimal(int(value or 0)).scaleb(-2)


def from_interest_units(value: Any) -> Decimal:
    """A SUM of an Interest column (stored in units of 1e-10) as an exact Decimal."""
    return Decimal(int(value or 0)).scaleb(-10)


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal:
    """``part`` as a percent of ``whole``, two places, half up (0.00 when ``whole`` is nothing)."""
    if not whole:
        return ZERO
    return round_money(Decimal(part) * HUNDRED / Decimal(whole))


def add(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)


# ---------------------------------------------------------------- tables


@dataclass(frozen=True)
class Field:
    """A result attribute shown as a column; ``percent``: held as 25.00, written as the fraction 0.25."""

    attr: str
    column: Column
    percent: bool = False


def money_field(attr: str, name: str) -> Field:
    return Field(attr, Column(name, "money"))


def _cell(value: Any, field: Field) -> Any:
    if field.percent and isinstance(value, Decimal):
        return value / HUNDRED
    return value


def tabulate(title: str, header: Sequence[tuple[str, str]], notes: Sequence[str], fields: Sequence[Field],
             rows: Sequence[Any], totals: Any | None) -> Table:
    """The rows (and totals) as a Table: the header pairs and notes above it, one column per field."""
    body: Sequence[Sequence[Any]]
    if rows and isinstance(rows[0], tuple) and tuple(getattr(rows[0], "_fields", ())) == tuple(f.attr for f in fields):
        body = rows  # named tuples already in the columns' order (the journal's lines): no copy
    elif any(f.percent for f in fields):
        body = [[_cell(getattr(row, f.attr), f) for f in fields] for row in rows]
    else:
        getter = attrgetter(*(f.attr for f in fields))
        body = [getter(row) for row in rows] if len(fields) > 1 else [[getter(row)] for row in rows]
    total_row = None
    if totals is not None:
        total_row = [_cell(getattr(totals, f.attr, None), f) for f in fields]
        label = next((k for k, f in enumerate(fields) if f.column.kind == "text" and total_row[k] is None), None)
        if label is not None and all(value is None for value in total_row[:label]):
            total_row[label] = "Total"
    return Table(title, [f.column for f in fields], body,
                 filters=tuple(header) + tuple(("Note", note) for note in notes), totals=total_row)


def period_header(start: date, end: date, filters: Filters) -> tuple[tuple[str, str], ...]:
    return (("From", start.isoformat()), ("To", end.isoformat()), *filters.shown)


def date_header(as_of: date, filters: Filters) -> tuple[tuple[str, str], ...]:
    return (("As of", as_of.isoformat()), *filters.shown)


__all__ = [
    "BOOKED_NOTE",
    "Field",
    "Filters",
    "SNAPSHOT_NOTE",
    "add",
    "date_header",
    "from_cents",
    "from_interest_units",
    "is_month_end",
    "money_field",
    "money_sum",
    "month_end",
    "month_end_before",
    "month_end_on_or_before",
    "month_start",
    "months_between",
    "percent",
    "period_header",
    "raw",
    "resolve_as_of",
    "resolve_filters",
    "resolve_period",
    "tabulate",
]
