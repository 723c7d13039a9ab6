"""The reports (issue 13) on a small hand-built portfolio, on SQLite and PostgreSQL.

The book (business date 2026-06-01 when it opens; :func:`build` closes June
and July with end of day, so both month ends have their snapshots).  Four
loans of product TEST boarded June 1: 12 months at 12 % simple interest,
Actual/365, first due 2026-07-01, a 25.00 late fee after 10 days' grace:

* A 10,000.00 (installment 888.49): pays July 1;
* B  5,000.00 (444.24): pays nothing in July;
* C  2,000.00 (177.70): pays July 1 by check; the check is returned on July 10
  (reversed, with a 15.00 NSF fee);
* D  1,000.00 (88.85): misses July 1, pays off by ACH on July 15.

Interest is P x 12 % x days / 365 a day; the daily accrual entries of a month
add up to round(interest earned to the month's end) - round(earned before it).

* June, 30 days: A 10,000 x .12 x 30/365 = 98.630137 -> 98.63; B 49.315068 -> 49.32;
  C 19.726027 -> 19.73; D 9.863014 -> 9.86; together 177.54.
* A's July 1 payment meets June's interest, 98.63, and 888.49 - 98.63 = 789.86 principal:
  9,210.14 left.  C's, 19.73 and 157.97, is reversed on July 10 as if never received.
* D's payoff on July 15: 1,000.00 + 44 days' interest (1,000 x .12 x 44/365 = 14.465753
  -> 14.47) + the 25.00 late fee of July 14 = 1,039.47.
* July's interest (earned to August 1 less June's):
  A round(98.630137 + 9,210.14 x .12 x 31/365) - 98.63 = 192.50 - 98.63 = 93.87;
  B round(5,000 x .12 x 61/365 = 100.273973) - 49.32 = 100.27 - 49.32 = 50.95;
  C round(2,000 x .12 x 61/365 = 40.109589) - 19.73 = 40.11 - 19.73 = 20.38;
  D round(14.465753) - 9.86 = 4.61 (to the payoff);  together 169.81.
  C's accruals of July 1-9 were booked on 1,842.03: round(19.726027 + 1,842.03 x .12 x
  9/365 = 25.176...) = 25.18; the reversal makes it 2,000 x .12 x 39/365 = 25.643836 ->
  25.64, so the books adjust it by 0.46 on July 10; the accrual entries are 169.81 - 0.46
  = 169.35.
* Late fees on July 14 (after the grace): B, C and D, 3 x 25.00 = 75.00.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from app.db.models import AuditEvent, LedgerDayTotal, LedgerEntry, Loan, MonthEndSnapshot
from app.domain.books import PARTS, Balances
from app.domain.money import round_money
from app.reports import tabular
from app.services import collections, dashboard, eod, servicing, verify
from app.services.books import booked_sums
from app.services.errors import InvalidInput
from app.services.reports import (
    cash,
    collecting,
    day_totals,
    delinquency,
    eod_days,
    income,
    portfolio,
    snapshots,
    trial_balance,
)
from app.services.reports.registry import REPORTS, ReportParams, run_report

from .loans import make_loan

TERMS = {"start": "2026-06-01", "first_due": "2026-07-01", "interest": "simple", "day_count": "actual/365"}
RATE = D("0.12")
JUNE_END, JULY_END = date(2026, 6, 30), date(2026, 7, 31)
JULY = (date(2026, 7, 1), JULY_END)


def interest(principal: str, days: int) -> D:
    """Simple interest at 12 %, Actual/365, unrounded."""
    return D(principal) * RATE * days / 365


# The hand-worked figures of the module docstring.
JUNE_INTEREST = {"A": round_money(interest("10000", 30)), "B": round_money(interest("5000", 30)),
                 "C": round_money(interest("2000", 30)), "D": round_money(interest("1000", 30))}
JULY_INTEREST = {
    "A": round_money(interest("10000", 30) + interest("9210.14", 31)) - JUNE_INTEREST["A"],
    "B": round_money(interest("5000", 61)) - JUNE_INTEREST["B"],
    "C": round_money(interest("2000", 61)) - JUNE_INTEREST["C"],
    "D": round_money(interest("1000", 44)) - JUNE_INTEREST["D"],
}
C_ADJUSTMENT = round_money(interest("2000", 39)) - round_money(interest("2000", 30) + interest("1842.03", 9))
D_PAYOFF = D("1000.00") + round_money(interest("1000", 44)) + D("25.00")


def test_the_hand_worked_figures() -> None:
    assert JUNE_INTEREST == {"A": D("98.63"), "B": D("49.32"), "C": D("19.73"), "D": D("9.86")}
    assert JULY_INTEREST == {"A": D("93.87"), "B": D("50.95"), "C": D("20.38"), "D": D("4.61")}
    assert sum(JULY_INTEREST.values()) == D("169.81") and C_ADJUSTMENT == D("0.46")
    assert D_PAYOFF == D("1039.47")


def build(contexts: dict[str, Any]) -> dict[str, str]:
    admin, manager, clerk, collector = (contexts[r] for r in ("admin", "manager", "clerk", "collector"))
    loans = {name: make_loan(manager, principal=principal, **TERMS)
             for name, principal in (("A", "10000.00"), ("B", "5000.00"), ("C", "2000.00"), ("D", "1000.00"))}
    collections.log_contact(collector, loans["A"], channel="call", outcome="promise_to_pay",
                            promises=[(date(2026, 7, 1), "888.49")], at=dt.datetime(2026, 6, 15, 15, 0, tzinfo=UTC))
    eod.run_eod(admin, JUNE_END)
    servicing.post_payment(clerk, loans["A"], "888.49", reference="A-1")
    returned = servicing.post_payment(clerk, loans["C"], "177.70", reference="C-1")
    eod.run_eod(admin, date(2026, 7, 4))
    collections.log_contact(collector, loans["B"], channel="call", outcome="promise_to_pay",
                            promises=[(date(2026, 7, 15), "100.00")], at=dt.datetime(2026, 7, 5, 15, 0, tzinfo=UTC))
    eod.run_eod(admin, date(2026, 7, 9))
    servicing.reverse_payment(manager, returned.entry_id, "nsf", nsf_fee="15.00")
    eod.run_eod(admin, date(2026, 7, 14))
    servicing.post_payment(clerk, loans["D"], str(D_PAYOFF), method="ach", reference="D-payoff")
    eod.run_eod(admin, JULY_END)
    return loans


@pytest.fixture
def book(contexts: dict[str, Any]) -> dict[str, str]:
    return build(contexts)


def rows_by(result: Any, key: str) -> dict[Any, Any]:
    return {getattr(row, key): row for row in result.rows}


# ---------------------------------------------------------------- trial balance


def test_trial_balance_by_loan_and_verify(contexts, book) -> None:
    manager = contexts["manager"]
    tb = trial_balance.trial_balance(manager, JULY_END)
    by_loan = rows_by(tb, "loan_number")
    a, b, c = (by_loan[book[name]] for name in "ABC")
    assert book["D"] not in by_loan  # paid off: nothing booked left
    assert (a.principal, a.interest, a.fees) == (D("9210.14"), JULY_INTEREST["A"], D("0.00"))  # June's paid
    assert (b.principal, b.interest, b.fees) == (D("5000.00"), D("100.27"), D("25.00"))
    assert (c.principal, c.interest, c.fees) == (D("2000.00"), D("40.11"), D("40.00"))  # late fee + NSF fee
    # 9,210.14 + 5,000 + 2,000; 93.87 + 100.27 + 40.11; 25 + 25 + 15
    assert tb.totals == trial_balance.TrialBalanceTotals(3, D("16210.14"), D("234.25"), D("65.00"), D("0.00"),
                                                         D("0.00"))
    assert tb.from_snapshot == JULY_END
    june = trial_balance.trial_balance(manager, JUNE_END).totals
    assert (june.principal, june.interest, june.fees) == (D("18000.00"), sum(JUNE_INTEREST.values()), D("0.00"))
    # On the open business date the totals are keel verify's booked figures.
    report = verify.verify(manager)
    assert report.ok and trial_balance.trial_balance(manager).totals.balances == report.booked
    assert report.booked == tb.totals.balances  # nothing booked since the July 31 close


def test_trial_balance_from_a_snapshot_equals_the_sums_from_the_first_entry(contexts, book) -> None:
    manager = contexts["manager"]
    with manager.unit(write=False) as session:
        ids = list(session.scalars(select(Loan.id)))
        for day in (date(2026, 6, 15), JUNE_END, date(2026, 7, 10), date(2026, 7, 15), JULY_END):
            plain = sum((booked for booked, _ in booked_sums(session, ids, through=day).values()), Balances())
            assert trial_balance.trial_balance(manager, day).totals.balances == plain, day


# ---------------------------------------------------------------- cash and the journal


def test_cash_receipts_by_day_method_and_batch(contexts, book) -> None:
    receipts = cash.cash_receipts(contexts["manager"], *JULY)
    lines = [(r.day, r.method, r.received_count, r.received, r.returned_count, r.returned) for r in receipts.rows]
    assert lines == [
        (date(2026, 7, 1), "check", 2, D("1066.19"), 0, D("0.00")),  # A 888.49 + C 177.70
        (date(2026, 7, 10), "check", 0, D("0.00"), 1, D("177.70")),  # C's check returned
        (date(2026, 7, 15), "ach", 1, D("1039.47"), 0, D("0.00")),  # D's payoff
    ]
    assert receipts.totals == cash.CashTotals(3, D("2105.66"), 1, D("177.70"), D("1927.96"))
    assert {m.method: m.net for m in receipts.by_method} == {"ach": D("1039.47"), "check": D("888.49")}


def test_the_journal_lists_every_entry_booked_in_the_month(contexts, book) -> None:
    manager = contexts["manager"]
    journal = cash.journal(manager, *JULY)
    kinds = {t.type: t for t in journal.by_type}
    # Accruals: A, B and C every day of July (31 each), D July 1-14 (14): 107.
    assert {k: t.entries for k, t in kinds.items()} == {
        "accrual": 107, "accrual_adjustment": 1, "payment": 3, "reversal": 1, "fee": 1, "late_fee": 3}
    assert journal.totals.entries == len(journal.rows) == 116
    with manager.unit(write=False) as session:
        assert len(journal.rows) == session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.business_date >= JULY[0], LedgerEntry.business_date <= JULY[1]))
    assert kinds["accrual"].interest + kinds["accrual_adjustment"].interest == D("169.81")
    assert kinds["payment"].amount == D("2105.66") and kinds["reversal"].amount == D("-177.70")
    reversal = next(line for line in journal.rows if line.type == "reversal")
    assert (reversal.user, reversal.reason_code, reversal.loan_number) == ("manager", "nsf", book["C"])
    assert all(line.user == "clerk" for line in journal.rows if line.type == "payment")


# ---------------------------------------------------------------- income


def test_interest_income_accrued_and_collected(contexts, book) -> None:
    manager = contexts["manager"]
    july = income.interest_income(manager, *JULY)
    assert [(r.month, r.product) for r in july.rows] == [(date(2026, 7, 1), "TEST")]
    t = july.totals
    assert (t.accrued, t.adjusted, t.income) == (D("169.35"), C_ADJUSTMENT, D("169.81"))
    # A's 98.63 and C's 19.73 on July 1, C's taken back on July 10, D's 14.47 in the payoff.
    assert t.collected == D("98.63") + D("19.73") - D("19.73") + D("14.47") == D("113.10")
    # The receivable moved by income less collected: the trial balances of the two month ends.
    assert t.receivable_change == D("169.81") - D("113.10") == D("234.25") - sum(JUNE_INTEREST.values())
    assert t.other == D("0.00") and t.reversed == t.recognised == t.not_recognised == D("0.00")
    june = income.interest_income(manager, date(2026, 6, 1), JUNE_END).totals
    assert june.accrued == june.income == D("177.54")


def test_fee_income(contexts, book) -> None:
    t = income.fee_income(contexts["manager"], *JULY).totals
    assert (t.late_fees, t.other_fees, t.income) == (D("75.00"), D("15.00"), D("90.00"))  # 3 x 25 + NSF
    assert t.collected == D("25.00")  # D's late fee, in the payoff
    assert t.receivable_change == D("65.00")  # B 25 + C 25 + 15: the July 31 trial balance


# ---------------------------------------------------------------- delinquency


def test_aging_as_of_each_month_end(contexts, book) -> None:
    manager = contexts["manager"]
    june = delinquency.aging(manager, JUNE_END)
    assert rows_by(june, "bucket")["current"].loans == 4 and june.totals.principal == D("18000.00")
    july = delinquency.aging(manager, JULY_END)
    buckets = {r.bucket: (r.loans, r.loans_percent, r.principal, r.principal_percent) for r in july.rows}
    # B and C: July 1 unpaid, 31 days past due on the morning of August 1.  D is paid off.
    # 1 and 2 of 3 loans; 9,210.14 / 16,210.14 = 56.82 %, 7,000.00 / 16,210.14 = 43.18 %.
    assert buckets["current"] == (1, D("33.33"), D("9210.14"), D("56.82"))
    assert buckets["30-59"] == (2, D("66.67"), D("7000.00"), D("43.18"))
    assert all(buckets[b][0] == 0 for b in ("1-29", "60-89", "90-119", "120+"))
    assert (july.totals.loans, july.totals.late_loans, july.totals.late_percent) == (3, 2, D("43.18"))
    assert july.month_end == JULY_END and any("never change" in note for note in july.notes)
    # Any date in August reads the July 31 snapshot (the month end on or before it), until today.
    with pytest.raises(InvalidInput, match="not available"):
        delinquency.aging(manager, date(2026, 5, 31))


def test_roll_rates_from_two_month_end_snapshots(contexts, book) -> None:
    rolls = delinquency.roll_rates(contexts["manager"], JULY_END)
    assert (rolls.from_month_end, rolls.to_month_end) == (JUNE_END, JULY_END)
    current = rows_by(rolls, "from_bucket")["current"]
    # All four were current on June 30: A stays current, B and C roll to 30-59, D pays off.
    assert current.loans == 4
    assert {t: (rolls.count("current", t), p) for t, p in zip(delinquency.ROLL_TARGETS, current.percents)
            if rolls.count("current", t)} == {"current": (1, D("25.00")), "30-59": (2, D("50.00")),
                                              "paid_off": (1, D("25.00"))}
    assert (current.cured_percent, current.rolled_forward_percent) == (D("25.00"), D("50.00"))
    assert all(row.loans == 0 for row in rolls.rows if row.from_bucket != "current")
    assert rolls.totals.loans == 4 and rolls.totals.rolled_forward_percent == D("50.00")
    # The default is the last closed month end (the business date is August 1).
    assert delinquency.roll_rates(contexts["manager"]).to_month_end == JULY_END


def test_past_month_ends_do_not_change_after_back_dated_work(contexts, book) -> None:
    manager, clerk = contexts["manager"], contexts["clerk"]
    before = (delinquency.aging(manager, JULY_END), delinquency.roll_rates(manager, JULY_END),
              trial_balance.trial_balance(manager, JULY_END), income.fee_income(manager, *JULY),
              cash.cash_receipts(manager, *JULY), portfolio.vintages(manager, JULY_END))
    # August 1: B's July installment turns up, dated July 1 (a lost check found).
    servicing.post_payment(clerk, book["B"], "444.24", date(2026, 7, 1), reference="B-late", confirm_backdated=True)
    after = (delinquency.aging(manager, JULY_END), delinquency.roll_rates(manager, JULY_END),
             trial_balance.trial_balance(manager, JULY_END), income.fee_income(manager, *JULY),
             cash.cash_receipts(manager, *JULY), portfolio.vintages(manager, JULY_END))
    for was, now in zip(before, after, strict=True):
        assert (was.rows, was.totals) == (now.rows, now.totals)
    # Today the cache has B current; C is still 31 days late.
    today = {r.bucket: r.loans for r in delinquency.aging(manager).rows}
    assert (today["current"], today["30-59"]) == (2, 1)
    # The work shows on the day it was booked: the payment on August 1, and B's late fee,
    # no longer owed, reversed by the books that day.
    august = (date(2026, 8, 1), date(2026, 8, 1))
    assert cash.cash_receipts(manager, *august).totals.received == D("444.24")
    assert income.fee_income(manager, *august).totals.reversed == D("25.00")
    assert trial_balance.trial_balance(manager).totals.balances == verify.verify(manager).booked


# ---------------------------------------------------------------- collections, activity, portfolio


def test_collections_activity_and_promise_kept_rate(contexts, book) -> None:
    manager = contexts["manager"]
    july = collecting.collections_activity(manager, *JULY)
    (row,) = july.rows
    # July: one contact (B, July 5) with one promise of 100.00.  Due in July and settled:
    # A's (due July 1, paid 888.49 that day: kept) and B's (due July 15, nothing paid: broken).
    assert (row.user, row.contacts, row.loans_contacted, row.promises_made, row.promised) == (
        "collector", 1, 1, 1, D("100.00"))
    assert (row.promises_settled, row.kept, row.partly_kept, row.broken) == (2, 1, 0, 1)
    assert (row.kept_percent, row.paid_on_promises) == (D("50.00"), D("888.49"))
    assert july.totals.kept_percent == D("50.00")
    # The dashboard's promise-kept rate is the same query over every collector.
    assert dashboard.dashboard(contexts["clerk"], JULY_END).kpis.promise_kept_rate == D("50.00")
    june = collecting.collections_activity(manager, date(2026, 6, 1), JUNE_END).totals
    assert (june.contacts, june.promises_made, june.promised, june.promises_settled) == (1, 1, D("888.49"), 0)
    assert collecting.collections_activity(manager, *JULY, collector="manager").rows == ()


def test_new_paid_off_and_charged_off_loans(contexts, book) -> None:
    activity = portfolio.loan_activity(contexts["manager"], date(2026, 6, 1), JULY_END)
    months = {r.month: r for r in activity.rows}
    assert (months[date(2026, 6, 1)].new_loans, months[date(2026, 6, 1)].new_principal) == (4, D("18000.00"))
    assert (months[date(2026, 7, 1)].paid_off, months[date(2026, 7, 1)].charged_off) == (1, 0)  # D
    assert activity.totals == portfolio.ActivityTotals(4, D("18000.00"), 1, 0, D("0.00"), D("0.00"))


def test_portfolio_by_product_and_vintages(contexts, book) -> None:
    manager = contexts["manager"]
    (row,) = portfolio.portfolio(manager, JULY_END).rows
    # A, B and C active; B and C 30+; D paid off.  Accrued interest and fees as the trial balance.
    assert (row.product, row.loans, row.principal, row.accrued_interest, row.fees) == (
        "TEST", 3, D("16210.14"), D("234.25"), D("65.00"))
    assert (row.late_loans, row.late_principal, row.late_percent) == (2, D("7000.00"), D("43.18"))
    assert (row.non_accrual, row.paid_off, row.charged_off) == (0, 1, 0)
    curve = portfolio.vintages(manager, JULY_END)
    points = [(r.vintage, r.month_end, r.months_on_book, r.loans, r.delinquent_30, r.delinquent_30_percent,
               r.charged_off) for r in curve.rows]
    assert points == [("2026-06", JUNE_END, 0, 4, 0, D("0.00"), 0),
                      ("2026-06", JULY_END, 1, 4, 2, D("50.00"), 0)]  # B and C of the four
    assert curve.missing == ()


def test_the_end_of_day_report(contexts, book) -> None:
    report = eod_days.eod_report(contexts["manager"], date(2026, 6, 1), JULY_END)
    assert len(report.rows) == 61 and all(r.status == "completed" for r in report.rows)
    t = report.totals
    # June's accruals 177.54 + July's 169.35; the three late fees of July 14; A's promise kept, B's broken.
    assert (t.days, t.interest_accrued, t.fees_assessed, t.late_fees) == (61, D("346.89"), D("75.00"), 3)
    assert (t.promises_kept, t.promises_broken, t.charge_offs) == (1, 1, 0)
    july_14 = next(r for r in report.rows if r.business_date == date(2026, 7, 14))
    assert (july_14.late_fees, july_14.fees_assessed) == (3, D("75.00"))


# ---------------------------------------------------------------- the registry and tables


def test_every_report_runs_from_the_registry_and_tables_read_back_from_xlsx(contexts, book, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    manager = contexts["manager"]
    for name, spec in REPORTS.items():
        params = ReportParams(as_of=JULY_END) if spec.takes == "date" else ReportParams(start=JULY[0], end=JULY[1])
        table = run_report(manager, name, params).table()
        assert table.rows and all(len(row) == len(table.columns) for row in table.rows), name
        assert tabular.json_rows(table)[0].keys() == {c.name for c in table.columns}
        path = tabular.write_xlsx(table, tmp_path / f"{name}.xlsx")
        sheet = load_workbook(path).active
        values = list(sheet.iter_rows(values_only=True))
        assert values[0][0] == table.title
        header = 1 + len(table.filters) + 1
        assert list(values[header])[: len(table.columns)] == [c.name for c in table.columns], name
    tb = trial_balance.trial_balance(manager, JULY_END).table()
    sheet = load_workbook(tabular.write_xlsx(tb, tmp_path / "tb.xlsx")).active
    values = list(sheet.iter_rows(values_only=True))
    totals = values[-1]
    assert totals[0] == "Total" and D(str(totals[3])) == D("16210.14") and D(str(totals[4])) == D("234.25")


def test_filters_and_refusals(contexts, book) -> None:
    manager = contexts["manager"]
    assert trial_balance.trial_balance(manager, JULY_END, product="test").totals.loans == 3
    assert delinquency.aging(manager, JULY_END, status="paid_off").totals.loans == 0
    # Filtered by status, the period reports read the entries (the day totals know only the product):
    # without D (paid off), July's interest is 169.81 - 4.61, collected 113.10 - 14.47, cash 2,105.66 - 1,039.47.
    active = income.interest_income(manager, *JULY, status="active").totals
    assert (active.income, active.collected) == (D("165.20"), D("98.63"))
    assert income.interest_income(manager, *JULY, product="TEST").totals == income.interest_income(
        manager, *JULY).totals
    assert cash.cash_receipts(manager, *JULY, status="active").totals.received == D("1066.19")
    assert trial_balance.trial_balance(manager, date(2026, 7, 20), status="paid_off").totals.principal == D("0.00")
    assert cash.journal(manager, *JULY, collector="collector").rows == ()  # nothing is assigned to anyone
    with pytest.raises(InvalidInput, match="product"):
        trial_balance.trial_balance(manager, JULY_END, product="NOPE")
    with pytest.raises(InvalidInput, match="status"):
        cash.journal(manager, *JULY, status="sleeping")
    with pytest.raises(InvalidInput, match="as_of"):
        run_report(manager, "journal", ReportParams(as_of=JULY_END))
    with pytest.raises(InvalidInput, match="to"):
        cash.cash_receipts(manager, JULY[0], date(2026, 8, 2))  # after the open business date
    with pytest.raises(InvalidInput, match="product"):
        eod_days.eod_report(manager, *JULY, product="TEST")


def test_closed_days_totals_are_the_sums_of_their_entries(contexts, book) -> None:
    """Each closed day's totals (written by end of day) against the same sums over its entries."""
    with contexts["manager"].unit(write=False) as session:
        written = day_totals.booked_by_day(session, date(2026, 6, 1), JULY_END)
        summed = day_totals.booked_by_day(session, date(2026, 6, 1), JULY_END, use_totals=False)
        assert session.scalar(select(func.count()).select_from(LedgerDayTotal)) == len(written)
    key = lambda t: (t.day, t.product_id, t.type)  # noqa: E731
    assert sorted(written, key=key) == sorted(summed, key=key)
    july_14 = {t.type: t for t in written if t.day == date(2026, 7, 14)}
    assert (july_14["late_fee"].entries, july_14["late_fee"].fees) == (3, D("75.00"))
    assert sum(t.entries for t in written) == len(cash.journal(contexts["manager"], date(2026, 6, 1), JULY_END).rows)


