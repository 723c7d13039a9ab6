"""Personal data at rest (issue 12, item 4): sealed SSN/TIN and birth date, masked everywhere, revealed with an audit.

The review found full SSNs in a book file other local users could read.  Now
the SSN/TIN and date of birth are AES-GCM under the book's key (kept outside
the database), the last four stay searchable, a manager's look is an audit
record, a clerk's is refused, a book from an older Keel has its plain values
sealed when opened, and book and backup files are created 0600.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from app import cli
from app.db.migrate import backup_sqlite
from app.db.models import AuditEvent, Loan, LoanParty, Person
from app.services import personal, search, setup
from app.services.errors import PermissionDenied

from .conftest import PASSWORDS, seed
from .loans import make_loan


def _borrower(ctx, number: str, **values: object) -> int:
    with ctx.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        person = session.scalars(select(Person).join(LoanParty, LoanParty.person_id == Person.id)
                                 .where(LoanParty.loan_id == loan.id)).one()
        for key, value in values.items():
            setattr(person, key, value)
        return person.id


def test_masked_for_everyone_revealed_to_a_manager_with_an_audit_record(contexts) -> None:
    admin, clerk, manager = contexts["admin"], contexts["clerk"], contexts["manager"]
    number = make_loan(admin)
    person_id = _borrower(admin, number, tax_id="987-65-4320", date_of_birth=dt.date(1975, 3, 14))

    party = search.loan_parties(clerk, number)[0]
    assert party.tax_id_masked == "***-**-4320" and party.date_of_birth_masked == "1975-**-**"
    assert "987654320" not in repr(party) and "03-14" not in repr(party)
    assert [h.loan_number for h in search.search_loans(clerk, "4320")] == [number]  # the last four still search

    with pytest.raises(PermissionDenied, match="person.reveal"):
        personal.reveal_parties(clerk, number)
    shown = personal.reveal_parties(manager, number)
    assert [(r.person_id, r.tax_id, r.date_of_birth) for r in shown] == [
        (person_id, "987-65-4320", dt.date(1975, 3, 14))]
    with manager.unit(write=False) as session:
        looks = session.execute(select(AuditEvent.user_id, AuditEvent.details)
                                .where(AuditEvent.action == "person.revealed")).all()
    # One record: the manager's look; the clerk's refused look recorded nothing.
    assert looks == [(manager.actor.user_id, {"person": party.name, "fields": ["SSN/TIN", "date of birth"],
                                              "loan": number})]


def test_an_older_books_plain_values_are_sealed_when_it_is_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    factory = setup.open_database(url, initialize=False)
    admin = seed(factory)["admin"]
    number = make_loan(admin)
    person_id = _borrower(admin, number, tax_id=None)
    setup.close_database(factory)
    # As a Keel before revision 0013 kept them: in the clear, with no last four.
    db = sqlite3.connect(tmp_path / "old.sqlite3")
    db.execute("UPDATE persons SET tax_id = '123456789', date_of_birth = '1960-07-04', tax_id_last4 = NULL "
               "WHERE id = ?", (person_id,))
    db.commit()
    db.close()

    factory = setup.open_database(url)
    try:
        with factory() as session:
            person = session.get(Person, person_id)
            assert person is not None and person.tax_id == "123456789"
            assert person.date_of_birth == dt.date(1960, 7, 4)
            sealed = session.execute(select(AuditEvent.details).where(AuditEvent.action == "personal_data.sealed")
                                     ).scalar_one()
        assert sealed == {"people": 1}
    finally:
        setup.close_database(factory)
    raw = sqlite3.connect(tmp_path / "old.sqlite3").execute(
        "SELECT tax_id, date_of_birth, tax_id_last4, tax_id_sealed FROM persons WHERE id = ?", (person_id,)).fetchone()
    assert raw[:3] == (None, None, "6789") and raw[3].startswith("v1:")
    assert b"123456789" not in (tmp_path / "old.sqlite3").read_bytes()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_book_and_backup_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "book.sqlite3"
    factory = setup.open_database(f"sqlite:///{path}")
    setup.close_database(factory)
    backup = backup_sqlite(path, tmp_path / "backups")
    for name in (path, backup):
        assert stat.S_IMODE(name.stat().st_mode) == 0o600, name


def test_keel_parties_masks_and_reveals_to_a_manager(tmp_path: Path, monkeypatch, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'book.sqlite3'}"
    factory = setup.open_database(url, initialize=False)
    admin = seed(factory)["admin"]
    number = make_loan(admin)
    _borrower(admin, number, tax_id="987654321", date_of_birth=dt.date(1980, 12, 1))
    setup.close_database(factory)
    monkeypatch.setenv("KEEL_DATABASE_URL", url)

    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["clerk"])
    assert cli.main(["parties", number, "--user", "clerk"]) == 0
    out = capsys.readouterr().out
    assert "***-**-4321" in out and "1980-**-**" in out and "987-65-4321" not in out
    assert cli.main(["parties", number, "--user", "clerk", "--reveal"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "person.reveal" in err[0]

    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["manager"])
    assert cli.main(["parties", number, "--user", "manager", "--reveal"]) == 0
    out = capsys.readouterr().out
    assert "987-65-4321" in out and "1980-12-01" in out
