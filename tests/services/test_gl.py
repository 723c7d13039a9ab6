"""The general ledger through the services (issue 13, item 2), on SQLite and PostgreSQL.

* a day of servicing on one loan, its journal entry worked by hand;
* the drill-down lists the entries behind a journal entry and adds up to it;
* the account mapping: shown to report viewers, changed by an administrator (audited);
* the charge-off method moves a charge-off and a recovery between the allowance and expense/income;
* after any sequence of service calls and end of day the journal balances and the control accounts
  equal the booked ledger ``keel verify`` reports (hypothesis).
"""

from __future__ import annotations

import os
from pathlib import Path
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.db.models import AuditEvent, LedgerEntry, Loan
from app.services import accounts as accounts_service
from app.services import boarding, products, servicing, verify
from app.services.approvals import Approval
from app.services.eod import run_eod
from app.services.errors import InvalidInput, PermissionDenied
from app.services.gl import accounts, control, journal
from app.services.ledger import business_date

from .conftest import BUSINESS_DATE, PASSWORDS
from .loans import make_loan

DAY = BUSINESS_DATE  # 2026-06-01


def _lines(entry: journal.JournalEntry) -> set[tuple[str, str, D, D]]:
    return {(line.account_number, line.memo, line.debit, line.credit) for line in entry.lines}


@pytest.fixture
def a_day(contexts):
    """One loan boarded on 2026-06-01 and a day of work on it (see the test for the figures)."""
    admin = contexts["admin"]
    # 10,000.00 at 12 % for 12 months from 2026-05-01: the level payment is
    # 10,000 x 0.01 / (1 - 1.01^-12) = 888.4879 -> 888.49; the first installment (June 1) is
    # interest 10,000 x 0.01 = 100.00 and principal 788.49.
    number = make_loan(admin, start="2026-05-01", first_due="2026-06-01")
    paid = servicing.post_payment(admin, number, "888.49", method="check", reference="CK 101")
    ach = servicing.post_payment(admin, number, "100.00", method="ach", reference="ACH 7",
                                 split={"principal": "100.00"}, override_reason="correction")
    servicing.reverse_payment(admin, ach.entry_id, "posting_error")
    servicing.assess_fee(admin, number, "15.00", "other")
    fee_id = servicing.outstanding_fees(admin, number)[0][0]
    servicing.waive_fee(admin, number, fee_id, reason="goodwill")
    servicing.adjust_principal(admin, number, "-5.00", reason="rounding at boarding")
    return number, paid


def test_a_day_of_servicing_is_one_balanced_journal_entry_worked_by_hand(contexts, a_day):
    number, paid = a_day
    assert (paid.allocation.interest, paid.allocation.principal) == (D("100.00"), D("788.49"))
    result = journal.journal(contexts["manager"], DAY, DAY)
    assert [e.journal_no for e in result.entries] == ["GL-20260601-TEST"]
    entry = result.entries[0]
    # boarding 10,000.00; the May interest booked at boarding (10,000 x 1 % = 100.00, as accrual_adjustment);
    # the 888.49 check (100.00 interest, 788.49 principal); a 100.00 ACH payment to principal and its
    # reversal (the reversal's cash goes back to ACH clearing, the original's method); a 15.00 fee and
    # its waiver; a -5.00 principal adjustment.
    zero = D("0.00")
    assert _lines(entry) == {
        ("1000", "Loans boarded", zero, D("10000.00")),
        ("1000", "Payments (check)", D("888.49"), zero),
        ("1010", "Payments (ACH)", D("100.00"), zero),
        ("1010", "Payments reversed (ACH)", zero, D("100.00")),
        ("1200", "Loans boarded: principal", D("10000.00"), zero),
        ("1200", "Payments: principal", zero, D("888.49")),  # 788.49 by check + 100.00 by ACH
        ("1200", "Payments reversed: principal", D("100.00"), zero),
        ("1200", "Principal adjustments: principal", zero, D("5.00")),
        ("1210", "Interest accrual corrected: interest", D("100.00"), zero),
        ("1210", "Payments: interest", zero, D("100.00")),
        ("1220", "Fees assessed (other): fees", D("15.00"), zero),
        ("1220", "Fees waived: fees", zero, D("15.00")),
        ("4000", "Interest accrual corrected", zero, D("100.00")),
        ("4100", "Fees assessed (other)", zero, D("15.00")),
        ("4100", "Fees waived", D("15.00"), zero),
        ("6120", "Principal adjustments", D("5.00"), zero),
    }
    # 888.49 + 100 + 10,000 + 100 + 100 + 15 + 15 + 5 = 11,223.49 each side.
    assert entry.debits == entry.credits == D("11223.49")
    assert (result.debits, result.credits) == (D("11223.49"), D("11223.49"))
    assert entry.entries == 8  # boarding, accrual_adjustment, 2 payments, reversal, fee, waiver, adjustment
    assert {line.reference for line in entry.lines if line.account_number == "1210"} == {"accrual_adjustment",
                                                                                          "payment"}
    # Loans receivable moved 10,000 - 888.49 + 100 - 5 = 9,206.51: the loan's booked principal.
    control_totals = control.control_totals(contexts["manager"])
    assert control_totals.loans_receivable == D("9206.51")
    assert control_totals.interest_receivable == D("0.00")
    assert control_totals.ok


