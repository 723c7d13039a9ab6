"""Loan flag events: hardship, dispute and Regulation F set or cleared with a date and a reason (issue 11).

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-28 14:00:00

One append-only row per change, beside the loan's current flag columns (which
end of day, letters and the guardrails read): when it took effect, why, who,
and for a dispute whether it was written or oral and whether it came inside
the validation period (12 CFR 1006.34, 1006.38); for Regulation F, on what
ground the lender is a debt collector for this loan (12 CFR 1006.2(i)).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "loan_flag_events"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=32), nullable=False),
        sa.Column("on", sa.Boolean(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("dispute_form", sa.String(length=32), nullable=True),
        sa.Column("within_validation_period", sa.Boolean(), nullable=True),
        sa.Column("reg_f_basis", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_loan_flag_events_loan_id_loans")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_loan_flag_events_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_flag_events")),
    )
    op.create_index(op.f("ix_loan_flag_events_loan_id"), TABLE, ["loan_id"], unique=False)
    # Append-only like the ledger and the contact log (see 0001, 0002).
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"""CREATE TRIGGER {TABLE}_no_{action.lower()}
BEFORE {action} ON {TABLE}
BEGIN
    SELECT RAISE(ABORT, '{TABLE} is append-only: {action} refused');
END"""
            )
    elif dialect == "postgresql":
        op.execute(f"CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION keel_refuse_change()")
        op.execute(f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION keel_refuse_change()")
    else:
        raise NotImplementedError(f"Keel supports SQLite and PostgreSQL, not {dialect}")


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{action}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
    op.drop_index(op.f("ix_loan_flag_events_loan_id"), table_name=TABLE)
    op.drop_table(TABLE)
