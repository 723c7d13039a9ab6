"""The booked ledger's pure rules (app/domain/books.py), with figures worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from app.domain.books import (
    SIGNS,
    Balances,
    ReplayBooks,
    Row,
    allocate_recovery,
    back_on_accrual,
    ledger_balances,
    memo_target,
    plan_adjustments,
)
from app.domain.engine import Entry
from app.db.models import LEDGER_TYPES


def replay(total: Balances, *, status: str = "active", late=None, by_row=None, derived=None,
           deficiency: Balances | None = None) -> ReplayBooks:
    return ReplayBooks(status, total, deficiency or Balances(), late or {}, derived or {}, by_row or {}, {},
                       Balances())


BOARDED = Row(1, "boarding", D("10000.00"))


def test_every_ledger_type_has_a_sign_rule():
    assert set(LEDGER_TYPES) <= set(SIGNS)


def test_booked_balances_by_the_sign_table():
    rows = [
        BOARDED,
        Row(2, "accrual", D("100.00"), interest=D("100.00")),
        # 888.49 paid: 100.00 interest, 788.49 principal (positive parts = paid)
        Row(3, "payment", D("888.49"), interest=D("100.00"), principal=D("788.49")),
        Row(4, "late_fee", D("25.00"), fees=D("25.00")),
        Row(5, "waiver", D("10.00"), fees=D("-10.00")),
        Row(6, "adjustment", D("-11.51"), principal=D("-11.51")),
        Row(7, "charge_off", D("9215.00"), principal=D("9200.00"), fees=D("15.00")),
        Row(8, "recovery", D("300.00"), principal=D("300.00")),
    ]
    booked, memo = ledger_balances(rows)
    # principal 10,000.00 - 788.49 - 11.51 - 9,200.00 = 0.00; interest 100.00 - 100.00;
    # fees 25.00 - 10.00 - 15.00; memo: the deficiency 9,200.00 + 15.00 less the 300.00 recovery.
    assert booked == Balances()
    assert memo == Balances(principal=D("8900.00"), fees=D("15.00"))


def test_conversion_opening_balances_come_from_its_payload():
    row = Row(1, "conversion", D("5000.00"),
              payload={"accrued_interest": "12.3456", "fees": "25.00", "suspense": "40.00"})
    assert ledger_balances([row])[0] == Balances(D("5000.00"), D("12.35"), D("25.00"), D("40.00"))


def test_a_late_fee_the_replay_assesses_is_booked_and_one_it_no_longer_assesses_is_reversed():
    rows = [BOARDED, Row(2, "late_fee", D("25.00"), fees=D("25.00"), payload={"engine_id": "late_fee:1"})]
    total = Balances(principal=D("10000.00"), fees=D("25.00"))
    planned = plan_adjustments(rows, replay(total, late={"late_fee:2": D("25.00")}), non_accrual=False, cause=9)
    assert [(p.type, p.fees, p.reverses_id) for p in planned] == [
        ("late_fee_reversal", D("-25.00"), 2), ("late_fee", D("25.00"), None)]
    assert planned[1].payload == {"reason": "late_fee:2: assessed by the replay after a back-dated change",
                                  "cause": 9, "engine_id": "late_fee:2"}


def test_a_payment_the_replay_applies_differently_is_reallocated_and_the_interest_adjusted():
    # 500.00 was booked as 92.12 interest + 407.88 principal; after a back-dated payment the
    # replay applies it as 80.00 interest + 420.00 principal.  Accruals booked 92.12; the replay
    # earned 80.00 up to the payment and owes 3.00 since: 83.00.  Interest: booked 92.12 - 80.00
    # paid = 12.12 against 3.00 owed: adjust by -9.12.
    rows = [BOARDED, Row(2, "accrual", D("92.12"), interest=D("92.12")),
            Row(3, "payment", D("500.00"), interest=D("92.12"), principal=D("407.88"))]
    entry = Entry("3", "payment", date(2026, 2, 10), D("500.00"), interest=D("80.00"), principal=D("420.00"))
    total = Balances(principal=D("9580.00"), interest=D("3.00"))
    planned = plan_adjustments(rows, replay(total, by_row={"3": entry}), non_accrual=False, cause=4)
    assert [(p.type, p.amount, p.interest, p.principal) for p in planned] == [
        ("reallocation", D("0"), D("-12.12"), D("12.12")),
        ("accrual_adjustment", D("-9.12"), D("-9.12"), D("0.00")),
    ]
    assert planned[0].payload["reallocates"] == 3 and planned[0].payload["cause"] == 4
    booked, _ = ledger_balances([*rows, *(Row(None, p.type, p.amount, p.interest, p.principal) for p in planned)])
    assert booked == total


def test_a_waiver_of_a_fee_the_replay_no_longer_assesses_is_re_applied():
    rows = [BOARDED, Row(2, "late_fee", D("25.00"), fees=D("25.00"), payload={"engine_id": "late_fee:1"}),
            Row(3, "waiver", D("25.00"), fees=D("-25.00"), payload={"of": "late_fee:1"})]
    waiver = Entry("3", "waiver", date(2026, 3, 1), D("25.00"), fees=D("0.00"))
    planned = plan_adjustments(rows, replay(Balances(principal=D("10000.00")), by_row={"3": waiver}),
                               non_accrual=False)
    # The fee is reversed (-25.00) and the waiver no longer takes 25.00 off (+25.00): fees 0.00.
    assert [(p.type, p.fees) for p in planned] == [("late_fee_reversal", D("-25.00")), ("reallocation", D("-25.00"))]
    booked, _ = ledger_balances([*rows, *(Row(None, p.type, p.amount, fees=p.fees) for p in planned)])
    assert booked.fees == D("0.00")


def test_non_accrual_reverses_unpaid_interest_and_recognises_cash_as_received():
    rows = [BOARDED, Row(2, "accrual", D("349.84"), interest=D("349.84"))]
    total = Balances(principal=D("10000.00"), interest=D("349.84"))
    [reversal] = plan_adjustments(rows, replay(total), non_accrual=True)
    assert (reversal.type, reversal.interest) == ("interest_reversal", D("349.84"))
    rows += [Row(3, "interest_reversal", D("349.84"), interest=D("349.84")),
             Row(4, "nonaccrual_interest", D("2.54"), interest=D("2.54")),
             Row(5, "payment", D("888.49"), interest=D("100.00"), principal=D("788.49"))]
    total = Balances(principal=D("9211.51"), interest=D("252.38"))  # 349.84 + 2.54 - 100.00
    [recognised] = plan_adjustments(rows, replay(total), non_accrual=True, cause=5)
    assert (recognised.type, recognised.interest) == ("interest_recognition", D("100.00"))
    [cost] = plan_adjustments(rows, replay(total), non_accrual=True, cost_recovery=True, cause=5)
    assert (cost.type, cost.interest, cost.principal) == ("cost_recovery", D("100.00"), D("100.00"))
    # Cost recovery: booked principal 9,111.51 (100.00 below the contract), memo principal 100.00.
    booked, memo = ledger_balances([*rows, Row(6, "cost_recovery", D("100.00"), interest=D("100.00"),
                                               principal=D("100.00"))])
    assert (booked.principal, booked.interest, memo.principal, memo.interest) == (
        D("9111.51"), D("0.00"), D("100.00"), D("252.38"))


def test_the_memo_target_by_status():
    memo = Balances(principal=D("100.00"), interest=D("5.00"))
    total = Balances(principal=D("9000.00"), interest=D("42.00"))
    assert memo_target(replay(total), memo, non_accrual=True) == Balances(D("100.00"), D("42.00"))
    assert memo_target(replay(total), memo, non_accrual=False) == Balances()
    deficiency = Balances(D("9000.00"), D("413.57"), D("100.00"))
    assert memo_target(replay(deficiency, status="charged_off", deficiency=deficiency), memo,
                       non_accrual=True) == deficiency


def test_a_recovery_meets_principal_then_interest_then_fees():
    deficiency = Balances(D("100.00"), D("20.00"), D("5.00"))
    assert allocate_recovery(deficiency, D("110.00")) == Balances(D("100.00"), D("10.00"), D("0.00"))
    assert allocate_recovery(deficiency, D("200.00")) == deficiency  # never more than owed


def test_back_on_accrual_after_whole_calendar_months():
    assert not back_on_accrual(date(2026, 8, 31), date(2027, 2, 27), 6)
    assert back_on_accrual(date(2026, 8, 31), date(2027, 2, 28), 6)  # clamped to February's end
    assert back_on_accrual(date(2026, 1, 15), date(2026, 7, 15), 6)
