"""The statement cycle through end of day, the letters queue and the print path (issue 13, item 4).

On SQLite and PostgreSQL.  The business date starts at Monday 2026-06-01.
The consumer loans are 10,000.00 at 12 % for 12 months, 30/360: 888.49 a
month (the first period's interest 10,000.00 x 1 % = 100.00, so 788.49
principal), late fee 25.00 after 10 days' grace, funded 2026-05-20 with the
first installment due 2026-06-20.  Statements go 15 days before a due date
(the product default), so June 20's at the close of June 5.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from decimal import Decimal as D

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.db.base import utc_now
from app.db.models import AuditEvent, Collateral, LetterQueueItem, Loan, LoanParty, Person
from app.services import accounts, eod, letters, lender, products, servicing, statements
from app.services.account_page import account_page
from app.services.context import CancelToken, ServiceContext
from app.services.eod import run_eod
from app.services.errors import InvalidInput, PermissionDenied
from app.services.statements import StatementSettings

from .loans import make_loan

CONSUMER = {"start": "2026-05-20", "first_due": "2026-06-20"}
#: A mortgage due the 1st with a 15-day courtesy period (the late fee's grace).
MORTGAGE = {"start": "2026-05-01", "first_due": "2026-06-01", "late_fee": {"grace_days": 15, "fixed": "25.00"}}


def mortgage(ctx: ServiceContext, **terms: object) -> str:
    number = make_loan(ctx, **{**MORTGAGE, **terms})
    with ctx.unit() as session:
        loan_id = session.scalar(select(Loan.id).where(Loan.loan_number == number))
        session.add(Collateral(loan_id=loan_id, kind="real_estate", address_line1="1 Main St", city="Springfield",
                               state="IL", postal_code="62701"))
    return number


def queued(ctx: ServiceContext, number: str, kind: str | None = None) -> list[tuple[str, date, date | None, str]]:
    """(kind, queued on, cycle due, status) of the loan's queue items, oldest first."""
    with ctx.unit(write=False) as session:
        query = (select(LetterQueueItem.kind, LetterQueueItem.queued_on, LetterQueueItem.cycle_due,
                        LetterQueueItem.status)
                 .join(Loan, Loan.id == LetterQueueItem.loan_id).where(Loan.loan_number == number)
                 .order_by(LetterQueueItem.id))
        if kind is not None:
            query = query.where(LetterQueueItem.kind == kind)
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def reasons(ctx: ServiceContext, number: str) -> list[str]:
    with ctx.unit(write=False) as session:
        return list(session.scalars(select(LetterQueueItem.reason).join(Loan, Loan.id == LetterQueueItem.loan_id)
                                    .where(Loan.loan_number == number).order_by(LetterQueueItem.id)))


def set_borrower(ctx: ServiceContext, number: str, **flags: bool) -> None:
    with ctx.unit() as session:
        person = session.scalars(select(Person).join(LoanParty, LoanParty.person_id == Person.id)
                                 .join(Loan, Loan.id == LoanParty.loan_id).where(Loan.loan_number == number)).one()
        for name, value in flags.items():
            setattr(person, name, value)


def with_lender(ctx: ServiceContext) -> None:
    lender.save_lender_settings(ctx, lender.LenderSettings("Keel Test Lending", "1 Main St\nSpringfield, IL 62701",
                                                           "2175550100"))


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


# ---------------------------------------------------------------- consumer loans


def test_a_consumer_loan_due_the_20th_is_billed_at_the_close_of_the_5th(contexts):
    admin = contexts["admin"]
    number = make_loan(admin, **CONSUMER)
    run_eod(admin, date(2026, 6, 4))
    assert queued(admin, number) == []
    summary = run_eod(admin, date(2026, 6, 5))
    # Queued for the morning after the close of June 5, for the cycle due June 20.
    assert queued(admin, number) == [("statement", date(2026, 6, 6), date(2026, 6, 20), "queued")]
    assert summary.days[0].letters_queued == 1
    assert reasons(admin, number) == ["payment due 2026-06-20, 15 days ahead"]
    # Several days in one run: July 20's statement at the close of July 5, and nothing twice (the
    # loan has not paid, so its late notice came at 15 days past due as well).
    run_eod(admin, date(2026, 7, 10))
    assert [(q, c) for _, q, c, _ in queued(admin, number, "statement")] == [
        (date(2026, 6, 6), date(2026, 6, 20)), (date(2026, 7, 6), date(2026, 7, 20))]


