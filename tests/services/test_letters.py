"""Letters service (issue 6): every printed amount is the engine's, on SQLite and PostgreSQL.

The PDFs are read back with pypdf; amounts are compared with
``accounts.account`` / ``accounts.payoff_quote`` for the same loan and date,
formatted the one way Keel formats money.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.db.models import Letter, LetterQueueItem, Loan, LoanParty, Person
from app.db.settings import set_setting
from app.domain.money import format_money
from app.reports.layout import ADDRESS_AREA, PAGE_HEIGHT
from app.services import accounts, letters, servicing
from app.services.context import CancelToken, ServiceContext
from app.services.errors import InvalidInput, PermissionDenied
from tests.services.conftest import BUSINESS_DATE
from tests.services.loans import make_loan

DAY = BUSINESS_DATE  # 2026-06-01
LENDER = "Harbor Point Lending"


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def pages_of(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def m(value: Decimal) -> str:
    return format_money(value)


def long(day: dt.date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


@pytest.fixture
def ctx(contexts: dict[str, ServiceContext]) -> ServiceContext:
    admin = contexts["admin"]
    with admin.unit() as session:
        set_setting(session, "lender_name", LENDER)
        set_setting(session, "lender_address", "200 Harbor Street, Suite 400\nPortland ME 04101")
        set_setting(session, "lender_phone", "(207) 555-0100")
    return admin


def delinquent_loan(ctx: ServiceContext) -> str:
    """10,000.00 at 12 % for 12 months from 2026-01-01; paid February and March, then nothing."""
    number = make_loan(ctx)
    servicing.post_payment(ctx, number, "888.49", dt.date(2026, 2, 1), confirm_backdated=True)
    servicing.post_payment(ctx, number, "888.49", dt.date(2026, 3, 3), confirm_backdated=True)
    return number


def current_loan(ctx: ServiceContext) -> str:
    number = make_loan(ctx)
    for month in (2, 3, 4, 5):
        servicing.post_payment(ctx, number, "888.49", dt.date(2026, month, 1), confirm_backdated=True)
    servicing.post_payment(ctx, number, "888.49", DAY)
    return number


def set_flags(ctx: ServiceContext, number: str, **flags: bool) -> None:
    with ctx.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        for name, value in flags.items():
            setattr(loan, name, value)


def queue(ctx: ServiceContext, number: str, kind: str, reason: str = "15 days past due") -> int:
    with ctx.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        item = LetterQueueItem(loan_id=loan.id, kind=kind, queued_on=DAY, reason=reason)
        session.add(item)
        session.flush()
        return item.id


# ---------------------------------------------------------------- amounts are the engine's


def test_late_notice_prints_the_engines_amounts(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    snap = accounts.account(ctx, number, DAY).snapshot
    rendered = letters.render_letter(ctx, "late-notice", number)
    text = text_of(rendered.pdf_bytes)
    assert rendered.figures["amount_due"] == snap.amount_due
    assert rendered.figures["past_due_installments"] + rendered.figures["late_fees"] + rendered.figures["other_fees"] \
        == snap.amount_due
    assert rendered.figures["late_fees"] + rendered.figures["other_fees"] == snap.fees
    for amount in (snap.amount_due, snap.amount_due - snap.fees, snap.fees):
        assert m(amount) in text
    assert f"{snap.days_past_due} days past due" in text
    assert long(snap.next_due) in text  # the oldest unpaid installment
    assert "Pat Borrower" in text and "1 Main St" in text
    assert rendered.pages == 1 and pages_of(rendered.pdf_bytes) == 1


def test_default_notice_cure_amounts_are_the_engines(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    cure_by = DAY + dt.timedelta(days=letters.CURE_DAYS)
    today = accounts.account(ctx, number, DAY).snapshot
    then = accounts.account(ctx, number, cure_by).snapshot
    rendered = letters.render_letter(ctx, "default-notice", number)
    text = text_of(rendered.pdf_bytes)
    assert rendered.figures["cure_by_date"] == cure_by
    assert rendered.figures["cure_amount"] == today.amount_due
    assert rendered.figures["cure_amount_by_date"] == then.amount_due
    for amount in (today.amount_due, then.amount_due, today.principal):
        assert m(amount) in text
    assert long(cure_by) in text


def test_payoff_statement_is_the_payoff_quote(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    good = DAY + dt.timedelta(days=14)
    quote = accounts.payoff_quote(ctx, number, good)
    rendered = letters.render_letter(ctx, "payoff", number, good_through=good)
    text = text_of(rendered.pdf_bytes)
    f = rendered.figures
    assert (f["principal"], f["interest"], f["fees"], f["payoff_amount"], f["per_diem"]) == (
        quote.principal, quote.accrued_interest, quote.fees, quote.payoff, quote.per_diem)
    assert f["late_fees"] + f["other_fees"] == quote.fees
    assert f["escrow"] == Decimal("0.00")
    for amount in (quote.principal, quote.accrued_interest, quote.payoff, quote.per_diem):
        assert m(amount) in text
    assert f"Total amount to pay off on {long(good)}" in text
    assert "$0.00" in text  # escrow
    assert "Where to send funds" in text and "200 Harbor Street" in text


def test_payoff_good_through_defaults_to_ten_days(ctx: ServiceContext) -> None:
    number = current_loan(ctx)
    rendered = letters.render_letter(ctx, "payoff", number)
    good = DAY + dt.timedelta(days=letters.PAYOFF_GOOD_DAYS)
    assert rendered.figures["good_through_date"] == good
    assert rendered.figures["payoff_amount"] == accounts.payoff_quote(ctx, number, good).payoff


def test_statement_for_a_current_loan(ctx: ServiceContext) -> None:
    number = current_loan(ctx)
    snap = accounts.account(ctx, number, DAY).snapshot
    assert snap.days_past_due == 0
    rendered = letters.render_letter(ctx, "statement", number)
    f = rendered.figures
    due = f["payment_due_date"]
    assert due == snap.next_due == dt.date(2026, 7, 1)
    schedule = {row.due: row for row in accounts.original_schedule(ctx, number)}
    assert f["amount_due"] == accounts.account(ctx, number, due).snapshot.amount_due == schedule[due].payment
    assert (f["current_principal"], f["current_interest"]) == (schedule[due].principal, schedule[due].interest)
    assert f["principal_balance"] == snap.principal
    text = text_of(rendered.pdf_bytes)
    for amount in (f["amount_due"], schedule[due].principal, schedule[due].interest, snap.principal):
        assert m(amount) in text
    assert "Delinquency notice" not in text
    # Past payments: the June 1 payment since the last statement; five payments this year.
    assert f["paid_since_last"]["total"] == Decimal("888.49")
    assert f["paid_year_to_date"]["total"] == Decimal("888.49") * 5
    assert "Payment received" in text and "Past payments breakdown" in text
    # The late fee the engine would charge after the grace period: due Jul 1 + 10 days is Saturday
    # Jul 11, so the last day to pay on time is the next business day, Monday Jul 13 (issue 9).
    assert f["late_fee_amount"] == Decimal("25.00")
    assert f["late_fee_date"] == dt.date(2026, 7, 13)


def test_statement_for_a_delinquent_loan_has_the_delinquency_notice(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    snap = accounts.account(ctx, number, DAY).snapshot
    rendered = letters.render_letter(ctx, "statement", number)
    f = rendered.figures
    schedule = {row.due: row for row in accounts.original_schedule(ctx, number)}
    due = f["payment_due_date"]
    assert due == dt.date(2026, 7, 1)
    assert f["amount_due"] == snap.amount_due + schedule[due].payment
    assert f["past_due_installments"] == snap.amount_due - snap.fees
    assert f["fees_due"] == snap.fees
    text = text_of(rendered.pdf_bytes)
    assert "Delinquency notice" in text
    assert f"{snap.days_past_due} days" in text
    assert long(snap.next_due) in text  # the date the borrower became delinquent
    history = f["delinquency"]["history"]
    dues = [dt.date(2026, month, 1) for month in range(2, 7)]  # first due Feb 1; six at most
    assert [line["due"] for line in history] == dues
    for i, line in enumerate(history):
        end = dues[i + 1] - dt.timedelta(days=1) if i + 1 < len(dues) else DAY
        cycle = accounts.account(ctx, number, end).snapshot
        assert line["unpaid"] == cycle.amount_due - cycle.fees
    assert [line["unpaid"] for line in history][:2] == [Decimal("0.00"), Decimal("0.00")]
    assert "fully paid" in text and "unpaid balance of" in text
    assert m(f["amount_due"]) in text
    assert "1-800-569-4287" in text and "find-a-housing-counselor" in text


def test_paid_in_full_letter_only_for_a_paid_off_loan(ctx: ServiceContext) -> None:
    number = current_loan(ctx)
    with pytest.raises(InvalidInput, match="not paid in full"):
        letters.render_letter(ctx, "paid-in-full", number)
    quote = accounts.payoff_quote(ctx, number, DAY)
    servicing.post_payment(ctx, number, str(quote.payoff), DAY, reference="payoff")
    assert accounts.account(ctx, number, DAY).snapshot.status == "paid_off"
    rendered = letters.render_letter(ctx, "paid-in-full", number)
    text = text_of(rendered.pdf_bytes)
    assert rendered.figures["paid_off_date"] == DAY
    assert rendered.figures["principal_balance"] == Decimal("0.00")
    assert "paid in full" in text and long(DAY) in text
    assert m(Decimal("888.49") + quote.payoff) in text  # both payments that day
    with pytest.raises(InvalidInput, match="not active"):
        letters.render_letter(ctx, "payoff", number)


# ---------------------------------------------------------------- validation notice


def test_validation_notice_has_every_element_of_1006_34c(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    set_flags(ctx, number, reg_f_applies=True)
    quote = accounts.payoff_quote(ctx, number, DAY)
    itemization_day = dt.date(2026, 3, 3)  # the last payment
    then = accounts.payoff_quote(ctx, number, itemization_day)
    rendered = letters.render_letter(ctx, "validation-notice", number)
    f = rendered.figures
    text = " ".join(text_of(rendered.pdf_bytes).split())
    # (c)(1) debt collector communication disclosure
    assert f"{LENDER} is a debt collector." in text
    assert "We will use any information you give us to help collect the debt." in text
    # (c)(2) information about the debt
    assert f["itemization_date"] == itemization_day and long(itemization_day) in text
    assert f["account_number"] == number and number in text
    assert "You had a loan from Harbor Point Lending" in text  # creditor on the itemization date
    assert "The creditor to whom the debt is owed now is Harbor Point Lending" in text
    assert f["amount_on_itemization_date"] == then.payoff and m(then.payoff) in text
    for label in ("charged this amount in interest", "charged this amount in fees", "paid this amount toward the debt",
                  "credited this amount"):
        assert label in text
    assert f["current_amount"] == quote.payoff and m(quote.payoff) in text
    assert (f["amount_on_itemization_date"] + f["interest_since"] + f["fees_since"] - f["payments_since"]
            - f["credits_since"]) == f["current_amount"]
    assert m(f["interest_since"]) in text and m(f["fees_since"]) in text
    # (c)(3) consumer protections, with the validation period end date: mailed Monday June 1,
    # assumed received June 8 (five business days), period ends 30 days later.
    assert f["validation_end_date"] == dt.date(2026, 7, 8)
    end = long(dt.date(2026, 7, 8))
    assert f"Call or write to us by {end}, to dispute all or part of the debt." in text
    assert "we will assume that our information is correct" in text
    assert f"If you write to us by {end}, we must stop collection on any amount you dispute" in text
    assert "name and address of the original creditor" in text and f"If you write by {end}" in text
    assert "www.cfpb.gov/debt-collection" in text
    # (c)(4) the consumer-response section and its prompts
    assert "How do you want to respond?" in text
    assert "I want to dispute the debt because I think:" in text
    assert "\u2610 This is not my debt." in text and "\u2610 The amount is wrong." in text
    assert "Other (please describe on reverse or attach additional information)." in text
    assert "I want you to send me the name and address of the original creditor." in text
    assert "Mail this form to:" in text and "Detach and return" in text
    assert text.count("1 Main St") >= 2  # in the window and on the form


def test_validation_period_counts_business_days_and_federal_holidays() -> None:
    # Mailed Monday June 29, 2026: June 30, July 1, July 2, (Friday July 3 is Independence Day
    # observed), July 6, July 7 -> assumed received July 7; the period ends August 6.
    assert letters._validation_period_end(dt.date(2026, 6, 29)) == (dt.date(2026, 7, 7), dt.date(2026, 8, 6))
    # Mailed Friday Nov 20, 2026: Nov 23, 24, 25, (26 Thanksgiving), 27, 30 -> Nov 30; ends Dec 30.
    assert letters._validation_period_end(dt.date(2026, 11, 20)) == (dt.date(2026, 11, 30), dt.date(2026, 12, 30))
    day = dt.date(2026, 1, 1)
    for _ in range(400):
        receipt, end = letters._validation_period_end(day)
        assert (end - day).days >= 35
        assert receipt.weekday() < 5
        day += dt.timedelta(days=1)


def test_validation_notice_needs_regulation_f(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    with pytest.raises(InvalidInput, match="Regulation F does not apply"):
        letters.render_letter(ctx, "validation-notice", number)
    with ctx.unit() as session:
        set_setting(session, letters.SETTING_REGF_ALL_LOANS, "true")
    assert letters.render_letter(ctx, "validation-notice", number).pages >= 1


# ---------------------------------------------------------------- the window envelope


def _positions(pdf: bytes) -> list[tuple[str, float, float]]:
    """(text, x, y-from-top) of every text run on page 1, from pypdf's visitor."""
    found: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append((text.strip(), x, PAGE_HEIGHT - y))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


