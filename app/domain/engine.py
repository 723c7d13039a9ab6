"""The servicing engine: a loan's state rolled forward over its events.

There is one engine.  :func:`advance` takes a loan's state at the end of one
day and rolls it forward over the events up to a later date; :func:`replay`
is ``advance`` from the boarding state over the whole ledger; end of day
advances each loan's cached state one day with the same ``advance``.

Rules (issue 2; each is also stated where it is applied):

* The state is *as of the end of a day*: every event dated on or before
  ``state.date`` has been applied.  Interest up to a date counts the days
  before it, so a payment dated D pays interest up to D, not D itself.
* Each processed day runs in this order: installments falling due that day
  are billed; late fees whose grace period ended the day before are
  assessed; money held in suspense meets installments now due; the day's
  events apply (terms changes, then fees and waivers, then the day's payments
  as one payment of their sum, then write-offs and charge-offs); the next
  period's interest basis is fixed.
* ``scheduled`` interest: installment k bills ``B × rate × fraction(due[k-1],
  due[k])`` rounded to the cent, where B is the principal outstanding after
  installment k-1 (captured at the end of its due date, counting installments
  billed but unpaid as if paid — mortgage practice), so a curtailment saves
  interest from the next installment on.
* ``simple`` interest accrues daily on the outstanding principal; a payment
  first meets all the interest accrued to its date (rounded half-up, the
  sub-cent remainder dropped), then principal, whether it meets an installment
  or curtails.
* A payoff collects interest to its date only: scheduled interest paid for days
  of a period not yet elapsed (an installment paid ahead) is credited.
* A payment meets the unpaid installments fallen due by its date, oldest
  first, or the next installment when none has; the waterfall orders the
  parts; what is left is excess (curtailment or suspense).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from datetime import date as Date  # for annotations inside classes with a field named ``date``
from decimal import Decimal
from typing import Any

from app.domain import periods
from app.domain.business_days import late_fee_day
from app.domain.daycount import per_diem_interest
from app.domain.errors import InputError
from app.domain.money import ENGINE_CONTEXT, ZERO, divide, in_engine_context, multiply, round_interest, round_money
from app.domain.schedule import equal_principal_part, level_payment, scheduled_payment
from app.domain.terms import Terms, due_date

#: Raised whenever a rule change makes the replay of an existing ledger differ (issue 9
#: changed simple-interest allocation, payoffs, same-day payments, waivers and event
#: order).  A book derived under an older revision is re-derived by ``keel reconcile-books``.
RULES_REVISION = 9

ACTIVE = "active"
PAID_OFF = "paid_off"
CHARGED_OFF = "charged_off"

EVENT_TYPES = (
    "payment",
    "reversal",
    "fee",
    "waiver",
    "terms_change",
    "adjustment",
    "write_off",
    "refund",
    "charge_off",
    "recovery",
)

BUCKETS = ("current", "1-29", "30-59", "60-89", "90-119", "120+")


def bucket_for(days_past_due: int) -> str:
    """Delinquency bucket by days past due (ASCII hyphen)."""
    if days_past_due <= 0:
        return "current"
    if days_past_due < 30:
        return "1-29"
    if days_past_due < 60:
        return "30-59"
    if days_past_due < 90:
        return "60-89"
    if days_past_due < 120:
        return "90-119"
    return "120+"


# ---------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Event:
    """One input to the engine: a ledger entry as the engine sees it."""

    id: str
    type: str
    date: Date
    amount: Decimal | None = None
    of: str | None = None  # the id reversed or waived
    kind: str | None = None  # fee kind, e.g. "nsf"
    rate: Decimal | None = None  # terms_change: new annual percent
    payment: Decimal | None = None  # terms_change: new installment
    term: int | None = None  # terms_change: installments remaining
    next_due: Date | None = None  # terms_change: new next due date
    #: payment: an allocation override, ((part, amount), ...) over interest,
    #: principal, fees and suspense, summing to the amount (one payment, a reason, a permission).
    split: tuple[tuple[str, Decimal], ...] | None = None


@dataclass(slots=True)
class Entry:
    """What an event (or a rule of the engine) did to the loan."""

    id: str
    type: str
    date: date
    amount: Decimal | None
    fees: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO
    suspense: Decimal = ZERO  # net change in suspense
    refund: Decimal = ZERO
    reversed: bool = False


@dataclass(slots=True)
class Installment:
    n: int
    due: date
    amount: Decimal  # as billed
    interest: Decimal = ZERO  # scheduled: billed interest
    principal: Decimal = ZERO  # scheduled: billed principal
    paid_interest: Decimal = ZERO
    paid_principal: Decimal = ZERO
    paid: Decimal = ZERO  # simple: total paid
    shadow_paid: Decimal = ZERO  # paid as if fees had come last (no pyramiding)
    late_fee_decided: bool = False
    final: bool = False
    #: Scheduled interest billed before its due date (paid ahead): how the period's interest
    #: was accruing when it was billed -- from ``start`` (the accrual date then), ``carried``
    #: interest already accrued, on ``basis`` at ``rate`` -- so the interest earned by any day
    #: of the period is exactly what accrual would have given (a payoff inside the period
    #: credits the rest, and the booked daily accruals never jump when a payment bills ahead).
    start: Date | None = None
    carried: Decimal = ZERO
    basis: Decimal = ZERO
    rate: Decimal = ZERO

    def clear_ahead(self) -> None:
        """The period has elapsed (or the loan is paid off): nothing is earned ahead any more."""
        self.start, self.carried, self.basis, self.rate = None, ZERO, ZERO, ZERO

    def copy(self) -> Installment:
        return Installment(
            self.n,
            self.due,
            self.amount,
            self.interest,
            self.principal,
            self.paid_interest,
            self.paid_principal,
            self.paid,
            self.shadow_paid,
            self.late_fee_decided,
            self.final,
            self.start,
            self.carried,
            self.basis,
            self.rate,
        )


@dataclass(slots=True)
class Fee:
    id: str
    kind: str
    date: date
    amount: Decimal
    remaining: Decimal
    waived: Decimal = ZERO  # waived so far; amount - remaining - waived was paid

    def copy(self) -> Fee:
        return Fee(self.id, self.kind, self.date, self.amount, self.remaining, self.waived)


@dataclass(slots=True)
class LoanState:
    """A loan at the end of ``date``.  Compare two states with ``==``."""

    date: Date
    status: str
    principal: Decimal
    rate: Decimal  # annual, as a fraction
    payment: Decimal  # level installment, or equal-principal part
    term: int  # number of the last installment
    next_n: int  # number of the next installment to bill
    anchor_n: int  # due dates are generated from (anchor_n, anchor_due)
    anchor_due: Date
    accrued: Decimal  # interest accrued up to accrual_from, not yet billed or paid (exact)
    accrual_from: Date
    basis: Decimal  # principal interest accrues on from accrual_from
    basis_due: Date | None  # end of this day fixes the next scheduled basis
    suspense: Decimal = ZERO
    refund_due: Decimal = ZERO
    paid_through: Date | None = None
    shadow_fees: Decimal = ZERO
    installments: list[Installment] = field(default_factory=list)
    fees: list[Fee] = field(default_factory=list)
    interest_settled: Decimal = ZERO  # interest paid, written off or charged off, to date
    charged_off: Decimal = ZERO  # balance moved off the books at charge-off
    recovered: Decimal = ZERO  # money received after charge-off

    def copy(self) -> LoanState:
        return LoanState(
            self.date,
            self.status,
            self.principal,
            self.rate,
            self.payment,
            self.term,
            self.next_n,
            self.anchor_n,
            self.anchor_due,
            self.accrued,
            self.accrual_from,
            self.basis,
            self.basis_due,
            self.suspense,
            self.refund_due,
            self.paid_through,
            self.shadow_fees,
            [inst.copy() for inst in self.installments],
            [fee.copy() for fee in self.fees],
            self.interest_settled,
            self.charged_off,
            self.recovered,
        )

    @property
    def fees_outstanding(self) -> Decimal:
        return sum((fee.remaining for fee in self.fees), ZERO)


@in_engine_context
def initial_state(terms: Terms) -> LoanState:
    """The state of a newly funded loan, at the end of the day before ``terms.start``."""
    payment = scheduled_payment(terms)
    return LoanState(
        date=terms.start - timedelta(days=1),
        status=ACTIVE,
        principal=terms.principal,
        rate=terms.annual_rate,
        payment=payment,
        term=terms.term,
        next_n=1,
        anchor_n=1,
        anchor_due=terms.first_due,
        accrued=ZERO,
        accrual_from=terms.start,
        basis=terms.principal,
        basis_due=None,
    )


@in_engine_context
def converted_state(
    terms: Terms,
    conversion_date: date,
    *,
    principal: Decimal,
    next_due: date,
    accrued_interest: Decimal = ZERO,
    fees: Decimal = ZERO,
    suspense: Decimal = ZERO,
    payment: Decimal | None = None,
    paid_through: date | None = None,
) -> LoanState:
    """A seasoned loan boarded from another servicer, at the end of the day before ``conversion_date``.

    The prior servicer's balances become the opening state: principal, interest
    accrued and unpaid, fees, suspense.  ``next_due`` is the oldest unpaid due
    date; installments from it up to the conversion date are billed at once
    (their late fees, if any, are in ``fees``), the rest fall due as usual.
    Scheduled interest for the first period is on the converted principal.
    """
    n = 1
    while due_date(terms.frequency, terms.first_due, n - 1) < next_due:
        n += 1
        if n > terms.term:
            raise InputError("next_due", f"{next_due} is after the loan's last due date")
    if due_date(terms.frequency, terms.first_due, n - 1) != next_due:
        raise InputError("next_due", f"{next_due} is not one of the loan's due dates")
    previous_due = due_date(terms.frequency, terms.first_due, n - 2) if n > 1 else terms.start
    level = payment if payment is not None else scheduled_payment(terms)
    state = LoanState(
        date=conversion_date - timedelta(days=1),
        status=ACTIVE,
        principal=principal,
        rate=terms.annual_rate,
        payment=level,
        term=terms.term,
        next_n=n,
        anchor_n=1,
        anchor_due=terms.first_due,
        accrued=accrued_interest,
        accrual_from=conversion_date if terms.interest == "simple" else max(previous_due, conversion_date),
        basis=principal,
        basis_due=None,
        suspense=suspense,
        paid_through=paid_through if paid_through is not None else (previous_due if n > 1 else None),
    )
    if terms.interest == "scheduled" and previous_due < conversion_date:
        # The stated accrued interest covers previous_due up to conversion; the
        # period's remaining interest accrues from the conversion date.
        state.accrual_from = conversion_date
    if fees > 0:
        state.fees.append(Fee("conversion:fees", "conversion", state.date, fees, fees))
        state.shadow_fees = fees
    while state.next_n <= state.term and _next_due(state, terms) < conversion_date:
        inst = _bill_next(state, terms, conversion_date)
        inst.late_fee_decided = True
    return state


# ---------------------------------------------------------------- helpers


def _next_due(state: LoanState, terms: Terms) -> date:
    return due_date(terms.frequency, state.anchor_due, state.next_n - state.anchor_n)


def _accrued_exact(state: LoanState, terms: Terms, on: date) -> Decimal:
    """Interest accrued and not yet billed, up to (not including) ``on``."""
    if state.status != ACTIVE or on <= state.accrual_from:
        return state.accrued
    # 30/360 counts each regular installment period as 30 (15) days (issue 9,
    # app/domain/periods.py); the periods come from the state's due-date grid.
    interest = periods.interest(
        terms,
        state.basis,
        state.rate,
        state.accrual_from,
        on,
        anchor_n=state.anchor_n,
        anchor_due=state.anchor_due,
        last_n=state.term,
        hint=state.next_n,
    )
    return ENGINE_CONTEXT.add(state.accrued, interest)


def _checkpoint(state: LoanState, terms: Terms, on: date) -> None:
    """Fold the interest accrued up to ``on`` into ``state.accrued``."""
    if on > state.accrual_from:
        state.accrued = round_interest(_accrued_exact(state, terms, on))
        state.accrual_from = on


def _billed_principal_unpaid(state: LoanState) -> Decimal:
    return sum((inst.principal - inst.paid_principal for inst in state.installments), ZERO)


def _remaining(state: LoanState, terms: Terms, inst: Installment, on: date) -> Decimal:
    """What is still owed on an installment."""
    if terms.interest == "scheduled":
        return inst.amount - inst.paid_interest - inst.paid_principal
    if inst.final:
        # The last simple-interest installment is whatever pays the loan off.
        owed = state.principal + round_money(_accrued_exact(state, terms, on))
        for other in state.installments:
            if other is inst:
                break
            owed -= other.amount - other.paid
        return max(owed, ZERO)
    return inst.amount - inst.paid


def _parts(state: LoanState, terms: Terms, inst: Installment, on: date) -> dict[str, Decimal]:
    """The unpaid interest and principal of an installment."""
    if terms.interest == "scheduled":
        return {"interest": inst.interest - inst.paid_interest, "principal": inst.principal - inst.paid_principal}
    remaining = _remaining(state, terms, inst, on)
    interest = min(remaining, round_money(_accrued_exact(state, terms, on)))
    return {"interest": interest, "principal": remaining - interest}


def _counts_paid(state: LoanState, terms: Terms, inst: Installment, on: date) -> bool:
    """Paid for late fees, days past due and due dates.

    Short by no more than the tolerance counts as paid (the shortfall is still
    owed), and payments count toward installment parts before fees: an
    installment whose only shortfall is an earlier fee taken first by the
    waterfall counts as paid (see :func:`_shadow_apply`).
    """
    remaining = _remaining(state, terms, inst, on)
    if remaining <= terms.tolerance:
        return True
    if terms.interest == "simple" and inst.final:
        # The last simple-interest installment is whatever pays the loan off, so it grows
        # with interest after it was billed: a balance left after maturity is past due
        # (issue 9, defect 3), whatever the shadow met of the amount first billed.
        return inst.paid + remaining - inst.shadow_paid <= terms.tolerance
    return inst.amount - inst.shadow_paid <= terms.tolerance


def _bill_next(state: LoanState, terms: Terms, on: date) -> Installment:
    """Bill the next installment (on its due date, or early when paid ahead)."""
    n = state.next_n
    due = _next_due(state, terms)
    if state.basis_due is not None:
        _fix_basis(state, terms)
    final = n >= state.term
    if terms.interest == "scheduled":
        # Billed before its due date (paid ahead): remember how the period was accruing, so
        # a payoff inside the period credits the interest for days not yet elapsed.
        ahead = due > on
        start, carried, basis, rate = state.accrual_from, state.accrued, state.basis, state.rate
        interest = round_money(_accrued_exact(state, terms, due))
        if terms.amortization == "equal-principal":
            principal = state.payment
        else:
            principal = max(state.payment - interest, ZERO)
        # Never bill more principal than is owed and not yet billed (a curtailment
        # after the basis was fixed may have reduced it).
        unbilled = state.principal - _billed_principal_unpaid(state)
        if final or principal >= unbilled:
            principal, final = unbilled, True
        inst = Installment(n, due, interest + principal, interest=interest, principal=principal, final=final)
        if ahead:
            inst.start, inst.carried, inst.basis, inst.rate = start, carried, basis, rate
        state.accrued = ZERO
        state.accrual_from = due
        state.basis_due = due
    else:
        interest_at_due = round_money(_accrued_exact(state, terms, due))
        # Interest already billed on earlier installments and still unpaid is in the
        # accrual too: bill only the rest (issue 9, defect 2).  A simple installment's
        # first money meets its interest, so what it has been paid counts against it.
        billed_interest = sum((max(other.interest - other.paid, ZERO) for other in state.installments), ZERO)
        interest = max(interest_at_due - billed_interest, ZERO)
        amount = state.payment
        if terms.amortization == "equal-principal":
            amount = state.payment + interest
        billed = sum((other.amount - other.paid for other in state.installments), ZERO)
        if final or state.principal + interest_at_due - billed <= amount:
            final = True
            amount = max(state.principal + interest_at_due - billed, ZERO)
        inst = Installment(n, due, amount, interest=min(interest, amount), final=final)
    if final:
        state.term = n
    state.next_n = n + 1
    state.installments.append(inst)
    return inst


def _fix_basis(state: LoanState, terms: Terms) -> None:
    """Scheduled interest: the next period accrues on the principal after this installment."""
    state.basis = max(state.principal - _billed_principal_unpaid(state), ZERO)
    state.basis_due = None


def _settle(state: LoanState, terms: Terms, on: date) -> None:
    """Drop paid installments, move the paid-through date, notice a payoff."""
    keep: list[Installment] = []
    blocked = False
    for inst in state.installments:
        if not blocked and _counts_paid(state, terms, inst, on):
            if state.paid_through is None or inst.due > state.paid_through:
                state.paid_through = inst.due
        else:
            blocked = True
        if _remaining(state, terms, inst, on) > 0 or (inst.start is not None and inst.due > on):
            keep.append(inst)  # paid ahead: kept until its due date for the payoff's interest credit
    state.installments = keep
    # Paid fees are kept (remaining 0): waiving a fee already paid credits the borrower.
    if (
        state.principal <= 0
        and not any(_remaining(state, terms, inst, on) > 0 for inst in state.installments)
        and state.fees_outstanding <= 0
        and round_money(_accrued_exact(state, terms, on)) <= 0
    ):
        state.status = PAID_OFF
        state.principal = ZERO
        state.installments = []
        state.accrued = ZERO
        state.basis = ZERO
        state.basis_due = None
        state.accrual_from = on


def _late_fee_amount(terms: Terms, inst: Installment) -> Decimal:
    rule = terms.late_fee
    assert rule is not None
    if rule.fixed is not None:
        amount = rule.fixed
    else:
        assert rule.percent is not None
        amount = round_money(divide(multiply(inst.amount, rule.percent), 100))
    if rule.minimum is not None:
        amount = max(amount, rule.minimum)
    if rule.maximum is not None:
        amount = min(amount, rule.maximum)
    return amount


@functools.lru_cache(maxsize=64)
def _waterfall_groups(waterfall: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Consecutive installment parts form one group, met installment by installment."""
    groups: list[tuple[str, ...]] = []
    run: list[str] = []
    for part in waterfall:
        if part == "fees":
            if run:
                groups.append(tuple(run))
                run = []
            groups.append(("fees",))
        else:
            run.append(part)
    if run:
        groups.append(tuple(run))
    return tuple(groups)


