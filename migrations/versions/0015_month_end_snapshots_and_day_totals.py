"""Month-end snapshots and day totals for the reports (issue 13, item 1).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 09:00:00

One row per loan per month end, written by end of day in the transaction
that closes the month's last day (``app.services.reports.snapshots``): the
loan's status, bucket, days past due, cached balances, product and collector
as they were, and its booked ledger through that day (by ``business_date``),
so aging, roll rates and vintages can be read as they stood and the trial
balance of a later date sums only the entries booked since.

``ledger_day_totals``: what each closed business day booked, by product and
entry type (entries counted, columns summed), written by end of day as it
closes the day, so the period reports read a closed day's totals rather
than its entries.  An index on ``ledger_entries (type, business_date)`` for
the reports that read one kind of entry over a period.

Both tables are append-only like the ledger: a past month never changes,
and work booked later -- a back-dated reversal included -- shows in the
month it was booked.  Plain CREATE INDEX (no batch mode): on SQLite a table
rebuild would drop the ledger's append-only triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "month_end_snapshots"
DAY_TOTALS = "ledger_day_totals"
DAY_MONEY = ("amount", "principal", "interest", "fees", "suspense", "refund", "escrow")
MONEY = ("principal", "accrued_interest", "fees", "suspense", "amount_due", "booked_principal", "booked_interest",
         "booked_fees", "booked_suspense", "booked_refund")


def _append_only(table: str, key: tuple[str, ...]) -> None:
    """No UPDATE, DELETE, REPLACE or TRUNCATE (see 0001, 0008, 0011)."""
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"""CREATE TRIGGER {table}_no_{action.lower()}
BEFORE {action} ON {table}
BEGIN
    SELECT RAISE(ABORT, '{table} is append-only: {action} refused');
END"""
            )
        clash = " AND ".join(f"{column} = NEW.{column}" for column in key)
        op.execute(
            f"""CREATE TRIGGER {table}_no_replace
BEFORE INSERT ON {table}
WHEN EXISTS (SELECT 1 FROM {table} WHERE {clash})
BEGIN
    SELECT RAISE(ABORT, '{table} is append-only: an insert that replaces a row is refused');
END"""
        )
    elif dialect == "postgresql":
        op.execute(f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION keel_refuse_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION keel_refuse_change()")
    else:
        raise NotImplementedError(f"Keel supports SQLite and PostgreSQL, not {dialect}")


def _drop_append_only(table: str) -> None:
    if op.get_context().dialect.name == "sqlite":
        for action in ("update", "delete", "replace"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")


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
    _append_only(TABLE, ("month_end", "loan_id"))
    op.create_table(
        DAY_TOTALS,
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False) for name in DAY_MONEY],
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_ledger_day_totals_product_id_products")),
        sa.PrimaryKeyConstraint("business_date", "product_id", "type", name=op.f("pk_ledger_day_totals")),
    )
    _append_only(DAY_TOTALS, ("business_date", "product_id", "type"))
    op.create_index(op.f("ix_ledger_entries_type_business_date"), "ledger_entries", ["type", "business_date"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_entries_type_business_date"), table_name="ledger_entries")
    _drop_append_only(DAY_TOTALS)
    op.drop_table(DAY_TOTALS)
    _drop_append_only(TABLE)
    op.drop_index(op.f("ix_month_end_snapshots_loan_id"), table_name=TABLE)
    op.drop_table(TABLE)
