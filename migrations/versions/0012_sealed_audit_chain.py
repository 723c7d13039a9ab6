"""The sealed audit chain (issue 12, item 1): numbered audit rows with an HMAC, and each ledger entry's transaction.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:30:00

* ``audit_events.number`` (unique), ``.tx`` and ``.mac``: each audit row is
  numbered 1, 2, 3... under a lock as its transaction commits and sealed with
  an HMAC, under a key kept outside the database, over its content, the
  ledger entries of its transaction and the previous row's HMAC
  (``app.db.chain``).  Rows written before this revision keep NULLs and stay
  outside the chain.
* ``ledger_entries.tx``: the token of the transaction that wrote the entry.

Plain ADD COLUMN on SQLite (a table rebuild would drop the append-only
triggers); the ``audit_events_no_replace`` trigger is re-made so it also
refuses an insert that would replace a row by its new unique ``number``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _no_replace_trigger(table: str) -> str:
    inspector = sa.inspect(op.get_bind())
    keys = [inspector.get_pk_constraint(table)["constrained_columns"]]
    keys += [u["column_names"] for u in inspector.get_unique_constraints(table)]
    keys += [i["column_names"] for i in inspector.get_indexes(table) if i.get("unique")]
    found: list[list[str]] = []
    for key in keys:
        if key and key not in found:
            found.append(key)
    clash = " OR ".join(
        "EXISTS (SELECT 1 FROM {t} WHERE {cond})".format(t=table, cond=" AND ".join(f"{c} = NEW.{c}" for c in key))
        for key in found)
    return f"""CREATE TRIGGER {table}_no_replace
BEFORE INSERT ON {table}
WHEN {clash}
BEGIN
    SELECT RAISE(ABORT, '{table} is append-only: an insert that replaces a row is refused');
END"""


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("number", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("tx", sa.String(length=32), nullable=True))
    op.add_column("audit_events", sa.Column("mac", sa.String(length=64), nullable=True))
    op.add_column("ledger_entries", sa.Column("tx", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_audit_events_number"), "audit_events", ["number"], unique=True)
    op.create_index(op.f("ix_audit_events_tx"), "audit_events", ["tx"])
    op.create_index(op.f("ix_ledger_entries_tx"), "ledger_entries", ["tx"])
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_replace")
        op.execute(_no_replace_trigger("audit_events"))


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_replace")
    op.drop_index(op.f("ix_ledger_entries_tx"), table_name="ledger_entries")
    op.drop_index(op.f("ix_audit_events_tx"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_number"), table_name="audit_events")
    if dialect == "sqlite":
        # DROP COLUMN (SQLite 3.35+) keeps the table and its triggers.
        for table, column in (("ledger_entries", "tx"), ("audit_events", "mac"), ("audit_events", "tx"),
                              ("audit_events", "number")):
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        op.execute(_no_replace_trigger("audit_events"))
    else:
        op.drop_column("ledger_entries", "tx")
        for column in ("mac", "tx", "number"):
            op.drop_column("audit_events", column)
