"""``keel audit``: the audit trail in words, with the desktop Audit view's filters (issue 11, item 5)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from app.cli import main
from app.services import servicing, setup, users
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed
from tests.services.loans import make_loan


@pytest.fixture
def book(tmp_path, monkeypatch):
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    factory = setup.open_database(url)
    contexts = seed(factory)
    first, second = make_loan(contexts["admin"]), make_loan(contexts["admin"])
    servicing.post_payment(contexts["clerk"], first, "888.49", date(2026, 2, 1), reference="CHK 1",
                           confirm_backdated=True)
    servicing.assess_fee(contexts["manager"], second, "25.00", "nsf")
    yield url, first, second
    setup.close_database(factory)


def test_sentences_filtered_by_user_action_and_loan(book, capsys, monkeypatch):
    url, first, second = book
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["manager"])
    assert main(["audit", "--db", url, "--as", "manager", "--user", "clerk", "--action", "payment"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(f"{first:<10}  Clerk User posted an $888.49 check payment effective Feb 1, 2026, "
                           "back-dated (confirmed) (reference CHK 1).")
    assert out[-1] == "1 records"

    assert main(["audit", "--db", url, "--as", "manager", "--loan", second, "--action", "fee.assessed",
                 "--from", "01/01/2026", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 1
    assert data["lines"][0]["sentence"] == "Manager User assessed a $25.00 NSF fee effective Jun 1, 2026."
    assert data["lines"][0]["loan_number"] == second


def test_refusals_are_one_line(book, capsys, monkeypatch):
    url, _, _ = book
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["clerk"])
    assert main(["audit", "--db", url, "--as", "clerk"]) == 2
    assert "permission" in capsys.readouterr().err
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["manager"])
    assert main(["audit", "--db", url, "--as", "manager", "--from", "2026-13-01"]) == 2
    assert capsys.readouterr().err.startswith("keel: error: --from")
    assert main(["audit", "--db", url, "--as", "manager", "--user", "nobody"]) == 2
    err = capsys.readouterr().err
    assert err == "keel: error: user: 'nobody' is not a user of this database\n"
