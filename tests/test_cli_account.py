"""``keel account``: the account page's one read from a terminal (issue 11, item 5).

The loan is tests/services/test_account_page.py's (worked by hand there): interest paid
2025 = 192.12, 2026 to date = 160.26, maturity 2026-10-01, last payment Feb 1 (Mar 1's reversed).
"""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.services import setup, users
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed
from tests.services.test_account_page import _loan


@pytest.fixture
def book(tmp_path, monkeypatch):
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    url = f"sqlite:///{tmp_path / 'account.sqlite3'}"
    factory = setup.open_database(url)
    contexts = seed(factory)
    number, _ = _loan(contexts["admin"])
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["clerk"])
    yield url, number
    setup.close_database(factory)


def test_text(book, capsys):
    url, number = book
    assert main(["account", number, "--db", url, "--user", "clerk"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:6] == [
        "  Last payment      $888.49 on 2026-02-01",
        "  Maturity          2026-10-01",
        "  Interest paid     2026 to date $160.26; 2025 $192.12",
        "  Collateral        2021 Toyota Camry, VIN 4T1BF1FK5CU123456",
        "  Collateral        9 Oak Ave, Peoria, IL 61602",
    ]
    assert out[6] == "  Co-borrower       Robin Cosigner"


def test_json(book, capsys):
    url, number = book
    assert main(["account", number, "--db", url, "--user", "clerk", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["last_payment"] == {"date": "2026-02-01", "amount": "888.49", "method": "check"}
    assert data["maturity"] == "2026-10-01"
    assert data["interest_paid"] == {"year": 2026, "year_to_date": "160.26", "last_year": "192.12"}
    assert data["co_borrowers"] == [{"name": "Robin Cosigner", "role": "co_borrower"}]
    assert [c["title"] for c in data["collateral"]] == ["2021 Toyota Camry", "9 Oak Ave"]
    assert data["entries"][-1]["principal_balance"] == data["principal"] == "6798.42"
