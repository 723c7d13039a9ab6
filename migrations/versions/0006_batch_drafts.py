"""Batch drafts: a deposit being typed, saved as the clerk types, per user (issue 11).

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-28 09:00:00

Column types as the database sees them (Money is BIGINT cents, JSONText is
TEXT, UTCDateTime a timezone-aware DATETIME), like the earlier revisions.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batch_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("control_total", sa.BigInteger(), nullable=True),
        sa.Column("deposit_date", sa.Date(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.Column("file_name", sa.String(length=260), nullable=True),
        sa.Column("file_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_batch_drafts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_drafts")),
    )
    op.create_index(op.f("ix_batch_drafts_user_id"), "batch_drafts", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_batch_drafts_user_id"), table_name="batch_drafts")
    op.drop_table("batch_drafts")