# ---------------------------------------------------------------- money in


def _pay_fees(state: LoanState, pool: Decimal, entry: Entry) -> Decimal:
    for fee in state.fees:
        if pool <= 0:
            break
        take = min(pool, fee.remaining)
        fee.remaining -= take
        entry.fees += take
        pool -= take
    return pool


def _pay_accrued(state: LoanState, terms: Terms, amount: Decimal, on: date) -> None:
    """Simple interest: ``amount`` meets the interest accrued up to ``on``."""
    accrued = _accrued_exact(state, terms, on)
    state.accrual_from = on
    # A payment that meets all the interest to date clears the sub-cent remainder.
    state.accrued = ZERO if amount >= round_money(accrued) else round_interest(accrued - amount)


def _pay_interest(state: LoanState, terms: Terms, inst: Installment, amount: Decimal, on: date) -> None:
    if terms.interest == "scheduled":
        inst.paid_interest += amount
        return
    inst.paid += amount
    _pay_accrued(state, terms, amount, on)


def _pay_principal(state: LoanState, terms: Terms, inst: Installment | None, amount: Decimal, on: date) -> None:
    if terms.interest == "simple":
        _checkpoint(state, terms, on)
    state.principal -= amount
    if inst is not None:
        if terms.interest == "scheduled":
            inst.paid_principal += amount
        else:
            inst.paid += amount
    if terms.interest == "simple":
        state.basis = state.principal


