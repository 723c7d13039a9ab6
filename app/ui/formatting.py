"""How figures look on screen.  Money goes through the one formatter, app.domain.money.format_money."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from PySide6.QtCore import QDate

from app.domain.money import format_money

DASH = "\N{EM DASH}"


def money(value: Decimal | None) -> str:
    """``$1,234.50``; an em dash for no figure (never a blank that looks like zero)."""
    return DASH if value is None else format_money(value)


def plain_money(value: Decimal | None) -> str:
    """``1,234.50`` without the symbol, for entry fields and dense grids."""
    return "" if value is None else format_money(value, symbol="")


def day(value: date | None) -> str:
    """ISO dates everywhere: unambiguous on every desk (06/01 is June or January)."""
    return DASH if value is None else value.isoformat()


def instant(value: datetime | None) -> str:
    """A moment in the desk's local time, to the minute."""
    if value is None:
        return DASH
    local = value.astimezone() if value.tzinfo is not None else value
    return local.strftime("%Y-%m-%d %H:%M")


def percent(value: Decimal | None) -> str:
    return DASH if value is None else f"{value:.2f} %"


def words(code: str | None) -> str:
    """``promise_to_pay`` -> ``Promise to pay``."""
    if not code:
        return DASH
    text = code.replace("_", " ")
    return text[:1].upper() + text[1:]


def to_qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def from_qdate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def days_past_due_text(days: int, bucket: str) -> str:
    """Delinquency in words, so it never relies on colour alone."""
    if days <= 0:
        return "Current"
    return f"{days} day{'s' if days != 1 else ''} past due ({bucket})"
