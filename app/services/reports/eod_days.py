"""The end-of-day report: what each closed business day did (issue 13, item 1).

One row per end-of-day run whose business date is in the period, from
``eod_runs`` and the summary each run wrote when it closed its day: loans
closed, interest accrued, fees assessed and late fees, status changes,
charge-offs, letters queued, promises settled, loans assigned to
collectors, loans that could not be closed (errors), who ran it and when.
A day closed by a run that was killed and resumed shows both runs; the
figures of a completed run are the day's (they are read back from the books
when the day closes), and the totals add the completed runs only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.db.models import EodRun, User
from app.reports.tabular import Column, Table
from app.services import permissions
from app.services.context import ServiceContext
from app.services.errors import InvalidInput
from app.services.reports.common import Field, add, money_field, period_header, resolve_filters, resolve_period, tabulate


@dataclass(frozen=True)
class EodDay:
    business_date: date
    status: str
    loans: int
    interest_accrued: Decimal
    fees_assessed: Decimal
    late_fees: int
    status_changes: int
    charge_offs: int
    letters_queued: int
    promises_kept: int
    promises_partly_kept: int
    promises_broken: int
    assigned: int
    errors: int
    user: str
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class EodTotals:
    days: int
    loans: int
    interest_accrued: Decimal
    fees_assessed: Decimal
    late_fees: int
    status_changes: int
    charge_offs: int
    letters_queued: int
    promises_kept: int
    promises_partly_kept: int
    promises_broken: int
    assigned: int
    errors: int

    @property
    def status(self) -> str:
        return f"{self.days} days closed"


FIELDS = (
    Field("business_date", Column("Business date", "date")),
    Field("status", Column("Run")),
    Field("loans", Column("Loans", "int")),
    money_field("interest_accrued", "Interest accrued"),
    money_field("fees_assessed", "Fees assessed"),
    Field("late_fees", Column("Late fees", "int")),
    Field("status_changes", Column("Status changes", "int")),
    Field("charge_offs", Column("Charge-offs", "int")),
    Field("letters_queued", Column("Letters queued", "int")),
    Field("promises_kept", Column("Promises kept", "int")),
    Field("promises_partly_kept", Column("Partly kept", "int")),
    Field("promises_broken", Column("Broken", "int")),
    Field("assigned", Column("Assigned", "int")),
    Field("errors", Column("Errors", "int")),
    Field("user", Column("Run by")),
    Field("started_at", Column("Started", "datetime")),
    Field("finished_at", Column("Finished", "datetime")),
)


@dataclass(frozen=True)
class EodReport:
    start: date
    end: date
    rows: tuple[EodDay, ...]
    totals: EodTotals
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def table(self) -> Table:
        return tabulate(f"End of day {self.start} to {self.end}", self.header, self.notes, FIELDS, self.rows,
                        self.totals)


def _count(summary: dict[str, Any], *keys: str) -> int:
    value: Any = summary
    for key in keys:
        value = value.get(key, 0) if isinstance(value, dict) else 0
    if isinstance(value, list):
        return len(value)
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def eod_report(ctx: ServiceContext, start: date | None = None, end: date | None = None, *,
               product: str | None = None, collector: str | None = None, status: str | None = None) -> EodReport:
    """Each end-of-day run of the period: what it closed and what it did."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    for name, value in (("product", product), ("collector", collector), ("status", status)):
        if value:
            raise InvalidInput(name, "the end-of-day report is for the whole book; it takes no filter")
    with ctx.unit(write=False) as session:
        first, last = resolve_period(session, start, end)
        filters = resolve_filters(session)
        runs = session.execute(
            select(EodRun, User.username).outerjoin(User, User.id == EodRun.user_id)
            .where(EodRun.business_date >= first, EodRun.business_date <= last)
            .order_by(EodRun.business_date, EodRun.id)
        ).all()
        rows = tuple(
            EodDay(run.business_date, run.status, run.loans_processed, run.interest_accrued, run.fees_assessed,
                   run.late_fees, run.status_changes, _count(run.summary, "charge_offs"),
                   _count(run.summary, "letters_queued"), _count(run.summary, "promises", "kept"),
                   _count(run.summary, "promises", "partly_kept"), _count(run.summary, "promises", "broken"),
                   _count(run.summary, "assigned"), _count(run.summary, "errors"), username or "", run.started_at,
                   run.finished_at)
            for run, username in runs
        )
    done = [r for r in rows if r.status == "completed"]
    totals = EodTotals(len(done), sum(r.loans for r in done), add(r.interest_accrued for r in done),
                       add(r.fees_assessed for r in done), *(sum(getattr(r, name) for r in done) for name in (
                           "late_fees", "status_changes", "charge_offs", "letters_queued", "promises_kept",
                           "promises_partly_kept", "promises_broken", "assigned", "errors")))
    notes = ("One row per run; a day closed by a resumed run shows each run. Totals add the completed runs.",)
    return EodReport(first, last, rows, totals, notes, period_header(first, last, filters))


__all__ = ["EodDay", "EodReport", "EodTotals", "eod_report"]
