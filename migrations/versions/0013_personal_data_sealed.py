"""Personal data encrypted at rest (issue 12, item 4): sealed SSN/TIN and date of birth, the last four in the clear.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:00:00

* ``persons.tax_id_sealed`` and ``persons.date_of_birth_sealed``: AES-GCM
  under the book's data key, kept outside the database (``app.db.personal``);
* ``persons.tax_id_last4`` (indexed): search by the last four and the masked
  form need no key.

A migration cannot reach the key, so the plain values already stored are
sealed -- and the plain columns emptied -- by Keel when it next opens the
book (``app.db.personal.seal_legacy``); this revision fills the last four.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("persons", sa.Column("tax_id_sealed", sa.Text(), nullable=True))
    op.add_column("persons", sa.Column("tax_id_last4", sa.String(length=4), nullable=True))
    op.add_column("persons", sa.Column("date_of_birth_sealed", sa.Text(), nullable=True))
    op.execute("UPDATE persons SET tax_id_last4 = substr(tax_id, 6, 4) WHERE tax_id IS NOT NULL")
    op.create_index(op.f("ix_persons_tax_id_last4"), "persons", ["tax_id_last4"])


def downgrade() -> None:
    # Sealed values cannot be opened here (no key): a downgrade keeps only what was still plain.
    op.drop_index(op.f("ix_persons_tax_id_last4"), table_name="persons")
    for column in ("date_of_birth_sealed", "tax_id_last4", "tax_id_sealed"):
        op.drop_column("persons", column)