def test_the_drill_down_lists_the_entries_behind_and_adds_up_to_the_journal_entry(contexts, a_day):
    number, _ = a_day
    entry = journal.journal(contexts["manager"], DAY, DAY).entries[0]
    detail = journal.journal_detail(contexts["manager"], entry.journal_no)
    assert [e.type for e in detail.entries] == ["boarding", "accrual_adjustment", "payment", "payment", "reversal",
                                                "fee", "waiver", "adjustment"]
    assert {e.loan_number for e in detail.entries} == {number}
    assert (detail.debits, detail.credits) == (entry.debits, entry.credits)
    ach = journal.journal_detail(contexts["manager"], entry.journal_no, account="1010")
    assert [(e.type, e.method, e.amount) for e in ach.entries] == [("payment", "ach", D("100.00")),
                                                                   ("reversal", "ach", D("-100.00"))]
    assert journal.journal_detail(contexts["manager"], entry.journal_no, account="ach_clearing").entries == ach.entries
    with pytest.raises(InvalidInput, match="journal"):
        journal.journal_detail(contexts["manager"], "JE-1")
    with pytest.raises(InvalidInput, match="account"):
        journal.journal_detail(contexts["manager"], entry.journal_no, account="9999")
    with pytest.raises(InvalidInput, match="product"):
        journal.journal_detail(contexts["manager"], "GL-20260601-NOPE")


def test_a_period_and_a_product_filter(contexts, a_day):
    manager = contexts["manager"]
    assert journal.journal(manager, DAY + timedelta(days=1), DAY + timedelta(days=30)).entries == ()
    assert journal.journal(manager, DAY, DAY, product="test").entries[0].product == "TEST"
    with pytest.raises(InvalidInput, match="^product: no product 'AUTO60'"):
        journal.journal(manager, DAY, DAY, product="AUTO60")
    with pytest.raises(InvalidInput, match="^from: "):
        journal.journal(manager, DAY, DAY - timedelta(days=1))
    with pytest.raises(InvalidInput, match="^from: "):
        journal.journal(manager, None, DAY)
    with pytest.raises(PermissionDenied):
        journal.journal(contexts["clerk"], DAY, DAY)


def test_the_mapping_is_shown_to_report_viewers_and_changed_by_an_administrator(contexts, a_day, factory):
    manager, admin = contexts["manager"], contexts["admin"]
    shown = accounts.gl_settings(manager)
    assert (shown.account("cash").number, shown.account("cash").name) == ("1000", "Cash")
    assert shown.charge_off_method == "allowance" and shown.xero_tax_rate == "Tax Exempt"
    with pytest.raises(PermissionDenied):
        accounts.save_gl_settings(manager, accounts={"cash": ("1001", "Operating cash")})
    saved = accounts.save_gl_settings(admin, accounts={"cash": ("1001", "Operating cash"), "fee_income": ("4150", None)})
    assert (saved.account("cash").number, saved.account("cash").name) == ("1001", "Operating cash")
    assert (saved.account("fee_income").number, saved.account("fee_income").name) == ("4150", "Fee income")
    assert accounts.gl_settings(manager) == saved
    with factory() as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "settings.gl_changed")).one()
    assert audit.details["before"]["accounts"]["cash"] == {"number": "1000", "name": "Cash"}
    assert audit.details["after"]["accounts"]["cash"] == {"number": "1001", "name": "Operating cash"}
    numbers = {line.account_number for line in journal.journal(manager, DAY, DAY).lines}
    assert {"1001", "4150"} <= numbers and not {"1000", "4100"} & numbers
    with pytest.raises(InvalidInput, match="^role: 'bank'"):
        accounts.save_gl_settings(admin, accounts={"bank": ("1000", "Bank")})
    with pytest.raises(InvalidInput, match="^cash account name: "):
        accounts.save_gl_settings(admin, accounts={"cash": ("1000", "=HYPERLINK(1)")})
    with pytest.raises(InvalidInput, match="^cash account number: is required"):
        accounts.save_gl_settings(admin, accounts={"cash": (" ", None)})
    with pytest.raises(InvalidInput, match="^charge_off_method: "):
        accounts.save_gl_settings(admin, charge_off_method="cash")
    assert accounts.parse_assignment("cash=1001:Operating cash") == ("cash", "1001", "Operating cash")
    assert accounts.parse_assignment("Cash=1001") == ("cash", "1001", None)
    with pytest.raises(InvalidInput, match="^set: "):
        accounts.parse_assignment("cash")


