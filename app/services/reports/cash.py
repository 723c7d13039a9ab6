"""Daily cash receipts (by day, method and batch) and the transaction journal (issue 13, item 1).

Cash receipts reconcile the bank deposits: for each business date, payment
method and batch, the money received (``payment`` and ``recovery`` entries:
a recovery is cash received on a charged-off loan) and the money returned
(``reversal`` entries, counted on the day of the reversal under the method
and batch of the payment they reverse).  A loan's payment history boarded
from a prior servicer (``reason_code`` ``boarding_history``) is not cash this
lender received and is left out.

The journal is every ledger entry booked in the period, in the order it was
booked, with the user who booked it and its batch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import aliased

from app.db.models import LedgerEntry, Loan, PaymentBatch, User
from app.domain.money import ZERO
from app.reports.tabular import Column, Table
from app.services import permissions
from app.services.context import ServiceContext
from app.services.reports.common import (
    BOOKED_NOTE,
    Field,
    add,
    money_field,
    money_sum,
    period_header,
    raw,
    resolve_filters,
    resolve_period,
    tabulate,
)

HISTORY = "boarding_history"
RECEIVED_TYPES = ("payment", "recovery")


def _not_history(entry: Any) -> ColumnElement[bool]:
    return or_(entry.reason_code.is_(None), entry.reason_code != HISTORY)


# ---------------------------------------------------------------- cash receipts


@dataclass(frozen=True)
class CashRow:
    day: date
    method: str
    batch_id: int | None
    deposit_date: date | None
    received_count: int
    received: Decimal
    returned_count: int
    returned: Decimal  # positive: the amount taken back
    net: Decimal


@dataclass(frozen=True)
class CashTotals:
    received_count: int
    received: Decimal
    returned_count: int
    returned: Decimal
    net: Decimal


@dataclass(frozen=True)
class MethodTotal:
    method: str
    received: Decimal
    returned: Decimal
    net: Decimal


CASH_FIELDS = (
    Field("day", Column("Business date", "date")),
    Field("method", Column("Method")),
    Field("batch_id", Column("Batch", "int")),
    Field("deposit_date", Column("Deposit date", "date")),
    Field("received_count", Column("Payments", "int")),
    money_field("received", "Received"),
    Field("returned_count", Column("Returned", "int")),
    money_field("returned", "Returned amount"),
    money_field("net", "Net"),
)


@dataclass(frozen=True)
class CashReceipts:
    start: date
    end: date
    rows: tuple[CashRow, ...]
    totals: CashTotals
    by_method: tuple[MethodTotal, ...]
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def table(self) -> Table:
        return tabulate(f"Cash receipts {self.start} to {self.end}", self.header, self.notes, CASH_FIELDS,
                        self.rows, self.totals)


def cash_receipts(ctx: ServiceContext, start: date | None = None, end: date | None = None, *,
                  product: str | None = None, collector: str | None = None,
                  status: str | None = None) -> CashReceipts:
    """Money received and returned in the period, by business date, method and batch."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        first, last = resolve_period(session, start, end)
        filters = resolve_filters(session, product, collector, status)
        received = session.execute(filters.narrow(
            select(LedgerEntry.business_date, LedgerEntry.method, LedgerEntry.batch_id, func.count(),
                   money_sum(LedgerEntry.amount))
            .where(LedgerEntry.type.in_(RECEIVED_TYPES), LedgerEntry.business_date >= first,
                   LedgerEntry.business_date <= last, _not_history(LedgerEntry))
            .group_by(LedgerEntry.business_date, LedgerEntry.method, LedgerEntry.batch_id), LedgerEntry.loan_id)
        ).all()
        original = aliased(LedgerEntry, name="original")
        returned = session.execute(filters.narrow(
            select(LedgerEntry.business_date, original.method, original.batch_id, func.count(),
                   money_sum(LedgerEntry.amount))
            .join(original, original.id == LedgerEntry.reverses_id)
            .where(LedgerEntry.type == "reversal", LedgerEntry.business_date >= first,
                   LedgerEntry.business_date <= last, _not_history(original))
            .group_by(LedgerEntry.business_date, original.method, original.batch_id), LedgerEntry.loan_id)
        ).all()
        cells: dict[tuple[date, str, int | None], list[Any]] = defaultdict(lambda: [0, ZERO, 0, ZERO])
        for day, method, batch, count, amount in received:
            cell = cells[(day, method or "unknown", batch)]
            cell[0] += int(count)
            cell[1] += amount
        for day, method, batch, count, amount in returned:
            cell = cells[(day, method or "unknown", batch)]
            cell[2] += int(count)
            cell[3] -= amount  # a reversal's amount is the payment's, negated
        batches = {key[2] for key in cells if key[2] is not None}
        deposits = dict(session.execute(select(PaymentBatch.id, PaymentBatch.deposit_date)
                                        .where(PaymentBatch.id.in_(batches))).all()) if batches else {}
    rows = tuple(
        CashRow(day, method, batch, deposits.get(batch) if batch is not None else None, rc, ra, tc, ta, ra - ta)
        for (day, method, batch), (rc, ra, tc, ta) in sorted(
            cells.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or 0))
    )
    methods: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for row in rows:
        methods[row.method][0] += row.received
        methods[row.method][1] += row.returned
    by_method = tuple(MethodTotal(m, r, t, r - t) for m, (r, t) in sorted(methods.items()))
    totals = CashTotals(sum(r.received_count for r in rows), add(r.received for r in rows),
                        sum(r.returned_count for r in rows), add(r.returned for r in rows), add(r.net for r in rows))
    notes = (BOOKED_NOTE,
             "Received: payments and recoveries; returned: reversals, on the day reversed, under the method and batch "
             "of the payment they reverse. Payment histories boarded from a prior servicer are not included.")
    return CashReceipts(first, last, rows, totals, by_method, notes, period_header(first, last, filters))


