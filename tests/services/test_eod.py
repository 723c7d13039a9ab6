"""End of day on SQLite and PostgreSQL: a loan walked day by day, idempotency, charge-off.

The loan: 10,000.00 at 12% for 12 months, 30/360, funded 2026-05-01 with its
first installment (888.49) due 2026-06-01; late fee 25.00 after 10 days'
grace.  The business date starts at 2026-06-01.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from app.db.models import EodRun, LedgerEntry, Loan, LoanState
from app.db.settings import get_business_date
from app.services import accounts, servicing, verify
from app.services.eod import run_eod
from app.services.errors import PermissionDenied

from .loans import make_loan

NEW_LOAN = {"start": "2026-05-01", "first_due": "2026-06-01"}


def cache(ctx, number):
    with ctx.unit(write=False) as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        row = session.get(LoanState, loan.id)
        return row.days_past_due, row.bucket, row.fees, loan.delinquency, loan.status


def rows(ctx, number, kind):
    with ctx.unit(write=False) as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        return session.scalars(
            select(LedgerEntry).where(LedgerEntry.loan_id == loan.id, LedgerEntry.type == kind)
            .order_by(LedgerEntry.effective_date)
        ).all()


def test_a_loan_walks_through_grace_late_fee_and_buckets_and_back(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    number = make_loan(admin, **NEW_LOAN)
    # Closing June 1..10: on June 11 (the last grace day) it is 10 days past due, no fee yet.
    run_eod(admin, date(2026, 6, 10))
    assert cache(admin, number)[:3] == (10, "1-29", D("0.00"))
    # Closing June 11 opens June 12, when the fee for installment 1 is assessed.
    run_eod(admin, date(2026, 6, 11))
    assert cache(admin, number)[:3] == (11, "1-29", D("25.00"))
    assert rows(admin, number, "late_fee") == []  # posted when June 12 closes
    run_eod(admin, date(2026, 6, 12))
    fees = rows(admin, number, "late_fee")
    assert [(f.effective_date, f.amount, f.payload["engine_id"]) for f in fees] == [
        (date(2026, 6, 12), D("25.00"), "late_fee:1")
    ]
    # June's interest: the installment billed on June 1 was earned by then (100.00); June itself
    # earns 9,211.51 x 1% = 92.12 on the scheduled balance, booked day by day and adding up exactly.
    run_eod(admin, date(2026, 6, 30))
    june = [r.amount for r in rows(admin, number, "accrual") if r.effective_date.month == 6]
    assert len(june) == 30 and sum(june) == D("92.12")
    assert max(june) - min(june) <= D("0.01")
    assert cache(admin, number)[:2] == (30, "30-59") and cache(admin, number)[3] == "delinquent"
    run_eod(admin, date(2026, 7, 30))
    assert cache(admin, number)[:2] == (60, "60-89")
    run_eod(admin, date(2026, 8, 29))
    assert cache(admin, number)[:2] == (90, "90-119") and cache(admin, number)[3] == "non_accrual"
    accruals_before = len(rows(admin, number, "accrual"))
    run_eod(admin, date(2026, 8, 30))
    assert len(rows(admin, number, "accrual")) == accruals_before  # no accrual at non-accrual
    # Three installments (June, July, August) and three late fees are owed; paying them cures it.
    snap = accounts.account(clerk, number).snapshot
    assert snap.amount_due == D("888.49") * 3 + D("75.00")
    servicing.post_payment(clerk, number, snap.amount_due, reference="cure")
    run_eod(admin, date(2026, 8, 31))
    # Cured, but back on accrual only after 6 months current (issue 9): still non-accrual.
    assert cache(admin, number)[:4] == (0, "current", D("0.00"), "non_accrual")
    assert [f.payload["engine_id"] for f in rows(admin, number, "late_fee")] == ["late_fee:1", "late_fee:2", "late_fee:3"]
    assert verify.verify(admin).ok


def test_closing_a_closed_day_changes_nothing(contexts):
    admin = contexts["admin"]
    make_loan(admin, **NEW_LOAN)
    first = run_eod(admin, date(2026, 6, 15))
    assert len(first.days) == 15
    with admin.unit(write=False) as session:
        count = session.scalar(select(func.count()).select_from(LedgerEntry))
        runs = session.scalar(select(func.count()).select_from(EodRun))
    again = run_eod(admin, date(2026, 6, 15))
    assert again.days == () and again.business_date == date(2026, 6, 16)
    with admin.unit(write=False) as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == count
        assert session.scalar(select(func.count()).select_from(EodRun)) == runs
        assert get_business_date(session) == date(2026, 6, 16)


def test_only_admins_run_end_of_day(contexts):
    with pytest.raises(PermissionDenied):
        run_eod(contexts["manager"], date(2026, 6, 1))


def test_payments_posted_during_the_day_are_closed_into_the_cache(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    number = make_loan(admin, **NEW_LOAN)
    servicing.post_payment(clerk, number, "888.49", reference="on-time")
    run_eod(admin, date(2026, 6, 1))
    assert cache(admin, number)[:2] == (0, "current")
    assert verify.verify(admin).ok


def test_charge_off_and_recovery(contexts):
    admin, manager, clerk = contexts["admin"], contexts["manager"], contexts["clerk"]
    number = make_loan(admin)
    with pytest.raises(PermissionDenied):
        servicing.charge_off(clerk, number, reason="uncollectible")
    before = accounts.account(clerk, number).snapshot
    done = servicing.charge_off(manager, number, reason="uncollectible")
    assert done.allocation.principal == before.principal and done.allocation.fees == before.fees
    assert done.snapshot.status == "charged_off" and done.snapshot.principal == 0
    recovery = servicing.post_payment(clerk, number, "100.00", reference="recovery-1")
    with clerk.unit(write=False) as session:
        assert session.get(LedgerEntry, recovery.entry_id).type == "recovery"
    run_eod(admin, date(2026, 6, 3))
    assert cache(admin, number)[4] == "charged_off"
    assert rows(admin, number, "accrual") == []
    assert verify.verify(admin).ok


def test_threshold_charge_off_by_end_of_day(contexts):
    admin = contexts["admin"]
    number = make_loan(admin, rules={"default_days": 20, "non_accrual_days": 25, "charge_off_days": 30}, **NEW_LOAN)
    run_eod(admin, date(2026, 6, 29))
    assert cache(admin, number)[4] == "active"
    run_eod(admin, date(2026, 6, 30))  # opens July 1: 30 days past due
    assert cache(admin, number)[4] == "charged_off"
    [entry] = rows(admin, number, "charge_off")
    assert entry.principal == D("10000.00")
    assert verify.verify(admin).ok


@pytest.mark.parametrize("fresh_db_url", ["postgresql"], indirect=True)
def test_worker_processes_close_the_day_like_one_process(fresh_db_url, monkeypatch):
    from app.db.migrate import upgrade
    from app.db.session import make_engine, session_factory
    from app.services import eod

    from .conftest import seed

    engine = make_engine(fresh_db_url)
    upgrade(engine)
    contexts = seed(session_factory(engine))
    admin = contexts["admin"]
    numbers = [make_loan(admin, **NEW_LOAN, principal=f"{5000 + 100 * k}.00") for k in range(9)]
    servicing.post_payment(contexts["clerk"], numbers[0], "888.49", reference="p")
    monkeypatch.setattr(eod, "PARALLEL_FROM", 1)
    summary = run_eod(admin, date(2026, 6, 14), chunk=2)
    assert [day.loans_processed for day in summary.days] == [9] * 14
    assert sum(len(rows(admin, n, "late_fee")) for n in numbers) == 8  # all but the loan that paid
    assert all(len(rows(admin, n, "accrual")) == 14 for n in numbers)
    assert verify.verify(admin, workers=1).ok
    engine.dispose()


def test_a_loan_whose_figures_cannot_be_stored_is_reported_and_the_rest_close(contexts):
    """Issue 12: one absurd loan stopped end of day for the whole book; now it is skipped and reported."""
    admin = contexts["admin"]
    good = make_loan(admin, **NEW_LOAN)
    bad = make_loan(admin, **NEW_LOAN)
    with admin.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == bad)).one()
        state = session.get(LoanState, loan.id)
        # A principal of 95 quadrillion dollars: 9.5e18 cents, more than a 64-bit column holds (9.22e18).
        state.engine_state = {**state.engine_state, "principal": "95000000000000000.00"}
        bad_entries = session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.loan_id == loan.id))
    summary = run_eod(admin, date(2026, 6, 1))
    [day] = summary.days
    assert [loan for loan, _ in day.errors] == [bad]
    assert "too large to store" in day.errors[0][1]
    # The good loan closed the day: a day's interest accrued and its cache moved on.
    assert [r.effective_date for r in rows(admin, good, "accrual")] == [date(2026, 6, 1)]
    with admin.unit(write=False) as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == bad)).one()
        assert session.scalar(select(func.count()).select_from(LedgerEntry)
                              .where(LedgerEntry.loan_id == loan.id)) == bad_entries  # nothing half-written
