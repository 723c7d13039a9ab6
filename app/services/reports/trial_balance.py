"""Trial balance by loan: each loan's booked balances on a date, with totals (issue 13, item 1).

The booked balances are what a loan's ledger entries add up to by the one
sign table (:data:`app.domain.books.SIGNS`, summed in SQL by
:func:`app.services.books.part_sum`), plus a converted loan's opening
interest, fees and suspense (:func:`app.domain.books.conversion_opening`) --
exactly the figures ``keel verify`` reports as booked, so on the open
business date the totals equal verify's.

Entries count by ``business_date``: the trial balance as of D is every entry
booked on or before D, so a closed date's trial balance never changes.  When
a month-end snapshot exists on or before D, its booked figures are the
starting point and only the entries booked since are summed (a month's
entries instead of the whole history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select

from app.db.models import LedgerEntry, Loan, MonthEndSnapshot, Product, ProductVersion
from app.domain.books import PARTS, Balances, conversion_opening
from app.reports.tabular import Column, Table
from app.services import permissions
from app.services.books import part_sum
from app.services.context import ServiceContext
from app.services.reports.common import (
    BOOKED_NOTE,
    Field,
    date_header,
    from_cents,
    money_field,
    raw,
    resolve_as_of,
    resolve_filters,
    tabulate,
)


@dataclass(frozen=True)
class TrialBalanceRow:
    loan_number: str
    product: str
    status: str
    principal: Decimal
    interest: Decimal
    fees: Decimal
    suspense: Decimal
    refund: Decimal


@dataclass(frozen=True)
class TrialBalanceTotals:
    loans: int
    principal: Decimal
    interest: Decimal
    fees: Decimal
    suspense: Decimal
    refund: Decimal

    @property
    def balances(self) -> Balances:
        return Balances(self.principal, self.interest, self.fees, self.suspense, self.refund)


FIELDS = (
    Field("loan_number", Column("Loan")),
    Field("product", Column("Product")),
    Field("status", Column("Status")),
    money_field("principal", "Principal"),
    money_field("interest", "Interest receivable"),
    money_field("fees", "Fees receivable"),
    money_field("suspense", "Suspense"),
    money_field("refund", "Refund due"),
)


@dataclass(frozen=True)
class TrialBalance:
    as_of: date
    rows: tuple[TrialBalanceRow, ...]
    totals: TrialBalanceTotals
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]
    #: The month-end snapshot the sums started from (None: summed from the first entry).
    from_snapshot: date | None = None

    def table(self) -> Table:
        return tabulate(f"Trial balance by loan as of {self.as_of}", self.header, self.notes, FIELDS, self.rows,
                        self.totals)


def trial_balance(ctx: ServiceContext, as_of: date | None = None, *, product: str | None = None,
                  collector: str | None = None, status: str | None = None) -> TrialBalance:
    """Every loan's booked principal, interest receivable, fees receivable, suspense and refund due on ``as_of``.

    Loans whose five balances are all zero are left out (they add nothing to the totals).
    """
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        day, _ = resolve_as_of(session, as_of)
        filters = resolve_filters(session, product, collector, status)
        start = session.scalar(select(func.max(MonthEndSnapshot.month_end)).where(MonthEndSnapshot.month_end <= day))
        booked_by = [LedgerEntry.business_date <= day]
        if start is not None:
            booked_by.append(LedgerEntry.business_date > start)
        window = filters.narrow(
            select(LedgerEntry.loan_id.label("loan_id"), *[part_sum(part).label(part) for part in PARTS])
            .where(*booked_by)
            .group_by(LedgerEntry.loan_id), LedgerEntry.loan_id
        ).subquery("booked_window")
        columns: list[Any] = [func.coalesce(window.c[part], 0) for part in PARTS]
        stmt = select(Loan.id, Loan.loan_number, Product.code, Loan.status).select_from(Loan).join(
            ProductVersion, ProductVersion.id == Loan.product_version_id).join(
            Product, Product.id == ProductVersion.product_id).outerjoin(window, window.c.loan_id == Loan.id)
        present: Any = window.c.loan_id.is_not(None)
        if start is not None:
            base = (
                select(MonthEndSnapshot.loan_id.label("loan_id"),
                       *[raw(getattr(MonthEndSnapshot, f"booked_{part}")).label(part) for part in PARTS])
                .where(MonthEndSnapshot.month_end == start)
                .subquery("month_end")
            )
            stmt = stmt.outerjoin(base, base.c.loan_id == Loan.id)
            columns = [column + func.coalesce(base.c[part], 0) for column, part in zip(columns, PARTS, strict=True)]
            present = or_(present, base.c.loan_id.is_not(None))
        stmt = stmt.add_columns(*columns).where(present, *filters.on_loan(Loan.id)).order_by(Loan.loan_number)
        found: dict[int, tuple[str, str, str, list[int]]] = {}
        for row in session.connection().execute(stmt):
            values: tuple[Any, ...] = tuple(row)
            found[values[0]] = (values[1], values[2], values[3], [int(c or 0) for c in values[4:]])
        for loan_id, payload in session.execute(
            select(LedgerEntry.loan_id, LedgerEntry.payload)
            .where(LedgerEntry.type == "conversion", LedgerEntry.business_date <= day,
                   *filters.on_loan(LedgerEntry.loan_id))
        ):
            if loan_id in found:
                opening = conversion_opening(payload)
                cents = found[loan_id][3]
                for k, part in enumerate(PARTS):
                    cents[k] += int(opening.get(part).scaleb(2))
    rows = []
    total = [0] * len(PARTS)
    for number, code, loan_status, cents in found.values():
        if not any(cents):
            continue
        for k, value in enumerate(cents):
            total[k] += value
        rows.append(TrialBalanceRow(number, code, loan_status, *(from_cents(c) for c in cents)))
    notes = [BOOKED_NOTE,
             "Balances are the booked ledger (the loans' entries summed by the sign table), the figures keel verify "
             "reports as booked; loans with no balance are left out."]
    if start is not None:
        notes.append(f"Summed from the month-end snapshot of {start} plus the entries booked after it.")
    totals = TrialBalanceTotals(len(rows), *(from_cents(c) for c in total))
    return TrialBalance(day, tuple(rows), totals, tuple(notes), date_header(day, filters), start)


__all__ = ["TrialBalance", "TrialBalanceRow", "TrialBalanceTotals", "trial_balance"]
