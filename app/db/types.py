"""Column types that keep money, rates and instants exact on SQLite and PostgreSQL.

SQLAlchemy's ``Numeric`` goes through ``float`` on SQLite (its REAL/NUMERIC
affinity), so a balance can come back as 1234.5699999.  Keel never stores a
``Decimal`` in a floating column:

* :class:`Money`        exact cents in a BIGINT        -> ``Decimal('12.30')``
* :class:`Interest`     units of 1e-10 in a BIGINT     -> ``Decimal('0.1234567890')``
* :class:`ExactDecimal` the decimal's text in a VARCHAR -> ``Decimal('12.375')``
* :class:`UTCDateTime`  an aware UTC instant            -> ``datetime(..., tzinfo=UTC)``
* :class:`JSONText`     a JSON document as TEXT         -> ``dict`` / ``list``

Every type refuses a ``float`` with ``TypeError``: a float has already lost the
cents before it reaches us (DESIGN.md, "Money and time").  Conversions here are
built from digit tuples, so they do not depend on the thread's decimal context
(Qt workers do not inherit it).
"""

from __future__ import annotations

import datetime as _dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, DateTime, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Money",
    "Interest",
    "ExactDecimal",
    "UTCDateTime",
    "JSONText",
    "to_scaled_int",
    "from_scaled_int",
]

#: The range of the 64-bit integer every money and interest column is stored in.
BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)
_BIGINT_MAX, _BIGINT_MIN = BIGINT_MAX, BIGINT_MIN


def _as_decimal(value: object, what: str) -> Decimal:
    """Accept Decimal, int or a decimal string; refuse float and bool outright."""
    if isinstance(value, bool):  # bool is an int subclass; True is not one dollar
        raise TypeError(f"{what}: bool is not a number")
    if isinstance(value, float):
        raise TypeError(
            f"{what}: refusing float {value!r}; pass a Decimal (a float has already lost the cents)"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{what}: {value!r} is not a decimal number") from None
    else:
        raise TypeError(f"{what}: expected Decimal, int or str, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return result


def to_scaled_int(value: Decimal, places: int, what: str) -> int:
    """``value`` * 10**places as an exact int; ValueError if digits would be lost."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite, checked by the caller
    magnitude = int("".join(map(str, digits)) or "0")
    shift = exponent + places
    if shift >= 0:
        scaled = magnitude * int(10**shift)
    else:
        divisor = int(10**-shift)
        if magnitude % divisor:
            raise ValueError(f"{what}: {value} has more than {places} decimal places")
        scaled = magnitude // divisor
    scaled = -scaled if sign else scaled
    if not _BIGINT_MIN <= scaled <= _BIGINT_MAX:
        raise ValueError(f"{what}: {value} is too large to store")
    return scaled


def from_scaled_int(scaled: int, places: int) -> Decimal:
    """The Decimal ``scaled`` / 10**places with exactly ``places`` places."""
    digits = tuple(int(d) for d in str(abs(scaled)))
    return Decimal((1 if scaled < 0 else 0, digits, -places))


def _result_int(value: object) -> int:
    # SUM(bigint) is NUMERIC on PostgreSQL, so psycopg hands back a Decimal.
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise ValueError(f"expected an integer from the database, got {value!r}")


class _Scaled(TypeDecorator[Decimal]):
    impl = BigInteger
    cache_ok = True
    places: int = 0
    label: str = ""

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return to_scaled_int(_as_decimal(value, self.label), self.places, self.label)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return from_scaled_int(_result_int(value), self.places)

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        scaled = self.process_bind_param(value, dialect)
        return "NULL" if scaled is None else str(scaled)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class Money(_Scaled):
    """An amount in dollars and cents, stored as integer cents.

    Binds Decimal, int or a decimal string; ``Decimal('12.3')`` stores 1230 and
    comes back as ``Decimal('12.30')``.  ``Decimal('0.005')`` is refused with
    ValueError: rounding is the engine's decision (app/domain), never the
    database's.  ``SUM()`` of a Money column is Money again.
    """

    cache_ok = True  # SQLAlchemy reads this from each class, not its bases
    places = 2
    label = "Money"


class Interest(_Scaled):
    """Accrued interest carried to 10 decimal places, stored as integer 1e-10 units.

    A BIGINT holds up to about 922 million dollars at this scale, far beyond any
    one loan's accrual.  Returns a Decimal with exactly 10 places.
    """

    cache_ok = True
    places = 10
    label = "Interest"


class ExactDecimal(TypeDecorator[Decimal]):
    """A rate or factor (e.g. an annual percent 12.375) stored as its decimal text.

    The text round-trips exactly, trailing zeros included.  Because it is text,
    ``ORDER BY`` and comparisons in SQL are lexical, not numeric: compare in Python.
    """

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        text = str(_as_decimal(value, "ExactDecimal"))
        if len(text) > 40:
            raise ValueError(f"ExactDecimal: {text} is longer than 40 characters")
        return text

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class UTCDateTime(TypeDecorator[_dt.datetime]):
    """A moment in time, always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz``; SQLite stores the UTC wall time as text
    (it has no time zone support) and we re-attach UTC on the way out.  A naive
    datetime is refused: nobody can tell which clock it came from.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> _dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, _dt.datetime):
            raise TypeError(f"UTCDateTime: expected datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("UTCDateTime: refusing a naive datetime; attach a time zone")
        utc = value.astimezone(_dt.UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> _dt.datetime | None:
        if value is None:
            return None
        moment: _dt.datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=_dt.UTC)
        return moment.astimezone(_dt.UTC)

    @property
    def python_type(self) -> type[_dt.datetime]:
        return _dt.datetime


def _json_ready(value: Any, path: str) -> Any:
    """Check a document holds only JSON-safe values; Decimal and dates become strings."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        raise TypeError(f"JSONText: refusing float {value!r} at {path}; store Decimal or str")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"JSONText: {value} at {path} is not finite")
        return str(value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSONText: key {key!r} at {path} is not a string")
            out[key] = _json_ready(item, f"{path}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_json_ready(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"JSONText: {type(value).__name__} at {path} is not JSON")


class JSONText(TypeDecorator[Any]):
    """A JSON document stored as plain TEXT on both databases.

    Binds a dict or list of str/int/bool/None (Decimal, date and datetime are
    written as their strings -- the documents Keel keeps are strings by
    convention -- and float is refused).  Returns the parsed document; a number
    with a fraction, if one was ever written by hand, comes back as Decimal.
    Keys are sorted so the same document is always the same text.

    The ORM does not see in-place edits of the returned dict: assign a new
    document to change it.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, (dict, list, tuple)):
            raise TypeError(f"JSONText: expected dict or list, got {type(value).__name__}")
        return json.dumps(
            _json_ready(value, "$"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value, parse_float=Decimal)