def _targets(state: LoanState, terms: Terms, on: date, allow_next: bool) -> list[Installment]:
    """The installments fallen due and unpaid, oldest first; with none, the next one (paying early)."""
    due = _unpaid_due(state, terms, on, [])
    if due or not allow_next:
        return due
    return _next_target(state, terms, on)


def _next_target(state: LoanState, terms: Terms, on: date) -> list[Installment]:
    """The next installment not yet due (billed now if it is not billed yet), or none."""
    ahead = [inst for inst in state.installments if inst.due > on and _remaining(state, terms, inst, on) > 0]
    if ahead:
        return ahead[:1]
    if state.next_n <= state.term:
        return [_bill_next(state, terms, on)]
    return []


def _meet(state: LoanState, terms: Terms, on: date, group: tuple[str, ...], targets: list[Installment],
          pool: Decimal, entry: Entry) -> Decimal:
    """One waterfall group over installments, oldest first: each installment's parts in the group's order.

    Simple interest: an installment's interest part is all the interest accrued to the date
    (see :func:`_parts`), so a payment meets all interest accrued before any principal.
    """
    for inst in targets:
        parts = _parts(state, terms, inst, on)
        for part in group:
            take = min(pool, parts[part])
            if take <= 0:
                continue
            if part == "interest":
                _pay_interest(state, terms, inst, take, on)
                entry.interest += take
            else:
                _pay_principal(state, terms, inst, take, on)
                entry.principal += take
            pool -= take
            if pool <= 0:
                return pool
    return pool


