"""``keel dashboard``: the same figures as the desktop dashboard (issue 5, item 6)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from app.cli import main
from app.cli_support import to_jsonable
from app.services import dashboard, servicing, setup, users
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed
from tests.services.loans import make_loan


@pytest.fixture
def book(tmp_path, monkeypatch):
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    url = f"sqlite:///{tmp_path / 'dash.sqlite3'}"
    factory = setup.open_database(url)
    contexts = seed(factory)
    number = make_loan(contexts["admin"])
    servicing.post_payment(contexts["admin"], number, "888.49", date(2026, 2, 1), confirm_backdated=True)
    make_loan(contexts["admin"])
    yield url, contexts
    setup.close_database(factory)


def test_json_is_the_service_result(book, capsys, monkeypatch):
    url, contexts = book
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["manager"])
    assert main(["dashboard", "--db", url, "--user", "manager", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == to_jsonable(dashboard.dashboard(contexts["manager"]))
    assert printed["kpis"]["open_loans"] == 2
    assert printed["kpis"]["outstanding_principal"] == "19211.51"  # 20,000.00 - 788.49
    assert len(printed["principal_by_month"]) == 12


def test_as_of_and_text(book, capsys, monkeypatch):
    url, _ = book
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["clerk"])
    assert main(["dashboard", "--db", url, "--user", "clerk", "--as-of", "2026-01-15"]) == 0
    out = capsys.readouterr().out
    assert "Outstanding principal  $20,000.00" in out and "As of 2026-01-15" in out
    assert main(["dashboard", "--db", url, "--user", "clerk", "--as-of", "2026-07-01"]) == 2
    assert "after the open business date" in capsys.readouterr().err
    assert main(["dashboard", "--db", url, "--user", "clerk", "--as-of", "soon"]) == 2
