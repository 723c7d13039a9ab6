"""The booked ledger equals the replay (issue 9, defect 9), on SQLite and PostgreSQL.

Each demo scenario of the issue, fixed, with the figures worked by hand.  The
base loan (tests/services/loans.py): 10,000.00 at 12 %, 12 monthly, 30/360,
scheduled interest, late fee 25.00 after 10 days' grace; business date
2026-06-01.  ``NEW_LOAN`` funds it 2026-05-01 with 888.49 due 2026-06-01.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import select, text

from app.db import chain
from app.db.models import LedgerEntry, Loan
from app.services import accounts, servicing, verify
from app.services.eod import run_eod
from app.services.errors import InvalidInput

from .loans import make_loan

NEW_LOAN = {"start": "2026-05-01", "first_due": "2026-06-01"}


def entries(ctx, number, *types):
    with ctx.unit(write=False) as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        stmt = select(LedgerEntry).where(LedgerEntry.loan_id == loan.id).order_by(LedgerEntry.seq)
        if types:
            stmt = stmt.where(LedgerEntry.type.in_(types))
        return session.scalars(stmt).all()


def books_clean(ctx):
    report = verify.verify(ctx)
    assert report.book_differences == [] and report.differences == []
    return report


def test_boarding_books_the_interest_earned_before_the_business_date(contexts):
    admin = contexts["admin"]
    number = make_loan(admin, **NEW_LOAN)
    # May's interest: 10,000.00 x 12 % x 30/360 = 100.00, earned before the open day 2026-06-01.
    [opening] = entries(admin, number, "accrual_adjustment")
    assert opening.interest == D("100.00")
    books_clean(admin)


def test_back_dated_payment_leaves_no_accrual_too_high(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    number = make_loan(admin, start="2026-06-01", first_due="2026-07-01", interest="simple",
                       day_count="actual/365")
    run_eod(admin, date(2026, 6, 12))  # June 1..12 closed; open day 2026-06-13
    # 12 days at 10,000.00 x 12 % / 365 = 3.2876712 a day: 39.4520 -> 39.45 booked.
    assert sum(r.amount for r in entries(admin, number, "accrual")) == D("39.45")
    posted = servicing.post_payment(clerk, number, "5000.00", date(2026, 6, 2), confirm_backdated=True)
    # Dated 06-02 it pays one day's interest (3.29) and 4,996.71 of principal: 5,003.29 left,
    # earning 5,003.29 x 12 % / 365 = 1.644917 a day for 06-02..06-12 (11 days) = 18.0941.
    # Earned per replay: 3.29 paid + 18.0941 = 21.3841 -> 21.38; booked 39.45: adjust by -18.07.
    assert posted.allocation.interest == D("3.29")
    [adjustment] = entries(admin, number, "accrual_adjustment")
    assert adjustment.interest == D("-18.07") and adjustment.effective_date == date(2026, 6, 13)
    assert adjustment.payload["cause"] == posted.entry_id
    # Booked interest: 39.45 - 18.07 - 3.29 paid = 18.09 = the replay's 18.0941 rounded.
    assert accounts.account(clerk, number).snapshot.accrued_interest == D("18.09")
    books_clean(admin)
    # And the days after accrue on the new balance: still equal after a week of end of day.
    run_eod(admin, date(2026, 6, 19))
    books_clean(admin)


def test_reversal_books_the_late_fee_the_replay_now_assesses(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    number = make_loan(admin, **NEW_LOAN)
    paid = servicing.post_payment(clerk, number, "888.49")  # on time, 06-01
    run_eod(admin, date(2026, 6, 15))  # past the grace period: no late fee booked
    assert entries(admin, number, "late_fee") == []
    reversal = servicing.reverse_payment(contexts["manager"], paid.entry_id, "nsf")
    # Without the payment, installment 1 (due 06-01) was unpaid at the end of grace (06-11):
    # the replay assesses late_fee:1 of 25.00 on 06-12.  End of day books only the day's fees,
    # so the reversal books it now, dated the open day 06-16, pointing at the reversal.
    [fee] = entries(admin, number, "late_fee")
    assert (fee.fees, fee.effective_date) == (D("25.00"), date(2026, 6, 16))
    assert fee.payload["engine_id"] == "late_fee:1" and fee.payload["cause"] == reversal.entry_id
    books_clean(admin)
    # The next payment pays 25.00 of fees against 25.00 booked (was 40.00 against 25.00).
    servicing.post_payment(clerk, number, "913.49")
    books_clean(admin)


def test_back_dated_payment_reverses_the_late_fee_it_removes(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    number = make_loan(admin, **NEW_LOAN)
    run_eod(admin, date(2026, 6, 15))
    [fee] = entries(admin, number, "late_fee")  # late_fee:1, 25.00, booked 06-12
    posted = servicing.post_payment(clerk, number, "888.49", date(2026, 6, 5), confirm_backdated=True)
    # Paid 06-05, within grace: the replay no longer assesses late_fee:1.  The booked fee is
    # reversed by an entry pointing at it (reverses_id), dated the open day 06-16.
    [reversal] = entries(admin, number, "late_fee_reversal")
    assert reversal.reverses_id == fee.id and reversal.fees == D("-25.00")
    assert reversal.payload["cause"] == posted.entry_id
    assert posted.allocation.interest == D("100.00") and posted.allocation.principal == D("788.49")
    books_clean(admin)


def test_charge_off_carries_only_booked_interest_and_keeps_the_deficiency(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    number = make_loan(admin, **NEW_LOAN)
    # Never paid.  Installments bill interest 100.00 (06-01), 92.12 (07-01: 9,211.51 x 1 %),
    # 84.15 (08-01: 8,415.14 x 1 %), 76.11 (09-01: 7,610.80 x 1 %); late fees 4 x 25.00.
    run_eod(admin, date(2026, 8, 29))  # 90 days past due on 08-30: non-accrual
    [reversal] = entries(admin, number, "interest_reversal")
    # Interest earned before 08-30: 100.00 + 92.12 + 84.15 + 29/30 of 76.11 (73.57) = 349.84,
    # reversed from income; from then on each day's interest is kept off the books (memo).
    assert reversal.interest == D("349.84")
    run_eod(admin, date(2026, 9, 28))  # 120 days past due on 09-29: charged off
    [charge] = entries(admin, number, "charge_off")
    # The charge-off takes what is booked: principal 10,000.00, fees 100.00 and no interest
    # (it was reversed at non-accrual).  The interest owed -- 349.84 + 2/30 of 76.11 (the rest of
    # August: 2.54) + 27/30 of 6,798.42 x 1 % (61.19) = 413.57 -- stays in the deficiency (memo).
    assert (charge.principal, charge.interest, charge.fees) == (D("10000.00"), D("0.00"), D("100.00"))
    report = books_clean(admin)
    assert (report.deficiency.principal, report.deficiency.interest, report.deficiency.fees) == (
        D("10000.00"), D("413.57"), D("100.00"))
    # A recovery meets the deficiency, principal first.
    servicing.post_payment(clerk, number, "500.00")
    [recovery] = entries(admin, number, "recovery")
    assert recovery.principal == D("500.00")
    report = books_clean(admin)
    assert report.deficiency.principal == D("9500.00") and report.recovered == D("500.00")
    account = accounts.account(clerk, number)
    assert account.deficiency is not None and account.deficiency.principal == D("9500.00")
    assert account.recovered == D("500.00")
    # No new fee goes on a charged-off balance (it is off the books).
    with pytest.raises(InvalidInput, match="charged off"):
        servicing.assess_fee(admin, number, "15.00", "other")


def test_cash_on_non_accrual_is_income_when_received(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    number = make_loan(admin, **NEW_LOAN)
    run_eod(admin, date(2026, 8, 29))  # non-accrual from 08-30 (349.84 reversed, as above)
    posted = servicing.post_payment(clerk, number, "888.49")  # dated 08-30
    # The payment meets installment 1: 100.00 interest, 788.49 principal.  On non-accrual the
    # 100.00 is recognised as income when received (the product default): memo -100.00.
    [recognised] = entries(admin, number, "interest_recognition")
    assert recognised.interest == D("100.00") and recognised.payload["cause"] == posted.entry_id
    books_clean(admin)


def test_back_on_accrual_after_the_products_months_current(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    # One month here to keep the test short (the default is six).
    number = make_loan(admin, rules={"accrual_after_months": 1}, **NEW_LOAN)
    run_eod(admin, date(2026, 8, 29))  # non-accrual from 08-30
    due = accounts.account(clerk, number).snapshot.amount_due
    servicing.post_payment(clerk, number, due)  # 08-30: everything due is paid, current again
    run_eod(admin, date(2026, 8, 31))
    servicing.post_payment(clerk, number, "888.49")  # 09-01, on time
    run_eod(admin, date(2026, 9, 28))
    with admin.unit(write=False) as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        # current since the morning of 08-31; still non-accrual on 09-29
        assert (loan.delinquency, loan.current_since) == ("non_accrual", date(2026, 8, 31))
    books_clean(admin)
    run_eod(admin, date(2026, 9, 29))  # closing 09-29 opens 09-30: a month current
    with admin.unit(write=False) as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        assert (loan.delinquency, loan.current_since) == ("current", None)
    # September's interest kept off the books so far is recognised: the loan accrues again.
    last = entries(admin, number, "interest_recognition")[-1]
    assert last.payload["reason"] == "back on accrual: memo interest recognised" and last.interest > 0
    books_clean(admin)


def test_cost_recovery_applies_interest_received_to_principal_on_the_books(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    number = make_loan(admin, rules={"non_accrual_cash": "cost_recovery"}, **NEW_LOAN)
    run_eod(admin, date(2026, 8, 29))
    servicing.post_payment(clerk, number, "888.49")
    [recovered] = entries(admin, number, "cost_recovery")
    # The contract (the replay) still takes 100.00 of interest; the books put it to principal.
    assert (recovered.interest, recovered.principal) == (D("100.00"), D("100.00"))
    books_clean(admin)


def test_a_row_inserted_behind_the_applications_back_fails_verify_naming_the_loan(contexts):
    admin = contexts["admin"]
    number = make_loan(admin, **NEW_LOAN)
    books_clean(admin)
    with admin.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        session.execute(text(
            "INSERT INTO ledger_entries (loan_id, seq, type, effective_date, business_date, posted_at, amount, "
            "interest, principal, fees, escrow, suspense, refund, user_id) VALUES "
            "(:loan, 999, 'accrual', '2026-06-01', '2026-06-01', '2026-06-01 12:00:00', 1234, 1234, 0, 0, 0, 0, 0, "
            ":user)"), {"loan": loan.id, "user": admin.actor.user_id})
    report = verify.verify(admin)
    assert not report.ok
    [difference] = report.book_differences
    # 12.34 of interest booked that the replay never earned.
    assert (difference.loan_number, difference.figure) == (number, "interest")
    assert (difference.booked, difference.expected) == (D("112.34"), D("100.00"))


def test_reconcile_books_brings_an_older_database_to_the_rule_once(contexts):
    admin = contexts["admin"]
    number = make_loan(admin, **NEW_LOAN)
    with admin.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        # As an older Keel left it: a late fee booked that the replay does not assess.
        session.execute(text(
            "INSERT INTO ledger_entries (loan_id, seq, type, effective_date, business_date, posted_at, amount, "
            "interest, principal, fees, escrow, suspense, refund, user_id, payload, tx) VALUES "
            "(:loan, 999, 'late_fee', '2026-06-01', '2026-06-01', '2026-06-01 12:00:00', 2500, 0, 0, 2500, 0, 0, 0, "
            ":user, '{\"engine_id\": \"late_fee:1\"}', :tx)"),
            # In this unit's transaction, as an older Keel would have written it: the seal covers it.
            {"loan": loan.id, "user": admin.actor.user_id, "tx": chain.tx_token(session)})
    assert not verify.verify(admin).ok
    from app.services.books import reconcile_books

    assert reconcile_books(admin) == (1, 1)
    [reversal] = entries(admin, number, "late_fee_reversal")
    assert reversal.fees == D("-25.00") and reversal.payload["reason"] == "late_fee:1 is no longer assessed by the replay"
    books_clean(admin)
    assert reconcile_books(admin) == (0, 0)


def test_reconcile_books_re_derives_a_cache_left_by_older_rules(contexts):
    # A book from before the servicing rules revision: its cache holds the engine state
    # of older rules (here: a state cached before a payment the replay applies), and the
    # book carries no rules revision.  reconcile_books re-derives every cache, and records
    # the revision, so verify is clean and says nothing about older rules.
    from app.db.models import SETTING_RULES_REVISION, LoanState, SystemSetting
    from app.domain.engine import RULES_REVISION
    from app.services.books import reconcile_books, rules_revision

    admin = contexts["admin"]
    number = make_loan(admin, **NEW_LOAN)
    with admin.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        state = session.get(LoanState, loan.id)
        stale = dict(state.engine_state)
        stale["principal"] = str(D(stale["principal"]) + D("1.00"))
        state.engine_state = stale
        session.execute(text("DELETE FROM system_settings WHERE key = :key"), {"key": SETTING_RULES_REVISION})
    report = verify.verify(admin)
    assert any(d.loan_number == number and d.field == "engine_state.principal" for d in report.differences)
    assert rules_revision(admin) is None
    reconcile_books(admin)
    assert verify.verify(admin).ok
    assert rules_revision(admin) == RULES_REVISION
    with admin.unit(write=False) as session:
        assert session.get(SystemSetting, SETTING_RULES_REVISION).value == str(RULES_REVISION)


def test_end_of_day_re_derives_a_book_from_older_rules_first(contexts):
    # As above, but nobody ran reconcile_books: end of day does it before closing a day,
    # so the day is closed on caches and books the current rules agree with.
    from app.db.models import SETTING_RULES_REVISION
    from app.domain.engine import RULES_REVISION
    from app.services.books import rules_revision

    admin = contexts["admin"]
    number = make_loan(admin, **NEW_LOAN)
    with admin.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        session.execute(text(
            "INSERT INTO ledger_entries (loan_id, seq, type, effective_date, business_date, posted_at, amount, "
            "interest, principal, fees, escrow, suspense, refund, user_id, payload, tx) VALUES "
            "(:loan, 999, 'late_fee', '2026-06-01', '2026-06-01', '2026-06-01 12:00:00', 2500, 0, 0, 2500, 0, 0, 0, "
            ":user, '{\"engine_id\": \"late_fee:1\"}', :tx)"),
            # In this unit's transaction, as an older Keel would have written it: the seal covers it.
            {"loan": loan.id, "user": admin.actor.user_id, "tx": chain.tx_token(session)})
        session.execute(text("DELETE FROM system_settings WHERE key = :key"), {"key": SETTING_RULES_REVISION})
    summary = run_eod(admin, date(2026, 6, 1))
    assert summary.rederived == (1, 1)
    assert rules_revision(admin) == RULES_REVISION
    assert verify.verify(admin).ok
    assert run_eod(admin, date(2026, 6, 2)).rederived == (0, 0)
