"""Every report by name: what it is, what it takes, and the function that makes it (issue 13).

``keel report --list`` prints :data:`REPORTS` in order; ``keel report NAME``
and the desktop's Reports view run one with :func:`run_report`.  A report is
for a date (``as_of``) or a period (``start``/``end``); each says which
filters it takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from app.reports.tabular import Table
from app.services.context import ServiceContext
from app.services.errors import InvalidInput
from app.services.reports import cash, collecting, delinquency, eod_days, income, portfolio, trial_balance

ALL_FILTERS = ("product", "collector", "status")


class Report(Protocol):
    """What every report returns: rows and totals, the notes that explain them, and a table."""

    @property
    def notes(self) -> tuple[str, ...]: ...

    def table(self) -> Table: ...


@dataclass(frozen=True)
class ReportParams:
    as_of: date | None = None
    start: date | None = None
    end: date | None = None
    product: str | None = None
    collector: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class ReportSpec:
    name: str
    description: str
    takes: Literal["date", "period"]
    function: Callable[..., Any]
    filters: tuple[str, ...] = field(default=ALL_FILTERS)

    @property
    def parameters(self) -> str:
        """The parameters in words, for ``--list`` and the desktop's choices."""
        dates = "--as-of D" if self.takes == "date" else "--from D --to D"
        return " ".join([dates, *(f"--{name} {name[0].upper()}" for name in self.filters)])


REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in (
    ReportSpec("trial-balance", "Trial balance by loan: booked principal, interest receivable, fees receivable, "
               "suspense and refund due on a date, with totals (equal to keel verify's booked figures)",
               "date", trial_balance.trial_balance),
    ReportSpec("cash-receipts", "Daily cash receipts by business date, payment method and batch, with returned "
               "payments, to reconcile bank deposits", "period", cash.cash_receipts),
    ReportSpec("journal", "Transaction journal: every ledger entry booked in a period, with its user and batch",
               "period", cash.journal),
    ReportSpec("aging", "Delinquency aging by bucket (loans, principal, percents) now or as of a past month end, "
               "from its snapshot", "date", delinquency.aging),
    ReportSpec("roll-rates", "Roll rates: loans by bucket at one month end against where they are at the next "
               "(counts and percents)", "date", delinquency.roll_rates),
    ReportSpec("collections", "Collections activity and promise-kept rate by collector: contacts, promises made, "
               "kept, partly kept and broken", "period", collecting.collections_activity),
    ReportSpec("interest-income", "Interest income by month and product: accrued, adjusted, reversed, recognised "
               "and collected", "period", income.interest_income),
    ReportSpec("fee-income", "Fee income by month and product: assessed, reversed, waived and collected",
               "period", income.fee_income),
    ReportSpec("loan-activity", "New, paid-off and charged-off loans by month and product, with recoveries",
               "period", portfolio.loan_activity),
    ReportSpec("portfolio", "Portfolio by product: active loans, balances, 30+ delinquency, non-accrual, paid off "
               "and charged off", "date", portfolio.portfolio),
    ReportSpec("vintages", "Vintage curves: cumulative 30+ delinquency and charge-off by origination month and "
               "months on book, from the month-end snapshots", "date", portfolio.vintages),
    ReportSpec("eod", "End of day: what each closed business day did (accruals, fees, status changes, "
               "charge-offs, letters, promises)", "period", eod_days.eod_report, filters=()),
)}


def spec_of(name: str) -> ReportSpec:
    spec = REPORTS.get((name or "").strip().lower())
    if spec is None:
        raise InvalidInput("report", f"{name!r} is not a report; keel report --list shows them")
    return spec


def run_report(ctx: ServiceContext, name: str, params: ReportParams) -> Report:
    """Run one report by name with the dates and filters given (each report checks its own permission)."""
    spec = spec_of(name)
    if spec.takes == "date" and (params.start is not None or params.end is not None):
        raise InvalidInput("from" if params.start is not None else "to",
                           f"{spec.name} is for a date: give --as-of, not a period")
    if spec.takes == "period" and params.as_of is not None:
        raise InvalidInput("as_of", f"{spec.name} is for a period: give --from and --to, not --as-of")
    filters = {name: getattr(params, name) for name in ALL_FILTERS if getattr(params, name)}
    for name in filters:
        if name not in spec.filters:
            raise InvalidInput(name, f"{spec.name} takes no {name} filter")
    if spec.takes == "date":
        result: Report = spec.function(ctx, params.as_of, **filters)
    else:
        result = spec.function(ctx, params.start, params.end, **filters)
    return result


__all__ = ["REPORTS", "Report", "ReportParams", "ReportSpec", "run_report", "spec_of"]