def test_the_charge_off_method_decides_where_a_charge_off_and_a_recovery_go(contexts):
    admin, manager = contexts["admin"], contexts["manager"]
    number = make_loan(admin, start="2026-05-01", first_due="2026-06-01")
    servicing.charge_off(admin, number, reason="uncollectible")
    servicing.post_payment(admin, number, "300.00", method="money_order")  # a recovery: the loan is charged off
    day = journal.journal(manager, DAY, DAY).entries[0]
    # Charged off: the booked 10,000.00 principal and the 100.00 of May interest = 10,100.00.
    assert ("1290", "Charge-offs", D("10100.00"), D("0.00")) in _lines(day)
    assert ("1290", "Recoveries", D("0.00"), D("300.00")) in _lines(day)
    assert ("1000", "Recoveries (money order)", D("300.00"), D("0.00")) in _lines(day)
    accounts.save_gl_settings(admin, charge_off_method="direct")
    day = journal.journal(manager, DAY, DAY).entries[0]
    assert ("6100", "Charge-offs", D("10100.00"), D("0.00")) in _lines(day)
    assert ("4900", "Recoveries", D("0.00"), D("300.00")) in _lines(day)
    assert not any(line.account_number == "1290" for line in day.lines)
    totals = control.control_totals(manager)
    assert totals.ok and totals.loans_receivable == D("0.00") and totals.interest_receivable == D("0.00")


# ---------------------------------------------------------------- the property

RULES = {"delinquent_days": 1, "default_days": 10, "non_accrual_days": 20, "charge_off_days": 40}
APPROVAL = Approval("manager", PASSWORDS["manager"])
amounts = st.sampled_from([D("888.49"), D("444.25"), D("1776.98"), D("50.00"), D("12000.00")])
calls = st.one_of(
    st.tuples(st.just("pay"), amounts, st.sampled_from(["check", "ach", "cash"])),
    st.tuples(st.just("back_pay"), amounts, st.integers(1, 25)),
    st.tuples(st.just("reverse"), st.integers(0, 5)),
    st.tuples(st.just("fee"), st.sampled_from([D("15.00"), D("30.00")])),
    st.tuples(st.just("waive"), st.booleans()),
    st.tuples(st.just("adjust"), st.sampled_from([D("-25.00"), D("40.00")])),
    st.tuples(st.just("pay_off"), st.sampled_from([D("-2.00"), D("50.00")])),  # a small balance left, or a refund due
    st.tuples(st.just("refund")),
    st.tuples(st.just("write_off")),
    st.tuples(st.just("eod"), st.integers(1, 12)),
    st.tuples(st.just("charge_off")),
)


def _today(ctx):
    with ctx.unit(write=False) as session:
        return business_date(session)


def _payments(ctx, number):
    with ctx.unit(write=False) as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        reversed_ids = select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.is_not(None))
        return list(session.scalars(select(LedgerEntry.id).where(
            LedgerEntry.loan_id == loan.id, LedgerEntry.type == "payment", LedgerEntry.id.not_in(reversed_ids))))