def test_the_product_sets_the_days_and_may_turn_statements_off(contexts):
    admin = contexts["admin"]
    ten = make_loan(admin, rules={"statement_days_before_due": 10}, **CONSUMER)
    none = make_loan(admin, rules={"statement_days_before_due": 0}, **CONSUMER)
    run_eod(admin, date(2026, 6, 10))
    assert queued(admin, ten) == [("statement", date(2026, 6, 11), date(2026, 6, 20), "queued")]  # 20 - 10
    assert queued(admin, none) == []


def test_due_the_31st_is_billed_15_days_before_each_month_end(contexts):
    # Due May 31, June 30, July 31: statements at the close of June 15 (30 - 15) and July 16 (31 - 15).
    admin = contexts["admin"]
    number = make_loan(admin, start="2026-04-30", first_due="2026-05-31")
    run_eod(admin, date(2026, 7, 16))
    assert [(q, c) for _, q, c, _ in queued(admin, number, "statement")] == [
        (date(2026, 6, 16), date(2026, 6, 30)), (date(2026, 7, 17), date(2026, 7, 31))]


def test_a_resumed_end_of_day_does_not_bill_twice(contexts):
    admin = contexts["admin"]
    numbers = [make_loan(admin, **CONSUMER) for _ in range(3)]
    run_eod(admin, date(2026, 6, 4))
    # Killed after its first chunk of one loan (the cancel stops it between chunks, as a kill would).
    token = CancelToken()
    stopped = run_eod(admin, date(2026, 6, 5), chunk=1, cancel=token,
                      progress=lambda done, total, label: token.cancel() if done >= 1 else None)
    assert stopped.cancelled
    assert [len(queued(admin, n)) for n in numbers] == [1, 0, 0]
    finished = run_eod(admin, date(2026, 6, 5))
    assert not finished.cancelled and finished.days[0].letters_queued == 3  # the day's record counts all three
    assert [queued(admin, n) for n in numbers] == [[("statement", date(2026, 6, 6), date(2026, 6, 20), "queued")]] * 3
    assert run_eod(admin, date(2026, 6, 5)).days == ()  # a closed day again: nothing


def test_the_queue_itself_refuses_a_second_letter_for_the_same_cycle(contexts):
    admin = contexts["admin"]
    number = make_loan(admin, **CONSUMER)
    with admin.unit() as session:
        loan_id = session.scalar(select(Loan.id).where(Loan.loan_number == number))
        row = {"loan_id": loan_id, "kind": "statement", "queued_on": date(2026, 6, 6), "reason": "r",
               "status": "queued", "created_at": utc_now(), "version": 1,
               "cycle_due": date(2026, 6, 20)}
        other = {**row, "cycle_due": None, "kind": "late-notice"}
        eod._write_chunk(session, [], [], [], [dict(row), dict(row), dict(other), dict(other)])
    assert sorted(queued(admin, number), key=str) == sorted([
        ("statement", date(2026, 6, 6), date(2026, 6, 20), "queued"),
        ("late-notice", date(2026, 6, 6), None, "queued"), ("late-notice", date(2026, 6, 6), None, "queued")], key=str)


def test_no_statement_after_payoff_or_charge_off_or_to_a_borrower_who_said_stop(contexts):
    admin, manager, clerk = contexts["admin"], contexts["manager"], contexts["clerk"]
    paid, charged, stop, lawyer, hardship = (make_loan(admin, **CONSUMER) for _ in range(5))
    payoff = accounts.payoff_quote(clerk, paid, date(2026, 6, 1)).payoff
    servicing.post_payment(manager, paid, str(payoff), reference="PAYOFF")  # above a clerk's limit
    servicing.charge_off(manager, charged, reason="uncollectible")
    set_borrower(admin, stop, cease_contact=True)
    set_borrower(admin, lawyer, attorney_represented=True)
    with admin.unit() as session:
        session.scalars(select(Loan).where(Loan.loan_number == hardship)).one().hardship = True
    run_eod(admin, date(2026, 6, 5))
    assert [queued(admin, n) for n in (paid, charged, stop, lawyer)] == [[], [], [], []]
    # Hardship stops collection letters, not the statement (it says the account is under review).
    assert len(queued(admin, hardship)) == 1


# ---------------------------------------------------------------- mortgages


