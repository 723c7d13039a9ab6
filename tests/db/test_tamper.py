"""Tamper-evident books on SQLite (issue 12, item 1): REPLACE cannot rewrite a row; a dropped trigger is noticed.

The review rewrote a payment from 633.96 to 0.01 with ``REPLACE INTO ledger_entries``
(SQLite deletes the old row without firing the delete trigger), did the same to an
audit record, and dropped the triggers.  Keel cannot stop a person holding the file
from changing it; it refuses the rewrite through SQL and will not open a book whose
protections are gone.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from app.services import servicing, setup
from app.services.errors import ServiceError
from tests.services.conftest import seed
from tests.services.loans import make_loan


@pytest.fixture
def book(tmp_path: Path) -> tuple[str, Path, int]:
    path = tmp_path / "book.sqlite3"
    url = f"sqlite:///{path}"
    factory = setup.open_database(url, initialize=False)
    admin = seed(factory)["admin"]
    number = make_loan(admin)
    entry = servicing.post_payment(admin, number, "633.96", reference="CHK 1").entry_id
    setup.close_database(factory)
    return url, path, entry


def test_replace_into_the_ledger_or_the_audit_trail_is_refused(book) -> None:
    _, path, entry = book
    db = sqlite3.connect(path)
    try:
        columns = [row[1] for row in db.execute("PRAGMA table_info(ledger_entries)")]
        row = dict(zip(columns, db.execute("SELECT * FROM ledger_entries WHERE id = ?", (entry,)).fetchone(),
                       strict=True))
        row["amount"] = 1  # one cent instead of 63,396
        marks = ", ".join("?" for _ in columns)
        for verb in ("REPLACE INTO", "INSERT OR REPLACE INTO"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(f"{verb} ledger_entries ({', '.join(columns)}) VALUES ({marks})",
                           [row[c] for c in columns])
        audit_columns = [r[1] for r in db.execute("PRAGMA table_info(audit_events)")]
        first = db.execute("SELECT * FROM audit_events ORDER BY id LIMIT 1").fetchone()
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(f"REPLACE INTO audit_events VALUES ({', '.join('?' for _ in audit_columns)})", first)
        amount = db.execute("SELECT amount FROM ledger_entries WHERE id = ?", (entry,)).fetchone()[0]
    finally:
        db.close()
    assert Decimal(amount) / 100 == Decimal("633.96")  # stored in cents, unchanged


def test_a_book_whose_triggers_were_dropped_is_not_opened(book) -> None:
    url, path, _ = book
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER ledger_entries_no_update")
    db.commit()
    db.close()
    with pytest.raises(ServiceError, match="lost 1 of the triggers .* ledger_entries_no_update.* restore a backup"):
        setup.open_database(url)