def _call(ctx, number, call):
    kind = call[0]
    today = _today(ctx)
    if kind == "pay":
        servicing.post_payment(ctx, number, call[1], method=call[2], confirm_duplicate=True, approval=APPROVAL)
    elif kind == "back_pay":
        servicing.post_payment(ctx, number, call[1], today - timedelta(days=call[2]), confirm_backdated=True,
                               confirm_duplicate=True, approval=APPROVAL)
    elif kind == "reverse":
        payments = _payments(ctx, number)
        if payments:
            servicing.reverse_payment(ctx, payments[call[1] % len(payments)], "nsf", nsf_fee="25.00")
    elif kind == "fee":
        servicing.assess_fee(ctx, number, call[1], "other")
    elif kind == "waive":
        fees = servicing.outstanding_fees(ctx, number)
        if fees:
            fee_id, _, remaining = fees[0]
            servicing.waive_fee(ctx, number, fee_id, amount=None if call[1] else min(remaining, D("10.00")),
                                reason="goodwill", approval=APPROVAL)
    elif kind == "adjust":
        servicing.adjust_principal(ctx, number, call[1], reason="correction")
    elif kind == "pay_off":
        quote = accounts_service.payoff_quote(ctx, number)
        servicing.post_payment(ctx, number, quote.payoff + call[1], method="check", confirm_duplicate=True,
                               approval=APPROVAL)
    elif kind == "refund":
        servicing.pay_refund(ctx, number)
    elif kind == "write_off":
        servicing.write_off_small_balance(ctx, number)
    elif kind == "eod":
        run_eod(ctx, today + timedelta(days=call[1] - 1))
    elif kind == "charge_off":
        servicing.charge_off(ctx, number, reason="uncollectible")


