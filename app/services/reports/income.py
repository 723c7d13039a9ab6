"""Interest income accrued and collected; fee income (issue 13, item 1).

Both read what was booked in the period (by ``business_date``), by month,
product and entry type: closed days' totals (:mod:`.day_totals`), the
entries themselves for the rest.  The signs are those of
:data:`app.domain.books.SIGNS`.

Interest, per month and product:

* **accrued** -- end of day's daily ``accrual`` entries;
* **adjusted** -- ``accrual_adjustment`` (the books' corrections after a
  back-dated change: the replay's interest earned against what was accrued);
* **reversed** -- unpaid interest taken back out of income when a loan went
  on non-accrual (``interest_reversal``);
* **recognised** -- interest brought back into income (``interest_recognition``:
  received on non-accrual, or the loan back on accrual);
* **income** = accrued + adjusted - reversed + recognised;
* **collected** -- the interest share of payments, net of reversals, and of
  money applied from suspense or re-applied (``reallocation``);
* **charged off**, **written off** -- interest receivable taken off the books
  by a charge-off or a write-off;
* **change in receivable** -- the movement of booked interest receivable
  (every entry's interest by the sign table); **other** is what the columns
  above do not explain (interest paid on non-accrual applied to principal
  under cost recovery);
* **not recognised** -- interest earned while on non-accrual, kept off the
  books (memo ``nonaccrual_interest``).

Fees, per month and product: late fees and other fees **assessed**, late
fees **reversed** by the books, fees **waived**, **income** (assessed less
reversed and waived), **collected** (the fee share of payments, net),
**charged off**, **written off** and the **change in receivable**.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Product
from app.domain.books import SIGNS
from app.domain.money import ZERO
from app.reports.tabular import Column, Table
from app.services import permissions
from app.services.context import ServiceContext
from app.services.reports.day_totals import booked_by_day
from app.services.reports.common import (
    BOOKED_NOTE,
    Field,
    Filters,
    add,
    money_field,
    month_start,
    period_header,
    resolve_filters,
    resolve_period,
    tabulate,
)

CASH_TYPES = ("payment", "reversal", "reallocation", "suspense_applied")
CHARGE_OFF_TYPES = ("charge_off", "charge_off_adjustment")
WRITE_OFF_TYPES = ("write_off", "payoff_write_off")

#: (month's first day, product code) -> ledger type -> (interest column, fees column)
Sums = dict[tuple[date, str], dict[str, tuple[Decimal, Decimal]]]


#: The entry types that move booked interest (and the memo of interest earned on non-accrual); those that move fees.
INTEREST_TYPES = tuple(sorted({t for t, sign in SIGNS.items() if "interest" in sign.booked} | {"nonaccrual_interest"}))
FEE_TYPES = tuple(sorted(t for t, sign in SIGNS.items() if "fees" in sign.booked))


def _sums(session: Session, first: date, last: date, filters: Filters, types: tuple[str, ...]) -> Sums:
    """The period's entries by month, product and type: closed days' totals, the entries for the rest."""
    codes = {int(i): code for i, code in session.execute(select(Product.id, Product.code))}
    out: Sums = defaultdict(dict)
    for total in booked_by_day(session, first, last, filters, types=types):
        cell = out[(month_start(total.day), codes[total.product_id])]
        before = cell.get(total.type, (ZERO, ZERO))
        cell[total.type] = (before[0] + total.interest, before[1] + total.fees)
    return dict(out)


def _booked(kinds: dict[str, tuple[Decimal, Decimal]], part: str) -> Decimal:
    """The movement of booked ``part`` (interest or fees) over these types, by the sign table."""
    total = ZERO
    for kind, (interest, fees) in kinds.items():
        rule = SIGNS[kind].booked.get(part) if kind in SIGNS else None
        if rule is None:
            continue
        column, sign = rule
        value = {"interest": interest, "fees": fees}.get(column)
        if value is not None:
            total += value * sign
    return total


def _of(kinds: dict[str, tuple[Decimal, Decimal]], types: tuple[str, ...], index: int) -> Decimal:
    return add(kinds.get(t, (ZERO, ZERO))[index] for t in types)


# ---------------------------------------------------------------- interest


@dataclass(frozen=True)
class InterestRow:
    month: date  # first day
    product: str
    accrued: Decimal
    adjusted: Decimal
    reversed: Decimal
    recognised: Decimal
    income: Decimal
    collected: Decimal
    charged_off: Decimal
    written_off: Decimal
    other: Decimal
    receivable_change: Decimal
    not_recognised: Decimal


_INTEREST_SUMMED = ("accrued", "adjusted", "reversed", "recognised", "income", "collected", "charged_off",
                    "written_off", "other", "receivable_change", "not_recognised")


@dataclass(frozen=True)
class InterestTotals:
    accrued: Decimal
    adjusted: Decimal
    reversed: Decimal
    recognised: Decimal
    income: Decimal
    collected: Decimal
    charged_off: Decimal
    written_off: Decimal
    other: Decimal
    receivable_change: Decimal
    not_recognised: Decimal


INTEREST_FIELDS = (
    Field("month", Column("Month", "date")),
    Field("product", Column("Product")),
    money_field("accrued", "Accrued"),
    money_field("adjusted", "Adjusted"),
    money_field("reversed", "Reversed (non-accrual)"),
    money_field("recognised", "Recognised"),
    money_field("income", "Interest income"),
    money_field("collected", "Collected"),
    money_field("charged_off", "Charged off"),
    money_field("written_off", "Written off"),
    money_field("other", "Other"),
    money_field("receivable_change", "Change in receivable"),
    money_field("not_recognised", "Not recognised (memo)"),
)


@dataclass(frozen=True)
class InterestIncome:
    start: date
    end: date
    rows: tuple[InterestRow, ...]
    totals: InterestTotals
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def table(self) -> Table:
        return tabulate(f"Interest income {self.start} to {self.end}", self.header, self.notes, INTEREST_FIELDS,
                        self.rows, self.totals)


def _interest_row(month: date, product: str, kinds: dict[str, tuple[Decimal, Decimal]]) -> InterestRow:
    accrued = _of(kinds, ("accrual",), 0)
    adjusted = _of(kinds, ("accrual_adjustment",), 0)
    reversed_ = _of(kinds, ("interest_reversal",), 0)
    recognised = _of(kinds, ("interest_recognition",), 0)
    income = accrued + adjusted - reversed_ + recognised
    collected = _of(kinds, CASH_TYPES, 0)
    charged = _of(kinds, CHARGE_OFF_TYPES, 0)
    written = _of(kinds, WRITE_OFF_TYPES, 0)
    change = _booked(kinds, "interest")
    other = change - (income - collected - charged - written)
    return InterestRow(month, product, accrued, adjusted, reversed_, recognised, income, collected, charged, written,
                       other, change, _of(kinds, ("nonaccrual_interest",), 0))


def interest_income(ctx: ServiceContext, start: date | None = None, end: date | None = None, *,
                    product: str | None = None, collector: str | None = None,
                    status: str | None = None) -> InterestIncome:
    """Interest accrued, recognised and collected in the period, by month and product."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        first, last = resolve_period(session, start, end)
        filters = resolve_filters(session, product, collector, status)
        sums = _sums(session, first, last, filters, INTEREST_TYPES)
    rows = tuple(_interest_row(month, code, kinds) for (month, code), kinds in sorted(sums.items()))
    totals = InterestTotals(*(add(getattr(r, name) for r in rows) for name in _INTEREST_SUMMED))
    notes = (BOOKED_NOTE, "Income = accrued + adjusted - reversed + recognised. Collected is the interest share of "
                          "payments net of reversals. Not recognised: earned on non-accrual, kept off the books.")
    return InterestIncome(first, last, rows, totals, notes, period_header(first, last, filters))