def _run_waterfall(state: LoanState, terms: Terms, on: date, targets: list[Installment], pool: Decimal,
                   entry: Entry) -> Decimal:
    groups = _waterfall_groups(terms.waterfall)
    for group in groups:
        if pool <= 0:
            break
        if group == ("fees",):
            if terms.partial == "suspense" and _unpaid_due(state, terms, on, targets):
                continue  # held money waits for a whole installment before it meets fees
            pool = _pay_fees(state, pool, entry)
            continue
        pool = _meet(state, terms, on, group, targets, pool, entry)
    return pool


def _whole(state: LoanState, terms: Terms, on: date, targets: list[Installment], budget: Decimal) -> list[Installment]:
    """``partial: suspense``: only the installments the money meets in full."""
    if _waterfall_groups(terms.waterfall)[0] == ("fees",):
        budget -= state.fees_outstanding
    whole: list[Installment] = []
    for inst in targets:
        need = _remaining(state, terms, inst, on)
        if need > budget:
            break
        budget -= need
        whole.append(inst)
    return whole


def _apply(
    state: LoanState,
    terms: Terms,
    on: date,
    amount: Decimal,
    entry: Entry,
    from_suspense: bool,
    entries: list[Entry] | None = None,
) -> None:
    """Apply money received (or held in suspense) by the product's rules.

    Order: the installments fallen due, oldest first (or the next one when none is due),
    through the waterfall with the fees it names; then the excess rule (``principal``: a
    curtailment; ``installments``: the next installments, whole, the next due date moves;
    ``suspense``: held).  Money that reaches the payoff (less the
    product's ``payoff_tolerance``) pays the loan off instead, interest to this date only.
    """
    if state.status == CHARGED_OFF:
        state.recovered += amount  # off the books: money received is a recovery
        return
    if state.status != ACTIVE:
        state.refund_due += amount
        entry.refund += amount
        if from_suspense:
            entry.suspense -= amount
        return
    pool = amount
    payoff = None if from_suspense else _payoff_amount(state, terms, on)
    reaches_payoff = payoff is not None and amount + state.suspense >= payoff - terms.payoff_tolerance
    if not from_suspense and ((terms.partial == "suspense" and state.suspense > 0) or reaches_payoff):
        pool += state.suspense
        entry.suspense -= state.suspense
        state.suspense = ZERO
    if payoff is not None and reaches_payoff:
        # Enough to pay the loan off: interest only to this date, not the next installment's.
        _shadow_apply(state, terms, on, pool)
        _pay_off(state, terms, on, pool, entry)
        if state.status == ACTIVE:
            _write_off_shortfall(state, terms, on, entry, entries)
        return
    targets = _targets(state, terms, on, allow_next=not from_suspense)
    short = False  # ``partial: suspense`` and the money does not make the next installment whole
    if terms.partial == "suspense":
        whole = _whole(state, terms, on, targets, pool)
        short = len(whole) < len(targets)
        targets = whole
    received = pool
    pool = _run_waterfall(state, terms, on, targets, pool, entry)
    if pool > 0 and not from_suspense and terms.excess == "installments":
        # Whole installments ahead: each next installment is billed and met in turn, so the
        # next due date moves; what is left after the last is a curtailment.
        while pool > 0 and not _unpaid_due(state, terms, on, []):
            ahead = [inst for inst in _next_target(state, terms, on) if _remaining(state, terms, inst, on) > 0]
            if not ahead:
                break
            if terms.partial == "suspense":
                ahead = _whole(state, terms, on, ahead, pool)
                if not ahead:
                    break
            pool = _run_waterfall(state, terms, on, ahead, pool, entry)
    _shadow_apply(state, terms, on, received - pool)
    if pool > 0:
        if from_suspense:
            pass  # what was not needed stays in suspense
        elif _unpaid_due(state, terms, on, []) or terms.excess == "suspense" or short:
            state.suspense += pool
            entry.suspense += pool
        else:
            _curtail(state, terms, on, pool, entry)
    if from_suspense:
        used = amount - pool
        state.suspense -= used
        entry.suspense -= used
    _settle(state, terms, on)


OVERRIDE_PARTS = ("interest", "principal", "fees", "suspense")


def _apply_override(state: LoanState, terms: Terms, on: date, split: dict[str, Decimal], entry: Entry) -> None:
    """A payment split as the servicer directs instead of by the waterfall.

    Interest meets the interest of the installments fallen due (oldest first,
    then interest accrued to the date); principal meets their principal, then
    curtails; fees meet fees oldest first; suspense is held.  Whatever a part
    cannot place (more interest than is owed, say) is held in suspense.
    """
    held = split.get("suspense", ZERO)
    targets = [inst for inst in state.installments if inst.due <= on]
    pool = split.get("interest", ZERO)
    for inst in targets:
        take = min(pool, _parts(state, terms, inst, on)["interest"])
        if take > 0:
            _pay_interest(state, terms, inst, take, on)
            entry.interest += take
            pool -= take
    if pool > 0 and terms.interest == "simple":
        take = min(pool, round_money(_accrued_exact(state, terms, on)))
        if take > 0:
            _pay_accrued(state, terms, take, on)
            entry.interest += take
            pool -= take
    held += pool
    pool = split.get("fees", ZERO)
    before = entry.fees
    held += _pay_fees(state, pool, entry)
    pool = split.get("principal", ZERO)
    for inst in targets:
        take = min(pool, _parts(state, terms, inst, on)["principal"])
        if take > 0:
            _pay_principal(state, terms, inst, take, on)
            entry.principal += take
            pool -= take
    if pool > 0:
        take = min(pool, state.principal - _billed_principal_unpaid(state))
        if take > 0:
            _pay_principal(state, terms, None, take, on)
            entry.principal += take
            pool -= take
    held += pool
    if held > 0:
        state.suspense += held
        entry.suspense += held
    _shadow_apply(state, terms, on, entry.interest + entry.principal + (entry.fees - before))
    _settle(state, terms, on)


def _unpaid_due(state: LoanState, terms: Terms, on: date, exclude: list[Installment]) -> list[Installment]:
    return [
        inst
        for inst in state.installments
        if inst.due <= on and inst not in exclude and _remaining(state, terms, inst, on) > 0
    ]


def _curtail(state: LoanState, terms: Terms, on: date, amount: Decimal, entry: Entry) -> None:
    """Excess to principal (a curtailment); excess that reaches the principal pays the loan off.

    Simple interest: the excess first meets any interest still accrued to the date.
    """
    if terms.interest == "simple":
        take = min(amount, round_money(_accrued_exact(state, terms, on)))
        if take > 0:
            _pay_accrued(state, terms, take, on)
            entry.interest += take
            amount -= take
        if amount <= 0:
            return
    if amount < state.principal - _billed_principal_unpaid(state):
        _pay_principal(state, terms, None, amount, on)
        entry.principal += amount
        return
    _pay_off(state, terms, on, amount, entry)


def _payoff_amount(state: LoanState, terms: Terms, on: date) -> Decimal:
    """Gross payoff: principal, interest to ``on`` (less interest paid ahead), fees."""
    return state.principal + round_money(_interest_owed(state, terms, on)) + state.fees_outstanding


