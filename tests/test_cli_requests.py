"""``keel requests``, ``keel request-log`` and ``keel request-done`` (issue 11, the Reg X / Reg Z worklist).

Business date Monday 2026-06-01; see tests/services/test_requests.py for the day counting.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.services import requests, setup, users
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed
from tests.services.test_requests import mortgage


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    factory = setup.open_database(url, initialize=False)
    contexts = seed(factory)
    monkeypatch.setenv("KEEL_USER", "clerk")
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["clerk"])
    yield url, contexts
    setup.close_database(factory)


def test_log_list_and_mark_requests(database, capsys) -> None:
    url, contexts = database
    number = mortgage(contexts["admin"])
    # Received Wed 05-20 (Memorial Day 05-25 skipped): acknowledge by Thu 05-28, respond by Fri 07-03.
    assert main(["request-log", number, "notice_of_error", "--received", "05/20/2026",
                 "--description", "Payment applied to the wrong month", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "acknowledge by 2026-05-28, respond by 2026-07-03 (OVERDUE)" in out
    # A payoff statement asked for today: Tue 06-02 = 1 .. Fri 06-05 = 4, Mon 06-08 .. Wed 06-10 = 5-7.
    assert main(["request-log", number, "payoff_request", "--description", "Payoff for a sale", "--json",
                 "--db", url]) == 0
    logged = json.loads(capsys.readouterr().out)
    assert (logged["acknowledge_by"], logged["respond_by"], logged["next_step"]) == (None, "2026-06-10", "respond")

    assert main(["requests", "--open", "--json", "--db", url]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["next_step"], r["next_due"], r["overdue"]) for r in listed] == [
        ("notice_of_error", "acknowledge", "2026-05-28", True), ("payoff_request", "respond", "2026-06-10", False)]
    assert main(["requests", "--db", url]) == 0
    table = capsys.readouterr().out
    assert "OVERDUE" in table and "2 requests, 1 overdue" in table

    assert main(["request-done", str(listed[0]["id"]), "responded", "--db", url]) != 0
    assert capsys.readouterr().err.startswith("keel: error: note: say how it was answered")
    assert main(["request-done", str(listed[0]["id"]), "acknowledged", "--db", url]) == 0
    assert "respond by 2026-07-03" in capsys.readouterr().out
    assert main(["request-done", str(listed[1]["id"]), "responded", "--note", "Statement mailed", "--db", url]) == 0
    assert [r.id for r in requests.requests(contexts["clerk"], open_only=True)] == [listed[0]["id"]]


def test_a_loan_without_real_estate_is_refused_in_words(database, capsys) -> None:
    from tests.services.loans import make_loan

    url, contexts = database
    car = make_loan(contexts["admin"])
    assert main(["request-log", car, "notice_of_error", "--description", "x", "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keel: error: loan_number: ") and "not secured by real estate" in err