# ---------------------------------------------------------------- fees


@dataclass(frozen=True)
class FeeRow:
    month: date
    product: str
    late_fees: Decimal
    other_fees: Decimal
    reversed: Decimal
    waived: Decimal
    income: Decimal
    collected: Decimal
    charged_off: Decimal
    written_off: Decimal
    receivable_change: Decimal


_FEE_SUMMED = ("late_fees", "other_fees", "reversed", "waived", "income", "collected", "charged_off", "written_off",
               "receivable_change")


@dataclass(frozen=True)
class FeeTotals:
    late_fees: Decimal
    other_fees: Decimal
    reversed: Decimal
    waived: Decimal
    income: Decimal
    collected: Decimal
    charged_off: Decimal
    written_off: Decimal
    receivable_change: Decimal


FEE_FIELDS = (
    Field("month", Column("Month", "date")),
    Field("product", Column("Product")),
    money_field("late_fees", "Late fees assessed"),
    money_field("other_fees", "Other fees assessed"),
    money_field("reversed", "Late fees reversed"),
    money_field("waived", "Waived"),
    money_field("income", "Fee income"),
    money_field("collected", "Collected"),
    money_field("charged_off", "Charged off"),
    money_field("written_off", "Written off"),
    money_field("receivable_change", "Change in receivable"),
)


@dataclass(frozen=True)
class FeeIncome:
    start: date
    end: date
    rows: tuple[FeeRow, ...]
    totals: FeeTotals
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def table(self) -> Table:
        return tabulate(f"Fee income {self.start} to {self.end}", self.header, self.notes, FEE_FIELDS, self.rows,
                        self.totals)


def _fee_row(month: date, product: str, kinds: dict[str, tuple[Decimal, Decimal]]) -> FeeRow:
    late = _of(kinds, ("late_fee",), 1)
    other = _of(kinds, ("fee",), 1)
    reversed_ = -_of(kinds, ("late_fee_reversal",), 1)  # its fees column is negative
    waived = -_of(kinds, ("waiver",), 1)
    income = late + other - reversed_ - waived
    return FeeRow(month, product, late, other, reversed_, waived, income, _of(kinds, CASH_TYPES, 1),
                  _of(kinds, CHARGE_OFF_TYPES, 1), _of(kinds, WRITE_OFF_TYPES, 1), _booked(kinds, "fees"))


def fee_income(ctx: ServiceContext, start: date | None = None, end: date | None = None, *,
               product: str | None = None, collector: str | None = None, status: str | None = None) -> FeeIncome:
    """Fees assessed, waived and collected in the period, by month and product."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        first, last = resolve_period(session, start, end)
        filters = resolve_filters(session, product, collector, status)
        sums = _sums(session, first, last, filters, FEE_TYPES)
    rows = tuple(_fee_row(month, code, kinds) for (month, code), kinds in sorted(sums.items())
                 if any(fees for _, fees in kinds.values()))
    totals = FeeTotals(*(add(getattr(r, name) for r in rows) for name in _FEE_SUMMED))
    notes = (BOOKED_NOTE, "Fee income = assessed - reversed - waived. Collected is the fee share of payments net of "
                          "reversals.")
    return FeeIncome(first, last, rows, totals, notes, period_header(first, last, filters))


__all__ = ["FeeIncome", "FeeRow", "FeeTotals", "InterestIncome", "InterestRow", "InterestTotals", "fee_income",
           "interest_income"]
