"""SQLite: append-only tables refuse an INSERT that would replace a row (issue 12, item 1).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 04:10:00

``REPLACE INTO`` (and ``INSERT OR REPLACE``) deletes the row it conflicts with
without firing the delete trigger (SQLite fires delete triggers for REPLACE
only with ``recursive_triggers`` on, which a person holding the file need not
set), so it could rewrite a ledger entry or an audit record.  A BEFORE INSERT
trigger cannot see the conflict clause, so it refuses any insert whose primary
key or unique key already exists: an ordinary insert never conflicts (it would
fail anyway), a replacing one is stopped.  PostgreSQL has no REPLACE; its
protection is the least-privilege desk role.  ``app.services.setup`` refuses to
open a SQLite book whose triggers are missing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("ledger_entries", "notes", "audit_events", "contacts", "letters", "letter_templates",
                      "loan_flag_events")


def _unique_keys(table: str) -> list[list[str]]:
    inspector = sa.inspect(op.get_bind())
    keys = [inspector.get_pk_constraint(table)["constrained_columns"]]
    keys += [u["column_names"] for u in inspector.get_unique_constraints(table)]
    keys += [i["column_names"] for i in inspector.get_indexes(table) if i.get("unique")]
    found: list[list[str]] = []
    for key in keys:
        if key and key not in found:
            found.append(key)
    return found


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for table in APPEND_ONLY_TABLES:
        clash = " OR ".join(
            "EXISTS (SELECT 1 FROM {t} WHERE {cond})".format(
                t=table, cond=" AND ".join(f"{c} = NEW.{c}" for c in key))
            for key in _unique_keys(table))
        op.execute(
            f"""CREATE TRIGGER {table}_no_replace
BEFORE INSERT ON {table}
WHEN {clash}
BEGIN
    SELECT RAISE(ABORT, '{table} is append-only: an insert that replaces a row is refused');
END"""
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
