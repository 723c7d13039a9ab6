"""Dates as a clerk types them: the one way to make a date from typed text.

Accepted (issue 11, "data entry that cannot mislead"):

* ISO: ``2026-11-20`` (also ``2026-1-5`` and ``2026/11/20``);
* US: ``11/20/2026``, ``1/5/2026`` (also with dashes, ``11-20-2026``);
* eight digits with no separators: ``11202026`` (MMDDYYYY); ``20261120``
  (YYYYMMDD) is read as ISO because no month is 20 or more.

The year is always typed in full.  ``11/20/26`` is refused rather than
guessed: a two-digit year on a loan that started in the 1990s would be read
as the wrong century without anyone seeing it.  The caller shows the result
in words (:func:`in_words`) beside the field, so what was understood is
always on screen.

No Qt here: the desktop's date field, the batch grid and the command line
all read dates through :func:`parse_typed_date`.
"""

from __future__ import annotations

import re
from datetime import date

from app.domain.errors import InputError

_ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$", re.ASCII)
_US = re.compile(r"^(\d{1,2})[-/](\d{1,2})[-/](\d{4})$", re.ASCII)
_SHORT_YEAR = re.compile(r"^\d{1,2}[-/]\d{1,2}[-/]\d{2}$", re.ASCII)
_DIGITS = re.compile(r"^\d{8}$", re.ASCII)

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: What the field accepts, for hints and messages.
FORMATS_HINT = "YYYY-MM-DD, MM/DD/YYYY or MMDDYYYY"


def _make(year: int, month: int, day: int, text: str, field: str) -> date:
    if not 1 <= month <= 12:
        raise InputError(field, f"\u201c{text}\u201d is not a date: there is no month {month}")
    if year < 1900 or year > 2199:
        raise InputError(field, f"\u201c{text}\u201d is not a date Keel accepts: the year {year} is out of range")
    try:
        return date(year, month, day)
    except ValueError:
        raise InputError(field, f"\u201c{text}\u201d is not a date: {MONTHS[month - 1]} {year} has no day {day}") \
            from None


def parse_typed_date(text: str, field: str = "date") -> date:
    """The date in ``text``; :class:`InputError` naming ``field`` when it is not one (or is empty)."""
    typed = (text or "").strip()
    if not typed:
        raise InputError(field, "is empty")
    if match := _ISO.match(typed):
        return _make(int(match[1]), int(match[2]), int(match[3]), typed, field)
    if match := _US.match(typed):
        return _make(int(match[3]), int(match[1]), int(match[2]), typed, field)
    if _DIGITS.match(typed):
        month, day, year = int(typed[:2]), int(typed[2:4]), int(typed[4:])
        if 1 <= month <= 12:
            return _make(year, month, day, typed, field)
        return _make(int(typed[:4]), int(typed[4:6]), int(typed[6:]), typed, field)
    if any(ch.isdigit() and not "0" <= ch <= "9" for ch in typed):
        raise InputError(field, f"\u201c{_shown(typed)}\u201d has digits other than 0-9")
    if _SHORT_YEAR.match(typed):
        raise InputError(field, f"\u201c{typed}\u201d has a two-digit year: type the year in full (2026)")
    raise InputError(field, f"\u201c{_shown(typed)}\u201d is not a date (type {FORMATS_HINT})")


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def in_words(day: date) -> str:
    """``Friday, November 20, 2026``: what a typed date was understood as."""
    return f"{WEEKDAYS[day.weekday()]}, {MONTHS[day.month - 1]} {day.day}, {day.year}"


def distance_in_words(day: date, reference: date) -> str:
    """``13 days before``, ``1 day after``, ``the same day as``: how far ``day`` is from ``reference``."""
    delta = (day - reference).days
    if delta == 0:
        return "the same day as"
    count = abs(delta)
    return f"{count:,} day{'s' if count != 1 else ''} {'before' if delta < 0 else 'after'}"