def test_any_sequence_of_service_calls_and_end_of_day_yields_a_balanced_journal_that_ties_to_the_books(
        contexts, connection):
    admin = contexts["admin"]

    @settings(max_examples=int(os.environ.get("KEEL_PROPERTY_EXAMPLES", "12")), deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(interest=st.sampled_from(["scheduled", "simple"]), days_before=st.integers(5, 45),
           partial=st.sampled_from(["apply", "suspense"]), cash=st.sampled_from(["income", "cost_recovery"]),
           method=st.sampled_from(["allowance", "direct"]), sequence=st.lists(calls, min_size=1, max_size=10))
    def check(interest, days_before, partial, cash, method, sequence):
        example = connection.begin_nested()  # each example rolled back: examples are independent
        try:
            run(interest, days_before, partial, cash, method, sequence)
        finally:
            example.rollback()

    def run(interest, days_before, partial, cash, method, sequence):
        first = _today(admin)
        accounts.save_gl_settings(admin, charge_off_method=method)
        start = first - timedelta(days=days_before)
        extra = {"day_count": "actual/365"} if interest == "simple" else {}
        number = make_loan(admin, rules={**RULES, "non_accrual_cash": cash}, start=start.isoformat(),
                           first_due=(start + timedelta(days=31)).isoformat(), interest=interest, partial=partial,
                           **extra)
        for call in sequence:
            try:
                _call(admin, number, call)
            except InvalidInput:
                continue  # refused with a field-named error (nothing to refund, a balance too big to write off)
        result = journal.journal(admin, first, _today(admin))
        if os.environ.get("KEEL_GL_TRACE"):
            print(sorted({r for line in result.lines for r in line.reference.split("+")}), sequence)
        assert all(e.debits == e.credits for e in result.entries)
        assert result.debits == result.credits
        totals = control.control_totals(admin)
        report = verify.verify(admin)
        assert totals.ok, totals.differences
        assert totals.loans_receivable == report.booked.principal
        assert totals.interest_receivable == report.booked.interest
        # the journal of the example's days moves the control accounts by what they moved
        day_before = control.control_totals(admin, first - timedelta(days=1))
        moved = sum((line.debit - line.credit for line in result.lines if line.role == "loans_receivable"), D("0"))
        assert day_before.loans_receivable + moved == totals.loans_receivable

    check()


def test_control_totals_as_of_a_past_date_are_the_books_of_that_date(contexts, a_day):
    manager = contexts["manager"]
    run_eod(contexts["admin"], DAY + timedelta(days=2))  # three days closed: accruals on 06-01 .. 06-03
    before = control.control_totals(manager, DAY - timedelta(days=1))
    assert before.loans_receivable == before.interest_receivable == D("0.00") and before.ok
    on_the_day = control.control_totals(manager, DAY)
    assert on_the_day.ok and on_the_day.loans_receivable == D("9206.51")
    now = control.control_totals(manager)
    assert now.as_of == date(2026, 6, 4) and now.ok
    report = verify.verify(manager)
    assert (now.loans_receivable, now.interest_receivable) == (report.booked.principal, report.booked.interest)
    assert now.interest_receivable > 0  # three days accrued


# ---------------------------------------------------------------- loans from the LOS and other servicers

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_a_seasoned_conversion_opens_against_conversion_clearing_worked_by_hand(contexts):
    admin, manager = contexts["admin"], contexts["manager"]
    products.load_products_file(admin, SAMPLES / "products.json")
    boarding.board_file(admin, SAMPLES / "boarding-seasoned.json")
    entries = {e.product: e for e in journal.journal(manager, DAY, DAY).entries}
    # CONV-2026-0001 converts on the business date with principal 187,470.32, accrued interest 541.58 and
    # fees 63.21: the receivables come on at those figures and conversion clearing takes
    # 187,470.32 + 541.58 + 63.21 = 188,075.11 (the payoff the boarding test works out).
    zero = D("0.00")
    assert _lines(entries["MORT30"]) == {
        ("1200", "Loans converted from another servicer: principal", D("187470.32"), zero),
        ("1210", "Loans converted from another servicer: interest", D("541.58"), zero),
        ("1220", "Loans converted from another servicer: fees", D("63.21"), zero),
        ("1900", "Loans converted from another servicer", zero, D("188075.11")),
    }
    # HIST-2026-0001 comes with its payment history: boarding, historical payments and the interest they
    # leave owed are the prior servicer's, so nothing touches cash or income; clearing holds the opening
    # receivables exactly.
    auto = entries["AUTO60"]
    assert {line.role for line in auto.lines} <= {"loans_receivable", "interest_receivable", "fees_receivable",
                                                  "suspense", "refunds_payable", "conversion_clearing"}
    by_role: dict[str, D] = {}
    for line in auto.lines:
        by_role[line.role] = by_role.get(line.role, D("0")) + line.debit - line.credit
    opening = sum((by_role.get(r, D("0")) for r in ("loans_receivable", "interest_receivable", "fees_receivable",
                                                    "suspense", "refunds_payable")), D("0"))
    assert -by_role["conversion_clearing"] == opening  # liabilities carry their (credit, negative) sign
    with manager.unit(write=False) as session:
        history = session.scalars(select(Loan).where(Loan.los_reference == "HIST-2026-0001")).one()
        assert by_role["loans_receivable"] == history.state.principal
    detail = journal.journal_detail(manager, auto.journal_no)
    assert all(e.opening for e in detail.entries)
    assert {e.type for e in detail.entries} >= {"boarding", "payment"}


def test_new_loans_from_the_los_are_funded_from_cash(contexts):
    admin, manager = contexts["admin"], contexts["manager"]
    products.load_products_file(admin, SAMPLES / "products.json")
    result = boarding.board_file(admin, SAMPLES / "boarding-new.csv")
    day = journal.journal(manager, DAY, DAY)
    funded = sum((line.credit for line in day.lines if line.memo == "Loans boarded"), D("0"))
    with manager.unit(write=False) as session:
        principal = sum((D(loan.terms["principal"]) for loan in session.scalars(
            select(Loan).where(Loan.loan_number.in_(result.loan_numbers)))), D("0"))
    assert funded == principal and funded > 0
    assert not any(line.role == "conversion_clearing" for line in day.lines)
    assert all(line.account_number == "1000" for line in day.lines if line.memo == "Loans boarded")


# ---------------------------------------------------------------- every type the services post

EVERY = {"boarding", "conversion", "payment", "reversal", "fee", "waiver", "terms_change", "adjustment", "accrual",
         "late_fee", "charge_off", "recovery", "write_off", "payoff_write_off", "refund", "suspense_applied",
         "reallocation", "late_fee_reversal", "accrual_adjustment", "nonaccrual_interest", "interest_reversal",
         "interest_recognition", "cost_recovery"}


def test_every_type_the_services_post_reaches_a_balanced_journal_that_ties_to_the_books(contexts):
    admin, manager = contexts["admin"], contexts["manager"]
    products.load_products_file(admin, SAMPLES / "products.json")
    boarding.board_file(admin, SAMPLES / "boarding-seasoned.json")  # conversion
    may = {"start": "2026-05-01", "first_due": "2026-06-01"}
    # a small balance left and written off; money beyond the payoff refunded; a payoff within tolerance
    small = make_loan(admin, **may)
    servicing.post_payment(admin, small, accounts_service.payoff_quote(admin, small).payoff - D("2.00"))
    servicing.write_off_small_balance(admin, small)
    over = make_loan(admin, **may)
    servicing.post_payment(admin, over, accounts_service.payoff_quote(admin, over).payoff + D("50.00"),
                           approval=APPROVAL)
    servicing.pay_refund(admin, over, method="ach")
    tolerant = make_loan(admin, payoff_tolerance="5.00", **may)
    servicing.post_payment(admin, tolerant, accounts_service.payoff_quote(admin, tolerant).payoff - D("3.00"))
    # money beyond the installment held in suspense, applied when July falls due
    held = make_loan(admin, partial="suspense", excess="suspense", **may)
    servicing.post_payment(admin, held, "1800.00")
    servicing.change_terms(admin, held, rate="11", reason="modification")
    # a late fee at boarding that a back-dated payment takes away (the books reverse it)
    # and re-applies the payment made since; that payment reversed; a fee, its waiver, an adjustment
    late = make_loan(admin, start="2026-04-15", first_due="2026-05-15")
    today = servicing.post_payment(admin, late, "200.00")
    servicing.post_payment(admin, late, "888.49", date(2026, 5, 15), confirm_backdated=True)
    servicing.reverse_payment(admin, today.entry_id, "nsf", nsf_fee="25.00")
    fee_id = servicing.outstanding_fees(admin, late)[0][0]
    servicing.waive_fee(admin, late, fee_id, reason="goodwill")
    servicing.adjust_principal(admin, late, "-5.00", reason="correction")
    # 31 days past due: non-accrual at 20, charged off at 40; one pays on non-accrual as income,
    # one under cost recovery
    behind = {"start": "2026-04-01", "first_due": "2026-05-01"}
    income = make_loan(admin, rules=RULES, **behind)
    costed = make_loan(admin, rules={**RULES, "non_accrual_cash": "cost_recovery"}, **behind)
    gone = make_loan(admin, rules=RULES, **behind)
    run_eod(admin, DAY + timedelta(days=2))
    servicing.post_payment(admin, income, "50.00")
    servicing.post_payment(admin, costed, "50.00")
    run_eod(admin, date(2026, 7, 2))
    servicing.post_payment(admin, gone, "75.00", method="money_order")  # a recovery
    with manager.unit(write=False) as session:
        seen = set(session.scalars(select(LedgerEntry.type).distinct()))
    assert seen >= EVERY, EVERY - seen
    result = journal.journal(manager, DAY, _today(manager))
    assert result.entries and all(e.debits == e.credits for e in result.entries)
    # Every type that moves money has lines, but for the reallocations: here a payment re-applied and its
    # reversal re-applied the same day, 7.88 each way, which net to nothing in the day's entry.
    assert {r for line in result.lines for r in line.reference.split("+")} == EVERY - {
        "terms_change", "nonaccrual_interest", "reallocation"}
    totals = control.control_totals(manager)
    report = verify.verify(manager)
    assert totals.ok, totals.differences
    assert (totals.loans_receivable, totals.interest_receivable) == (report.booked.principal, report.booked.interest)
    behind = []
    for entry in result.entries:  # the drill-down of each adds up to it
        detail = journal.journal_detail(manager, entry.journal_no)
        assert (detail.debits, detail.credits) == (entry.debits, entry.credits)
        assert len(detail.entries) == entry.entries
        net: dict[tuple[str, str], D] = {}
        for line in (line for e in detail.entries for line in e.lines):
            net[(line.account_number, line.memo)] = net.get((line.account_number, line.memo), D("0")) + line.debit \
                - line.credit
        assert {k: v for k, v in net.items() if v} == {(line.account_number, line.memo): line.debit - line.credit
                                                       for line in entry.lines}
        behind += detail.entries
    reallocations = [e for e in behind if e.type == "reallocation"]
    assert len(reallocations) == 2 and all(len(e.lines) == 2 for e in reallocations)
    assert sorted(line.debit for e in reallocations for line in e.lines) == [D("0.00"), D("0.00"), D("7.88"),
                                                                              D("7.88")]


def test_accruals_summed_by_product_columns_or_by_version_give_the_same_journal(contexts, a_day, monkeypatch):
    run_eod(contexts["admin"], DAY + timedelta(days=3))
    make_loan(contexts["admin"], start="2026-05-15", first_due="2026-06-15")  # a second version of TEST
    run_eod(contexts["admin"], DAY + timedelta(days=5))
    manager = contexts["manager"]
    by_columns = journal.journal(manager, DAY, DAY + timedelta(days=5))
    monkeypatch.setattr(journal, "_MAX_PRODUCT_COLUMNS", 0)
    by_version = journal.journal(manager, DAY, DAY + timedelta(days=5))
    assert by_columns.entries == by_version.entries
    accrued = [line for line in by_columns.lines if line.memo == "Interest accrued"]
    assert len(accrued) == 6 and all(line.credit > 0 for line in accrued)