def _interest_owed(state: LoanState, terms: Terms, on: date) -> Decimal:
    """Interest to ``on``: billed and unpaid, plus accrued since the last billing (exact).

    Scheduled interest billed before its due date (an installment paid ahead) counts
    only the days of its period elapsed by ``on``: interest paid for days not yet
    elapsed is owed back, so the result may be negative (interest paid ahead), and a
    payoff never collects interest for days after its date (issue 9, defect 8).
    """
    owed = _accrued_exact(state, terms, on)
    if terms.interest == "scheduled":
        for inst in state.installments:
            owed += inst.interest - inst.paid_interest
            if inst.start is not None and inst.due > on:
                owed -= inst.interest - _earned_by(state, inst, terms, on)
    return owed


def _earned_by(state: LoanState, inst: Installment, terms: Terms, on: date) -> Decimal:
    """The scheduled interest of an installment paid ahead that is earned by ``on`` (exact).

    Exactly what accrual would have given had the installment not been billed early
    (the same start, carried interest, basis, rate and day counting), capped at the
    installment's billed interest; all of it once its due date has come.
    """
    assert inst.start is not None
    if on >= inst.due:
        return inst.interest
    if on <= inst.start:
        return min(inst.carried, inst.interest)
    accrued = ENGINE_CONTEXT.add(inst.carried, periods.interest(
        terms, inst.basis, inst.rate, inst.start, on, anchor_n=state.anchor_n, anchor_due=state.anchor_due,
        last_n=state.term, hint=inst.n))
    return min(accrued, inst.interest)


def _pay_off(state: LoanState, terms: Terms, on: date, amount: Decimal, entry: Entry) -> None:
    """Interest to date, then principal, then fees; anything beyond is a refund due, never negative principal.

    Interest paid ahead (negative interest owed) is credited: the entry's interest is negative.
    """
    pool = amount
    owed = _interest_owed(state, terms, on)
    interest = round_money(owed)
    take = min(pool, interest)
    remainder = owed - take
    for inst in state.installments:
        inst.paid_interest = inst.interest
        inst.clear_ahead()
    state.accrued = ZERO if take == interest else round_interest(remainder)
    state.accrual_from = on
    entry.interest += take
    pool -= take
    take = min(pool, state.principal)
    _pay_principal(state, terms, None, take, on)
    entry.principal += take
    pool -= take
    if state.principal == 0:
        for inst in state.installments:  # every billed installment is met by the payoff
            if state.paid_through is None or inst.due > state.paid_through:
                state.paid_through = inst.due
        state.installments = []
        state.next_n = state.term + 1
        state.basis = ZERO
        state.basis_due = None
    pool = _pay_fees(state, pool, entry)
    if pool > 0:
        state.refund_due += pool
        entry.refund += pool
    _settle(state, terms, on)


def _write_off_shortfall(state: LoanState, terms: Terms, on: date, entry: Entry, entries: list[Entry] | None) -> None:
    """A payment short of the payoff by no more than ``payoff_tolerance`` pays it off: write off the rest."""
    written = Entry(f"{entry.id}:payoff_write_off", "payoff_write_off", on, ZERO)
    _forgive(state, terms, on, written)
    if entries is not None and written.amount:
        entries.append(written)


def _forgive(state: LoanState, terms: Terms, on: date, entry: Entry) -> None:
    """Forgive what is left (a small balance at payoff): interest, principal and fees."""
    interest = round_money(_interest_owed(state, terms, on))
    fees = state.fees_outstanding
    entry.interest, entry.principal, entry.fees = interest, state.principal, fees
    entry.amount = interest + state.principal + fees
    for fee in state.fees:
        fee.remaining = ZERO
    state.principal = ZERO
    state.accrued = ZERO
    state.accrual_from = on
    for inst in state.installments:
        if state.paid_through is None or inst.due > state.paid_through:
            state.paid_through = inst.due
    state.installments = []
    state.next_n = state.term + 1
    state.basis = ZERO
    state.basis_due = None
    _settle(state, terms, on)


def _shadow_apply(state: LoanState, terms: Terms, on: date, amount: Decimal) -> None:
    """The same money applied as if fees came last in the waterfall.

    Late fees consult this shadow so that an installment paid in full and on
    time is never charged a late fee because an earlier fee took part of the
    payment (no pyramiding, 12 CFR 1026.36(c)(2)), whatever the waterfall.
    """
    pool = amount
    due = [inst for inst in state.installments if inst.due <= on and inst.shadow_paid < inst.amount]
    due += [inst for inst in state.installments if inst.due > on and inst.shadow_paid < inst.amount][:1]
    for inst in due:
        take = min(pool, inst.amount - inst.shadow_paid)
        inst.shadow_paid += take
        pool -= take
        if pool <= 0:
            return
    state.shadow_fees = max(state.shadow_fees - pool, ZERO)


# ---------------------------------------------------------------- the day


def _assess_late_fees(state: LoanState, terms: Terms, on: date, entries: list[Entry]) -> None:
    rule = terms.late_fee
    if rule is None:
        return
    for inst in state.installments:
        # The day after the last day to pay on time, which moves past a weekend or bank holiday (issue 9).
        if inst.late_fee_decided or late_fee_day(inst.due, rule.grace_days) > on:
            continue
        inst.late_fee_decided = True
        if _counts_paid(state, terms, inst, on):
            continue
        amount = _late_fee_amount(terms, inst)
        if amount <= 0:
            continue
        fee_id = f"late_fee:{inst.n}"
        state.fees.append(Fee(fee_id, "late", on, amount, amount))
        state.shadow_fees += amount
        entries.append(Entry(fee_id, "late_fee", on, amount, fees=amount))


def _apply_suspense(state: LoanState, terms: Terms, on: date, entries: list[Entry]) -> None:
    if state.suspense <= 0 or state.status != ACTIVE:
        return
    if not _unpaid_due(state, terms, on, []):
        return
    entry = Entry(f"suspense:{on.isoformat()}", "suspense_applied", on, ZERO)
    held = state.suspense
    _apply(state, terms, on, held, entry, from_suspense=True)
    if entry.suspense != 0:
        entry.amount = -entry.suspense
        entries.append(entry)


def _apply_event(state: LoanState, terms: Terms, event: Event, entries: list[Entry]) -> None:
    on = event.date
    entry = Entry(event.id, event.type, on, event.amount)
    if event.type == "payment" and event.split is not None and state.status == ACTIVE:
        _apply_override(state, terms, on, dict(event.split), entry)
    elif event.type == "payment":
        assert event.amount is not None
        _apply(state, terms, on, event.amount, entry, from_suspense=False, entries=entries)
    elif event.type == "fee":
        assert event.amount is not None
        state.fees.append(Fee(event.id, event.kind or "fee", on, event.amount, event.amount))
        state.shadow_fees += event.amount
        entry.fees = event.amount
        if state.status == PAID_OFF:
            state.status = ACTIVE
    elif event.type == "waiver":
        _waive(state, terms, event, entry)
    elif event.type == "terms_change":
        _change_terms(state, terms, event)
    elif event.type == "write_off":
        # Forgive what is left (a small balance at payoff): interest, principal and fees.
        _forgive(state, terms, on, entry)
    elif event.type == "charge_off":
        # Move the whole balance off the books; the borrower still owes it, and
        # money received afterwards is a recovery.
        interest = round_money(_interest_owed(state, terms, on))
        fees = state.fees_outstanding
        entry.interest, entry.principal, entry.fees = interest, state.principal, fees
        entry.amount = interest + state.principal + fees
        state.charged_off = entry.amount
        for fee in state.fees:
            fee.remaining = ZERO
        state.fees = []
        state.principal = ZERO
        state.accrued = ZERO
        state.accrual_from = on
        state.installments = []
        state.basis = ZERO
        state.basis_due = None
        state.status = CHARGED_OFF
    elif event.type == "recovery":
        assert event.amount is not None
        state.recovered += event.amount
    elif event.type == "refund":
        # Money beyond the payoff paid back to the borrower.
        assert event.amount is not None
        paid = min(event.amount, state.refund_due)
        state.refund_due -= paid
        entry.refund = -paid
    elif event.type == "adjustment":
        assert event.amount is not None
        _checkpoint(state, terms, on)
        state.principal += event.amount
        if terms.interest == "simple":
            state.basis = state.principal
        entry.principal = event.amount
        _settle(state, terms, on)
    else:
        raise InputError(f"event {event.id}", f"type {event.type!r} cannot be advanced; use replay")
    entries.append(entry)


