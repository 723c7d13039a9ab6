"""Boarding LOS handoff files, on SQLite and PostgreSQL (business date 2026-06-01).

The hand-worked loan is LOS-2026-0503 in resources/samples/boarding-new.csv:
PERS36 (scheduled interest, 30/360), 5,000.00 at 12 % for 36 months, funded
2026-05-15, first due 2026-06-15.

* payment: r = 0.12 / 12 = 0.01; 5000 x 0.01 / (1 - 1.01^-36)
  = 50 / 0.3010775 = 166.0715 -> 166.07;
* on 2026-06-01 nothing has fallen due: amount due 0.00, next due 2026-06-15;
* interest 2026-05-15 -> 2026-06-01 under 30/360 is 30 x (6 - 5) + (1 - 15)
  = 16 days: 5000 x 0.12 x 16 / 360 = 26.666... -> 26.67 accrued;
* payoff 5,000.00 + 26.67 = 5,026.67; per diem 5000 x 0.12 / 360 = 1.666... -> 1.67.

The seasoned MORT30 loan (boarding-seasoned.json) converts on the business
date itself, so nothing accrues or falls due between its conversion and the
figures Keel shows: payoff = 187,470.32 + 541.58 + 63.21 = 188,075.11.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db.models import AuditEvent, Collateral, LedgerEntry, Loan, LoanParty, LoanState, Person
from app.db.settings import set_business_date
from app.domain.engine import snapshot
from app.domain.terms import terms_from_dict, terms_to_dict
from app.services import boarding, products, servicing, verify
from app.services.context import CancelToken
from app.services.errors import FileRejected, InvalidInput, PermissionDenied
from app.services.ledger import business_date, open_book

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
NEW_CSV = SAMPLES / "boarding-new.csv"
NEW_JSON = SAMPLES / "boarding-new.json"
SEASONED_JSON = SAMPLES / "boarding-seasoned.json"
TODAY = date(2026, 6, 1)


@pytest.fixture
def admin(contexts):
    ctx = contexts["admin"]
    products.load_products_file(ctx, SAMPLES / "products.json")
    return ctx


def count(ctx, model, *where) -> int:
    with ctx.unit(write=False) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def totals(ctx) -> tuple[int, ...]:
    return tuple(count(ctx, m) for m in (Loan, Person, LoanParty, Collateral, LedgerEntry, LoanState, AuditEvent))


def loan_by_reference(session, reference: str) -> Loan:
    return session.scalars(select(Loan).where(Loan.los_reference == reference)).one()


def seasoned_records() -> list[dict]:
    return json.loads(SEASONED_JSON.read_text())["loans"]


def write_json(path: Path, records: list[dict]) -> Path:
    path.write_text(json.dumps({"loans": records}, indent=1))
    return path


def csv_rows() -> tuple[list[str], list[dict[str, str]]]:
    with NEW_CSV.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)
    return path


# ---------------------------------------------------------------- new loans


def test_csv_boards_every_loan_with_the_right_cached_state(admin):
    result = boarding.board_file(admin, NEW_CSV)
    assert result.loan_numbers == ("KL-000001", "KL-000002", "KL-000003", "KL-000004", "KL-000005")
    assert result.skipped == () and result.exceptions == () and not result.dry_run
    with admin.unit(write=False) as session:
        loan = loan_by_reference(session, "LOS-2026-0503")
        assert loan.loan_number == "KL-000003" and loan.status == "active"
        assert loan.boarded_on == TODAY and loan.boarded_by_id == admin.actor.user_id
        assert loan.product_version.product.code == "PERS36"
        state = loan.state
        assert state is not None
        assert (state.principal, state.accrued_interest, state.fees, state.amount_due) == (
            D("5000.00"), D("26.67"), D("0.00"), D("0.00"))
        assert (state.next_due, state.paid_through, state.days_past_due, state.bucket) == (
            date(2026, 6, 15), None, 0, "current")
        assert (state.payoff, state.per_diem) == (D("5026.67"), D("1.67"))
        # The loan's own terms: the note's figures plus PERS36's engine rules, canonical.
        assert loan.terms == terms_to_dict(terms_from_dict(loan.terms))
        assert loan.terms["interest"] == "scheduled" and loan.terms["day_count"] == "30/360"
        assert loan.terms["late_fee"] == {"grace_days": 15, "fixed": "25.00"}
        assert "payment" not in loan.terms  # computed: 166.07
        book = open_book(session, loan)
        assert snapshot(book.derive(TODAY)[0], book.terms).next_payment == D("166.07")
        entries = book.rows
        # The interest earned before the open day is booked at boarding (issue 9): 26.67, as accrued.
        assert [(e.type, e.effective_date, e.amount, e.seq) for e in entries] == [
            ("boarding", date(2026, 5, 15), D("5000.00"), 1),
            ("accrual_adjustment", date(2026, 6, 1), D("26.67"), 2)]
        (party,) = loan.parties
        assert party.role == "borrower" and party.person.display_name == "Aisha Patel"
        assert party.person.tax_id == "987654323" and party.person.tax_id_masked == "***-**-4323"
        assert party.person.time_zone == "America/New_York"  # from the state, OH
        assert party.person.mobile_phone == "614-555-0199"

        carter = loan_by_reference(session, "LOS-2026-0502")
        assert sorted((p.role, p.person.display_name) for p in carter.parties) == [
            ("borrower", "James Carter"), ("co_borrower", "Linda Carter")]
        assert [(c.kind, c.year, c.make, c.model, c.value) for c in carter.collateral] == [
            ("vehicle", 2019, "Toyota", "Camry", D("14200.00"))]
        johnson = loan_by_reference(session, "LOS-2026-0505")
        assert johnson.terms["payment"] == "245.00"  # the note's own payment
        nguyen = loan_by_reference(session, "LOS-2026-0504")
        assert nguyen.parties[0].person.time_zone == "America/Chicago"
        assert nguyen.parties[0].person.postal_code == "78751-1234"
    assert count(admin, AuditEvent, AuditEvent.action == "loan.boarded") == 5
    assert count(admin, AuditEvent, AuditEvent.action == "boarding.file") == 1


def test_json_boards_mortgage_and_organisation(admin):
    result = boarding.board_file(admin, NEW_JSON)
    assert [b.los_reference for b in result.boarded] == ["LOS-2026-0510", "LOS-2026-0511", "LOS-2026-0512"]
    with admin.unit(write=False) as session:
        mortgage = loan_by_reference(session, "LOS-2026-0510")
        assert mortgage.terms["partial"] == "suspense" and mortgage.terms["late_fee"] == {"grace_days": 15,
                                                                                       "percent": "5"}
        (house,) = mortgage.collateral
        assert (house.kind, house.postal_code, house.value) == ("real_estate", "04101", D("300000.00"))
        assert len(mortgage.parties) == 2
        rivera = loan_by_reference(session, "LOS-2026-0511")
        person = rivera.parties[0].person
        assert person.display_name == "Rivera Landscaping LLC" and person.tax_id == "987654329"
        assert person.time_zone == "America/Chicago"
        assert rivera.collateral[0].vin == "1FTFW1E50PFA12345"
        grace = loan_by_reference(session, "LOS-2026-0512")
        assert grace.state.principal == D("4000.00") and grace.state.accrued_interest == D("0.00")


def test_boarding_twice_creates_nothing_new(admin):
    first = boarding.board_file(admin, NEW_CSV)
    before = totals(admin)
    again = boarding.board_file(admin, NEW_CSV)
    assert again.boarded == ()
    assert again.skipped == tuple(b.los_reference for b in first.boarded)
    assert totals(admin) == before


def test_dry_run_writes_nothing(admin):
    before = totals(admin)
    result = boarding.board_file(admin, NEW_CSV, dry_run=True)
    assert result.dry_run
    assert result.loan_numbers == ("KL-000001", "KL-000002", "KL-000003", "KL-000004", "KL-000005")
    pers = next(b for b in result.boarded if b.los_reference == "LOS-2026-0503")
    assert (pers.principal, pers.next_due, pers.next_payment, pers.amount_due, pers.payoff) == (
        D("5000.00"), date(2026, 6, 15), D("166.07"), D("0.00"), D("5026.67"))
    assert totals(admin) == before
    plan = boarding.check_file(admin, NEW_CSV)
    assert plan.ok and [b.loan_number for b in plan.loans] == list(result.loan_numbers)


def test_generated_numbers_follow_the_highest(admin, tmp_path):
    header, rows = csv_rows()
    rows[1]["loan_number"] = "kl-000041"
    path = write_csv(tmp_path / "numbered.csv", ["loan_number", *header], rows)
    result = boarding.board_file(admin, path)
    assert result.loan_numbers == ("KL-000042", "KL-000041", "KL-000043", "KL-000044", "KL-000045")
    # A number already on Keel is refused.
    header, rows = csv_rows()
    for row in rows:
        row["los_reference"] += "-B"
    rows[0]["loan_number"] = "KL-000043"
    path = write_csv(tmp_path / "taken.csv", ["loan_number", *header], rows)
    with pytest.raises(FileRejected) as caught:
        boarding.board_file(admin, path)
    assert [(p.row, p.field) for p in caught.value.problems] == [(2, "loan_number")]


def test_a_product_change_applies_to_loans_boarded_after_it(admin, tmp_path):
    boarding.board_file(admin, NEW_CSV)
    rules = json.loads((SAMPLES / "products.json").read_text())["products"][0]["rules"]
    rules["late_fee"] = {"grace_days": 10, "fixed": "35.00"}
    with pytest.raises(Exception, match="a loan was boarded"):
        products.add_product_version(admin, "AUTO60", rules, TODAY)
    products.add_product_version(admin, "AUTO60", rules, date(2026, 6, 2))
    with admin.unit() as session:
        set_business_date(session, date(2026, 6, 2))
    header, rows = csv_rows()
    rows = [dict(rows[0], los_reference="LOS-2026-0601", start="2026-06-02", first_due="2026-07-02")]
    boarding.board_file(admin, write_csv(tmp_path / "later.csv", header, rows))
    with admin.unit(write=False) as session:
        before = loan_by_reference(session, "LOS-2026-0501")
        after = loan_by_reference(session, "LOS-2026-0601")
        assert before.terms["late_fee"] == {"grace_days": 10, "percent": "5", "min": "15.00", "max": "50.00"}
        assert after.terms["late_fee"] == {"grace_days": 10, "fixed": "35.00"}
        assert after.product_version.effective_date == date(2026, 6, 2)
        assert business_date(session) == date(2026, 6, 2)


# ---------------------------------------------------------------- bad files


def test_bad_rows_write_nothing_and_every_problem_is_listed(admin, tmp_path):
    header, rows = csv_rows()
    rows[0]["principal"] = "18,500.005"  # row 2
    rows[1]["product"] = "BOAT99"  # row 3
    rows[2]["borrower_last_name"] = ""  # row 4
    rows[2]["borrower_postal_code"] = "4321"
    rows[3]["start"] = "2026-06-02"  # row 5: after the business date
    rows[3]["borrower_tax_id"] = "12345"
    rows[4]["los_reference"] = rows[0]["los_reference"]  # row 6: a duplicate reference
    rows[4]["first_due"] = "2026-05-01"
    rows[4]["term"] = "--5"
    path = write_csv(tmp_path / "bad.csv", header, rows)
    before = totals(admin)
    with pytest.raises(FileRejected) as caught:
        boarding.board_file(admin, path)
    found = {(p.file, p.row, p.field) for p in caught.value.problems}
    assert found == {
        ("bad.csv", 2, "principal"),
        ("bad.csv", 3, "product"),
        ("bad.csv", 4, "borrower_last_name"),
        ("bad.csv", 4, "borrower_postal_code"),
        ("bad.csv", 5, "start"),
        ("bad.csv", 5, "borrower_tax_id"),
        ("bad.csv", 6, "los_reference"),
        ("bad.csv", 6, "first_due"),
        ("bad.csv", 6, "term"),
    }
    reasons = {(p.row, p.field): p.reason for p in caught.value.problems}
    assert "more than two decimal places" in reasons[(2, "principal")]
    assert "no product with code 'BOAT99'" in reasons[(3, "product")]
    assert "also on row 2" in reasons[(6, "los_reference")]
    assert "after the business date 2026-06-01" in reasons[(5, "start")]
    assert totals(admin) == before
    plan = boarding.check_file(admin, path)
    assert not plan.ok and set(plan.problems) == set(caught.value.problems)


def test_json_problems_name_the_json_fields(admin, tmp_path):
    records = seasoned_records()
    records[0]["conversion"]["next_due"] = "2026-06-14"  # not one of the loan's due dates
    records[0]["borrower"]["nickname"] = "Tom"
    records[1]["history"][2]["amount"] = "-5.00"
    records[1]["history"][3]["date"] = "2026-05-28"  # on the conversion date
    records[1]["conversion"]["fees"] = "10.00"  # not for history loans
    records.append({"los_reference": "X-1", "boarding_type": "new", "product": "PERS36", "principal": "100.00",
                    "rate": "5", "term": 3, "start": "2026-05-01", "first_due": "2026-06-01",
                    "borrower": {"last_name": "Doe", "address_line1": "1 A St", "city": "Waco", "state": "ZZ",
                                 "postal_code": "76701", "tax_id": "987654321"},
                    "conversion": {"date": "2026-05-30"}})
    path = write_json(tmp_path / "bad.json", records)
    with pytest.raises(FileRejected) as caught:
        boarding.board_file(admin, path)
    found = {(p.row, p.field) for p in caught.value.problems}
    assert found == {
        (1, "conversion.next_due"),
        (1, "borrower.nickname"),
        (2, "history[3].amount"),
        (2, "history[4].date"),
        (2, "conversion.fees"),
        (3, "borrower.state"),
        (3, "conversion"),
    }
    assert count(admin, Loan) == 0


@pytest.mark.parametrize(
    ("content", "name", "field"),
    [
        ("los_reference,colour\nA,blue\n", "x.csv", "colour"),
        ("product,principal\nAUTO60,1.00\n", "x.csv", "los_reference"),
        ("{not json", "x.json", "file"),
        ('{"loans": {}}', "x.json", "loans"),
        ("los_reference\n", "x.csv", "file"),
        ("hello", "x.txt", "file"),
    ],
)
def test_unreadable_files_are_rejected(admin, tmp_path, content, name, field):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(FileRejected) as caught:
        boarding.board_file(admin, path)
    assert caught.value.problems[0].field == field


def test_a_clerk_cannot_board(contexts, admin):
    with pytest.raises(PermissionDenied):
        boarding.board_file(contexts["clerk"], NEW_CSV)
    with pytest.raises(PermissionDenied):
        boarding.check_file(contexts["manager"], NEW_CSV)
    assert count(admin, Loan) == 0


# ---------------------------------------------------------------- long-job plumbing


def test_cancel_rolls_the_whole_file_back(admin):
    token = CancelToken()
    seen: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, label: str) -> None:
        seen.append((done, total, label))
        if label.startswith("boarded") and done == 2:
            token.cancel()

    before = totals(admin)
    with pytest.raises(boarding.BoardingCancelled, match="nothing was boarded"):
        boarding.board_file(admin, NEW_CSV, progress=progress, cancel=token)
    assert totals(admin) == before
    assert seen[:5] == [(n, 5, f"checked row {n + 1}") for n in range(1, 6)]
    assert seen[5] == (1, 5, "boarded KL-000001 (LOS-2026-0501)")
    # The same file boards in full afterwards.
    assert len(boarding.board_file(admin, NEW_CSV).boarded) == 5


# ---------------------------------------------------------------- seasoned loans


def test_seasoned_conversion_opens_with_its_stated_balances(admin):
    result = boarding.board_file(admin, SEASONED_JSON)
    assert [(b.los_reference, b.boarding_type) for b in result.boarded] == [
        ("CONV-2026-0001", "seasoned"), ("HIST-2026-0001", "history")]
    with admin.unit(write=False) as session:
        loan = loan_by_reference(session, "CONV-2026-0001")
        state = loan.state
        assert (state.principal, state.accrued_interest, state.fees, state.suspense) == (
            D("187470.32"), D("541.58"), D("63.21"), D("0.00"))
        assert state.payoff == D("187470.32") + D("541.58") + D("63.21") == D("188075.11")
        assert (state.paid_through, state.next_due, state.amount_due, state.bucket) == (
            date(2026, 5, 15), date(2026, 6, 15), D("63.21"), "current")
        (entry,) = open_book(session, loan).rows
        assert (entry.type, entry.effective_date, entry.amount) == ("conversion", TODAY, D("187470.32"))
        assert entry.payload["interest_paid_ytd"] == "5097.27" and entry.payload["payment"] == "1264.14"
        book = open_book(session, loan)
        assert book.origin.principal == D("187470.32") and book.origin.payment == D("1264.14")
        # The note's original figures stay the loan's terms.
        assert loan.terms["principal"] == "200000.00" and loan.terms["start"] == "2021-06-15"


def test_history_loan_that_ties_out_is_boarded(admin):
    boarding.board_file(admin, SEASONED_JSON)
    with admin.unit(write=False) as session:
        loan = loan_by_reference(session, "HIST-2026-0001")
        state = loan.state
        assert (state.principal, state.paid_through, state.next_due, state.amount_due) == (
            D("12098.56"), date(2026, 5, 12), date(2026, 6, 12), D("0.00"))
        book = open_book(session, loan)
        types = [row.type for row in book.rows]
        # ...then what the books need to equal the replay: interest earned before boarding (issue 9).
        assert types == ["boarding"] + ["payment"] * 9 + ["accrual_adjustment"]
        payments = book.rows[1:10]
        assert payments[2].reference == "CHK 1043" and payments[2].effective_date == date(2025, 11, 14)
        assert all(p.interest + p.principal + p.fees + p.suspense == D("350.53") for p in payments)
        assert sum(p.principal for p in payments) == D("14500.00") - D("12098.56")
        # The cache is the replay of the ledger.
        assert snapshot(book.derive(TODAY)[0], book.terms).principal == state.principal
    assert count(admin, AuditEvent, AuditEvent.action == "boarding.exception") == 0


def test_history_loan_that_does_not_tie_out_is_held_in_exceptions(admin, tmp_path):
    records = seasoned_records()
    records[1]["conversion"]["principal"] = "12103.56"  # 5.00 more than the replay
    records[1]["conversion"]["next_due"] = "2026-07-12"
    wrong = dict(records[1], los_reference="HIST-2026-0002")
    close = json.loads(json.dumps(records[1]))
    close.update(los_reference="HIST-2026-0003")
    close["conversion"].update(principal="12098.57", next_due="2026-06-12")  # within 0.01
    path = write_json(tmp_path / "history.json", [records[0], wrong, close])
    result = boarding.board_file(admin, path)
    assert [b.los_reference for b in result.boarded] == ["CONV-2026-0001", "HIST-2026-0003"]
    assert result.loan_numbers == ("KL-000001", "KL-000002")
    assert [e.as_dict() for e in result.exceptions] == [
        {"los_reference": "HIST-2026-0002", "row": 2, "field": "principal", "stated": "12103.56",
         "derived": "12098.56", "difference": "5.00"},
        {"los_reference": "HIST-2026-0002", "row": 2, "field": "next_due", "stated": "2026-07-12",
         "derived": "2026-06-12", "difference": "30 days"},
    ]
    assert count(admin, Loan, Loan.los_reference == "HIST-2026-0002") == 0
    stored = boarding.list_boarding_exceptions(admin)
    assert [(e.los_reference, e.field, e.difference) for e in stored] == [
        ("HIST-2026-0002", "principal", "5.00"), ("HIST-2026-0002", "next_due", "30 days")]
    # Boarding the file again records nothing new, and reports the exceptions again.
    before = totals(admin)
    again = boarding.board_file(admin, path)
    assert again.boarded == () and again.skipped == ("CONV-2026-0001", "HIST-2026-0003")
    assert len(again.exceptions) == 2
    assert totals(admin) == before
    # A dry run reports the exception without recording it.
    assert len(boarding.board_file(admin, path, dry_run=True).exceptions) == 2


def test_history_in_a_csv_column(admin, tmp_path):
    record = seasoned_records()[1]
    row = {"los_reference": record["los_reference"], "product": "AUTO60", "boarding_type": "history"}
    for key in ("principal", "rate", "term", "start", "first_due"):
        row[key] = str(record[key])
    for key, value in record["borrower"].items():
        row[f"borrower_{key}"] = value
    for key, value in record["conversion"].items():
        row[f"conversion_{key}"] = value
    row["history"] = json.dumps(record["history"])
    path = write_csv(tmp_path / "history.csv", list(row), [row])
    result = boarding.board_file(admin, path)
    assert result.loan_numbers == ("KL-000001",) and result.exceptions == ()
    row["history"] = "[{'date': 1}]"
    row["los_reference"] = "OTHER"
    with pytest.raises(FileRejected) as caught:
        boarding.board_file(admin, write_csv(tmp_path / "broken.csv", list(row), [row]))
    assert [(p.row, p.field) for p in caught.value.problems] == [(2, "history")]


def test_every_sample_boards_and_the_cache_verifies(admin, contexts):
    boarded = [boarding.board_file(admin, path).loan_numbers for path in (NEW_CSV, NEW_JSON, SEASONED_JSON)]
    assert [len(numbers) for numbers in boarded] == [5, 3, 2]
    assert boarded[2] == ("KL-000009", "KL-000010")
    report = verify.verify(contexts["manager"])
    assert report.ok, report


# ---------------------------------------------------------------- the command line


def _keel(db: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "KEEL_DATABASE_URL": db, "KEEL_USER": "boss", "KEEL_PASSWORD": "board-secret-42",
                   "KEEL_ADMIN_PASSWORD": "board-secret-42", **(env or {})}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=environment,
                          cwd=Path(__file__).resolve().parents[2], timeout=120)


def test_keel_board_command(tmp_path):
    db = f"sqlite:///{tmp_path / 'keel.sqlite3'}"
    init = _keel(db, "init", "--business-date", "2026-06-01")
    assert init.returncode == 0, init.stderr
    added = _keel(db, "product", "add", str(SAMPLES / "products.json"))
    assert added.returncode == 0, added.stderr
    assert "Created product AUTO60" in added.stdout
    listed = _keel(db, "product", "list", "--json")
    assert [p["code"] for p in json.loads(listed.stdout)] == ["AUTO60", "MORT30", "PERS36"]

    dry = _keel(db, "board", str(NEW_CSV), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Would board 5 loans" in dry.stdout and "Dry run: nothing was written." in dry.stdout

    board = _keel(db, "board", str(NEW_CSV), "--json")
    assert board.returncode == 0, board.stderr
    data = json.loads(board.stdout)
    assert [b["loan_number"] for b in data["boarded"]] == [f"KL-00000{n}" for n in range(1, 6)]
    pers = data["boarded"][2]
    assert (pers["principal"], pers["next_due"], pers["payoff"]) == ("5000.00", "2026-06-15", "5026.67")

    again = _keel(db, "board", str(NEW_CSV))
    assert again.returncode == 0 and "Boarded 0 loans" in again.stdout
    assert "Already boarded, skipped: LOS-2026-0501" in again.stdout

    header, rows = csv_rows()
    for row in rows:
        row["los_reference"] += "-NEW"
    rows[0]["principal"] = "abc"
    rows[2]["rate"] = "101"
    bad = _keel(db, "board", str(write_csv(tmp_path / "bad.csv", header, rows)))
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert lines == [
        "bad.csv, row 2, principal: 'abc' is not a number",
        "bad.csv, row 4, rate: 101 is outside 0 to 100 percent",
        f"keel: error: 2 problems in {tmp_path / 'bad.csv'}; nothing was written",
    ]


def test_boarding_exceptions_and_letter_templates_from_the_terminal(tmp_path):
    # The exceptions list and a template's saved versions, as `keel` prints them.
    db = f"sqlite:///{tmp_path / 'keel.sqlite3'}"
    assert _keel(db, "init", "--business-date", "2026-06-01").returncode == 0
    assert _keel(db, "product", "add", str(SAMPLES / "products.json")).returncode == 0
    records = seasoned_records()
    records[1]["conversion"]["principal"] = "12103.56"  # 5.00 more than the replay (see above)
    board = _keel(db, "board", str(write_json(tmp_path / "history.json", records[:2])))
    assert board.returncode == 1, board.stderr  # boarded, with an exception held back
    listed = _keel(db, "boarding-exceptions", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(e["los_reference"], e["field"], e["difference"]) for e in json.loads(listed.stdout)] == [
        (records[1]["los_reference"], "principal", "5.00")]
    assert "principal stated 12103.56, Keel derives 12098.56" in _keel(db, "boarding-exceptions").stdout
    templates = _keel(db, "letter-templates", "late-notice")
    assert templates.returncode == 0 and "No saved versions of late-notice" in templates.stdout


def test_a_ninety_trillion_dollar_loan_is_refused_by_name(admin, tmp_path):
    """Issue 12: boarding took 90,000,000,000,000.00 at 100 %; Keel's ceiling is $100,000,000.00 a loan."""
    header, rows = csv_rows()
    rows[0]["principal"] = "90000000000000.00"  # row 2
    path = write_csv(tmp_path / "absurd.csv", header, rows)
    before = totals(admin)
    with pytest.raises(FileRejected) as caught:
        boarding.board_file(admin, path)
    problems = [(p.row, p.field, p.reason) for p in caught.value.problems]
    assert (2, "principal", "90000000000000.00 is more than Keel's limit of 100000000.00 for one loan") in problems
    assert totals(admin) == before


