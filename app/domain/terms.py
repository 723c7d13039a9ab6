"""A loan's terms: the note as boarded, plus the product rules the engine follows.

Terms are immutable values.  :func:`terms_from_dict` is the one way to read
them from JSON-shaped data (a boarding file, ``keel simulate``, the database's
stored copy) and :func:`terms_to_dict` the one way to write them; amounts and
rates travel as strings so nothing passes through a binary float.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from app.domain import daycount
from app.domain.errors import InputError
from app.domain.money import ZERO, divide, in_engine_context, money_str, to_money, to_rate, to_whole

FREQUENCIES = {"monthly": 12, "semi-monthly": 24, "biweekly": 26, "weekly": 52}
INTEREST_METHODS = ("scheduled", "simple")
AMORTIZATIONS = ("level", "equal-principal")
WATERFALL_PARTS = ("interest", "principal", "fees")
DEFAULT_WATERFALL = ("interest", "principal", "fees")
EXCESS_RULES = ("principal", "suspense", "installments")
WAIVER_CREDITS = ("principal", "refund")
PARTIAL_RULES = ("apply", "suspense")
#: 30/360 day counting (issue 9, app/domain/periods.py): ``period`` counts each
#: regular monthly (semi-monthly) period as exactly 30 (15) days, the default;
#: ``calendar`` keeps the plain 30/360 days between dates (loans boarded before
#: the rule, set by migration 0004).
THIRTY360_RULES = ("period", "calendar")
MAX_RATE = Decimal(100)
#: The largest principal Keel boards (issue 12): far above any small lender's loan, and low enough that a
#: year of interest at MAX_RATE still fits every stored column (interest is kept to 1e-10 in 64 bits).
MAX_PRINCIPAL = Decimal("100000000.00")
MAX_TERM = 1200
#: A payoff tolerance is for pennies of rounding, not a way to forgive a balance.
MAX_PAYOFF_TOLERANCE = Decimal("100.00")


@dataclass(frozen=True, slots=True)
class LateFeeRule:
    """One late fee per installment not paid by the end of its grace period.

    Either ``fixed`` or ``percent`` (of the installment) clamped to ``minimum``
    and ``maximum``.
    """

    grace_days: int
    fixed: Decimal | None = None
    percent: Decimal | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Terms:
    principal: Decimal
    rate: Decimal  # annual percent, 12 means 12 %
    term: int  # number of installments
    start: date
    first_due: date
    frequency: str = "monthly"
    day_count: str = "30/360"
    interest: str = "scheduled"
    amortization: str = "level"
    payment: Decimal | None = None  # override of the computed level payment
    late_fee: LateFeeRule | None = None
    tolerance: Decimal = ZERO
    waterfall: tuple[str, ...] = DEFAULT_WATERFALL
    excess: str = "principal"
    partial: str = "apply"
    #: A payment short of the payoff by no more than this pays the loan off; the
    #: shortfall is written off as a small-balance adjustment (issue 9, defect 4).
    payoff_tolerance: Decimal = ZERO
    #: Waiving a fee already paid credits the borrower: ``principal`` or ``refund`` (due).
    waiver_credit: str = "principal"
    thirty360: str = "period"
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def annual_rate(self) -> Decimal:
        """The rate as a fraction (0.12 for 12 %)."""
        return divide(self.rate, 100)

    @property
    def periods_per_year(self) -> int:
        return FREQUENCIES[self.frequency]


# ---------------------------------------------------------------- due dates


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def month_length(year: int, month: int) -> int:
    if month == 2 and calendar.isleap(year):
        return 29
    return _MONTH_DAYS[month - 1]


def add_months(day: date, months: int, keep_day: int) -> date:
    """``day`` moved by ``months``, on ``keep_day`` clamped to the month's end."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    last = month_length(year, month)
    return date(year, month, keep_day if keep_day <= last else last)


