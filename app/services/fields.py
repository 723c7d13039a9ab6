"""Reading a typed or filed value for a service: text, rates and whole numbers (issue 12).

Each reader refuses with one field-named :class:`InvalidInput` (amounts are read by
:func:`app.services.ledger.money_field`; all of them through the domain's one parser of each
kind, :mod:`app.domain.money` and :mod:`app.domain.text`):

* :func:`text_field`: stripped text, at most ``max_len`` characters, without NUL, direction
  overrides or other invisible characters (PostgreSQL refuses a NUL in a text column with a
  driver error; an override prints a name or a reference reversed);
* :func:`rate_field`: a percent, 0 to 100;
* :func:`whole_field`: a count, a term or an id, ASCII digits, inside a range.
"""

from __future__ import annotations

from decimal import Decimal

from app.domain.errors import InputError
from app.domain.money import MAX_RATE_PERCENT, to_rate, to_whole
from app.domain.text import unsafe_character
from app.services.errors import InvalidInput

#: A reason, a reference note or a subject typed on one line.
SHORT_TEXT = 500
#: A note or a description that may run over several lines.
LONG_TEXT = 10_000


def text_field(value: object, field: str, *, max_len: int = SHORT_TEXT, required: bool = False,
               multiline: bool = False) -> str | None:
    """``value`` stripped, or None when it is empty (InvalidInput when ``required``)."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InvalidInput(field, f"must be text, not {type(value).__name__}")
    if not text:
        if required:
            raise InvalidInput(field, "is required")
        return None
    if len(text) > max_len:
        raise InvalidInput(field, f"is longer than {max_len:,} characters ({len(text):,})")
    bad = unsafe_character(text, multiline=multiline)
    if bad is not None:
        raise InvalidInput(field, f"contains an invisible or control character {bad}; retype it")
    return text


def search_text(value: object, field: str = "search", *, max_len: int = 200) -> str:
    """Text to look something up by: as :func:`text_field`, and empty is empty (not an error)."""
    return text_field(value, field, max_len=max_len) or ""


def rate_field(value: object, field: str = "rate", *, maximum: Decimal = MAX_RATE_PERCENT) -> Decimal:
    try:
        return to_rate(value, field, maximum=maximum)
    except InputError as exc:
        raise InvalidInput(exc.field, exc.problem) from None


def whole_field(value: object, field: str, low: int, high: int) -> int:
    try:
        return to_whole(value, field, low, high)
    except InputError as exc:
        raise InvalidInput(exc.field, exc.problem) from None