# ---------------------------------------------------------------- the snapshots


def test_end_of_day_writes_one_row_per_loan_on_month_ends_only(contexts, book, connection) -> None:
    with contexts["manager"].unit(write=False) as session:
        counts = dict(session.execute(select(MonthEndSnapshot.month_end, func.count())
                                      .group_by(MonthEndSnapshot.month_end)).all())
        d_row = session.scalars(select(MonthEndSnapshot).join(Loan, Loan.id == MonthEndSnapshot.loan_id)
                                .where(Loan.loan_number == book["D"], MonthEndSnapshot.month_end == JULY_END)).one()
    assert counts == {JUNE_END: 4, JULY_END: 4}
    assert (d_row.status, d_row.principal, d_row.booked_principal, d_row.source) == (
        "paid_off", D("0.00"), D("0.00"), "end_of_day")
    for statement in ("UPDATE month_end_snapshots SET bucket = 'current'", "DELETE FROM month_end_snapshots"):
        with pytest.raises(IntegrityError, match="append-only"):
            with connection.begin_nested():
                connection.execute(text(statement))


def test_a_replayed_snapshot_is_the_one_end_of_day_wrote(contexts, book) -> None:
    """With nothing back-dated since, replaying the entries booked by a month end gives its snapshot again."""
    compared = ("status", "bucket", "days_past_due", "principal", "accrued_interest", "fees", "suspense",
                "amount_due", *(f"booked_{p}" for p in PARTS))
    with contexts["manager"].unit(write=False) as session:
        ids = list(session.scalars(select(Loan.id).order_by(Loan.id)))
        for day in (JUNE_END, JULY_END):
            written = {s.loan_id: s for s in session.scalars(select(MonthEndSnapshot)
                                                             .where(MonthEndSnapshot.month_end == day))}
            replayed: list[dict[str, Any]] = []
            snapshots._replay_chunk(session, ids, day, replayed, [])
            assert len(replayed) == 4
            for row in replayed:
                stored = written[row["loan_id"]]
                assert {k: row[k] for k in compared} == {k: getattr(stored, k) for k in compared}, day


