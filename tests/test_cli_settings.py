"""``keel settings statements`` against a SQLite file (issue 13, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.services import setup, statements, users
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    factory = setup.open_database(url, initialize=False)
    admin = seed(factory)["admin"]
    yield url, admin
    setup.close_database(factory)


def as_user(monkeypatch: pytest.MonkeyPatch, role: str) -> None:
    monkeypatch.setenv("KEEL_USER", role)
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS[role])


def test_show_and_change_the_statement_exemptions(database, monkeypatch, capsys) -> None:
    url, admin = database
    as_user(monkeypatch, "collector")
    assert main(["settings", "statements", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "Small servicer (12 CFR 1026.41(e)(4)): no" in out and "Active mortgage loans on Keel: 0" in out
    # Only administrators change them: one line on stderr, nothing saved.
    assert main(["settings", "statements", "--coupon-books", "on", "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keel: error:") and len(err.strip().splitlines()) == 1
    as_user(monkeypatch, "admin")
    assert main(["settings", "statements", "--small-servicer", "own-loans", "--db", url]) == 0
    assert "yes, 5,000 or fewer mortgage loans" in capsys.readouterr().out
    assert main(["settings", "statements", "--coupon-books", "on", "--json", "--db", url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["small_servicer"], shown["coupon_books"], shown["mortgage_loans"]) == ("own_loans", True, 0)
    assert statements.statement_settings(admin).settings == statements.StatementSettings("own_loans", True)
    assert main(["settings", "statements", "--small-servicer", "tiny", "--db", url]) == 2
    assert "small_servicer" in capsys.readouterr().err
    assert main(["settings", "statements", "--small-servicer", "none", "--coupon-books", "off", "--db", url]) == 0
    assert statements.statement_settings(admin).settings == statements.StatementSettings()
