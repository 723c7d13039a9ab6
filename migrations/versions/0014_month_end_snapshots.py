"""Month-end snapshots: every loan as the close of a month's last day left it (issue 13, item 1).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 09:00:00

One row per loan per month end, written by end of day in the transaction
that closes the month's last day (``app.services.reports.snapshots``): the
loan's status, bucket, days past due, cached balances, product and collector
as they were, and its booked ledger through that day (by ``business_date``),
so aging, roll rates and vintages can be read as they stood and the trial
balance of a later date sums only the entries booked since.

Append-only like the ledger: a past month never changes, and work booked
later -- a back-dated reversal included -- shows in the month it was booked.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "month_end_snapshots"
MONEY = ("principal", "accrued_interest", "fees", "suspense", "amount_due", "booked_principal", "booked_interest",
         "booked_fees", "booked_suspense", "booked_refund")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("month_end", sa.Date(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("delinquency", sa.String(length=32), nullable=True),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False) for name in MONEY],
        sa.Column("state_as_of", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_month_end_snapshots_loan_id_loans")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_month_end_snapshots_product_id_products")),
        sa.ForeignKeyConstraint(["collector_id"], ["users.id"], name=op.f("fk_month_end_snapshots_collector_id_users")),
        sa.PrimaryKeyConstraint("month_end", "loan_id", name=op.f("pk_month_end_snapshots")),
    )
    op.create_index(op.f("ix_month_end_snapshots_loan_id"), TABLE, ["loan_id"], unique=False)
    # Append-only like the ledger (see 0001, 0008, 0011): no UPDATE, DELETE, REPLACE or TRUNCATE.
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
        op.execute(
            f"""CREATE TRIGGER {TABLE}_no_replace
BEFORE INSERT ON {TABLE}
WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE month_end = NEW.month_end AND loan_id = NEW.loan_id)
BEGIN
    SELECT RAISE(ABORT, '{TABLE} is append-only: an insert that replaces a row is refused');
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
        for action in ("update", "delete", "replace"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{action}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
    op.drop_index(op.f("ix_month_end_snapshots_loan_id"), table_name=TABLE)
    op.drop_table(TABLE)
