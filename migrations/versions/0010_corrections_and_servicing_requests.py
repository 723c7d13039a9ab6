"""Corrections of contacts and promises; Reg X / Reg Z servicing requests with their due dates (issue 11).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 04:00:00

* ``contacts.corrects_id`` / ``promises.corrects_id``: a mis-logged contact or
  promise is corrected by a new row pointing at it (a unique index: one
  correction per row); the contact log stays append-only, so the columns are
  added with a plain ADD COLUMN (no table rebuild, which on SQLite would drop
  the append-only triggers).
* ``servicing_requests``: written notices of error and requests for
  information (12 CFR 1024.35, 1024.36) and payoff statement requests
  (12 CFR 1026.36(c)(3)), with the received date and the due dates.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    for table in ("contacts", "promises"):
        name = f"fk_{table}_corrects_id_{table}"
        if dialect == "sqlite":
            # SQLite cannot ALTER in a constraint, but takes one inline in ADD COLUMN (no rebuild).
            op.execute(f"ALTER TABLE {table} ADD COLUMN corrects_id INTEGER "
                       f"CONSTRAINT {name} REFERENCES {table} (id)")
        else:
            op.add_column(table, sa.Column("corrects_id", sa.Integer(), nullable=True))
            op.create_foreign_key(op.f(name), table, table, ["corrects_id"], ["id"])
        op.add_column(table, sa.Column("correction_reason", sa.Text(), nullable=True))
        op.create_index(op.f(f"ix_{table}_corrects_id"), table, ["corrects_id"], unique=True)

    op.create_table(
        "servicing_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("acknowledge_by", sa.Date(), nullable=True),
        sa.Column("respond_by", sa.Date(), nullable=False),
        sa.Column("acknowledged_on", sa.Date(), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("responded_on", sa.Date(), nullable=True),
        sa.Column("responded_by_id", sa.Integer(), nullable=True),
        sa.Column("response_note", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_servicing_requests_loan_id_loans")),
        sa.ForeignKeyConstraint(["acknowledged_by_id"], ["users.id"],
                                name=op.f("fk_servicing_requests_acknowledged_by_id_users")),
        sa.ForeignKeyConstraint(["responded_by_id"], ["users.id"],
                                name=op.f("fk_servicing_requests_responded_by_id_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_servicing_requests_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_servicing_requests")),
    )
    op.create_index(op.f("ix_servicing_requests_loan_id"), "servicing_requests", ["loan_id"], unique=False)
    op.create_index(op.f("ix_servicing_requests_responded_on_respond_by"), "servicing_requests",
                    ["responded_on", "respond_by"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_servicing_requests_responded_on_respond_by"), table_name="servicing_requests")
    op.drop_index(op.f("ix_servicing_requests_loan_id"), table_name="servicing_requests")
    op.drop_table("servicing_requests")
    dialect = op.get_context().dialect.name
    for table in ("promises", "contacts"):
        op.drop_index(op.f(f"ix_{table}_corrects_id"), table_name=table)
        if dialect != "sqlite":
            op.drop_constraint(op.f(f"fk_{table}_corrects_id_{table}"), table, type_="foreignkey")
        # SQLite 3.35+ drops a column in place (no rebuild, so the contacts triggers stay); the inline
        # REFERENCES goes with it.
        op.drop_column(table, "correction_reason")
        op.drop_column(table, "corrects_id")
