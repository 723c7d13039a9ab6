"""Declarative base, naming convention, reusable column types and the version mixin."""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import Integer, MetaData, String, Text, false, text
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from app.db.types import ExactDecimal, Interest, JSONText, Money, UTCDateTime

# Every constraint and index gets a predictable name, so a later migration can
# drop or alter it by name on both databases (SQLite batch mode needs names to
# recreate a table).  Kept short: PostgreSQL truncates identifiers at 63 bytes.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Plain annotations pick these types; anything else is spelled out below.
    type_annotation_map = {
        str: String(),
        _dt.datetime: UTCDateTime(),
        dict[str, Any]: JSONText(),
    }


# Reusable column shapes.  ``Decimal`` has no default mapping on purpose: a
# money column must say whether it is cents (Money) or accrued interest.
intpk = Annotated[int, mapped_column(Integer, primary_key=True)]
money = Annotated[
    Decimal,
    mapped_column(Money(), nullable=False, default=Decimal("0.00"), server_default=text("0")),
]
money_or_none = Annotated[Decimal | None, mapped_column(Money(), nullable=True)]
interest = Annotated[
    Decimal,
    mapped_column(Interest(), nullable=False, default=Decimal("0"), server_default=text("0")),
]
rate = Annotated[Decimal, mapped_column(ExactDecimal(), nullable=False)]
code = Annotated[str, mapped_column(String(32), nullable=False)]
code_or_none = Annotated[str | None, mapped_column(String(32), nullable=True)]
name = Annotated[str, mapped_column(String(200), nullable=False)]
name_or_none = Annotated[str | None, mapped_column(String(200), nullable=True)]
long_text = Annotated[str, mapped_column(Text, nullable=False)]
json_doc = Annotated[dict[str, Any], mapped_column(JSONText(), nullable=False, default=dict)]
json_doc_or_none = Annotated[dict[str, Any] | None, mapped_column(JSONText(), nullable=True)]
created_at = Annotated[_dt.datetime, mapped_column(UTCDateTime(), nullable=False, default=utc_now)]
flag = Annotated[bool, mapped_column(nullable=False, default=False, server_default=false())]


class Versioned:
    """Optimistic locking for every editable table.

    The ORM adds ``AND version = :old`` to each UPDATE and bumps the number; if
    another desk changed the row first, no row matches and the flush raises
    ``sqlalchemy.orm.exc.StaleDataError`` instead of silently overwriting.
    Services turn that into "changed by someone else, retry".
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def check_version(obj: Versioned, expected: int) -> None:
    """Refuse an edit made from a copy the user loaded earlier (a frozen DTO).

    The ORM's own check covers rows changed between load and flush in one
    session; a desktop edit spans two sessions (show, then save), so the save
    carries the version it showed and calls this first.
    """
    if obj.version != expected:
        raise StaleDataError(
            f"{type(obj).__name__} was changed by someone else "
            f"(now version {obj.version}, you had {expected}); reload and retry"
        )