def test_a_month_end_without_a_snapshot_is_not_available_until_one_is_written(contexts, monkeypatch) -> None:
    """A book older than the snapshots: the month ends closed without one."""
    admin, manager, clerk = contexts["admin"], contexts["manager"], contexts["clerk"]
    monkeypatch.setattr(snapshots, "_record_month_end", lambda session, day: 0)
    a = make_loan(manager, principal="10000.00", **TERMS)
    b = make_loan(manager, principal="5000.00", **TERMS)
    eod.run_eod(admin, JUNE_END)
    with pytest.raises(InvalidInput, match="not available"):
        delinquency.aging(manager, JUNE_END)
    # Right after the close, nothing booked since: the cache is still that close, and is copied.
    written = snapshots.write_snapshot(admin, JUNE_END)
    assert (written.month_end, written.loans, written.source) == (JUNE_END, 2, "on_demand")
    assert delinquency.aging(manager, JUNE_END).totals.principal == D("15000.00")
    with pytest.raises(InvalidInput, match="never changes"):
        snapshots.write_snapshot(admin, JUNE_END)
    servicing.post_payment(clerk, a, "888.49", reference="A-1")
    eod.run_eod(admin, JULY_END)
    servicing.post_payment(clerk, b, "444.24", date(2026, 7, 1), reference="B-late", confirm_backdated=True)
    # August 1, with a back-dated payment booked today: July 31 is replayed from what was booked by then,
    # so B is still 31 days past due in it (its payment was booked after the month end).
    written = snapshots.write_snapshot(admin, JULY_END)
    assert (written.loans, written.source, written.skipped) == (2, "replayed", ())
    buckets = {r.bucket: (r.loans, r.principal) for r in delinquency.aging(manager, JULY_END).rows}
    assert buckets["current"] == (1, D("9210.14")) and buckets["30-59"] == (1, D("5000.00"))
    rolls = delinquency.roll_rates(manager, JULY_END)
    assert (rolls.count("current", "current"), rolls.count("current", "30-59")) == (1, 1)
    with contexts["admin"].unit(write=False) as session:
        sources = set(session.scalars(select(MonthEndSnapshot.source).distinct()))
        audits = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "snapshot.written")).all()
    assert sources == {"on_demand", "replayed"}
    assert [(d["month_end"], d["source"]) for d in audits] == [("2026-06-30", "on_demand"), ("2026-07-31", "replayed")]
    # The trial balance of July 31 from the replayed snapshot is the sum of the entries booked by then.
    tb = trial_balance.trial_balance(manager, JULY_END)
    assert tb.from_snapshot == JULY_END and tb.totals.principal == D("9210.14") + D("5000.00")
    with pytest.raises(InvalidInput, match="last day"):
        snapshots.write_snapshot(admin, date(2026, 7, 30))
    with pytest.raises(InvalidInput, match="not closed"):
        snapshots.write_snapshot(admin, date(2026, 8, 31))
    assert [(m.month_end, m.loans) for m in snapshots.snapshot_months(manager)] == [(JUNE_END, 2), (JULY_END, 2)]