@pytest.mark.parametrize("kind", ["late-notice", "statement"])
def test_address_block_sits_in_the_window(ctx: ServiceContext, kind: str) -> None:
    number = delinquent_loan(ctx)
    rendered = letters.render_letter(ctx, kind, number)
    runs = _positions(rendered.pdf_bytes)
    address = [run for run in runs if run[0] in ("Pat Borrower" + number[-3:], "1 Main St", "Springfield IL 62701")]
    assert len(address) == 3, runs[:12]
    returned = [run for run in runs if run[0].startswith(LENDER) and "200 Harbor Street" in run[0]]
    assert returned, "the return address line is missing"
    for text, x, y in [*address, *returned]:
        assert ADDRESS_AREA.contains(x, y), (text, x / 72, y / 72, ADDRESS_AREA.inches())
    # The window is 2.042" to 3.167" from the top when the letter rests in the envelope.
    assert all(2.04 * 72 < y < 3.17 * 72 for _, _, y in address)
    assert all(x >= 1.0 * 72 - 0.01 for _, x, _ in address)


# ---------------------------------------------------------------- issuing, history, reprint


def test_issue_letter_records_figures_hash_and_pdf(ctx: ServiceContext, contexts: dict[str, ServiceContext]) -> None:
    number = delinquent_loan(ctx)
    collector = contexts["collector"]
    record = letters.issue_letter(collector, "late-notice", number)
    assert record.user == "collector" and record.kind == "late-notice" and record.letter_date == DAY
    assert record.pdf_bytes is not None
    assert record.file_hash == hashlib.sha256(record.pdf_bytes).hexdigest()
    assert record.figures["amount_due"] == str(accounts.account(ctx, number, DAY).snapshot.amount_due)
    assert record.template_version is None
    history = letters.letter_history(ctx, number)
    assert [h.id for h in history] == [record.id]
    assert history[0].figures == record.figures and history[0].pdf_bytes is None
    again = letters.reprint(collector, record.id)
    assert again == record.pdf_bytes
    with ctx.unit(write=False) as session:
        row = session.get(Letter, record.id)
        assert row is not None and bytes(row.pdf) == again and row.user_id == collector.actor.user_id


