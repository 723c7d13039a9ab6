"""``keel adjust``, ``refund``, ``write-off``, ``flag``, ``reg-f-policy`` and the asking ``keel reverse`` (issue 11)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest

from app.cli import main
from app.services import accounts, flags, servicing, setup, users
from app.services.approvals import Approval
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed
from tests.services.loans import make_loan


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    factory = setup.open_database(url, initialize=False)
    contexts = seed(factory)
    monkeypatch.setenv("KEEL_USER", "manager")
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["manager"])
    yield url, contexts
    setup.close_database(factory)


def as_user(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("KEEL_USER", name)
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS[name])


def test_adjust_prints_the_preview_and_asks_first(database, capsys) -> None:
    url, contexts = database
    number = make_loan(contexts["admin"])
    before = accounts.account(contexts["manager"], number).snapshot.principal
    # No terminal to ask on and no --yes: the preview is printed, nothing is done.
    assert main(["adjust", number, "-12.34", "--reason", "boarding error", "--db", url]) != 0
    out = capsys.readouterr()
    assert "principal" in out.out and "--yes" in out.err
    assert accounts.account(contexts["manager"], number).snapshot.principal == before
    assert main(["adjust", number, "-12.34", "--reason", "boarding error", "--yes", "--db", url]) == 0
    assert accounts.account(contexts["manager"], number).snapshot.principal == before - D("12.34")


def test_refund_and_write_off(database, capsys) -> None:
    url, contexts = database
    manager = contexts["manager"]
    over, short = make_loan(contexts["admin"]), make_loan(contexts["admin"])
    # $40 over the payoff (tolerance $0): a manager's overpayment still needs a second user's approval.
    servicing.post_payment(manager, over, accounts.payoff_quote(manager, over).payoff + D("40.00"), reference="o",
                           approval=Approval("admin", PASSWORDS["admin"]))
    servicing.post_payment(manager, short, accounts.payoff_quote(manager, short).payoff - D("3.00"), reference="s")
    assert main(["refund", over, "--reference", "CHK 9", "--yes", "--db", url]) == 0
    assert accounts.account(manager, over).snapshot.refund_due == 0
    assert main(["write-off", over, "--yes", "--db", url]) != 0  # nothing left to write off
    assert "no balance to write off" in capsys.readouterr().err
    assert main(["write-off", short, "--yes", "--db", url]) == 0
    assert accounts.account(manager, short).snapshot.status == "paid_off"


def test_flag_records_dates_and_dispute_details(database, capsys, monkeypatch) -> None:
    url, contexts = database
    number = make_loan(contexts["admin"])
    as_user(monkeypatch, "collector")
    assert main(["flag", number, "dispute", "on", "--reason", "says paid", "--db", url]) != 0
    assert "written or oral" in capsys.readouterr().err
    assert main(["flag", number, "dispute", "on", "--reason", "says paid", "--form", "oral",
                 "--within-validation", "no", "--date", "2026-05-30", "--db", url]) == 0
    event = flags.loan_flags(contexts["collector"], number).history[0]
    assert (event.flag, event.dispute_form, event.within_validation_period, event.effective_date) == (
        "dispute", "oral", False, dt.date(2026, 5, 30))
    # Regulation F per loan is not the collector's.
    assert main(["flag", number, "reg_f", "on", "--reason", "bought", "--basis", "bought_in_default",
                 "--db", url]) != 0
    as_user(monkeypatch, "manager")
    assert main(["flag", number, "reg_f", "on", "--reason", "bought", "--basis", "bought_in_default",
                 "--db", url]) == 0
    assert flags.loan_flags(contexts["manager"], number).reg_f


def test_reg_f_policy_is_an_admins_setting(database, capsys, monkeypatch) -> None:
    url, contexts = database
    assert main(["reg-f-policy", "on", "--reason", "we collect for others", "--db", url]) != 0  # manager
    as_user(monkeypatch, "admin")
    assert main(["reg-f-policy", "on", "--reason", "we collect for others", "--db", url]) == 0
    assert flags.reg_f_policy(contexts["admin"]) is True
    assert main(["reg-f-policy", "show", "--db", url]) == 0
    assert "all consumer loans" in capsys.readouterr().out


def test_reverse_asks_and_keeps_its_note(database, capsys) -> None:
    url, contexts = database
    number = make_loan(contexts["admin"])
    paid = servicing.post_payment(contexts["manager"], number, "100.00", reference="CHK 1")
    assert main(["reverse", str(paid.entry_id), "--reason", "nsf", "--db", url]) != 0
    assert not any(line.type == "reversal" for line in accounts.account(contexts["manager"], number).lines)
    assert main(["reverse", str(paid.entry_id), "--reason", "nsf", "--note", "bank: NSF", "--yes", "--db", url]) == 0
    reversal = [line for line in accounts.account(contexts["manager"], number).lines if line.type == "reversal"]
    assert [line.note for line in reversal] == ["bank: NSF"]  # issue 11: the Note column was blank
