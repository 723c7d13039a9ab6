"""NUL characters and absurd amounts on both databases: one field-named refusal, nothing written (issue 12).

PostgreSQL refuses a NUL in a text column (or a query parameter) with a driver error; SQLite
stores it.  Either way a NUL (or a direction override) in a stored or searched text is refused
before the database sees it, with the field named, and so is an amount no column or loan can
hold.  ``tests/test_fuzz_inputs.py`` hunts for more on SQLite with hypothesis; these are the
explicit cases, run on PostgreSQL too (``contexts`` is parametrized ``sqlite`` / ``postgresql``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.db.models import AuditEvent, Contact, LedgerEntry, Note, Person, User
from app.services import accounts, audit_search, batches, boarding, collections, products, search, servicing, users
from app.services.errors import FileRejected, InvalidInput, NotFound, ServiceError, storage_problem

from .loans import make_loan

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def _counts(ctx) -> tuple[int, ...]:
    with ctx.unit(write=False) as session:
        return tuple(session.scalar(select(func.count()).select_from(model)) or 0
                     for model in (LedgerEntry, AuditEvent, Note, Contact, Person, User))


@pytest.fixture
def loan(contexts) -> str:
    return make_loan(contexts["admin"])


@pytest.mark.parametrize("bad", ["CHK\x001", "\u202e1001"])
def test_text_with_a_nul_or_an_override_is_refused_by_name(contexts, loan, bad):
    admin, clerk, collector = contexts["admin"], contexts["clerk"], contexts["collector"]
    before = _counts(admin)
    refusals = [
        ("reference", lambda: servicing.post_payment(clerk, loan, "100.00", reference=bad)),
        ("reason", lambda: servicing.assess_fee(admin, loan, "25.00", "other", reason=bad)),
        ("reason", lambda: servicing.adjust_principal(admin, loan, "-1.00", reason=bad)),
        ("note", lambda: accounts.add_note(clerk, loan, f"called back {bad}")),
        ("note", lambda: collections.log_contact(collector, loan, channel="phone", outcome="no_answer", note=bad)),
        ("full name", lambda: users.create_user(admin, "newclerk", f"New {bad}", "clerk", "a-long-password-1")),
        ("search", lambda: search.search_loans(clerk, f"Borrower{bad}")),
        ("user", lambda: audit_search.search_audit(admin, user=bad)),
    ]
    for field, attempt in refusals:
        with pytest.raises(InvalidInput) as caught:
            attempt()
        assert caught.value.field == field and "invisible or control character" in caught.value.problem, field
        assert "\n" not in str(caught.value)
    # A loan number nobody could have is not looked up (a NUL parameter is a driver error on PostgreSQL).
    with pytest.raises(NotFound, match=r"^loan: no loan numbered "):
        servicing.post_payment(clerk, loan + bad, "100.00")
    assert search.find_loan(clerk, loan + bad) is None
    assert _counts(admin) == before


def test_a_nul_in_a_file_is_a_problem_of_the_file(contexts, loan, tmp_path):
    admin, clerk = contexts["admin"], contexts["clerk"]
    products.load_products_file(admin, SAMPLES / "products.json")
    before = _counts(admin)
    record = json.loads((SAMPLES / "boarding-new.json").read_text())["loans"][0]
    record["borrower"]["last_name"] = "Kim\x00"
    path = tmp_path / "board.json"
    path.write_text(json.dumps({"loans": [record]}))
    with pytest.raises(FileRejected) as caught:
        boarding.board_file(admin, path)
    assert [str(p) for p in caught.value.problems] == [
        "board.json, row 1, borrower.last_name: contains an invisible or control character U+0000; retype it"]
    rows = [batches.BatchRow(loan, Decimal("10.00"), reference="CHK\x00"),
            batches.BatchRow(loan + "\x00", Decimal("10.00"))]
    problems = batches.check_batch(clerk, rows, "20.00")
    assert [(p.row, p.field) for p in problems] == [(1, "reference"), (2, "loan_number")]
    lockbox = tmp_path / "lockbox.csv"
    lockbox.write_text(f"loan_number,amount,reference\n{loan},10.00,CHK\x009\n")
    with pytest.raises(FileRejected) as caught:
        batches.post_lockbox_file(clerk, lockbox, "10.00")
    assert str(caught.value) == ("lockbox.csv, row 2, reference: contains an invisible or control character U+0000; "
                                 "retype it")
    assert _counts(admin) == before


@pytest.mark.parametrize(("amount", "problem"), [
    ("1e33", "'1e33' is not a plain amount: write it out without an exponent"),
    ("1E+400", "'1E+400' is not a plain amount: write it out without an exponent"),
    ("92233720368547758.08", "'92233720368547758.08' is too large (at most 15 digits before the decimal point)"),
    ("999999999999999.99", "$999,999,999,999,999.99 is more than Keel's limit of $100,000,000.00 for one amount "
                           "on a loan"),
    ("\uff11\uff10\uff10", "'\uff11\uff10\uff10' has digits other than 0-9"),
    ("1,0,0", "'1,0,0' has a comma out of place (commas go between thousands: 1,234.56)"),
])
def test_amounts_no_loan_can_hold_are_refused_by_name(contexts, loan, amount, problem):
    admin, clerk = contexts["admin"], contexts["clerk"]
    before = _counts(admin)
    for field, attempt in (
        ("amount", lambda: servicing.post_payment(clerk, loan, amount)),
        ("amount", lambda: servicing.assess_fee(admin, loan, amount, "other")),
        ("amount", lambda: servicing.adjust_principal(admin, loan, amount, reason="fuzz")),
        ("payment", lambda: servicing.change_terms(admin, loan, payment=amount, reason="fuzz")),
    ):
        with pytest.raises(InvalidInput) as caught:
            attempt()
        assert (caught.value.field, caught.value.problem) == (field, problem)
    assert batches.check_batch(clerk, [batches.BatchRow(loan, Decimal("10.00"))], amount)[0].reason == problem.replace(
        "$999,999,999,999,999.99 is more than Keel's limit of $100,000,000.00 for one amount on a loan",
        "the payments add up to $10.00, not $999,999,999,999,999.99 (difference -$999,999,999,999,989.99)")
    assert _counts(admin) == before


def test_a_principal_adjustment_past_the_loan_limit(contexts, loan):
    # 10,000.00 of principal + 99,999,000.01 = 100,009,000.01, past the 100,000,000.00 a loan may hold.
    admin = contexts["admin"]
    with pytest.raises(InvalidInput, match=r"^amount: 99999000\.01 would make principal 100009000\.01, more than "
                                           r"Keel's limit of 100000000\.00 for one loan$"):
        servicing.adjust_principal(admin, loan, "99999000.01", reason="typo")


@pytest.mark.parametrize("rate", ["1E+400", "101", "\uff16", "6.12345678901"])
def test_rates_are_read_by_the_one_parser(contexts, loan, rate):
    with pytest.raises(InvalidInput) as caught:
        servicing.change_terms(contexts["admin"], loan, rate=rate, reason="fuzz")
    assert caught.value.field == "rate" and "\n" not in caught.value.problem


def test_boarding_refuses_a_principal_no_loan_can_hold(contexts, tmp_path):
    admin = contexts["admin"]
    before = _counts(admin)
    record = json.loads((SAMPLES / "boarding-new.json").read_text())["loans"][0]
    for value, reason in (("90000000000000.00", "90000000000000.00 is more than Keel's limit of 100000000.00 for one "
                                                "loan"),
                          ("1e33", "'1e33' is not a plain amount: write it out without an exponent")):
        record["principal"] = value
        path = tmp_path / "board.json"
        path.write_text(json.dumps([record]))
        with pytest.raises(FileRejected) as caught:
            boarding.board_file(admin, path)
        assert any(p.field == "principal" and p.reason == reason for p in caught.value.problems), caught.value.problems
    assert _counts(admin) == before


def test_a_nul_the_database_refused_is_still_one_line(contexts):
    # The last line of defence, for a text no check caught: PostgreSQL's driver error becomes one sentence.
    admin = contexts["admin"]
    with admin.unit(write=False) as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite stores a NUL; only PostgreSQL refuses it")
        with pytest.raises(Exception) as caught:
            with session.begin_nested():
                session.execute(text("SELECT :value"), {"value": "a\x00b"})
    assert not isinstance(caught.value, ServiceError)
    assert storage_problem(caught.value) == ("a value contains a NUL character (U+0000), which the database cannot "
                                             "store; nothing was saved. Retype it")


@pytest.mark.parametrize("field", ["principal", "accrued_interest", "fees", "suspense", "payment"])
def test_a_seasoned_loans_balances_must_fit_one_loan(contexts, tmp_path, field):
    # A converted principal of 900,000,000,000.00 boarded and end of day skipped the loan for ever after:
    # its interest could never be stored (1e-10 units in 64 bits hold 922,337,203.68).
    admin = contexts["admin"]
    products.load_products_file(admin, SAMPLES / "products.json")
    before = _counts(admin)
    record = json.loads((SAMPLES / "boarding-seasoned.json").read_text())["loans"][0]
    record["conversion"][field] = "900000000000.00"
    path = tmp_path / "seasoned.json"
    path.write_text(json.dumps([record]))
    with pytest.raises(FileRejected) as caught:
        boarding.board_file(admin, path)
    assert [str(p) for p in caught.value.problems] == [
        f"seasoned.json, row 1, conversion.{field}: 900000000000.00 is more than Keel's limit of 100000000.00 for "
        "one loan"]
    assert _counts(admin) == before


def test_a_batch_row_no_loan_can_hold(contexts, loan):
    problems = batches.check_batch(contexts["clerk"], [batches.BatchRow(loan, Decimal("100000000.01"))],
                                   "100000000.01")
    assert [str(p) for p in problems] == [
        "batch, row 1, amount: $100,000,000.01 is more than Keel's limit of $100,000,000.00 for one amount on a loan"]


def test_names_typed_to_filter_or_assign_are_checked(contexts, loan, tmp_path):
    manager = contexts["manager"]
    for field, attempt in (("collector", lambda: collections.queue(manager, collector="col\x00lector")),
                           ("product", lambda: collections.queue(manager, product="AUTO\x00")),
                           ("collector", lambda: collections.reassign(manager, loan, "collector\x00"))):
        with pytest.raises(InvalidInput) as caught:
            attempt()
        assert caught.value.field == field
    lockbox = tmp_path / "lockbox\u202evsc.csv"
    lockbox.write_text(f"loan_number,amount\n{loan},10.00\n")
    with pytest.raises(InvalidInput, match=r"^file: the file's name contains an invisible or control character "
                                           r"U\+202E \(right-to-left override\); rename it$"):
        batches.post_lockbox_file(contexts["clerk"], lockbox, "10.00")