def test_a_mortgage_due_the_1st_with_15_days_courtesy_is_billed_by_the_20th(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    number = mortgage(admin)
    servicing.post_payment(clerk, number, "888.49", reference="JUNE")
    run_eod(admin, date(2026, 6, 15))
    assert queued(admin, number) == []  # the courtesy period, June 2 to 16, is still running
    run_eod(admin, date(2026, 6, 16))
    # At the close of June 16, for the cycle due July 1; in the mail by June 20 = 1 + 15 + 4.
    assert queued(admin, number) == [("statement", date(2026, 6, 17), date(2026, 7, 1), "queued")]
    assert reasons(admin, number) == ["payment due 2026-07-01; mail by 2026-06-20 (12 CFR 1026.41(b))"]
    # A borrower who asked us to cease contact still gets a mortgage's periodic statement.
    set_borrower(admin, number, cease_contact=True)
    run_eod(admin, date(2026, 7, 16))
    assert [(q, c) for _, q, c, _ in queued(admin, number, "statement")] == [
        (date(2026, 6, 17), date(2026, 7, 1)), (date(2026, 7, 17), date(2026, 8, 1))]


def test_exemptions_suppress_periodic_statements(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    current, consumer = mortgage(admin), make_loan(admin, **CONSUMER)
    # Boarded three months late with nothing paid: 77 days past due on June 17 (from April 1).
    behind = mortgage(admin, start="2026-03-01", first_due="2026-04-01")
    servicing.post_payment(clerk, current, "888.49", reference="JUNE")
    statements.save_statement_settings(admin, StatementSettings(small_servicer="own_loans"))
    run_eod(admin, date(2026, 6, 16))
    assert queued(admin, current) == [] and queued(admin, behind) == []  # 12 CFR 1026.41(e)(4)
    assert len(queued(admin, consumer)) == 1  # not a mortgage: billed as before
    statements.save_statement_settings(admin, StatementSettings(coupon_books=True))
    run_eod(admin, date(2026, 7, 16))
    assert queued(admin, current, "statement") == []  # 1026.41(e)(3)
    # More than 45 days delinquent: the (d)(8) information in writing, so the statement goes.
    assert queued(admin, behind, "statement") == [("statement", date(2026, 7, 17), date(2026, 8, 1), "queued")]
    assert any("1026.41(e)(3)(iv)" in reason for reason in reasons(admin, behind))


def test_statement_settings_are_validated_audited_and_admins_only(contexts, monkeypatch):
    admin = contexts["admin"]
    assert statements.statement_settings(contexts["clerk"]).settings == StatementSettings()
    with pytest.raises(PermissionDenied):
        statements.save_statement_settings(contexts["manager"], StatementSettings(coupon_books=True))
    with pytest.raises(InvalidInput) as bad:
        statements.save_statement_settings(admin, StatementSettings(small_servicer="tiny"))
    assert bad.value.field == "small_servicer"
    saved = statements.save_statement_settings(admin, StatementSettings(small_servicer="housing-finance-agency"))
    assert saved.settings.small_servicer == "housing_finance_agency" and saved.warnings == ()
    mortgage(admin)
    # More mortgage loans than a count-based small servicer services: said, not refused.
    monkeypatch.setattr(statements, "SMALL_SERVICER_LOANS", 0)
    info = statements.save_statement_settings(admin, StatementSettings(small_servicer="own_loans"))
    assert info.mortgage_loans == 1 and "services 1 mortgage loans" in info.warnings[0]
    with admin.unit(write=False) as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "settings.statements_changed")))
    assert [r.details["after"]["small_servicer"] for r in rows] == ["housing_finance_agency", "own_loans"]


# ---------------------------------------------------------------- reminders