def _waive(state: LoanState, terms: Terms, event: Event, entry: Entry) -> None:
    """Waive all or part of a fee (issue 9, defect 6).

    Refused (an :class:`InputError` naming the amount) when more than the fee less what
    was already waived.  What is still owed on the fee is waived first; the rest of the
    waiver, a fee the borrower already paid, is credited: to principal (curtailment) or
    as a refund due, per ``waiver_credit``; a loan with no principal left gets a refund due.
    A waiver of a fee the loan no longer has (a back-dated payment made it never due) does nothing.
    """
    on = event.date
    fee = next((f for f in state.fees if f.id == event.of), None)
    if fee is None:
        entry.amount = ZERO
        return
    waivable = fee.amount - fee.waived
    wanted = waivable if event.amount is None else event.amount
    if wanted > waivable:
        raise InputError(
            "amount", f"{wanted} is more than the {waivable} that can still be waived on fee {fee.id} of {fee.amount}"
        )
    from_owed = min(wanted, fee.remaining)
    credit = wanted - from_owed
    fee.remaining -= from_owed
    fee.waived += wanted
    state.shadow_fees = max(state.shadow_fees - from_owed, ZERO)
    entry.amount = wanted
    entry.fees = -from_owed
    if credit > 0 and state.status == ACTIVE and terms.waiver_credit == "principal" and state.principal > 0:
        to_principal = min(credit, state.principal - _billed_principal_unpaid(state))
        if to_principal > 0:
            _pay_principal(state, terms, None, to_principal, on)
            entry.principal += to_principal
            credit -= to_principal
    if credit > 0 and state.status != CHARGED_OFF:
        state.refund_due += credit
        entry.refund += credit
    _settle(state, terms, on)


def _change_terms(state: LoanState, terms: Terms, event: Event) -> None:
    on = event.date
    _checkpoint(state, terms, on)
    if event.rate is not None:
        state.rate = divide(event.rate, 100)
    if event.term is not None:
        state.term = state.next_n - 1 + event.term
    if event.next_due is not None:
        state.anchor_n = state.next_n
        state.anchor_due = event.next_due
    remaining = state.term - state.next_n + 1
    if event.payment is not None:
        state.payment = event.payment
    elif (event.rate is not None or event.term is not None) and remaining > 0:
        base = state.principal - _billed_principal_unpaid(state)
        if terms.amortization == "equal-principal":
            state.payment = equal_principal_part(base, remaining)
        else:
            state.payment = level_payment(base, state.rate, terms.periods_per_year, remaining)


_SETTLES_INTEREST = frozenset({"payment", "suspense_applied", "write_off", "payoff_write_off", "charge_off"})


def _process_day(state: LoanState, terms: Terms, on: date, events: Sequence[Event], entries: list[Entry]) -> None:
    first_new = len(entries)
    _run_day(state, terms, on, events, entries)
    for entry in entries[first_new:]:
        if entry.type in _SETTLES_INTEREST:
            state.interest_settled += entry.interest


def _run_day(state: LoanState, terms: Terms, on: date, events: Sequence[Event], entries: list[Entry]) -> None:
    if state.status == ACTIVE:
        if any(inst.start is not None and inst.due <= on for inst in state.installments):
            _elapse_paid_ahead(state, terms, on)
        while state.next_n <= state.term and _next_due(state, terms) <= on:
            _bill_next(state, terms, on)
        _assess_late_fees(state, terms, on, entries)
        _apply_suspense(state, terms, on, entries)
    pooled = [event for event in events if event.type == "payment" and event.split is None]
    for event in events:
        if len(pooled) > 1 and event in pooled:
            if event is pooled[0]:
                _apply_payments(state, terms, on, pooled, entries)
            continue
        _apply_event(state, terms, event, entries)
    if state.basis_due is not None and state.basis_due <= on:
        _fix_basis(state, terms)
    state.date = on


def _elapse_paid_ahead(state: LoanState, terms: Terms, on: date) -> None:
    """An installment paid ahead whose due date has come is an ordinary paid installment."""
    for inst in state.installments:
        if inst.start is not None and inst.due <= on:
            inst.clear_ahead()
    state.installments = [
        inst for inst in state.installments
        if _remaining(state, terms, inst, on) > 0 or (inst.start is not None and inst.due > on)
    ]


#: The parts of a payment entry.
_PARTS = ("interest", "principal", "fees", "suspense", "refund")


def _apply_payments(state: LoanState, terms: Terms, on: date, payments: list[Event], entries: list[Entry]) -> None:
    """Several payments on one date apply as one payment of their sum (issue 9, defect 5).

    The pooled allocation is then handed back to the payments in order, part by part in
    the waterfall's order (then suspense, refund), so each entry's parts add up to its
    amount; a draw on suspense (or interest paid ahead credited at a payoff) goes with the first.
    """
    amounts = [event.amount or ZERO for event in payments]
    pool = Entry(payments[-1].id, "payment", on, sum(amounts, ZERO))
    _apply(state, terms, on, pool.amount or ZERO, pool, from_suspense=False, entries=entries)
    mine = [Entry(event.id, "payment", on, event.amount) for event in payments]
    order = (*terms.waterfall, "suspense", "refund")
    left = {part: getattr(pool, part) for part in _PARTS}
    for part in _PARTS:
        if left[part] < 0:
            setattr(mine[0], part, left[part])
            left[part] = ZERO
    room = [amount - sum((getattr(entry, part) for part in _PARTS), ZERO) for amount, entry in zip(amounts, mine)]
    for part in order:
        for index, entry in enumerate(mine):
            take = min(left[part], room[index])
            if take > 0:
                setattr(entry, part, getattr(entry, part) + take)
                room[index] -= take
                left[part] -= take
    entries.extend(mine)


def _next_date(state: LoanState, terms: Terms) -> date | None:
    """The next day on which a rule of the engine acts by itself."""
    if state.status != ACTIVE:
        return None
    today = state.date
    best: date | None = None
    if state.next_n <= state.term:
        day = _next_due(state, terms)
        if day > today:
            best = day
    if state.basis_due is not None and state.basis_due > today and (best is None or state.basis_due < best):
        best = state.basis_due
    if terms.late_fee is not None:
        grace = terms.late_fee.grace_days
        for inst in state.installments:
            if not inst.late_fee_decided:
                day = late_fee_day(inst.due, grace)
                if day > today and (best is None or day < best):
                    best = day
    return best


