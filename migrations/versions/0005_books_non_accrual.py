"""Non-accrual: when a loan on non-accrual became current (issue 9, the booked ledger).

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-28 10:00:00

``loans.current_since`` lets end of day return a loan to accrual after the
product's N consecutive months current.  A plain ADD COLUMN (nullable, no
batch rebuild) on both databases.  The new ledger types need no schema change:
the type column is checked by the model (LEDGER_TYPES), not by the database.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("loans", sa.Column("current_since", sa.Date(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of loans is not needed.
    op.drop_column("loans", "current_since")