def test_reminders_only_for_loans_that_have_not_paid_and_dropped_once_paid(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    with_lender(admin)
    rules = {"reminder_days_before_due": 3}
    unpaid, paid = make_loan(admin, rules=rules, **CONSUMER), make_loan(admin, rules=rules, **CONSUMER)
    run_eod(admin, date(2026, 6, 9))
    servicing.post_payment(clerk, paid, "888.49", reference="EARLY")  # June 10: June 20's installment, early
    run_eod(admin, date(2026, 6, 17))
    # Due June 20, three days before: the close of June 17, only for the loan that has not paid.
    assert queued(admin, unpaid, "payment-reminder") == [("payment-reminder", date(2026, 6, 18), date(2026, 6, 20),
                                                         "queued")]
    assert queued(admin, paid, "payment-reminder") == []
    # It pays on the 18th, before the reminder is printed: dropped as paid, with the reason.
    servicing.post_payment(clerk, unpaid, "888.49", reference="ON TIME")
    run = letters.run_queued(admin)
    assert [(d.loan_number, d.kind) for d in run.dropped] == [(unpaid, "payment-reminder")]
    assert "paid: the payment due 2026-06-20 was received" in run.dropped[0].reason
    assert queued(admin, unpaid, "payment-reminder")[0][3] == "dropped"


def test_a_reminder_prints_with_the_amount_and_due_date(contexts):
    admin = contexts["admin"]
    with_lender(admin)
    number = make_loan(admin, rules={"reminder_days_before_due": 5}, **CONSUMER)
    run_eod(admin, date(2026, 6, 15))
    run = letters.run_queued(admin)
    kinds = sorted(r.kind for r in run.records)
    assert kinds == ["payment-reminder", "statement"]
    reminder = next(r for r in run.records if r.kind == "payment-reminder")
    assert reminder.figures["payment_due_date"] == "2026-06-20" and reminder.figures["amount_due"] == "888.49"
    text = text_of(letters.reprint(admin, reminder.id))
    assert "Reminder: your payment of $888.49 is due June 20, 2026" in text
    assert number in text


# ---------------------------------------------------------------- printing and the account's letters


def test_the_months_statements_print_as_one_batch_and_show_in_each_account(contexts, tmp_path):
    admin, clerk = contexts["admin"], contexts["clerk"]
    with_lender(admin)
    first, second = make_loan(admin, **CONSUMER), make_loan(admin, **CONSUMER)
    run_eod(admin, date(2026, 6, 5))
    waiting = account_page(clerk, first).queued_letters
    assert [(q.kind, q.cycle_due) for q in waiting] == [("statement", date(2026, 6, 20))]
    run = letters.run_queued(admin)  # June 6, the morning after
    assert sorted(r.loan_number for r in run.records) == sorted([first, second]) and run.dropped == ()
    batch = letters.queued_batch(admin)
    assert batch.letter_ids == tuple(r.id for r in run.records)
    assert batch.pages == len(PdfReader(io.BytesIO(batch.pdf_bytes)).pages) >= 2
    # The cycle's figures: due June 20, the first installment 888.49 = 788.49 principal + 100.00 interest,
    # a 25.00 late fee if paid after June 30 (June 20 + 10 days' grace).
    record = run.records[0]
    f = record.figures
    assert (f["payment_due_date"], f["amount_due"], f["current_principal"], f["current_interest"]) == (
        "2026-06-20", "888.49", "788.49", "100.00")
    assert (f["late_fee_amount"], f["late_fee_date"]) == ("25.00", "2026-06-30")
    pdf = letters.reprint(admin, record.id)
    text = text_of(pdf)
    for expected in ("Billing statement", "Payment due date", "June 20, 2026", "$888.49", "$788.49", "$100.00",
                     "June 30, 2026", "$25.00", "Explanation of amount due", "Transaction activity"):
        assert expected in text, expected
    letters.mark_printed(admin, batch.letter_ids)
    page = account_page(clerk, first)
    assert [(r.kind, r.letter_date) for r in page.letters] == [("statement", date(2026, 6, 6))]
    assert page.queued_letters == ()
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-"], input=pdf, check=True,
                       stdout=(tmp_path / "statement.ppm").open("wb"), timeout=60)
        assert (tmp_path / "statement.ppm").stat().st_size > 10_000


# ---------------------------------------------------------------- product rules


def test_product_rules_for_the_cycle_are_validated():
    rules, problems = products.check_rules({})
    assert problems == [] and rules is not None
    assert (rules.statement_days_before_due, rules.reminder_days_before_due) == (15, None)
    doc = rules.to_dict()
    assert doc["statement_days_before_due"] == 15 and "reminder_days_before_due" not in doc
    rules, _ = products.check_rules({"statement_days_before_due": 0, "reminder_days_before_due": "3"})
    assert rules is not None and (rules.statement_days_before_due, rules.reminder_days_before_due) == (0, 3)
    assert products._parse_rules(rules.to_dict()) == rules
    for bad in ({"statement_days_before_due": 61}, {"statement_days_before_due": -1},
                {"statement_days_before_due": "soon"}, {"reminder_days_before_due": 0},
                {"reminder_days_before_due": 31}):
        _, problems = products.check_rules(bad)
        assert [f for f, _ in problems] == [f"rules.{next(iter(bad))}"], bad