#: Order within one date (issue 9): terms changes, then fees and waivers, then the day's
#: payments taken together; refunds, write-offs and charge-offs take what is left after
#: them, and money received after a charge-off on the same day is a recovery of it.
_DAY_ORDER = {"terms_change": 0, "adjustment": 1, "fee": 2, "waiver": 3, "payment": 4, "refund": 5,
              "write_off": 6, "charge_off": 7, "recovery": 8, "reversal": 9}


def event_order(event: Event) -> tuple[date, int, int, str]:
    """Sort key: date, then the kind's place in the day, then id (numeric ids in number order).

    The order of events in an input never changes the result.
    """
    return (event.date, _DAY_ORDER.get(event.type, 10), len(event.id), event.id)


@in_engine_context
def advance(
    state: LoanState, terms: Terms, events: Sequence[Event], to_date: date
) -> tuple[LoanState, list[Entry]]:
    """Roll ``state`` forward over ``events`` to the end of ``to_date``.

    ``events`` must be dated after ``state.date`` and on or before ``to_date``;
    they are applied in date order, and within a date by :func:`event_order` (terms
    changes, fees and waivers, then the day's payments together); list order never matters.  The
    input state is not changed.  Reversals need the events they reverse, so
    they go through :func:`replay`.
    """
    if to_date < state.date:
        raise ValueError(f"cannot advance from {state.date} back to {to_date}")
    ordered = sorted(events, key=event_order)
    for event in ordered:
        if event.date <= state.date or event.date > to_date:
            raise ValueError(f"event {event.id} dated {event.date} is outside {state.date} to {to_date}")
    state = state.copy()
    entries: list[Entry] = []
    index = 0
    while True:
        day = _next_date(state, terms)
        if index < len(ordered) and (day is None or ordered[index].date < day):
            day = ordered[index].date
        if day is None or day > to_date:
            break
        todays: list[Event] = []
        while index < len(ordered) and ordered[index].date == day:
            todays.append(ordered[index])
            index += 1
        _process_day(state, terms, day, todays, entries)
    state.date = to_date
    return state, entries


@in_engine_context
def replay(
    terms: Terms, events: Sequence[Event], to_date: date, start: LoanState | None = None
) -> tuple[LoanState, list[Entry]]:
    """The loan's state at the end of ``to_date`` from its terms and whole ledger.

    A reversal removes its payment as if it had never been received: the
    payment is left out and everything after it is derived again.  The
    payment's entry shows how it was applied when received, flagged
    ``reversed``; the reversal's entry is its negative.
    """
    validate_events(events)
    known = [event for event in events if event.date <= to_date]
    reversals = {event.of or "": event for event in known if event.type == "reversal"}
    effective = [event for event in known if event.type != "reversal" and event.id not in reversals]
    origin = start if start is not None else initial_state(terms)
    if to_date < origin.date:
        raise InputError("as_of", f"{to_date} is before the loan's first day {origin.date + timedelta(days=1)}")
    state, entries = advance(origin, terms, effective, to_date)
    if not reversals:
        return state, entries
    position = {id(event): index for index, event in enumerate(known)}
    by_id: dict[str, Entry] = {}
    for original_id, reversal in reversals.items():
        original = next(event for event in known if event.id == original_id)
        # How the payment was applied when it was received: the ledger as it stood then.
        before = [
            event
            for event in known
            if event.type != "reversal"
            and (event.date, position[id(event)]) <= (original.date, position[id(original)])
            and (event is original or not (event.id in reversals and reversals[event.id].date <= original.date))
        ]
        _, as_posted = advance(origin, terms, before, original.date)
        posted = next(entry for entry in as_posted if entry.id == original_id)
        posted.reversed = True
        by_id[original_id] = posted
        by_id[reversal.id] = Entry(
            reversal.id,
            "reversal",
            reversal.date,
            -posted.amount if posted.amount is not None else None,
            fees=-posted.fees,
            interest=-posted.interest,
            principal=-posted.principal,
            suspense=-posted.suspense,
            refund=-posted.refund,
        )
    order = {event.id: index for index, event in enumerate(known)}
    merged = entries + list(by_id.values())
    # An entry the engine derived from an event (``<id>:payoff_write_off``) sorts right after it.
    merged.sort(key=lambda entry: (entry.date, order.get(entry.id, order.get(entry.id.rpartition(":")[0], -1)), ":" in entry.id))
    return state, merged


def validate_events(events: Sequence[Event]) -> None:
    """Check references between events; raise :class:`InputError` naming the event."""
    seen: dict[str, Event] = {}
    reversed_ids: set[str] = set()
    # A waiver may be listed before its fee: events apply in date order, whatever the list order.
    fee_ids = {event.id for event in events if event.type == "fee"}
    for position, event in enumerate(events):
        where = f"events[{position}]"
        if event.id in seen:
            raise InputError(f"{where}.id", f"{event.id!r} is used twice")
        if event.type not in EVENT_TYPES:
            raise InputError(f"{where}.type", f"{event.type!r} is not one of {', '.join(EVENT_TYPES)}")
        if event.type in ("payment", "fee", "adjustment", "recovery") and event.amount is None:
            raise InputError(f"{where}.amount", "is required")
        if event.split is not None:
            if event.type != "payment":
                raise InputError(f"{where}.split", "only a payment can have an allocation override")
            parts = dict(event.split)
            for part, value in parts.items():
                if part not in OVERRIDE_PARTS:
                    raise InputError(f"{where}.split", f"{part!r} is not one of {', '.join(OVERRIDE_PARTS)}")
                if value < 0:
                    raise InputError(f"{where}.split.{part}", f"{value} must not be negative")
            if sum(parts.values(), ZERO) != event.amount:
                raise InputError(f"{where}.split", f"the parts add up to {sum(parts.values(), ZERO)}, not {event.amount}")
        if event.type in ("payment", "fee") and event.amount is not None and event.amount <= 0:
            raise InputError(f"{where}.amount", f"{event.amount} must be more than zero")
        if event.type == "reversal":
            target = seen.get(event.of or "")
            if target is None:
                target = next((e for e in events if e.id == event.of), None)
            if target is None:
                raise InputError(f"{where}.of", f"{event.of!r} is not a known event id")
            if target.type != "payment":
                raise InputError(f"{where}.of", f"{event.of!r} is a {target.type}, only payments are reversed")
            if target.date > event.date:
                raise InputError(f"{where}.date", f"{event.date} is before the payment {event.of!r} it reverses")
            if event.of in reversed_ids:
                raise InputError(f"{where}.of", f"{event.of!r} is already reversed")
            reversed_ids.add(event.of or "")
        if event.type == "waiver":
            if not event.of:
                raise InputError(f"{where}.of", "is required: the fee id to waive (e.g. late_fee:2)")
            if not event.of.startswith("late_fee:") and event.of not in fee_ids:
                raise InputError(f"{where}.of", f"{event.of!r} is not a known fee id")
            if event.amount is not None and event.amount <= 0:
                raise InputError(f"{where}.amount", f"{event.amount} must be more than zero")
        if event.type == "terms_change" and all(
            value is None for value in (event.rate, event.payment, event.term, event.next_due)
        ):
            raise InputError(where, "a terms_change needs rate, payment, term or next_due")
        seen[event.id] = event


