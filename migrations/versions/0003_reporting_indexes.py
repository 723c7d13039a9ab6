"""Indexes for the dashboard and collections: ledger entries by type and date; promises by contact.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 08:20:00

Plain CREATE INDEX (no batch mode): on SQLite a table rebuild would drop the
append-only triggers of ledger_entries.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_ledger_entries_type_effective_date_amount_principal",
        "ledger_entries",
        ["type", "effective_date", "amount", "principal"],
    )
    op.create_index("ix_promises_contact_id", "promises", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_promises_contact_id", table_name="promises")
    op.drop_index("ix_ledger_entries_type_effective_date_amount_principal", table_name="ledger_entries")