# ---------------------------------------------------------------- the journal


class JournalLine(NamedTuple):
    """One ledger entry as the journal lists it.

    A named tuple, not a frozen dataclass like the other reports' rows: a month's journal on a
    large book is millions of lines (a daily accrual per loan per day), and a tuple is built
    several times faster.  It is as immutable, and its fields are the journal's columns in order.
    """

    entry_id: int
    business_date: date
    effective_date: date
    loan_number: str
    type: str
    amount: Decimal
    principal: Decimal
    interest: Decimal
    fees: Decimal
    suspense: Decimal
    refund: Decimal
    method: str | None
    reference: str | None
    batch_id: int | None
    user: str
    reverses_id: int | None
    reason_code: str | None


@dataclass(frozen=True)
class JournalType:
    """One ledger type's entries in the period and the sums of their columns."""

    type: str
    entries: int
    amount: Decimal
    principal: Decimal
    interest: Decimal
    fees: Decimal
    suspense: Decimal
    refund: Decimal


@dataclass(frozen=True)
class JournalTotals:
    entries: int


JOURNAL_FIELDS = (
    Field("entry_id", Column("Entry", "int")),
    Field("business_date", Column("Business date", "date")),
    Field("effective_date", Column("Effective date", "date")),
    Field("loan_number", Column("Loan")),
    Field("type", Column("Type")),
    money_field("amount", "Amount"),
    money_field("principal", "Principal"),
    money_field("interest", "Interest"),
    money_field("fees", "Fees"),
    money_field("suspense", "Suspense"),
    money_field("refund", "Refund"),
    Field("method", Column("Method")),
    Field("reference", Column("Reference")),
    Field("batch_id", Column("Batch", "int")),
    Field("user", Column("User")),
    Field("reverses_id", Column("Reverses", "int")),
    Field("reason_code", Column("Reason")),
)


@dataclass(frozen=True)
class Journal:
    start: date
    end: date
    rows: tuple[JournalLine, ...]
    by_type: tuple[JournalType, ...]
    totals: JournalTotals
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def table(self) -> Table:
        totals = _JournalTotalsRow(self.totals.entries)
        return tabulate(f"Transaction journal {self.start} to {self.end}", self.header, self.notes, JOURNAL_FIELDS,
                        self.rows, totals)


@dataclass(frozen=True)
class _JournalTotalsRow:
    """The journal's totals line: the number of entries (a sum of amounts across types means nothing)."""

    entries: int

    @property
    def loan_number(self) -> str:
        return f"{self.entries} entries"


_PARTS = ("amount", "principal", "interest", "fees", "suspense", "refund")


def journal(ctx: ServiceContext, start: date | None = None, end: date | None = None, *, product: str | None = None,
            collector: str | None = None, status: str | None = None) -> Journal:
    """Every ledger entry booked in the period, in booking order, with its user and batch."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        first, last = resolve_period(session, start, end)
        filters = resolve_filters(session, product, collector, status)
        users = {int(i): name for i, name in session.execute(select(User.id, User.username))}
        stmt = (
            select(LedgerEntry.id, LedgerEntry.business_date, LedgerEntry.effective_date, Loan.loan_number,
                   LedgerEntry.type, *[raw(getattr(LedgerEntry, name)) for name in _PARTS], LedgerEntry.method,
                   LedgerEntry.reference, LedgerEntry.batch_id, LedgerEntry.user_id, LedgerEntry.reverses_id,
                   LedgerEntry.reason_code)
            .join(Loan, Loan.id == LedgerEntry.loan_id)
            .where(LedgerEntry.business_date >= first, LedgerEntry.business_date <= last)
            .order_by(LedgerEntry.business_date, LedgerEntry.id)
        )
        stmt = filters.narrow(stmt, LedgerEntry.loan_id, joined=Loan)
        # Stored cents straight to exact Decimals (no NULLs in these columns): the journal reads every
        # row of the period, and this loop is most of its time.
        rows = tuple(
            JournalLine(entry, booked, effective, number, kind, Decimal(a).scaleb(-2), Decimal(p).scaleb(-2),
                        Decimal(i).scaleb(-2), Decimal(f).scaleb(-2), Decimal(su).scaleb(-2), Decimal(r).scaleb(-2),
                        method, reference, batch, users.get(user, str(user)), reverses, reason)
            for part in session.connection().execute(stmt).partitions(5000)
            for (entry, booked, effective, number, kind, a, p, i, f, su, r, method, reference, batch, user, reverses,
                 reason) in part
        )
    sums: dict[str, list[Any]] = {}
    for line in rows:
        acc = sums.setdefault(line.type, [0, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO])
        acc[0] += 1
        for k in range(6):
            acc[k + 1] += line[5 + k]
    by_type = tuple(JournalType(kind, *values) for kind, values in sorted(sums.items()))
    notes = (BOOKED_NOTE, "Every ledger entry booked in the period, daily accruals included, in booking order.")
    return Journal(first, last, rows, by_type, JournalTotals(len(rows)), notes, period_header(first, last, filters))


__all__ = ["CashReceipts", "CashRow", "CashTotals", "Journal", "JournalLine", "JournalType", "MethodTotal",
           "cash_receipts", "journal"]
