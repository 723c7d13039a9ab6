"""Loans and product versions stored before the 30/360 period rule keep calendar counting.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00

Issue 9: under 30/360 each regular monthly (semi-monthly) period is now
exactly 30 (15) days (``thirty360: period``, the default for new loans and
products).  So that no existing book changes under its borrowers, every loan's
stored ``terms`` and every product version's ``rules`` that do not say
otherwise get ``"thirty360": "calendar"``, today's counting: the replay of an
existing loan is unchanged, and loans boarded later under an existing product
version follow it too until a new version says ``period``.

Terms and rules are JSON documents stored as TEXT on both databases
(``app.db.types.JSONText``: sorted keys, compact separators), so the
documents are read and written here in Python, in the same form, and the
migration runs the same on SQLite and PostgreSQL.  Plain UPDATEs by primary
key, no batch mode (a table rebuild on SQLite would drop triggers).

Downgrade removes the key from every document, since an older Keel refuses
a terms field it does not know; a loan boarded after the upgrade (``period``)
then counts calendar days under the older Keel, the only way it knows.
"""

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "thirty360"
CALENDAR = "calendar"
# (table, JSON column)
DOCUMENTS = (("loans", "terms"), ("product_versions", "rules"))


def _dump(document: Any) -> str:
    # The form JSONText writes; a Decimal (only from a hand-written number) is written as its string, as JSONText does.
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _rewrite(change: Any) -> None:
    conn = op.get_bind()
    for table, column in DOCUMENTS:
        rows = conn.execute(sa.text(f"SELECT id, {column} FROM {table}")).all()
        for row_id, text in rows:
            if text is None:
                continue
            document = json.loads(text, parse_float=Decimal)
            if not isinstance(document, dict) or not change(document):
                continue
            conn.execute(
                sa.text(f"UPDATE {table} SET {column} = :document WHERE id = :id"),
                {"document": _dump(document), "id": row_id},
            )


def _add_calendar(document: dict[str, Any]) -> bool:
    if KEY in document:
        return False
    document[KEY] = CALENDAR
    return True


def _drop_key(document: dict[str, Any]) -> bool:
    if KEY not in document:
        return False
    del document[KEY]
    return True


def upgrade() -> None:
    _rewrite(_add_calendar)


def downgrade() -> None:
    _rewrite(_drop_key)
