"""The general-ledger rules (app/domain/gl.py): one hand-worked journal per ledger entry type, and properties.

Each case is worked by hand in its comment: which booked balance the entry
moves (app.domain.books.SIGNS), which account takes the other side, and that
debits equal credits.  Roles are written short: LR loans receivable, IR
interest receivable, FR fees receivable.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.db.models import LEDGER_TYPES
from app.domain import books
from app.domain.gl import (
    CONTROL_ROLES,
    NO_LINES,
    RULE_TYPES,
    EntryFacts,
    Line,
    UnbalancedEntry,
    UnknownEntryType,
    balances,
    booked_from_balances,
    combine,
    journal_lines,
)

LR, IR, FR = "loans_receivable", "interest_receivable", "fees_receivable"


def lines(facts: EntryFacts, method: str = "allowance") -> list[tuple[str, D, D]]:
    return [(line.role, line.debit, line.credit) for line in journal_lines(facts, charge_off_method=method)]


def dr(role: str, amount: str) -> tuple[str, D, D]:
    return (role, D(amount), D("0.00"))


def cr(role: str, amount: str) -> tuple[str, D, D]:
    return (role, D("0.00"), D(amount))


#: (id, facts, charge_off_method, the expected lines).
CASES = [
    # A new loan funded for 10,000.00: principal +10,000 (boarding: +amount); the lender paid it out.
    ("boarding", EntryFacts("boarding", D("10000.00")), "allowance", [dr(LR, "10000.00"), cr("cash", "10000.00")]),
    # A history loan's boarding is an opening balance: the other side is conversion clearing, not cash.
    ("boarding-opening", EntryFacts("boarding", D("10000.00"), opening=True), "allowance",
     [dr(LR, "10000.00"), cr("conversion_clearing", "10000.00")]),
    # A seasoned loan: principal 8,000.00, accrued 35.50, fees 25.00, suspense 100.00 (the payload's figures).
    # Assets 8,000 + 35.50 + 25 = 8,060.50 less the 100.00 held for the borrower = 7,960.50 to clearing.
    ("conversion", EntryFacts("conversion", D("8000.00"), interest=D("35.50"), fees=D("25.00"), suspense=D("100.00")),
     "allowance",
     [dr(LR, "8000.00"), dr(IR, "35.50"), dr(FR, "25.00"), cr("suspense", "100.00"),
      cr("conversion_clearing", "7960.50")]),
    # A check of 888.49 meets the installment: interest 10,000 x 12 % / 12 = 100.00, principal 788.49.
    # Cash 888.49 = 100.00 + 788.49.
    ("payment-check", EntryFacts("payment", D("888.49"), principal=D("788.49"), interest=D("100.00"), method="check"),
     "allowance", [cr(LR, "788.49"), cr(IR, "100.00"), dr("cash", "888.49")]),
    # An ACH payment of 1,000.00: 100.00 interest, 788.49 principal, a 25.00 fee, and 86.51 beyond the payoff
    # (refund due): 100 + 788.49 + 25 + 86.51 = 1,000.00, debited to ACH clearing.
    ("payment-ach", EntryFacts("payment", D("1000.00"), principal=D("788.49"), interest=D("100.00"), fees=D("25.00"),
                               refund=D("86.51"), method="ach"), "allowance",
     [cr(LR, "788.49"), cr(IR, "100.00"), cr(FR, "25.00"), cr("refunds_payable", "86.51"),
      dr("ach_clearing", "1000.00")]),
    # A partial payment of 300.00 held until a full installment: suspense +300 (a liability, credit).
    ("payment-held", EntryFacts("payment", D("300.00"), suspense=D("300.00"), method="cash"), "allowance",
     [cr("suspense", "300.00"), dr("cash", "300.00")]),
    # 588.49 with 300.00 already held meets the 888.49 installment: suspense −300 (debit), cash 588.49 =
    # 100 + 788.49 − 300.
    ("payment-with-suspense", EntryFacts("payment", D("588.49"), principal=D("788.49"), interest=D("100.00"),
                                         suspense=D("-300.00"), method="check"), "allowance",
     [cr(LR, "788.49"), cr(IR, "100.00"), dr("suspense", "300.00"), dr("cash", "588.49")]),
    # A payment from the prior servicer's history (opening): the money came in before Keel -> clearing.
    ("payment-opening", EntryFacts("payment", D("888.49"), principal=D("788.49"), interest=D("100.00"),
                                   reason_code="boarding_history", opening=True), "allowance",
     [cr(LR, "788.49"), cr(IR, "100.00"), dr("conversion_clearing", "888.49")]),
    # The check above returned: its columns negated (−888.49 = −100 − 788.49); the mirror lines.
    ("reversal", EntryFacts("reversal", D("-888.49"), principal=D("-788.49"), interest=D("-100.00"), method="check",
                            reverses=True, of_type="payment"), "allowance",
     [dr(LR, "788.49"), dr(IR, "100.00"), cr("cash", "888.49")]),
    # An NSF fee of 15.00: fees receivable +15, fee income 15.
    ("fee", EntryFacts("fee", D("15.00"), fees=D("15.00"), fee_kind="nsf"), "allowance",
     [dr(FR, "15.00"), cr("fee_income", "15.00")]),
    ("late_fee", EntryFacts("late_fee", D("25.00"), fees=D("25.00"), fee_kind="late"), "allowance",
     [dr(FR, "25.00"), cr("fee_income", "25.00")]),
    # An unpaid 25.00 fee waived: fees −25 (the waiver's fees column is negative); income given back.
    ("waiver-unpaid", EntryFacts("waiver", D("25.00"), fees=D("-25.00")), "allowance",
     [dr("fee_income", "25.00"), cr(FR, "25.00")]),
    # A 25.00 fee already paid, waived: 10.00 still owed is waived (fees −10), the 15.00 paid is credited to
    # principal (principal 15 = principal reduced).  Income −(−10) + 15 = 25.00.
    ("waiver-paid", EntryFacts("waiver", D("25.00"), fees=D("-10.00"), principal=D("15.00")), "allowance",
     [cr(LR, "15.00"), cr(FR, "10.00"), dr("fee_income", "25.00")]),
    # A paid fee waived on a loan with no principal left: credited as a refund due.
    ("waiver-refund", EntryFacts("waiver", D("25.00"), refund=D("25.00")), "allowance",
     [cr("refunds_payable", "25.00"), dr("fee_income", "25.00")]),
    # A late fee the replay no longer assesses after a back-dated payment: fees −25.
    ("late_fee_reversal", EntryFacts("late_fee_reversal", D("25.00"), fees=D("-25.00"), reverses=True), "allowance",
     [cr(FR, "25.00"), dr("fee_income", "25.00")]),
    # A principal adjustment of −12.34 (rounding at boarding): principal −12.34, the adjustments account takes it.
    ("adjustment-down", EntryFacts("adjustment", D("-12.34"), principal=D("-12.34")), "allowance",
     [cr(LR, "12.34"), dr("principal_adjustments", "12.34")]),
    ("adjustment-up", EntryFacts("adjustment", D("50.00"), principal=D("50.00")), "allowance",
     [dr(LR, "50.00"), cr("principal_adjustments", "50.00")]),
    # A day's interest: 10,000 x 12 % / 365 = 3.29 earned.
    ("accrual", EntryFacts("accrual", D("3.29"), interest=D("3.29")), "allowance",
     [dr(IR, "3.29"), cr("interest_income", "3.29")]),
    # Interest booked 1.10 too high (the replay earns less after a back-dated payment): signed −1.10.
    ("accrual_adjustment", EntryFacts("accrual_adjustment", D("-1.10"), interest=D("-1.10")), "allowance",
     [cr(IR, "1.10"), dr("interest_income", "1.10")]),
    # Interest before boarding booked at boarding of a history loan (opening): income -> clearing.
    ("accrual_adjustment-opening", EntryFacts("accrual_adjustment", D("61.25"), interest=D("61.25"), opening=True),
     "allowance", [dr(IR, "61.25"), cr("conversion_clearing", "61.25")]),
    # Interest on non-accrual is memo only: nothing on the books, no lines.
    ("nonaccrual_interest", EntryFacts("nonaccrual_interest", D("3.29"), interest=D("3.29")), "allowance", []),
    # Going on non-accrual: 45.00 unpaid interest reversed from income (booked interest −45).
    ("interest_reversal", EntryFacts("interest_reversal", D("45.00"), interest=D("45.00")), "allowance",
     [cr(IR, "45.00"), dr("interest_income", "45.00")]),
    # Interest received on non-accrual, 30.00, recognised: interest +30 back on the books, as income.
    ("interest_recognition", EntryFacts("interest_recognition", D("30.00"), interest=D("30.00")), "allowance",
     [dr(IR, "30.00"), cr("interest_income", "30.00")]),
    # Back on accrual after cost recovery: 12.00 of principal recovered early and 30.00 of interest come back:
    # principal +12, interest +30, income 42.00.
    ("interest_recognition-back", EntryFacts("interest_recognition", D("42.00"), principal=D("12.00"),
                                             interest=D("30.00")), "allowance",
     [dr(LR, "12.00"), dr(IR, "30.00"), cr("interest_income", "42.00")]),
    # Cost recovery: 20.00 of interest received applied to principal: interest +20, principal −20, no income.
    ("cost_recovery", EntryFacts("cost_recovery", D("20.00"), principal=D("20.00"), interest=D("20.00")), "allowance",
     [cr(LR, "20.00"), dr(IR, "20.00")]),
    # Charge-off of 5,000.00 principal, 120.00 interest, 50.00 fees = 5,170.00 against the allowance (CECL) ...
    ("charge_off-allowance", EntryFacts("charge_off", D("5170.00"), principal=D("5000.00"), interest=D("120.00"),
                                        fees=D("50.00")), "allowance",
     [cr(LR, "5000.00"), cr(IR, "120.00"), cr(FR, "50.00"), dr("allowance_for_credit_losses", "5170.00")]),
    # ... or to charge-off expense under the direct method.
    ("charge_off-direct", EntryFacts("charge_off", D("5170.00"), principal=D("5000.00"), interest=D("120.00"),
                                     fees=D("50.00")), "direct",
     [cr(LR, "5000.00"), cr(IR, "120.00"), cr(FR, "50.00"), dr("charge_off_expense", "5170.00")]),
    # The deficiency corrected down by 10.00 of principal (signed −10): principal back on, allowance given back.
    ("charge_off_adjustment", EntryFacts("charge_off_adjustment", D("-10.00"), principal=D("-10.00")), "allowance",
     [dr(LR, "10.00"), cr("allowance_for_credit_losses", "10.00")]),
    # 300.00 received by money order after charge-off: cash in; the allowance is credited (CECL) ...
    ("recovery-allowance", EntryFacts("recovery", D("300.00"), principal=D("300.00"), method="money_order"),
     "allowance", [dr("cash", "300.00"), cr("allowance_for_credit_losses", "300.00")]),
    # ... or recovery income under the direct method.
    ("recovery-direct", EntryFacts("recovery", D("300.00"), principal=D("300.00"), method="ach"), "direct",
     [dr("ach_clearing", "300.00"), cr("recoveries", "300.00")]),
    # A small balance of 3.17 forgiven: principal 2.00, interest 1.17.
    ("write_off", EntryFacts("write_off", D("3.17"), principal=D("2.00"), interest=D("1.17"),
                             reason_code="small_balance"), "allowance",
     [cr(LR, "2.00"), cr(IR, "1.17"), dr("small_balance_writeoff", "3.17")]),
    ("payoff_write_off", EntryFacts("payoff_write_off", D("0.42"), interest=D("0.42"),
                                    reason_code="payoff_tolerance"), "allowance",
     [cr(IR, "0.42"), dr("small_balance_writeoff", "0.42")]),
    # A refund of 86.51 paid by check: refund due −86.51 (the refund column is negative), cash out.
    ("refund", EntryFacts("refund", D("86.51"), refund=D("-86.51"), method="check"), "allowance",
     [dr("refunds_payable", "86.51"), cr("cash", "86.51")]),
    ("refund-ach", EntryFacts("refund", D("86.51"), refund=D("-86.51"), method="ach"), "allowance",
     [dr("refunds_payable", "86.51"), cr("ach_clearing", "86.51")]),
    # 300.00 held applied to an installment: suspense −300 (debit), principal 200, interest 100.
    ("suspense_applied", EntryFacts("suspense_applied", D("300.00"), principal=D("200.00"), interest=D("100.00"),
                                    suspense=D("-300.00")), "allowance",
     [cr(LR, "200.00"), cr(IR, "100.00"), dr("suspense", "300.00")]),
    # A payment re-applied: 20.00 moves from interest to principal (parts add up to zero; no cash).
    ("reallocation-payment", EntryFacts("reallocation", principal=D("20.00"), interest=D("-20.00"),
                                        of_type="payment"), "allowance",
     [cr(LR, "20.00"), dr(IR, "20.00")]),
    # A waiver of a fee the replay no longer assesses, undone: fees −25 moved the payment way is fees +25,
    # and the 25.00 of income it gave back is income again.
    ("reallocation-waiver", EntryFacts("reallocation", fees=D("-25.00"), of_type="waiver"), "allowance",
     [dr(FR, "25.00"), cr("fee_income", "25.00")]),
    # A write-off that now forgives 2.00 less principal: principal +2 back on, write-offs credited.
    ("reallocation-write_off", EntryFacts("reallocation", principal=D("-2.00"), of_type="write_off"), "allowance",
     [dr(LR, "2.00"), cr("small_balance_writeoff", "2.00")]),
    # A refund of which only part was due under the replay: refund due +20, the 20.00 paid beyond it is a loss.
    ("reallocation-refund", EntryFacts("reallocation", refund=D("20.00"), of_type="refund"), "allowance",
     [cr("refunds_payable", "20.00"), dr("small_balance_writeoff", "20.00")]),
    # A terms change moves no money.
    ("terms_change", EntryFacts("terms_change", D("0.00")), "allowance", []),
    # Escrow (reserved): 1,200.00 of taxes paid out of escrow.
    ("disbursement", EntryFacts("disbursement", D("1200.00"), escrow=D("1200.00")), "allowance",
     [dr("escrow_liability", "1200.00"), cr("cash", "1200.00")]),
]


@pytest.mark.parametrize(("facts", "method", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_type_posts_the_hand_worked_lines(facts: EntryFacts, method: str, expected: list) -> None:
    got = lines(facts, method)
    assert sorted(got) == sorted(expected)
    assert sum(d for _, d, _ in got) == sum(c for _, _, c in got)


def test_every_ledger_type_has_a_rule_and_a_hand_worked_case() -> None:
    assert RULE_TYPES == set(LEDGER_TYPES)
    assert {c[1].type for c in CASES} == set(LEDGER_TYPES)


def test_an_unknown_type_is_refused_not_left_out() -> None:
    with pytest.raises(UnknownEntryType, match="escrow_analysis"):
        journal_lines(EntryFacts("escrow_analysis", D("1.00")))


@pytest.mark.parametrize("facts", [
    EntryFacts("payment", D("888.49"), principal=D("788.49"), interest=D("99.99"), method="check"),
    EntryFacts("refund", D("86.51"), refund=D("-80.00")),
    EntryFacts("suspense_applied", D("300.00"), principal=D("300.00"), suspense=D("-299.99")),
    EntryFacts("reallocation", principal=D("20.00"), interest=D("-19.99"), of_type="payment"),
    EntryFacts("reallocation", principal=D("20.00")),
], ids=["payment", "refund", "suspense_applied", "reallocation-payment", "reallocation-unknown"])
def test_parts_that_do_not_add_up_to_the_money_are_refused(facts: EntryFacts) -> None:
    # Never rounded away: a cent missing is a defect upstream that the accountant must not inherit.
    with pytest.raises(UnbalancedEntry):
        journal_lines(facts)


def test_a_charge_off_method_other_than_allowance_or_direct_is_refused() -> None:
    with pytest.raises(ValueError, match="charge_off_method"):
        journal_lines(EntryFacts("charge_off", D("1.00"), principal=D("1.00")), charge_off_method="cash")


def test_memos_name_the_method_and_the_fee_kind() -> None:
    memos = [line.memo for line in journal_lines(EntryFacts("payment", D("5.00"), principal=D("5.00"),
                                                            method="money_order"))]
    assert memos == ["Payments: principal", "Payments (money order)"]
    assert journal_lines(EntryFacts("fee", D("15.00"), fees=D("15.00"), fee_kind="nsf"))[1].memo == \
        "Fees assessed (NSF)"


def test_combine_nets_by_account_and_memo_in_chart_order() -> None:
    # Two accruals of 3.29 and a correction of −1.10 of the same memo net to 5.48; a payment's cash stays apart.
    got = combine([
        *journal_lines(EntryFacts("accrual", D("3.29"), interest=D("3.29"))),
        *journal_lines(EntryFacts("accrual", D("3.29"), interest=D("3.29"))),
        *journal_lines(EntryFacts("payment", D("10.00"), interest=D("10.00"), method="check")),
        Line("interest_income", D("0.00"), D("0.00"), "nothing"),
    ])
    assert [(line.role, line.debit, line.credit, line.memo) for line in got] == [
        ("cash", D("10.00"), D("0.00"), "Payments (check)"),
        (IR, D("6.58"), D("0.00"), "Interest accrued: interest"),
        (IR, D("0.00"), D("10.00"), "Payments: interest"),
        ("interest_income", D("0.00"), D("6.58"), "Interest accrued"),
    ]


# ---------------------------------------------------------------- properties

cents = st.integers(-5_000_000, 5_000_000).map(lambda n: D(n).scaleb(-2))
METHODS = st.sampled_from([None, "check", "ach", "cash", "card", "money_order"])


def _constrained(kind: str, p: D, i: D, f: D, s: D, r: D, e: D, a: D, method: str | None, of_type: str | None,
                 opening: bool) -> EntryFacts:
    """An entry of ``kind`` whose columns satisfy what the services guarantee for it."""
    if kind in ("payment", "reversal"):
        a = p + i + f + s + r + e  # the money received is what its parts add up to
    elif kind == "refund":
        a = -r  # the refund paid is the refund due it takes away
    elif kind == "suspense_applied":
        s = -(p + i + f + r)  # money held, applied: no money moves
    elif kind == "reallocation" and of_type in ("payment", "reversal"):
        p = -(i + f + s + r)  # cash already received moves between parts
    return EntryFacts(kind, a, principal=p, interest=i, fees=f, escrow=e, suspense=s, refund=r, method=method,
                      of_type=of_type if kind == "reallocation" else None, opening=opening)


REALLOCATED = st.sampled_from(["payment", "reversal", "waiver", "write_off", "payoff_write_off", "refund"])


@st.composite
def facts_of(draw: st.DrawFn, kind: str | None = None, method: str | None | bool = False,
             opening: bool | None = None) -> EntryFacts:
    chosen = kind or draw(st.sampled_from(sorted(LEDGER_TYPES)))
    values = [draw(cents) for _ in range(7)]
    return _constrained(chosen, *values, method=draw(METHODS) if method is False else method,  # type: ignore[arg-type]
                        of_type=draw(REALLOCATED), opening=draw(st.booleans()) if opening is None else opening)


@settings(max_examples=400)
@given(facts=facts_of(), method=st.sampled_from(["allowance", "direct"]))
def test_every_entry_balances_and_moves_the_control_accounts_as_the_books_do(facts: EntryFacts, method: str) -> None:
    got = journal_lines(facts, charge_off_method=method)
    assert sum(line.debit for line in got) == sum(line.credit for line in got)
    if facts.type in NO_LINES:  # the journal query does not even read these
        assert got == ()
    assert all(line.debit >= 0 and line.credit >= 0 and (line.debit == 0) != (line.credit == 0) for line in got)
    # The control accounts move exactly as the booked ledger's sign table moves the booked balances.
    if facts.type == "conversion":
        payload = {"accrued_interest": str(facts.interest), "fees": str(facts.fees), "suspense": str(facts.suspense)}
        row = books.Row(None, "conversion", facts.amount, payload=payload)
    else:
        row = books.Row(None, facts.type, facts.amount, facts.interest, facts.principal, facts.fees, facts.suspense,
                        facts.refund)
    booked, _ = books.row_effect(row)
    moved = booked_from_balances(balances(got))
    assert moved == {part: booked.get(part) for part in CONTROL_ROLES}


@settings(max_examples=200)
@given(kind=st.sampled_from(sorted(LEDGER_TYPES)), of_type=REALLOCATED, opening=st.booleans(), data=st.data())
def test_mapping_a_sum_of_like_entries_equals_summing_their_mappings(kind: str, of_type: str, opening: bool,
                                                                     data: st.DataObject) -> None:
    # The journal query sums like entries (same type, method, reversed type, opening) in SQL and maps each
    # sum once: right only because every rule is linear in the columns.
    entries = [data.draw(facts_of(kind, method="ach", opening=opening)) for _ in range(data.draw(st.integers(1, 4)))]
    entries = [EntryFacts(e.type, e.amount, e.principal, e.interest, e.fees, e.escrow, e.suspense, e.refund,
                          method="ach", of_type=of_type if kind == "reallocation" else None, opening=opening)
               for e in entries]
    if kind == "reallocation" and of_type in ("payment", "reversal"):
        entries = [EntryFacts(kind, e.amount, -(e.interest + e.fees + e.suspense + e.refund), e.interest, e.fees,
                              e.escrow, e.suspense, e.refund, method="ach", of_type=of_type, opening=opening)
                   for e in entries]
    columns = ("amount", "principal", "interest", "fees", "escrow", "suspense", "refund")
    summed = EntryFacts(kind, *(sum((getattr(e, c) for e in entries), D("0.00")) for c in columns),
                        method="ach", of_type=entries[0].of_type, opening=opening)
    each = [line for e in entries for line in journal_lines(e)]
    assert combine(journal_lines(summed)) == combine(each)