def test_clerk_may_preview_but_not_issue(ctx: ServiceContext, contexts: dict[str, ServiceContext]) -> None:
    number = delinquent_loan(ctx)
    assert letters.render_letter(contexts["clerk"], "late-notice", number).pages == 1
    with pytest.raises(PermissionDenied):
        letters.issue_letter(contexts["clerk"], "late-notice", number)


def test_same_loan_and_date_render_the_same_bytes(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    first = letters.render_letter(ctx, "default-notice", number)
    second = letters.render_letter(ctx, "default-notice", number)
    assert first.pdf_bytes == second.pdf_bytes


@pytest.mark.parametrize("flag", ["hardship", "dispute"])
def test_hardship_or_dispute_stops_collection_letters(ctx: ServiceContext, flag: str) -> None:
    number = delinquent_loan(ctx)
    set_flags(ctx, number, **{flag: True, "reg_f_applies": True})
    for kind in ("late-notice", "default-notice", "validation-notice"):
        with pytest.raises(InvalidInput, match=flag):
            letters.issue_letter(ctx, kind, number)
    queue(ctx, number, "late-notice")
    run = letters.run_queued(ctx)
    assert run.records == () and run.pdf_bytes == b""
    assert [d.reason for d in run.dropped] == [f"the loan is flagged {flag}: collection letters are stopped"]
    # Statements and payoffs are not collection letters.
    assert letters.issue_letter(ctx, "statement", number).kind == "statement"
    assert letters.issue_letter(ctx, "payoff", number).kind == "payoff"


def test_cease_contact_stops_collection_letters(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    with ctx.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        person = session.scalars(
            select(Person).join(LoanParty, LoanParty.person_id == Person.id).where(LoanParty.loan_id == loan.id)
        ).one()
        person.cease_contact = True
    with pytest.raises(InvalidInput, match="cease contact"):
        letters.issue_letter(ctx, "late-notice", number)


def test_current_loan_gets_no_late_notice(ctx: ServiceContext) -> None:
    number = current_loan(ctx)
    with pytest.raises(InvalidInput, match="current"):
        letters.render_letter(ctx, "late-notice", number)


# ---------------------------------------------------------------- batch runs


def test_queued_run_prints_n_letters_with_n_records(ctx: ServiceContext) -> None:
    numbers = [delinquent_loan(ctx) for _ in range(4)]
    ids = [queue(ctx, number, "late-notice") for number in numbers]
    seen: list[tuple[int, int, str]] = []
    run = letters.run_queued(ctx, progress=lambda d, t, label: seen.append((d, t, label)))
    assert len(run.records) == 4 and run.dropped == ()
    assert {r.loan_number for r in run.records} == set(numbers)
    assert len({r.run_id for r in run.records}) == 1 and run.records[0].run_id == run.run_id
    assert pages_of(run.pdf_bytes) == run.pages == 4
    text = text_of(run.pdf_bytes)
    for number in numbers:
        assert number in text
        assert m(accounts.account(ctx, number, DAY).snapshot.amount_due) in text
    assert seen and seen[-1][0] == seen[-1][1]
    with ctx.unit(write=False) as session:
        items = [session.get(LetterQueueItem, i) for i in ids]
        # Recorded and waiting for the printer: only the desk says they were printed (issue 11).
        assert {item.status for item in items if item} == {"issued"}
        assert {item.letter_id for item in items if item} == {r.id for r in run.records}
        for record in run.records:
            row = session.get(Letter, record.id)
            assert row is not None and hashlib.sha256(bytes(row.pdf)).hexdigest() == row.file_hash
            assert letters.reprint(ctx, record.id) == bytes(row.pdf)
    # A second run finds nothing queued.
    assert letters.run_queued(ctx).records == ()


def test_a_cured_loan_is_dropped_from_the_queued_run(ctx: ServiceContext) -> None:
    cured, still_late = delinquent_loan(ctx), delinquent_loan(ctx)
    cured_id = queue(ctx, cured, "late-notice")
    queue(ctx, still_late, "late-notice")
    amount = accounts.account(ctx, cured, DAY).snapshot.amount_due
    servicing.post_payment(ctx, cured, str(amount), DAY)
    assert accounts.account(ctx, cured, DAY).snapshot.days_past_due == 0
    run = letters.run_queued(ctx)
    assert [r.loan_number for r in run.records] == [still_late]
    assert [(d.loan_number, d.reason) for d in run.dropped] == [(cured, "cured: the loan is current")]
    with ctx.unit(write=False) as session:
        item = session.get(LetterQueueItem, cured_id)
        assert item is not None and item.status == "dropped" and "cured" in (item.reason or "")


def test_below_trigger_is_dropped_and_default_supersedes_late(ctx: ServiceContext) -> None:
    # 10 days past due now: below the 15-day late-notice trigger of the product (the default rules).
    number = make_loan(ctx, first_due="2026-02-20")
    payment = accounts.original_schedule(ctx, number)[0].payment
    for month in (2, 3, 4):
        servicing.post_payment(ctx, number, str(payment), dt.date(2026, month, 20), confirm_backdated=True)
    dpd = accounts.account(ctx, number, DAY).snapshot.days_past_due
    assert 0 < dpd < 15
    queue(ctx, number, "late-notice")
    run = letters.run_queued(ctx)
    assert run.dropped[0].reason == f"cured: {dpd} days past due now, below the 15-day trigger"
    other = delinquent_loan(ctx)
    queue(ctx, other, "late-notice")
    queue(ctx, other, "default-notice")
    run = letters.run_queued(ctx)
    assert [r.kind for r in run.records] == ["default-notice"]
    assert [d.reason for d in run.dropped] == ["superseded by the default notice in the same run"]


def test_print_selected_and_duplex(ctx: ServiceContext) -> None:
    late = delinquent_loan(ctx)
    current = current_loan(ctx)
    set_flags(ctx, late, reg_f_applies=True)
    run = letters.print_selected(ctx, "validation-notice", [late, current, "NOPE"], duplex=True)
    assert [r.loan_number for r in run.records] == [late]
    assert {d.loan_number for d in run.dropped} == {current, "NOPE"}
    run = letters.print_selected(ctx, "statement", [late, current], duplex=True)
    assert len(run.records) == 2
    singles = [pages_of(letters.reprint(ctx, r.id)) for r in run.records]
    blanks = 1 if singles[0] % 2 else 0
    assert pages_of(run.pdf_bytes) == run.pages == sum(singles) + blanks
    if blanks:
        assert "intentionally left blank" in text_of(run.pdf_bytes)


def test_cancelled_run_records_nothing(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    queue(ctx, number, "late-notice")
    token = CancelToken()
    token.cancel()
    with pytest.raises(letters.LettersCancelled):
        letters.run_queued(ctx, cancel=token)
    assert letters.letter_history(ctx, number) == []
    assert len(letters.run_queued(ctx).records) == 1


def test_unknown_queued_kind_is_dropped(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    with ctx.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        # end of day inserts queue rows with Core, past the ORM's kind check
        session.execute(LetterQueueItem.__table__.insert().values(
            loan_id=loan.id, kind="early-intervention", queued_on=DAY, status="queued", version=1,
            created_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC)))
    run = letters.run_queued(ctx)
    assert run.records == ()
    assert run.dropped[0].reason == "Keel has no letter called 'early-intervention'"


# ---------------------------------------------------------------- templates


def test_template_with_an_unknown_placeholder_is_refused_with_its_name(ctx: ServiceContext) -> None:
    body = "[subject]\nHello\n[opening]\nDear {borrower_name}, you owe {foo}.\n"
    with pytest.raises(InvalidInput) as caught:
        letters.save_template(ctx, "late-notice", body)
    assert caught.value.field == "body"
    assert caught.value.problem == "unknown placeholder {foo}"
    with pytest.raises(InvalidInput, match=r"unknown placeholder \{cure_by_date\}"):
        letters.save_template(ctx, "payoff", "[opening]\nPay by {cure_by_date}.")
    with pytest.raises(InvalidInput, match=r"unknown section \[footer\]"):
        letters.save_template(ctx, "payoff", "[footer]\nx")
    assert letters.template(ctx, "late-notice").version is None


def test_saved_template_is_used_and_versioned(ctx: ServiceContext, contexts: dict[str, ServiceContext]) -> None:
    number = delinquent_loan(ctx)
    body = ("[subject]\nPlease pay {amount_due}\n[opening]\nDear {borrower_name},\n\n"
            "**Loan {loan_number}** is {days_past_due} days late. Café Łódź {{literal}}.\n[closing]\n{lender_name}")
    with pytest.raises(PermissionDenied):
        letters.save_template(contexts["collector"], "late-notice", body)
    saved = letters.save_template(ctx, "late-notice", body)
    assert saved.version == 1
    assert letters.save_template(ctx, "late-notice", body).version == 2
    assert [t.version for t in letters.template_versions(ctx, "late-notice")] == [2, 1]
    snap = accounts.account(ctx, number, DAY).snapshot
    record = letters.issue_letter(ctx, "late-notice", number)
    assert record.template_version == 2
    text = text_of(letters.reprint(ctx, record.id))
    assert f"Please pay {m(snap.amount_due)}" in text
    assert f"Loan {number} is {snap.days_past_due} days late. Café Łódź {{literal}}." in text
    assert "amount_due" in letters.placeholders("late-notice")


def test_every_default_template_is_valid() -> None:
    from app.reports import templates

    for kind in letters.KINDS:
        assert templates.default_text(kind).kind == kind


# ---------------------------------------------------------------- the template editor's preview


def test_a_template_preview_picks_a_sample_loan_that_would_get_the_letter(ctx: ServiceContext) -> None:
    current = current_loan(ctx)  # paid through June: no late notice
    late = delinquent_loan(ctx)  # paid February and March only: 3 installments (April, May, June) past due
    body = letters.template(ctx, "late-notice").body + "\n\nCall us, {borrower_name}."
    preview = letters.preview_template(ctx, "late-notice", body)
    assert preview.loan_number == late and preview.template_version is None
    assert "Call us, Pat Borrower" in text_of(preview.pdf_bytes)
    # A payoff statement goes to any active loan: the first boarded is the sample.
    assert letters.preview_template(ctx, "payoff", letters.template(ctx, "payoff").body).loan_number == current
    # No paid-off loan yet: said in words, naming the field.
    with pytest.raises(InvalidInput) as info:
        letters.preview_template(ctx, "paid-in-full", letters.shipped_template(ctx, "paid-in-full").body)
    assert info.value.field == "loan_number" and "no loan on file would get a paid-in-full" in str(info.value)
    # The loan typed, when it may not get the letter: the reason.
    with pytest.raises(InvalidInput) as info:
        letters.preview_template(ctx, "late-notice", body, current)
    assert str(info.value) == f"loan_number: no late-notice for {current}: the loan is current"
    # A placeholder the letter does not know is refused by name, and nothing is saved.
    with pytest.raises(InvalidInput) as info:
        letters.preview_template(ctx, "late-notice", body + " {amount_owed}")
    assert str(info.value) == "body: unknown placeholder {amount_owed}"
    assert letters.template_versions(ctx, "late-notice") == []


def test_a_disputed_loan_is_never_the_sample(ctx: ServiceContext) -> None:
    late = delinquent_loan(ctx)
    set_flags(ctx, late, dispute=True)
    with pytest.raises(InvalidInput, match="no loan on file would get a late-notice"):
        letters.preview_template(ctx, "late-notice", letters.shipped_template(ctx, "late-notice").body)


def test_the_loan_s_flags_carry_the_newest_validation_period(ctx: ServiceContext) -> None:
    from app.services import flags

    number = delinquent_loan(ctx)
    assert flags.loan_flags(ctx, number).within_validation_period(DAY) is None  # no notice sent
    set_flags(ctx, number, reg_f_applies=True)
    letters.issue_letter(ctx, "validation-notice", number, dt.date(2026, 4, 1))
    letters.issue_letter(ctx, "validation-notice", number, DAY)
    state = flags.loan_flags(ctx, number)
    # The newest, 2026-06-01: receipt Mon 06-08 (five business days), period ends 30 days later, Wed 07-08.
    assert (state.validation_notice_date, state.validation_period_ends) == (DAY, dt.date(2026, 7, 8))
    assert state.within_validation_period(dt.date(2026, 7, 8)) is True
    assert state.within_validation_period(dt.date(2026, 7, 9)) is False
