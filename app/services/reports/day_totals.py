"""What each closed business day booked, by product and entry type (issue 13).

End of day writes a closed day's totals in the transaction that closes it
(:func:`write_day_totals`, called from :func:`app.services.reports.snapshots.record_close`):
one ``INSERT ... SELECT`` over the day's entries (``business_date`` = the
day) grouped by product and type -- the entries counted, each money column
summed.  Entries booked on a day never change once it is closed, so these
totals are as exact as the entries.

:func:`booked_by_day` is what the period reports read: closed days' totals
where they were written, the entries themselves for the rest (days closed
before revision 0015, and the open business date), and the entries for
every day when a report is filtered by collector or status (the totals know
only the product).  A month of a large book is millions of daily accruals;
its totals are a few hundred rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Date, Table, exists, func, insert, literal, select
from sqlalchemy.orm import Session

from app.db.models import LedgerDayTotal, LedgerEntry, Loan, ProductVersion
from app.db.settings import get_setting, set_setting
from app.services.ledger import business_date
from app.services.reports.common import Filters, from_cents, raw

#: The first business date whose totals end of day wrote (system_settings); earlier days read the entries.
SETTING_FROM = "ledger_day_totals_from"
COLUMNS = ("amount", "principal", "interest", "fees", "suspense", "refund", "escrow")


def write_day_totals(session: Session, day: date) -> None:
    """The closed day's entries by product and type (nothing when they are written already)."""
    if session.scalar(select(exists().where(LedgerDayTotal.business_date == day))):
        return
    stmt = (
        select(literal(day, Date()), ProductVersion.product_id, LedgerEntry.type, func.count(),
               *[func.sum(raw(getattr(LedgerEntry, column))) for column in COLUMNS])
        .join(Loan, Loan.id == LedgerEntry.loan_id)
        .join(ProductVersion, ProductVersion.id == Loan.product_version_id)
        .where(LedgerEntry.business_date == day)
        .group_by(ProductVersion.product_id, LedgerEntry.type)
    )
    table = cast(Table, LedgerDayTotal.__table__)
    session.execute(insert(table).from_select(["business_date", "product_id", "type", "entries", *COLUMNS], stmt))
    if get_setting(session, SETTING_FROM) is None:
        set_setting(session, SETTING_FROM, day.isoformat())


@dataclass(frozen=True)
class DayTotal:
    day: date
    product_id: int
    type: str
    entries: int
    amount: Decimal
    principal: Decimal
    interest: Decimal
    fees: Decimal
    suspense: Decimal
    refund: Decimal
    escrow: Decimal


def _from_entries(session: Session, first: date, last: date, filters: Filters,
                  types: tuple[str, ...] | None) -> list[DayTotal]:
    conditions: list[Any] = [LedgerEntry.business_date >= first, LedgerEntry.business_date <= last]
    if types is not None:
        conditions.append(LedgerEntry.type.in_(types))
    # Grouped by the loan's product version and folded into products here: one join fewer for each
    # of the period's entries (a month of a large book is millions of accruals).
    stmt = (
        select(LedgerEntry.business_date, Loan.product_version_id, LedgerEntry.type, func.count(),
               *[func.sum(raw(getattr(LedgerEntry, column))) for column in COLUMNS])
        .join(Loan, Loan.id == LedgerEntry.loan_id)
        .where(*conditions)
        .group_by(LedgerEntry.business_date, Loan.product_version_id, LedgerEntry.type)
    )
    product_of = {int(v): int(p) for v, p in session.execute(select(ProductVersion.id, ProductVersion.product_id))}
    folded: dict[tuple[date, int, str], list[Any]] = {}
    for row in session.execute(filters.narrow(stmt, LedgerEntry.loan_id, joined=Loan)):
        values: tuple[Any, ...] = tuple(row)
        key = (values[0], product_of[int(values[1])], values[2])
        sums = [int(v or 0) for v in values[3:]]
        if key in folded:
            folded[key] = [a + b for a, b in zip(folded[key], sums, strict=True)]
        else:
            folded[key] = sums
    return [DayTotal(day, product, kind, sums[0], *(from_cents(v) for v in sums[1:]))
            for (day, product, kind), sums in folded.items()]


def _from_totals(session: Session, first: date, last: date, filters: Filters,
                 types: tuple[str, ...] | None) -> list[DayTotal]:
    t = LedgerDayTotal
    conditions: list[Any] = [t.business_date >= first, t.business_date <= last]
    if types is not None:
        conditions.append(t.type.in_(types))
    if filters.product_id is not None:
        conditions.append(t.product_id == filters.product_id)
    stmt = select(t.business_date, t.product_id, t.type, t.entries, *[raw(getattr(t, c)) for c in COLUMNS]).where(
        *conditions)
    return [_total(row) for row in session.execute(stmt)]


def _total(row: Any) -> DayTotal:
    values: tuple[Any, ...] = tuple(row)
    return DayTotal(values[0], int(values[1]), values[2], int(values[3]), *(from_cents(v) for v in values[4:]))


def booked_by_day(session: Session, first: date, last: date, filters: Filters | None = None, *,
                  types: tuple[str, ...] | None = None, use_totals: bool = True) -> list[DayTotal]:
    """The entries booked from ``first`` to ``last`` by day, product and type (see the module docstring)."""
    filters = filters or Filters()
    since_text = get_setting(session, SETTING_FROM)
    today = business_date(session)
    plain = filters.collector_id is not None or filters.status is not None
    if not use_totals or plain or since_text is None:
        return _from_entries(session, first, last, filters, types)
    start, end = max(first, date.fromisoformat(since_text)), min(last, today - timedelta(days=1))
    if start > end:
        return _from_entries(session, first, last, filters, types)
    out = _from_totals(session, start, end, filters, types)
    if first < start:
        out += _from_entries(session, first, start - timedelta(days=1), filters, types)
    if end < last:
        out += _from_entries(session, end + timedelta(days=1), last, filters, types)
    return out


__all__ = ["DayTotal", "SETTING_FROM", "booked_by_day", "write_day_totals"]
