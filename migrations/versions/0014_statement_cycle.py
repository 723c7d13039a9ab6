"""The statement cycle (issue 13, item 4): a queued letter's billing cycle, queued once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 20:00:00

* ``letter_queue.cycle_due``: for a billing statement or a payment reminder
  end of day queued, the payment due date of the cycle it is for (NULL for
  the letters a delinquency trigger or a desk queued);
* a unique index on ``(loan_id, kind, cycle_due)``: one statement and one
  reminder per loan per cycle, whatever end of day does -- resumed after a
  kill, run for several days at once.  NULLs are distinct on SQLite and
  PostgreSQL, so the other letters are not constrained.

An index, not a table constraint: SQLite adds one without rebuilding the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("letter_queue", sa.Column("cycle_due", sa.Date(), nullable=True))
    op.create_index(op.f("ix_letter_queue_loan_id_kind_cycle_due"), "letter_queue",
                    ["loan_id", "kind", "cycle_due"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_letter_queue_loan_id_kind_cycle_due"), table_name="letter_queue")
    with op.batch_alter_table("letter_queue", schema=None) as batch_op:
        batch_op.drop_column("cycle_due")
