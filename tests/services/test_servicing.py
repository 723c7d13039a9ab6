"""Posting, reversing, fees and the cache, on SQLite and PostgreSQL.

The loan: 10,000.00 at 12% for 12 months, 30/360, funded 2026-01-01, first due
2026-02-01; late fee 25.00 after 10 days' grace.  The schedule is the textbook
one: 888.49 a month; installment 4 (May 1) bills 76.11 interest and 812.38
principal, installment 5 (June 1) 67.98 and 820.51.  The business date is
2026-06-01.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from app.db.models import AuditEvent, LedgerEntry, LoanState
from app.services import accounts, batches, servicing, verify
from app.services.errors import FileRejected, InvalidInput, NeedsConfirmation, NotFound, PermissionDenied

from .loans import make_loan

TODAY = date(2026, 6, 1)


def entry_count(ctx) -> int:
    with ctx.unit(write=False) as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry))


def three_paid(ctx) -> str:
    """Installments 1-3 paid on their due dates (back-dated); 4 and 5 open."""
    number = make_loan(ctx)
    for day in (date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)):
        servicing.post_payment(ctx, number, "888.49", day, reference=f"chk-{day}", confirm_backdated=True)
    return number


def test_delinquent_account_from_the_ledger(contexts):
    clerk = contexts["clerk"]
    number = three_paid(contexts["manager"])
    snap = accounts.account(clerk, number).snapshot
    assert snap.principal == D("7610.80")
    assert snap.fees == D("25.00")  # late_fee:4, assessed May 12
    assert snap.amount_due == D("888.49") * 2 + D("25.00")
    assert snap.days_past_due == 31 and snap.bucket == "30-59"
    assert snap.next_due == date(2026, 5, 1) and snap.paid_through == date(2026, 4, 1)


def test_post_payment_today_cures_and_updates_the_cache(contexts):
    clerk = contexts["clerk"]
    number = three_paid(contexts["manager"])
    posted = servicing.post_payment(clerk, number, "1801.98", method="ach", reference="ACH-77")
    assert posted.allocation.interest == D("76.11") + D("67.98")
    assert posted.allocation.principal == D("812.38") + D("820.51")
    assert posted.allocation.fees == D("25.00")
    assert posted.snapshot.bucket == "current" and posted.snapshot.principal == D("5977.91")
    with clerk.unit(write=False) as session:
        row = session.get(LedgerEntry, posted.entry_id)
        assert (row.interest, row.principal, row.fees, row.method, row.reference) == (
            D("144.09"), D("1632.89"), D("25.00"), "ach", "ACH-77")
        cache = session.get(LoanState, row.loan_id)
        assert (cache.principal, cache.bucket, cache.days_past_due, cache.amount_due) == (D("5977.91"), "current", 0, D("0.00"))
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "payment.posted",
                                                                                  AuditEvent.entity_id == str(row.id))) == 1
    assert verify.verify(contexts["manager"]).ok


def test_duplicate_payment_needs_confirmation(contexts):
    clerk = contexts["clerk"]
    number = make_loan(clerk)
    servicing.post_payment(clerk, number, "100.00", reference="1001")
    before = entry_count(clerk)
    with pytest.raises(NeedsConfirmation, match="duplicate"):
        servicing.post_payment(clerk, number, "100.00", reference="1001")
    assert entry_count(clerk) == before
    servicing.post_payment(clerk, number, "100.00", reference="1001", confirm_duplicate=True)
    assert entry_count(clerk) == before + 1


def test_backdated_payment_previews_its_changes_first(contexts):
    clerk = contexts["clerk"]
    number = make_loan(clerk)
    before = entry_count(clerk)
    with pytest.raises(NeedsConfirmation) as info:
        servicing.post_payment(clerk, number, "888.49", date(2026, 2, 1))
    assert entry_count(clerk) == before
    preview = info.value.preview
    assert preview.backdated and preview.allocation.interest == D("100.00") and preview.allocation.principal == D("788.49")
    changed = {field for field, _, _ in preview.changes}
    assert {"principal", "next_due", "paid_through", "fees"} <= changed
    posted = servicing.post_payment(clerk, number, "888.49", date(2026, 2, 1), confirm_backdated=True)
    # The late fee for installment 1 (Feb 12) no longer applies: removed by re-derivation.
    # Installments 2-4 are past their grace periods (fees Mar 12, Apr 12, May 12); 5 falls due today.
    assert posted.snapshot.fees == D("75.00")
    with clerk.unit(write=False) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.entity == "ledger_entry", AuditEvent.entity_id == str(posted.entry_id))).one()
        assert event.details["preview"]["backdated"] is True
        assert any(change["field"] == "principal" for change in event.details["preview"]["changes"])


@pytest.mark.parametrize(
    ("amount", "day", "method", "field"),
    [
        ("0", None, "check", "amount"),
        ("-5.00", None, "check", "amount"),
        ("12.345", None, "check", "amount"),
        ("ten", None, "check", "amount"),
        ("10.00", date(2026, 6, 2), "check", "effective_date"),
        ("10.00", date(2025, 12, 1), "check", "effective_date"),
        ("10.00", None, "barter", "method"),
    ],
)
def test_bad_payments_are_refused_and_change_nothing(contexts, amount, day, method, field):
    clerk = contexts["clerk"]
    number = make_loan(clerk)
    before = entry_count(clerk)
    with pytest.raises(InvalidInput) as info:
        servicing.post_payment(clerk, number, amount, day, method=method, confirm_backdated=True)
    assert info.value.field == field
    assert entry_count(clerk) == before


def test_unknown_loan(contexts):
    with pytest.raises(NotFound, match="KL-999999"):
        servicing.post_payment(contexts["clerk"], "KL-999999", "10.00")


def test_reversal_needs_permission_and_restores_the_loan(contexts):
    clerk, manager = contexts["clerk"], contexts["manager"]
    number = make_loan(manager)
    servicing.post_payment(manager, number, "888.49", date(2026, 2, 1), confirm_backdated=True)
    payment = servicing.post_payment(clerk, number, "888.49", date(2026, 6, 1))
    with pytest.raises(PermissionDenied):
        servicing.reverse_payment(clerk, payment.entry_id, "nsf")
    reversed_ = servicing.reverse_payment(manager, payment.entry_id, "nsf", nsf_fee="25.00")
    snap = reversed_.snapshot
    # Back to installments 2-5 open and their late fees 2-4 (May 12 was the last), plus the NSF fee.
    assert snap.principal == D("9211.51")
    assert snap.fees == D("25.00") * 3 + D("25.00")
    with pytest.raises(InvalidInput, match="already reversed"):
        servicing.reverse_payment(manager, payment.entry_id, "nsf")
    lines = {line.entry_id: line for line in accounts.account(clerk, number).lines if line.entry_id}
    assert lines[payment.entry_id].reversed
    assert verify.verify(manager).ok


def test_waive_a_late_fee(contexts):
    clerk, manager = contexts["clerk"], contexts["manager"]
    number = three_paid(manager)
    assert [fee[0] for fee in servicing.outstanding_fees(clerk, number)] == ["late_fee:4"]
    with pytest.raises(PermissionDenied):
        servicing.waive_fee(clerk, number, "late_fee:4", reason="goodwill")
    with pytest.raises(InvalidInput) as info:
        servicing.waive_fee(manager, number, "late_fee:4", reason=" ")
    assert info.value.field == "reason"
    done = servicing.waive_fee(manager, number, "late_fee:4", reason="goodwill")
    assert done.snapshot.fees == 0
    assert verify.verify(manager).ok


def test_payoff_quote_and_small_balance_write_off(contexts):
    clerk, manager = contexts["clerk"], contexts["manager"]
    number = make_loan(manager)
    servicing.post_payment(manager, number, "888.49", date(2026, 2, 1), confirm_backdated=True)
    # Paid through Feb 1 only... quote as of the business date: the loan is late, so use a fresh one.
    quote = accounts.payoff_quote(clerk, number, date(2026, 2, 16))
    # 9,211.51 x 12% x 15/360 = 46.0575 -> 46.06; per diem 3.07.
    assert (quote.principal, quote.accrued_interest, quote.per_diem) == (D("9211.51"), D("46.06"), D("3.07"))
    assert quote.payoff == D("9257.57")
    today_quote = accounts.payoff_quote(clerk, number)
    short = today_quote.payoff - D("3.00")
    servicing.post_payment(clerk, number, short, reference="payoff")
    left = accounts.account(clerk, number).snapshot
    assert left.payoff == D("3.00") and left.status == "active"
    with pytest.raises(PermissionDenied):
        servicing.write_off_small_balance(clerk, number)
    done = servicing.write_off_small_balance(manager, number)
    assert done.snapshot.status == "paid_off" and done.snapshot.payoff == 0
    assert verify.verify(manager).ok


def test_verify_reports_a_tampered_cache(contexts):
    manager = contexts["manager"]
    number = make_loan(manager)
    with manager.unit() as session:
        cache = session.scalars(select(LoanState)).all()[-1]
        cache.principal = cache.principal + D("0.01")
    report = verify.verify(manager)
    assert not report.ok
    assert any(diff.loan_number == number and diff.field == "principal" for diff in report.differences)


def test_balanced_batch_posts_all(contexts):
    clerk = contexts["clerk"]
    a, b = make_loan(clerk), make_loan(clerk)
    rows = [batches.BatchRow(a, D("888.49"), "c1"), batches.BatchRow(b, D("500.00"), "c2")]
    result = batches.post_batch(clerk, rows, "1388.49")
    assert result.count == 2
    assert verify.verify(contexts["manager"]).ok


def test_unbalanced_batch_cannot_post(contexts):
    clerk = contexts["clerk"]
    a = make_loan(clerk)
    before = entry_count(clerk)
    with pytest.raises(FileRejected) as info:
        batches.post_batch(clerk, [batches.BatchRow(a, D("888.49"), "c1")], "888.48")
    assert [p.field for p in info.value.problems] == ["control_total"]
    assert "difference $0.01" in str(info.value)
    assert entry_count(clerk) == before


def test_failed_mid_batch_post_leaves_nothing(contexts):
    clerk = contexts["clerk"]
    a, b = make_loan(clerk), make_loan(clerk)
    servicing.post_payment(clerk, b, "50.00", reference="dup")
    before = entry_count(clerk)
    rows = [batches.BatchRow(a, D("888.49"), "c1"), batches.BatchRow(b, D("50.00"), "dup")]
    with pytest.raises(NeedsConfirmation, match="row 2"):
        batches.post_batch(clerk, rows, "938.49")
    assert entry_count(clerk) == before


def test_lockbox_file_posts_once(contexts, tmp_path):
    clerk = contexts["clerk"]
    a, b = make_loan(clerk), make_loan(clerk)
    path = tmp_path / "lockbox-0601.csv"
    path.write_text(f"loan_number,amount,reference\n{a},888.49,9001\n{b},100.00,9002\n")
    result = batches.post_lockbox_file(clerk, path, "988.49")
    assert result.count == 2
    with pytest.raises(InvalidInput, match="already posted"):
        batches.post_lockbox_file(clerk, path, "988.49")


def test_lockbox_file_with_bad_rows_lists_them_all(contexts, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("loan_number,amount\nT-1,12.3.4\nT-2,abc\n")
    with pytest.raises(FileRejected) as info:
        batches.post_lockbox_file(contexts["clerk"], path, "0")
    assert [(p.row, p.field) for p in info.value.problems] == [(2, "amount"), (3, "amount")]


def test_account_lists_the_whole_ledger_after_end_of_day(contexts):
    from app.services.eod import run_eod

    admin, clerk = contexts["admin"], contexts["clerk"]
    number = make_loan(admin)
    servicing.post_payment(admin, number, "888.49", date(2026, 2, 1), reference="a", confirm_backdated=True)
    run_eod(admin, date(2026, 6, 2))
    servicing.post_payment(clerk, number, "888.49", reference="b")
    lines = accounts.account(clerk, number).lines
    payments = [line for line in lines if line.type == "payment"]
    assert [line.reference for line in payments] == ["a", "b"]
    assert [line.type for line in lines][:1] == ["boarding"]
    assert sum(1 for line in lines if line.type == "late_fee") == 3  # installments 2-4; 5 is in grace


def test_allocation_override_needs_permission_and_reason_and_is_reported(contexts):
    clerk, manager = contexts["clerk"], contexts["manager"]
    number = three_paid(manager)
    split = {"principal": "1000.00"}
    with pytest.raises(PermissionDenied):
        servicing.post_payment(clerk, number, "1000.00", split=split, override_reason="borrower_request")
    with pytest.raises(InvalidInput) as info:
        servicing.post_payment(manager, number, "1000.00", split=split)
    assert info.value.field == "override_reason"
    with pytest.raises(InvalidInput) as info:
        servicing.post_payment(manager, number, "1000.00", split={"principal": "900.00"}, override_reason="court_order")
    assert info.value.field == "split"
    posted = servicing.post_payment(manager, number, "1000.00", split=split, override_reason="court_order")
    # Principal of installments 4 and 5 first (812.38 + 820.51 = 1,632.89 > 1,000): all 1,000 to principal.
    assert (posted.allocation.principal, posted.allocation.interest, posted.allocation.fees) == (
        D("1000.00"), D("0.00"), D("0.00"))
    report = servicing.overrides_report(manager)
    assert [(line.loan_number, line.amount, line.reason_code) for line in report] == [(number, D("1000.00"), "court_order")]
    assert report[0].split == {"principal": D("1000.00")}
    assert verify.verify(manager).ok



def test_previewing_a_split_checks_it_as_posting_does_and_writes_nothing(contexts):
    clerk, manager = contexts["clerk"], contexts["manager"]
    number = three_paid(manager)
    with pytest.raises(PermissionDenied):
        servicing.preview_payment(clerk, number, "1000.00", split={"principal": "1000.00"})
    with pytest.raises(InvalidInput) as info:
        servicing.preview_payment(manager, number, "1000.00", split={"interest": "100.00", "principal": "850.00"})
    # 100.00 + 850.00 = 950.00 is not the payment's 1,000.00.
    assert str(info.value) == "split: the parts add up to 950.00, not the payment's 1000.00"
    with pytest.raises(InvalidInput) as info:
        servicing.preview_payment(manager, number, "10.00", split={"interest": "20.00", "principal": "-10.00"})
    assert info.value.field == "split.principal"
    # Interest due on installments 4 and 5: (888.49 - 812.38) + (888.49 - 820.51) = 76.11 + 67.98 = 144.09, so
    # 100.00 is all placed as interest; their principal 1,632.89 takes the 900.00. More interest than is owed
    # would be held in suspense (the engine's rule): 200.00 of interest puts 200.00 - 144.09 = 55.91 there.
    split = {"interest": "100.00", "principal": "900.00"}
    preview = servicing.preview_payment(manager, number, "1000.00", split=split)
    assert (preview.allocation.interest, preview.allocation.principal) == (D("100.00"), D("900.00"))
    over = servicing.preview_payment(manager, number, "1000.00", split={"interest": "200.00", "principal": "800.00"})
    assert (over.allocation.interest, over.allocation.suspense) == (D("144.09"), D("55.91"))
    # Posting the same split, its reason typed in words, stores the reason's code for the report.
    posted = servicing.post_payment(manager, number, "1000.00", split=split, override_reason="Court order")
    assert posted.allocation == preview.allocation
    assert [line.reason_code for line in servicing.overrides_report(manager)] == ["court_order"]

@pytest.mark.slow
def test_verify_in_worker_processes_finds_the_same_differences(tmp_path):
    from app.services import verify as verify_module
    from app.services.setup import close_database, open_database

    from .conftest import seed

    factory = open_database(f"sqlite:///{tmp_path / 'book.sqlite3'}", initialize=False)
    try:
        contexts = seed(factory)
        numbers = [make_loan(contexts["clerk"]) for _ in range(12)]
        with factory() as session, session.begin():
            cache = session.scalars(select(LoanState).order_by(LoanState.loan_id)).all()[5]
            cache.fees = cache.fees + D("1.00")
        manager = contexts["manager"]
        alone = verify_module.verify(manager, workers=1)
        old = verify_module.PARALLEL_FROM
        verify_module.PARALLEL_FROM, verify_module.CHUNK = 1, 4
        try:
            together = verify_module.verify(manager, workers=2)
        finally:
            verify_module.PARALLEL_FROM, verify_module.CHUNK = old, 500
        assert together.loans_checked == alone.loans_checked == len(numbers)
        assert together.differences == alone.differences
        assert [d.loan_number for d in together.differences] == [numbers[5]] * len(together.differences)
    finally:
        close_database(factory)


def test_payment_within_the_payoff_tolerance_pays_off_and_books_the_shortfall(contexts):
    # payoff_tolerance 1.00.  Five installments (Feb-Jun 1) leave 5,977.91 after June 1's;
    # on the business date June 1 the payoff after paying installments 1-5 on time is just
    # the principal, 5,977.91 (interest to the due date is in the installment).  Paying
    # 5,977.41 (0.50 short) pays the loan off and writes off 0.50 of principal.
    manager = contexts["manager"]
    number = make_loan(manager, payoff_tolerance="1.00")
    for day in (date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)):
        servicing.post_payment(manager, number, "888.49", day, reference=f"chk-{day}", confirm_backdated=True)
    assert accounts.account(manager, number).snapshot.payoff == D("5977.91")
    posted = servicing.post_payment(contexts["clerk"], number, "5977.41", reference="payoff")
    assert posted.snapshot.status == "paid_off" and posted.snapshot.payoff == 0
    assert posted.preview.payoff_write_off is not None and posted.preview.payoff_write_off.principal == D("0.50")
    with manager.unit(write=False) as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.type == "payoff_write_off")).all()
        assert [(r.amount, r.principal, r.reason_code, r.payload["cause"]) for r in rows] == [
            (D("0.50"), D("0.50"), "payoff_tolerance", posted.entry_id)
        ]
        audits = session.scalars(select(AuditEvent).where(AuditEvent.action == "payoff.shortfall_written_off")).all()
        assert len(audits) == 1 and audits[0].details["amount"] == "0.50"
    assert verify.verify(manager).ok