# ---------------------------------------------------------------- what it shows


@in_engine_context
def interest_earned(state: LoanState, terms: Terms, on: date | None = None) -> Decimal:
    """All interest the loan has earned for the days before ``on`` (exact): settled plus owed.

    End of day books day D's accrual as ``round(earned through D+1) - round(earned through D)``,
    so the daily entries add up exactly.  Nothing accrues after charge-off or payoff.
    """
    day = state.date if on is None else on
    if state.status != ACTIVE:
        return state.interest_settled
    return state.interest_settled + _interest_owed(state, terms, day)



@dataclass(frozen=True, slots=True)
class Snapshot:
    """The derived figures every screen, letter and report shows."""

    as_of: date
    status: str
    principal: Decimal
    accrued_interest: Decimal
    fees: Decimal
    suspense: Decimal
    refund_due: Decimal
    paid_through: date | None
    next_due: date | None
    next_payment: Decimal
    amount_due: Decimal
    days_past_due: int
    bucket: str
    per_diem: Decimal
    #: What pays the loan off on ``as_of``: principal + interest + fees, less suspense.
    payoff: Decimal
    #: ``amount_due`` (gross, as a periodic statement shows it, Reg Z 1026.41(d)) less the
    #: money held in suspense: what a coupon or an autopay debit asks for.
    net_due: Decimal = ZERO


@in_engine_context
def snapshot(state: LoanState, terms: Terms, on: date | None = None) -> Snapshot:
    """Figures as of the end of ``state.date`` (accrual up to ``on``, default the state's date)."""
    as_of = state.date if on is None else on
    # Negative when scheduled interest was paid for days not yet elapsed (paid ahead).
    accrued_shown = round_money(_interest_owed(state, terms, as_of))
    fees = state.fees_outstanding
    amount_due = fees
    oldest_unpaid: Installment | None = None
    for inst in state.installments:
        remaining = _remaining(state, terms, inst, as_of)
        if inst.due <= as_of:
            amount_due += remaining
        if oldest_unpaid is None and not _counts_paid(state, terms, inst, as_of):
            oldest_unpaid = inst
    if oldest_unpaid is not None:
        next_due: date | None = oldest_unpaid.due
        next_payment = _remaining(state, terms, oldest_unpaid, as_of)
    elif state.status == ACTIVE and state.next_n <= state.term:
        next_due = _next_due(state, terms)
        next_payment = state.payment
    else:
        next_due, next_payment = None, ZERO
    days_past_due = 0
    if oldest_unpaid is not None and oldest_unpaid.due < as_of:
        days_past_due = (as_of - oldest_unpaid.due).days
    per_diem = ZERO
    if state.status == ACTIVE:
        per_diem = round_money(per_diem_interest(state.principal, state.rate, as_of, terms.day_count))
    return Snapshot(
        as_of=as_of,
        status=state.status,
        principal=state.principal,
        accrued_interest=accrued_shown,
        fees=fees,
        suspense=state.suspense,
        refund_due=state.refund_due,
        paid_through=state.paid_through,
        next_due=next_due,
        next_payment=next_payment,
        amount_due=amount_due,
        days_past_due=days_past_due,
        bucket=bucket_for(days_past_due),
        per_diem=per_diem,
        # Net of suspense: money received and not yet applied is the borrower's (issue 9).
        payoff=max(state.principal + accrued_shown + fees - state.suspense, ZERO) if state.status == ACTIVE else ZERO,
        net_due=max(amount_due - state.suspense, ZERO),
    )


def state_to_dict(state: LoanState) -> dict[str, Any]:
    """Serialize a state for the database cache (strings for amounts and dates)."""

    def d(value: date | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "date": d(state.date),
        "status": state.status,
        "principal": str(state.principal),
        "rate": str(state.rate),
        "payment": str(state.payment),
        "term": state.term,
        "next_n": state.next_n,
        "anchor_n": state.anchor_n,
        "anchor_due": d(state.anchor_due),
        "accrued": str(state.accrued),
        "accrual_from": d(state.accrual_from),
        "basis": str(state.basis),
        "basis_due": d(state.basis_due),
        "suspense": str(state.suspense),
        "refund_due": str(state.refund_due),
        "paid_through": d(state.paid_through),
        "shadow_fees": str(state.shadow_fees),
        "installments": [
            [
                i.n,
                d(i.due),
                str(i.amount),
                str(i.interest),
                str(i.principal),
                str(i.paid_interest),
                str(i.paid_principal),
                str(i.paid),
                str(i.shadow_paid),
                i.late_fee_decided,
                i.final,
                # Optional trailing values are written only when set, so states cached
                # before they existed compare equal with a fresh replay.
                *([d(i.start), str(i.carried), str(i.basis), str(i.rate)] if i.start is not None else []),
            ]
            for i in state.installments
        ],
        "fees": [
            [f.id, f.kind, d(f.date), str(f.amount), str(f.remaining), *([str(f.waived)] if f.waived else [])]
            for f in state.fees
        ],
        "interest_settled": str(state.interest_settled),
        "charged_off": str(state.charged_off),
        "recovered": str(state.recovered),
    }


def state_from_dict(data: dict[str, Any]) -> LoanState:
    def d(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    def req(value: str) -> date:
        return date.fromisoformat(value)

    return LoanState(
        date=req(data["date"]),
        status=data["status"],
        principal=Decimal(data["principal"]),
        rate=Decimal(data["rate"]),
        payment=Decimal(data["payment"]),
        term=int(data["term"]),
        next_n=int(data["next_n"]),
        anchor_n=int(data["anchor_n"]),
        anchor_due=req(data["anchor_due"]),
        accrued=Decimal(data["accrued"]),
        accrual_from=req(data["accrual_from"]),
        basis=Decimal(data["basis"]),
        basis_due=d(data["basis_due"]),
        suspense=Decimal(data["suspense"]),
        refund_due=Decimal(data["refund_due"]),
        paid_through=d(data["paid_through"]),
        shadow_fees=Decimal(data["shadow_fees"]),
        installments=[
            Installment(
                int(i[0]),
                req(i[1]),
                Decimal(i[2]),
                Decimal(i[3]),
                Decimal(i[4]),
                Decimal(i[5]),
                Decimal(i[6]),
                Decimal(i[7]),
                Decimal(i[8]),
                bool(i[9]),
                bool(i[10]),
                d(i[11]) if len(i) > 11 else None,
                *((Decimal(i[12]), Decimal(i[13]), Decimal(i[14])) if len(i) > 14 else ()),
            )
            for i in data["installments"]
        ],
        fees=[
            Fee(f[0], f[1], req(f[2]), Decimal(f[3]), Decimal(f[4]), Decimal(f[5]) if len(f) > 5 else ZERO)
            for f in data["fees"]
        ],
        interest_settled=Decimal(data.get("interest_settled", "0")),
        charged_off=Decimal(data.get("charged_off", "0")),
        recovered=Decimal(data.get("recovered", "0")),
    )