@functools.lru_cache(maxsize=65536)
def due_date(frequency: str, anchor: date, steps: int) -> date:
    """The due date ``steps`` installments after ``anchor`` (which is itself step 0).

    Monthly keeps the anchor's day, clamped to month end (Jan 31, Feb 28,
    Mar 31).  Semi-monthly falls on two days 15 apart (1st and 16th, 15th and
    30th clamped to month end); an anchor after the 15th pairs with the day
    15 earlier.  Biweekly and weekly add 14 and 7 days.
    """
    if frequency == "monthly":
        return add_months(anchor, steps, anchor.day)
    if frequency == "semi-monthly":
        day = anchor.day
        if day <= 15:
            first, second, position = day, day + 15, steps
        elif day >= 28 and day == calendar.monthrange(anchor.year, anchor.month)[1]:
            first, second, position = 15, 31, steps + 1  # the 15th and the month's last day
        else:
            first, second, position = day - 15, day, steps + 1
        months, half = divmod(position, 2)
        return add_months(anchor, months, second if half else first)
    if frequency == "biweekly":
        return anchor + timedelta(days=14 * steps)
    if frequency == "weekly":
        return anchor + timedelta(days=7 * steps)
    raise ValueError(f"unknown frequency {frequency!r}")


# ---------------------------------------------------------------- parsing


_TERMS_FIELDS = {
    "principal",
    "rate",
    "term",
    "frequency",
    "start",
    "first_due",
    "day_count",
    "interest",
    "amortization",
    "payment",
    "late_fee",
    "tolerance",
    "waterfall",
    "excess",
    "partial",
    "payoff_tolerance",
    "waiver_credit",
    "thirty360",
}
_LATE_FEE_FIELDS = {"grace_days", "fixed", "percent", "min", "max"}


#: A date in a file or a stored document: ``YYYY-MM-DD`` in ASCII digits (``date.fromisoformat`` also
#: takes ``20260101`` and week dates such as ``2026-W01-1``, which no loan file means).
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
#: Years Keel accepts in a date (as the desk's date field does): far enough out that a schedule of
#: MAX_TERM installments from any of them stays inside what ``datetime.date`` can hold.
MIN_YEAR, MAX_YEAR = 1900, 2199


def parse_date(value: object, field_name: str) -> date:
    if isinstance(value, date):
        day = value
    elif not isinstance(value, str):
        raise InputError(field_name, f"{_quoted(value)} is not a date (YYYY-MM-DD)")
    else:
        text = value.strip()
        if not _ISO_DATE.fullmatch(text):
            raise InputError(field_name, f"{_quoted(value)} is not a date (YYYY-MM-DD)")
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InputError(field_name, f"{_quoted(value)} is not a date (YYYY-MM-DD)") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise InputError(field_name, f"{day.isoformat()} is outside the years {MIN_YEAR} to {MAX_YEAR}")
    return day


