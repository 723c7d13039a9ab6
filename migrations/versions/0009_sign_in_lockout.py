"""Sign-in lockout and forced password change (issue 11, item 7).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 03:00:00

``failed_sign_ins`` counts wrong passwords in a row; after the lockout
setting's number the account refuses every sign-in until ``locked_until``.
``must_change_password`` is set when an administrator resets a password and
cleared when the user chooses their own at the next sign-in.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases (no table rebuild on SQLite).
    op.add_column("users", sa.Column("failed_sign_ins", sa.Integer(), server_default="0", nullable=False))
    op.add_column("users", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(),
                                     nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
        batch.drop_column("locked_until")
        batch.drop_column("failed_sign_ins")
