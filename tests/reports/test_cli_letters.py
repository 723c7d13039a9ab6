"""``keel letter`` and ``keel letters`` against a SQLite file."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.cli import main
from app.db.models import LetterQueueItem, Loan
from app.db.settings import set_setting
from app.domain.money import format_money
from app.services import accounts, servicing, setup, users
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed
from tests.services.loans import make_loan


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, object, str]:
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)  # cheap argon2, as in tests/services
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    factory = setup.open_database(url, initialize=False)
    admin = seed(factory)["admin"]
    with admin.unit() as session:
        set_setting(session, "lender_name", "Harbor Point Lending")
        set_setting(session, "lender_address", "200 Harbor Street\nPortland ME 04101")
        set_setting(session, "lender_phone", "(207) 555-0100")
    number = make_loan(admin)
    servicing.post_payment(admin, number, "888.49", dt.date(2026, 2, 1), confirm_backdated=True)
    monkeypatch.setenv("KEEL_USER", "collector")
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["collector"])
    yield url, admin, number
    setup.close_database(factory)


def test_keel_letter_writes_the_recorded_pdf(database: tuple[str, object, str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    url, admin, number = database
    out = tmp_path / "late.pdf"
    assert main(["letter", "late-notice", number, "--out", str(out), "--db", url]) == 0
    assert "recorded as letter" in capsys.readouterr().out
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(out.read_bytes())).pages)
    assert format_money(accounts.account(admin, number).snapshot.amount_due) in text  # type: ignore[arg-type]
    assert main(["letter", "paid-in-full", number, "--out", str(out), "--db", url]) == 2
    assert "not paid in full" in capsys.readouterr().err
    assert main(["letter", "bogus", number, "--out", str(out), "--db", url]) == 2


def test_keel_letters_queued(database: tuple[str, object, str], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    url, admin, number = database
    with admin.unit() as session:  # type: ignore[attr-defined]
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        session.add(LetterQueueItem(loan_id=loan.id, kind="default-notice", queued_on=dt.date(2026, 6, 1)))
    out = tmp_path / "batch.pdf"
    assert main(["letters", "--queued", "--out", str(out), "--db", url]) == 0
    said = capsys.readouterr().out
    assert "1 letters" in said
    assert len(PdfReader(io.BytesIO(out.read_bytes())).pages) == 1
    assert "waiting to be marked printed" in said
    # Not marked yet: the next run writes the same stored letter again, byte for byte, and marks it.
    again = tmp_path / "again.pdf"
    assert main(["letters", "--queued", "--out", str(again), "--mark-printed", "--db", url]) == 0
    assert "0 issued now" in (said := capsys.readouterr().out) and "marked printed" in said
    assert [p.extract_text() for p in PdfReader(io.BytesIO(again.read_bytes())).pages] == \
        [p.extract_text() for p in PdfReader(io.BytesIO(out.read_bytes())).pages]
    with admin.unit(write=False) as session:  # type: ignore[attr-defined]
        assert {i.status for i in session.scalars(select(LetterQueueItem))} == {"printed"}
    assert main(["letters", "--queued", "--out", str(tmp_path / "none.pdf"), "--db", url]) == 0
    assert "No letters to print" in capsys.readouterr().out


def test_keel_letter_history_lists_what_was_made_with_its_hash(database: tuple[str, object, str], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib
    import json

    url, _admin, number = database
    assert main(["letter-history", number, "--db", url]) == 0
    assert capsys.readouterr().out == f"No letters for {number}\n"
    out = tmp_path / "late.pdf"
    assert main(["letter", "late-notice", number, "--out", str(out), "--db", url]) == 0
    capsys.readouterr()
    assert main(["letter-history", number, "--json", "--db", url]) == 0
    [record] = json.loads(capsys.readouterr().out)
    # The recorded hash is the hash of the bytes the command wrote.
    assert (record["kind"], record["user"]) == ("late-notice", "collector")
    assert record["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert record["size"] == len(out.read_bytes())