def _quoted(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 42 else text[:39] + "..."


def parse_int(value: object, field_name: str) -> int:
    """A whole number read as :func:`app.domain.money.to_whole` reads one (ASCII digits, 64-bit)."""
    return to_whole(value, field_name)


def parse_choice(value: object, field_name: str, choices: tuple[str, ...] | dict[str, int]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise InputError(field_name, f"{_quoted(value)} is not one of {', '.join(choices)}")
    return value.strip().lower()


def _reject_unknown(data: dict[str, Any], known: set[str], prefix: str) -> None:
    for key in data:
        if key not in known:
            raise InputError(f"{prefix}.{key}", "unknown field")


def parse_late_fee(data: object, prefix: str = "terms.late_fee") -> LateFeeRule:
    if not isinstance(data, dict):
        raise InputError(prefix, "must be an object")
    _reject_unknown(data, _LATE_FEE_FIELDS, prefix)
    grace = parse_int(data.get("grace_days", 0), f"{prefix}.grace_days")
    if not 0 <= grace <= 90:
        raise InputError(f"{prefix}.grace_days", f"{grace} is outside 0 to 90 days")
    fixed = percent = minimum = maximum = None
    if data.get("fixed") is not None:
        fixed = to_money(data["fixed"], f"{prefix}.fixed")
        if fixed < 0:
            raise InputError(f"{prefix}.fixed", "must not be negative")
    if data.get("percent") is not None:
        percent = to_rate(data["percent"], f"{prefix}.percent")
    if (fixed is None) == (percent is None):
        raise InputError(prefix, "give exactly one of fixed or percent")
    if data.get("min") is not None:
        minimum = to_money(data["min"], f"{prefix}.min")
        if minimum < 0:
            raise InputError(f"{prefix}.min", "must not be negative")
    if data.get("max") is not None:
        maximum = to_money(data["max"], f"{prefix}.max")
        if maximum < 0:
            raise InputError(f"{prefix}.max", "must not be negative")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise InputError(f"{prefix}.min", f"{minimum} is above max {maximum}")
    return LateFeeRule(grace, fixed, percent, minimum, maximum)


@in_engine_context
def terms_from_dict(data: object, prefix: str = "terms") -> Terms:
    """Read and validate terms; raise :class:`InputError` naming the first bad field."""
    if not isinstance(data, dict):
        raise InputError(prefix, "must be an object")
    _reject_unknown(data, _TERMS_FIELDS, prefix)
    for required in ("principal", "rate", "term", "start", "first_due"):
        if data.get(required) is None:
            raise InputError(f"{prefix}.{required}", "is required")
    principal = to_money(data["principal"], f"{prefix}.principal")
    if principal <= 0:
        raise InputError(f"{prefix}.principal", f"{principal} must be more than zero")
    if principal > MAX_PRINCIPAL:
        raise InputError(f"{prefix}.principal", f"{principal} is more than Keel's limit of {MAX_PRINCIPAL} "
                                                "for one loan")
    rate = to_rate(data["rate"], f"{prefix}.rate", maximum=MAX_RATE)
    term = parse_int(data["term"], f"{prefix}.term")
    if not 1 <= term <= MAX_TERM:
        raise InputError(f"{prefix}.term", f"{term} is outside 1 to {MAX_TERM} installments")
    start = parse_date(data["start"], f"{prefix}.start")
    first_due = parse_date(data["first_due"], f"{prefix}.first_due")
    if first_due <= start:
        raise InputError(f"{prefix}.first_due", f"{first_due} must be after start {start}")
    if (first_due - start).days > 366:
        raise InputError(f"{prefix}.first_due", f"{first_due} is more than a year after start {start}")
    frequency = parse_choice(data.get("frequency", "monthly"), f"{prefix}.frequency", FREQUENCIES)
    raw_day_count = data.get("day_count", "30/360")
    day_count = daycount.normalize(raw_day_count) if isinstance(raw_day_count, str) else None
    if day_count is None:
        raise InputError(f"{prefix}.day_count", f"{raw_day_count!r} is not one of {', '.join(daycount.DAY_COUNTS)}")
    interest = parse_choice(data.get("interest", "scheduled"), f"{prefix}.interest", INTEREST_METHODS)
    amortization = parse_choice(data.get("amortization", "level"), f"{prefix}.amortization", AMORTIZATIONS)
    payment = None
    if data.get("payment") is not None:
        payment = to_money(data["payment"], f"{prefix}.payment")
        if payment <= 0:
            raise InputError(f"{prefix}.payment", f"{payment} must be more than zero")
        if amortization != "level":
            raise InputError(f"{prefix}.payment", "a fixed payment needs level amortization")
    late_fee = parse_late_fee(data["late_fee"], f"{prefix}.late_fee") if data.get("late_fee") is not None else None
    tolerance = to_money(data.get("tolerance", "0.00"), f"{prefix}.tolerance")
    if tolerance < 0:
        raise InputError(f"{prefix}.tolerance", "must not be negative")
    waterfall_raw = data.get("waterfall", list(DEFAULT_WATERFALL))
    if not isinstance(waterfall_raw, list) or not waterfall_raw:
        raise InputError(f"{prefix}.waterfall", "must be a list such as [\"interest\", \"principal\", \"fees\"]")
    waterfall = tuple(parse_choice(part, f"{prefix}.waterfall", WATERFALL_PARTS) for part in waterfall_raw)
    if sorted(waterfall) != sorted(WATERFALL_PARTS):
        raise InputError(f"{prefix}.waterfall", "must name interest, principal and fees once each")
    excess = parse_choice(data.get("excess", "principal"), f"{prefix}.excess", EXCESS_RULES)
    partial = parse_choice(data.get("partial", "apply"), f"{prefix}.partial", PARTIAL_RULES)
    payoff_tolerance = to_money(data.get("payoff_tolerance", "0.00"), f"{prefix}.payoff_tolerance")
    if not ZERO <= payoff_tolerance <= MAX_PAYOFF_TOLERANCE:
        raise InputError(f"{prefix}.payoff_tolerance", f"{payoff_tolerance} is outside 0.00 to {MAX_PAYOFF_TOLERANCE}")
    waiver_credit = parse_choice(data.get("waiver_credit", "principal"), f"{prefix}.waiver_credit", WAIVER_CREDITS)
    thirty360 = parse_choice(data.get("thirty360", "period"), f"{prefix}.thirty360", THIRTY360_RULES)
    terms = Terms(
        principal=principal,
        rate=rate,
        term=term,
        start=start,
        first_due=first_due,
        frequency=frequency,
        day_count=day_count,
        interest=interest,
        amortization=amortization,
        payment=payment,
        late_fee=late_fee,
        tolerance=tolerance,
        waterfall=waterfall,
        excess=excess,
        partial=partial,
        payoff_tolerance=payoff_tolerance,
        waiver_credit=waiver_credit,
        thirty360=thirty360,
    )
    return terms


def terms_from_stored(data: dict[str, Any]) -> Terms:
    """Terms as Keel itself stored them (:func:`terms_to_dict` output, validated when boarded).

    End of day reads tens of thousands of loans; this skips re-validating
    what was validated on the way in.  Anything unexpected falls back to the
    validating reader.
    """
    try:
        thirty360 = data.get("thirty360", "period")
        if thirty360 not in THIRTY360_RULES:
            raise ValueError(thirty360)
        fee = data.get("late_fee")
        rule = None
        if fee is not None:
            rule = LateFeeRule(
                int(fee["grace_days"]),
                Decimal(fee["fixed"]) if "fixed" in fee else None,
                Decimal(fee["percent"]) if "percent" in fee else None,
                Decimal(fee["min"]) if "min" in fee else None,
                Decimal(fee["max"]) if "max" in fee else None,
            )
        return Terms(
            principal=Decimal(data["principal"]),
            rate=Decimal(data["rate"]),
            term=int(data["term"]),
            start=date.fromisoformat(data["start"]),
            first_due=date.fromisoformat(data["first_due"]),
            frequency=data["frequency"],
            day_count=data["day_count"],
            interest=data["interest"],
            amortization=data["amortization"],
            payment=Decimal(data["payment"]) if data.get("payment") is not None else None,
            late_fee=rule,
            tolerance=Decimal(data["tolerance"]),
            waterfall=tuple(data["waterfall"]),
            excess=data["excess"],
            partial=data["partial"],
            payoff_tolerance=Decimal(data.get("payoff_tolerance", "0.00")),
            waiver_credit=data.get("waiver_credit", "principal"),
            thirty360=thirty360,
        )
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return terms_from_dict(data)


def terms_to_dict(terms: Terms) -> dict[str, Any]:
    """The canonical JSON-shaped form: strings for amounts, rates and dates."""
    out: dict[str, Any] = {
        "principal": money_str(terms.principal),
        "rate": str(terms.rate),
        "term": terms.term,
        "frequency": terms.frequency,
        "start": terms.start.isoformat(),
        "first_due": terms.first_due.isoformat(),
        "day_count": terms.day_count,
        "interest": terms.interest,
        "amortization": terms.amortization,
        "tolerance": money_str(terms.tolerance),
        "waterfall": list(terms.waterfall),
        "excess": terms.excess,
        "partial": terms.partial,
        "thirty360": terms.thirty360,
    }
    # Written only when set, so terms stored before these fields existed read back unchanged.
    if terms.payoff_tolerance != ZERO:
        out["payoff_tolerance"] = money_str(terms.payoff_tolerance)
    if terms.waiver_credit != "principal":
        out["waiver_credit"] = terms.waiver_credit
    if terms.payment is not None:
        out["payment"] = money_str(terms.payment)
    if terms.late_fee is not None:
        rule = terms.late_fee
        block: dict[str, Any] = {"grace_days": rule.grace_days}
        for key, value in (("fixed", rule.fixed), ("percent", rule.percent), ("min", rule.minimum), ("max", rule.maximum)):
            if value is not None:
                block[key] = money_str(value) if key != "percent" else str(value)
        out["late_fee"] = block
    return out


def with_changes(terms: Terms, **changes: Any) -> Terms:
    return replace(terms, **changes)