def test_a_name_with_a_nul_or_a_direction_override_is_refused(admin, tmp_path):
    header, rows = csv_rows()
    rows[0]["borrower_last_name"] = "\u202ehtimS"  # row 2: prints as "Smith" reversed
    rows[1]["borrower_first_name"] = "Ann\x00"  # row 3
    path = write_csv(tmp_path / "control.csv", header, rows)
    with pytest.raises(FileRejected) as caught:
        boarding.board_file(admin, path)
    found = {(p.row, p.field): p.reason for p in caught.value.problems}
    assert len(found) == len(caught.value.problems) == 2  # one problem each, not also "is required"
    assert "U+202E" in found[(2, "borrower_last_name")] and "U+0000" in found[(3, "borrower_first_name")]


def test_a_products_maximum_principal_and_rate_refuse_a_loan_above_them(admin, tmp_path):
    # A product capped at $15,000.00 and 8 %: the sample's first loan (18,500.00 at 6.9 %) is over on
    # principal, its second (9,800.00 at 8.49 %) over on rate; a terms change to 8.5 % is refused, 7.5 % is not.
    rules = json.loads((SAMPLES / "products.json").read_text())["products"][0]["rules"]
    products.create_product(admin, "CAPPED", "Capped auto", {**rules, "max_principal": "15,000.00", "max_rate": "8"},
                            date(2020, 1, 1))
    header, rows = csv_rows()
    rows = [dict(rows[0], product="CAPPED"), dict(rows[1], product="CAPPED")]
    before = totals(admin)
    with pytest.raises(FileRejected) as caught:
        boarding.board_file(admin, write_csv(tmp_path / "capped.csv", header, rows))
    reasons = {(p.row, p.field): p.reason for p in caught.value.problems}
    assert reasons == {
        (2, "principal"): "18500.00 is above this product's maximum principal of 15000.00",
        (3, "rate"): "8.49 % is above this product's maximum rate of 8 %",
    }
    assert totals(admin) == before
    rows = [dict(rows[1], product="CAPPED", rate="7.25")]
    boarding.board_file(admin, write_csv(tmp_path / "fits.csv", header, rows))
    with admin.unit(write=False) as session:
        number = loan_by_reference(session, rows[0]["los_reference"]).loan_number
    with pytest.raises(InvalidInput, match="rate: 8.5 % is above this product's maximum rate of 8 %"):
        servicing.change_terms(admin, number, rate="8.5", reason="modification")
    servicing.change_terms(admin, number, rate="7.5", reason="modification")
