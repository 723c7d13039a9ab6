"""The booked ledger: what a loan's entries add up to, and how it is kept equal to the replay.

Pure rules (no SQL, no Qt).  Issue 9, "The rule for the ledger": after every
service call and every end of day, each loan's **booked** balances (the sums
of its ledger entries, by the sign table below) equal the **replay** (the
engine's contractual state) less the **memo** amounts kept off the books —
interest not recognised while the loan is on non-accrual, principal recovered
early under cost recovery, and the charged-off deficiency by part.

The sign table
--------------

Each ledger type moves the booked balances (principal, interest receivable,
fees receivable, suspense, refund due) and the memo balances by one of its
columns times a sign.  This is the one definition: the verify query's
``CASE`` expressions, the account page and the adjusting entries all read
:data:`SIGNS`.

=====================  =========  ========  =====  ========  ======  =========================
type                   principal  interest  fees   suspense  refund  memo (off the books)
=====================  =========  ========  =====  ========  ======  =========================
boarding               +amount
conversion             +amount    +payload  +pay.  +payload          (accrued_interest, fees, suspense)
payment                −P         −I        −F     +S        +R      (positive parts = paid)
reversal               −P         −I        −F     +S        +R      (its parts are the payment's negatives)
write_off              −P         −I        −F                       (positive = forgiven)
refund                                                       +R      (R negative: refund paid out)
suspense_applied       −P         −I        −F     +S                (an engine day: held money applied)
reallocation           −P         −I        −F     +S        +R      (a payment re-applied: parts sum to 0)
fee, late_fee                               +F                       (positive = assessed)
waiver                                      +F                       (F negative = waived)
late_fee_reversal                           +F                       (F negative; reverses_id = the late_fee)
adjustment             +P                                            (positive adds principal)
accrual                           +I                                 (positive = earned)
accrual_adjustment                +I                                 (signed: replay earned − booked)
nonaccrual_interest                                                  memo +I (earned, not recognised)
interest_reversal                 −I                                 memo +I (non-accrual: off the books)
interest_recognition   +P         +I                                 memo −P −I (back onto the books)
cost_recovery          −P         +I                                 memo +P −I (interest paid → principal)
charge_off             −P         −I        −F                       memo +P +I +F (the deficiency)
charge_off_adjustment  −P         −I        −F                       memo +P +I +F (deficiency corrected)
recovery                                                             memo −P −I −F (allocated to the deficiency)
terms_change, disbursement                                           (nothing; escrow not built yet)
=====================  =========  ========  =====  ========  ======  =========================

Escrow: the ``escrow`` column is carried in :data:`COLUMNS` so that the
escrow balance can join :data:`PARTS` when escrow is built; no type moves it yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from app.domain.engine import CHARGED_OFF, PAID_OFF, Entry, LoanState, snapshot
from app.domain.money import ZERO, round_money
from app.domain.terms import Terms

#: The booked balances, in the order every report shows them.
PARTS = ("principal", "interest", "fees", "suspense", "refund")
#: A ledger row's allocation columns (escrow: the hook for when escrow is built).
COLUMNS = ("interest", "principal", "fees", "suspense", "refund", "escrow")

_PAY = {"principal": ("principal", -1), "interest": ("interest", -1), "fees": ("fees", -1),
        "suspense": ("suspense", 1), "refund": ("refund", 1)}


@dataclass(frozen=True)
class Sign:
    """How one ledger type moves the booked and memo balances.

    ``booked`` and ``memo`` map a part to (column, sign); the column
    ``"amount"`` means the row's amount.  ``conversion`` also reads its payload.
    """

    booked: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    memo: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    words: str = ""


SIGNS: dict[str, Sign] = {
    "boarding": Sign({"principal": ("amount", 1)}, words="Loan boarded: principal disbursed"),
    "conversion": Sign({"principal": ("amount", 1)}, words="Loan converted from another servicer"),
    "payment": Sign(_PAY, words="Payment"),
    "reversal": Sign(_PAY, words="Payment reversed"),
    "write_off": Sign({k: v for k, v in _PAY.items() if k in ("principal", "interest", "fees")},
                      words="Balance written off"),
    "payoff_write_off": Sign({k: v for k, v in _PAY.items() if k in ("principal", "interest", "fees")},
                             words="Payoff shortfall written off (within the payoff tolerance)"),
    "refund": Sign({"refund": ("refund", 1)}, words="Refund paid"),
    "suspense_applied": Sign(_PAY, words="Money held in suspense applied to what fell due"),
    "reallocation": Sign(_PAY, words="Cash already received re-applied as the replay now applies it"),
    "fee": Sign({"fees": ("fees", 1)}, words="Fee assessed"),
    "late_fee": Sign({"fees": ("fees", 1)}, words="Late fee assessed"),
    # A waiver lowers fees (its fees column is negative); waiving a fee already paid
    # credits principal (positive = principal reduced) or a refund due.
    "waiver": Sign({"fees": ("fees", 1), "principal": ("principal", -1), "refund": ("refund", 1)},
                   words="Fee waived"),
    "late_fee_reversal": Sign({"fees": ("fees", 1)}, words="Late fee reversed: the replay no longer assesses it"),
    "adjustment": Sign({"principal": ("principal", 1)}, words="Principal adjustment"),
    "accrual": Sign({"interest": ("interest", 1)}, words="Interest earned for the day"),
    "accrual_adjustment": Sign({"interest": ("interest", 1)},
                               words="Interest income corrected to what the replay earns"),
    "nonaccrual_interest": Sign(memo={"interest": ("interest", 1)},
                                words="Interest earned on non-accrual, kept off the books"),
    "interest_reversal": Sign({"interest": ("interest", -1)}, {"interest": ("interest", 1)},
                              words="Unpaid interest reversed from income (non-accrual)"),
    "interest_recognition": Sign({"principal": ("principal", 1), "interest": ("interest", 1)},
                                 {"principal": ("principal", -1), "interest": ("interest", -1)},
                                 words="Interest recognised as income (cash received, or back on accrual)"),
    "cost_recovery": Sign({"principal": ("principal", -1), "interest": ("interest", 1)},
                          {"principal": ("principal", 1), "interest": ("interest", -1)},
                          words="Interest received on non-accrual applied to principal (cost recovery)"),
    "charge_off": Sign({"principal": ("principal", -1), "interest": ("interest", -1), "fees": ("fees", -1)},
                       {"principal": ("principal", 1), "interest": ("interest", 1), "fees": ("fees", 1)},
                       words="Charged off: the booked balance leaves the books"),
    "charge_off_adjustment": Sign(
        {"principal": ("principal", -1), "interest": ("interest", -1), "fees": ("fees", -1)},
        {"principal": ("principal", 1), "interest": ("interest", 1), "fees": ("fees", 1)},
        words="Charged-off deficiency corrected to the replay"),
    "recovery": Sign(memo={"principal": ("principal", -1), "interest": ("interest", -1), "fees": ("fees", -1)},
                     words="Recovery: money received after charge-off, applied to the deficiency"),
    "terms_change": Sign(words="Terms changed"),
    "disbursement": Sign(words="Disbursement"),
}

#: Entries the engine derives by itself from what happened, booked under their engine id.
DERIVED_TYPES = ("suspense_applied", "payoff_write_off")
#: Types that exist only for the books: the engine never replays them.
BOOKS_TYPES = ("accrual", "late_fee", "boarding", "suspense_applied", "payoff_write_off", "reallocation", "late_fee_reversal",
               "accrual_adjustment", "nonaccrual_interest", "interest_reversal", "interest_recognition",
               "cost_recovery", "charge_off_adjustment")
#: The adjusting entries this module plans (shown in the account's ledger tab).
ADJUSTING_TYPES = ("reallocation", "late_fee_reversal", "accrual_adjustment", "interest_reversal",
                   "interest_recognition", "cost_recovery", "charge_off_adjustment")
#: The order a recovery meets the deficiency (Keel's rule, README): principal, interest, fees.
RECOVERY_ORDER = ("principal", "interest", "fees")


# ---------------------------------------------------------------- balances


@dataclass(frozen=True)
class Balances:
    principal: Decimal = ZERO
    interest: Decimal = ZERO
    fees: Decimal = ZERO
    suspense: Decimal = ZERO
    refund: Decimal = ZERO

    def __add__(self, other: Balances) -> Balances:
        return Balances(*(getattr(self, p) + getattr(other, p) for p in PARTS))

    def __sub__(self, other: Balances) -> Balances:
        return Balances(*(getattr(self, p) - getattr(other, p) for p in PARTS))

    def __neg__(self) -> Balances:
        return Balances(*(-getattr(self, p) for p in PARTS))

    def get(self, part: str) -> Decimal:
        value: Decimal = getattr(self, part)
        return value

    def with_part(self, part: str, value: Decimal) -> Balances:
        return replace(self, **{part: value})

    @property
    def is_zero(self) -> bool:
        return all(getattr(self, p) == 0 for p in PARTS)

    def as_dict(self) -> dict[str, str]:
        return {p: str(getattr(self, p)) for p in PARTS}

    @classmethod
    def of(cls, values: Mapping[str, Decimal]) -> Balances:
        return cls(**{p: values.get(p, ZERO) for p in PARTS})


class RowLike(Protocol):
    """A ledger row as this module reads it (ORM rows, plain rows and :class:`PlannedEntry` fit)."""

    @property
    def type(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def interest(self) -> Decimal: ...
    @property
    def principal(self) -> Decimal: ...
    @property
    def fees(self) -> Decimal: ...
    @property
    def suspense(self) -> Decimal: ...
    @property
    def refund(self) -> Decimal: ...
    @property
    def payload(self) -> Any: ...


def _column(row: RowLike, column: str) -> Decimal:
    value: Decimal = getattr(row, column)
    return value


def conversion_opening(payload: Mapping[str, Any] | None) -> Balances:
    """A converted loan's opening interest, fees and suspense (its principal is the row's amount)."""
    p = payload or {}
    return Balances(interest=round_money(Decimal(str(p.get("accrued_interest", "0")))),
                    fees=round_money(Decimal(str(p.get("fees", "0")))),
                    suspense=round_money(Decimal(str(p.get("suspense", "0")))))


def row_effect(row: RowLike) -> tuple[Balances, Balances]:
    """(booked, memo) movement of one row, by :data:`SIGNS`."""
    sign = SIGNS.get(row.type, Sign())
    booked = {part: _column(row, column) * s for part, (column, s) in sign.booked.items()}
    memo = {part: _column(row, column) * s for part, (column, s) in sign.memo.items()}
    out = Balances.of(booked)
    if row.type == "conversion":
        out = out + conversion_opening(row.payload)
    return out, Balances.of(memo)


def ledger_balances(rows: Iterable[RowLike]) -> tuple[Balances, Balances]:
    """(booked, memo) balances of a loan's rows."""
    booked, memo = Balances(), Balances()
    for row in rows:
        b, m = row_effect(row)
        booked, memo = booked + b, memo + m
    return booked, memo


def balances_from_sums(sums: Mapping[str, Decimal]) -> tuple[Balances, Balances]:
    """(booked, memo) from per-part sums named ``booked_<part>`` / ``memo_<part>`` (the verify query)."""
    return (Balances.of({p: sums.get(f"booked_{p}", ZERO) or ZERO for p in PARTS}),
            Balances.of({p: sums.get(f"memo_{p}", ZERO) or ZERO for p in PARTS}))


# ---------------------------------------------------------------- the replay seen as books


@dataclass(frozen=True)
class ReplayBooks:
    """The booked-equivalent balances of a replayed state.

    ``total`` is what booked + memo must add up to: the contractual balances
    (principal, interest owed to the state's date rounded to the cent, fees,
    suspense, refund due) plus, for a charged-off loan, the deficiency still
    owed by part after recoveries.  The other fields name what the replay did,
    so a difference can be explained entry by entry.
    """

    status: str
    total: Balances
    deficiency: Balances
    late_fees: dict[str, Decimal]  # engine id -> amount the replay assesses
    derived: dict[str, Entry]  # other engine-made entries (suspense applied), by engine id
    by_row: dict[str, Entry]  # the replay's entry for each ledger row id
    recoveries: dict[str, Balances]  # recovery entry id -> its allocation to the deficiency
    charged_off: Balances  # the charge-off's parts as the replay makes them


def allocate_recovery(deficiency: Balances, amount: Decimal) -> Balances:
    """What a recovery pays of the deficiency: principal, then interest, then fees (never more than owed)."""
    left = amount
    parts: dict[str, Decimal] = {}
    for part in RECOVERY_ORDER:
        take = min(left, max(deficiency.get(part), ZERO))
        parts[part] = take
        left -= take
    return Balances.of(parts)


def replay_books(
    state: LoanState, terms: Terms, entries: Sequence[Entry], on: date | None = None,
    pending_from: date | None = None,
) -> ReplayBooks:
    """The booked-equivalent balances of ``state`` and the entries that made it.

    Interest is owed for the days before ``on`` (default: the state's date) —
    what the daily accruals booked through the day before ``on`` cover.  What
    the engine does by itself on or after ``pending_from`` (a late fee assessed
    this morning, suspense applied to an installment due today) is left out:
    end of day books it when it closes that day.
    """
    snap = snapshot(state, terms, on)
    pending = Balances()
    late: dict[str, Decimal] = {}
    derived: dict[str, Entry] = {}
    by_row: dict[str, Entry] = {}
    recoveries: dict[str, Balances] = {}
    charged = Balances()
    deficiency = Balances()
    for entry in entries:
        if entry.type in ("late_fee", "suspense_applied") and pending_from is not None and entry.date >= pending_from:
            pending = pending + row_effect(Row(None, entry.type, entry.amount or ZERO, entry.interest, entry.principal,
                                               entry.fees, entry.suspense, entry.refund))[0]
            continue
        if entry.type == "late_fee":
            late[entry.id] = entry.amount or ZERO
        elif entry.type in DERIVED_TYPES:
            derived[entry.id] = entry
        else:
            by_row[entry.id] = entry
            if entry.type == "charge_off":
                charged = Balances(entry.principal, entry.interest, entry.fees)
                deficiency = charged
            elif entry.type == "recovery":
                share = allocate_recovery(deficiency, entry.amount or ZERO)
                recoveries[entry.id] = share
                deficiency = deficiency - share
    if state.status != CHARGED_OFF:
        deficiency = Balances()
    total = Balances(snap.principal, snap.accrued_interest, snap.fees, snap.suspense, snap.refund_due) + deficiency
    total = total - pending
    return ReplayBooks(state.status, total, deficiency, late, derived, by_row, recoveries, charged)


def memo_target(replay: ReplayBooks, memo: Balances, *, non_accrual: bool) -> Balances:
    """What the memo should hold.

    * charged off: the deficiency by part (nothing of it stays on the books);
    * active on non-accrual: all interest owed (none is on the books) and the
      principal recovered early under cost recovery (as recorded);
    * otherwise (accruing, paid off): nothing.
    """
    if replay.status == CHARGED_OFF:
        return Balances(replay.deficiency.principal, replay.deficiency.interest, replay.deficiency.fees)
    if non_accrual and replay.status != PAID_OFF:
        return Balances(principal=memo.principal, interest=replay.total.interest)
    return Balances()


def expected_booked(replay: ReplayBooks, memo: Balances, *, non_accrual: bool) -> Balances:
    """The rule for the ledger: booked = replay less the memo amounts."""
    return replay.total - memo_target(replay, memo, non_accrual=non_accrual)


# ---------------------------------------------------------------- adjusting entries


@dataclass(frozen=True)
class PlannedEntry:
    """An adjusting entry to book on the open business date (``payload`` says why and what caused it)."""

    type: str
    amount: Decimal
    interest: Decimal = ZERO
    principal: Decimal = ZERO
    fees: Decimal = ZERO
    suspense: Decimal = ZERO
    refund: Decimal = ZERO
    escrow: Decimal = ZERO
    reverses_id: int | None = None
    fee_kind: str | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class Row:
    """A plain ledger row for :func:`plan_adjustments` (tests and services build these)."""

    id: int | None
    type: str
    amount: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO
    fees: Decimal = ZERO
    suspense: Decimal = ZERO
    refund: Decimal = ZERO
    reverses_id: int | None = None
    payload: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: Any) -> Row:
        return cls(row.id, row.type, row.amount, row.interest, row.principal, row.fees, row.suspense, row.refund,
                   getattr(row, "reverses_id", None), getattr(row, "payload", None))


#: Rows whose allocation the replay may change after a back-dated event.
REAPPLIED = ("payment", "reversal", "write_off", "refund", "waiver")
_ALLOC = ("interest", "principal", "fees", "suspense", "refund")


def _parts_of(item: Any) -> dict[str, Decimal]:
    return {c: getattr(item, c) for c in _ALLOC}


def _cols(values: Mapping[str, Decimal]) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    """interest, principal, fees, suspense, refund (PlannedEntry's positional order)."""
    return (values["interest"], values["principal"], values["fees"], values["suspense"], values["refund"])


def _why(cause: int | None, reason: str, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"reason": reason}
    if cause is not None:
        out["cause"] = cause
    out.update(more)
    return out


def plan_adjustments(
    rows: Sequence[Row],
    replay: ReplayBooks,
    *,
    non_accrual: bool,
    cost_recovery: bool = False,
    cause: int | None = None,
) -> list[PlannedEntry]:
    """The explained entries that make the booked ledger equal the replay less the memo.

    In this order (each pointing at ``cause``, the entry whose posting changed
    history, and where it re-applies one entry, at that entry):

    1. a late fee the replay assesses that was never booked (``late_fee``); a
       booked late fee the replay no longer assesses, or assesses at another
       amount (``late_fee_reversal`` with ``reverses_id`` = the late_fee row);
    2. money held in suspense that the replay applies on another day or
       differently (``suspense_applied``, the difference);
    3. each payment, reversal, write-off, refund or waiver the replay now
       applies differently (``reallocation`` of the difference; for a payment
       its parts add up to zero: cash already received moves between parts);
    4. what is left of interest: an ``accrual_adjustment`` (interest earned per
       the replay vs booked), or on non-accrual a memo ``nonaccrual_interest``;
    5. the memo brought to its target (:func:`memo_target`): unpaid interest
       reversed from income on non-accrual (``interest_reversal``), interest
       recognised when received or back on accrual (``interest_recognition``;
       ``cost_recovery`` instead when the product applies it to principal),
       the charged-off deficiency corrected (``charge_off_adjustment``).

    A difference in principal, fees, suspense or refund that none of these
    explains is not booked: verify reports it.
    """
    planned: list[PlannedEntry] = []
    # 1. late fees, by the engine's id (late_fee:N)
    booked_fees: dict[str, list[Row]] = {}
    reversed_ids = {r.reverses_id for r in rows if r.type == "late_fee_reversal"}
    for r in rows:
        if r.type == "late_fee" and r.id not in reversed_ids:
            booked_fees.setdefault(str((r.payload or {}).get("engine_id", "")), []).append(r)
    for engine_id, fee_rows in sorted(booked_fees.items()):
        want = replay.late_fees.get(engine_id)
        keep: Row | None = None
        for r in fee_rows:
            if want is not None and keep is None and r.fees == want:
                keep = r
                continue
            planned.append(PlannedEntry("late_fee_reversal", r.fees, fees=-r.fees, reverses_id=r.id,
                                        payload=_why(cause, f"{engine_id} is no longer assessed by the replay"
                                                     if want is None else f"{engine_id} is now {want}",
                                                     engine_id=engine_id)))
    for engine_id, amount in sorted(replay.late_fees.items()):
        if any(r.fees == amount for r in booked_fees.get(engine_id, [])):
            continue
        planned.append(PlannedEntry("late_fee", amount, fees=amount, fee_kind="late",
                                    payload=_why(cause, f"{engine_id}: assessed by the replay after a "
                                                 "back-dated change", engine_id=engine_id)))
    # 2. engine-made entries other than late fees (suspense applied, a payoff shortfall
    #    written off), by engine id
    booked_derived: dict[str, dict[str, Decimal]] = {}
    derived_type: dict[str, str] = {}
    for r in rows:
        if r.type in DERIVED_TYPES:
            key = str((r.payload or {}).get("engine_id", ""))
            derived_type[key] = r.type
            acc = booked_derived.setdefault(key, dict.fromkeys(_ALLOC, ZERO))
            for c in _ALLOC:
                acc[c] += getattr(r, c)
    for key in sorted(set(booked_derived) | set(replay.derived)):
        entry = replay.derived.get(key)
        kind = entry.type if entry is not None else derived_type[key]
        want_parts = _parts_of(entry) if entry is not None else dict.fromkeys(_ALLOC, ZERO)
        have = booked_derived.get(key, dict.fromkeys(_ALLOC, ZERO))
        diff = {c: want_parts[c] - have[c] for c in _ALLOC}
        if any(diff.values()):
            if kind == "suspense_applied":
                planned.append(PlannedEntry("suspense_applied", -diff["suspense"], *_cols(diff),
                                            payload=_why(cause, "suspense applied as the replay applies it",
                                                         engine_id=key)))
            else:
                planned.append(PlannedEntry(kind, diff["interest"] + diff["principal"] + diff["fees"], *_cols(diff),
                                            payload=_why(cause, "payoff shortfall written off as the replay has it",
                                                         engine_id=key)))
    # 3. entries the replay re-applies
    corrections: dict[int, dict[str, Decimal]] = {}
    for r in rows:
        target = (r.payload or {}).get("reallocates") if r.type == "reallocation" else None
        if target is not None:
            acc = corrections.setdefault(int(target), dict.fromkeys(_ALLOC, ZERO))
            for c in _ALLOC:
                acc[c] += getattr(r, c)
    for r in rows:
        if r.type not in REAPPLIED or r.id is None:
            continue
        entry = replay.by_row.get(str(r.id))
        if entry is None:
            continue
        want_parts = _parts_of(entry)
        have = _parts_of(r)
        extra = corrections.get(r.id, {})
        if r.type == "waiver":
            # a reallocation moves fees the payment way (−F); a waiver's fees column moves them +F;
            # its principal and refund credits move the payment way, like a reallocation's
            have["fees"] -= extra.get("fees", ZERO)
            diff = {c: ZERO for c in _ALLOC}
            diff["fees"] = -(want_parts["fees"] - have["fees"])
            for c in ("principal", "refund"):
                diff[c] = want_parts[c] - (have[c] + extra.get(c, ZERO))
        else:
            for c in _ALLOC:
                have[c] += extra.get(c, ZERO)
            diff = {c: want_parts[c] - have[c] for c in _ALLOC}
        if any(diff.values()):
            words = {"waiver": "the waiver re-applied to what the replay now waives",
                     "reversal": "the reversal re-applied to the payment as the replay now applies it"}
            planned.append(PlannedEntry("reallocation", ZERO, *_cols(diff),
                                        payload=_why(cause, words.get(r.type, f"{r.type} {r.id} re-applied as "
                                                                      "the replay now applies it"),
                                                     reallocates=r.id)))
    # 4. interest: what the replay earned vs what is booked (and held in memo)
    booked, memo = ledger_balances([*rows, *planned])
    gap = replay.total.interest - (booked + memo).interest
    if gap != 0:
        if non_accrual and replay.status not in (CHARGED_OFF, PAID_OFF):
            planned.append(PlannedEntry("nonaccrual_interest", gap, interest=gap,
                                        payload=_why(cause, "interest earned on non-accrual per the replay")))
        else:
            planned.append(PlannedEntry("accrual_adjustment", gap, interest=gap,
                                        payload=_why(cause, "interest earned per the replay vs accruals booked")))
        booked, memo = ledger_balances([*rows, *planned])
    # 5. the memo to its target
    target = memo_target(replay, memo, non_accrual=non_accrual)
    move = target - memo
    if replay.status == CHARGED_OFF:
        if not Balances(move.principal, move.interest, move.fees).is_zero:
            total = move.principal + move.interest + move.fees
            planned.append(PlannedEntry("charge_off_adjustment", total, interest=move.interest,
                                        principal=move.principal, fees=move.fees,
                                        payload=_why(cause, "charged-off deficiency as the replay has it")))
        return planned
    if move.interest > 0 and move.principal == 0:
        planned.append(PlannedEntry("interest_reversal", move.interest, interest=move.interest,
                                    payload=_why(cause, "unpaid interest reversed from income: non-accrual")))
    elif move.interest < 0 and move.principal == 0 and non_accrual and cost_recovery:
        taken = -move.interest
        planned.append(PlannedEntry("cost_recovery", taken, interest=taken, principal=taken,
                                    payload=_why(cause, "interest received on non-accrual applied to principal")))
    elif not Balances(move.principal, move.interest).is_zero:
        planned.append(PlannedEntry("interest_recognition", -move.interest - move.principal,
                                    interest=-move.interest, principal=-move.principal,
                                    payload=_why(cause, "interest received on non-accrual recognised as income"
                                                 if non_accrual else "back on accrual: memo interest recognised")))
    return planned


def describe(type_: str) -> str:
    """Plain words for a ledger type (the account's ledger tab)."""
    return SIGNS[type_].words if type_ in SIGNS else type_.replace("_", " ")


def back_on_accrual(current_since: date, on: date, months: int) -> bool:
    """True once a loan current since ``current_since`` has been current ``months`` whole months on ``on``.

    Months are calendar months, the day clamped to the month's end (current
    since 2026-01-31 for 1 month: back on 2026-02-28).
    """
    import calendar

    index = current_since.month - 1 + months
    year, month = current_since.year + index // 12, index % 12 + 1
    day = min(current_since.day, calendar.monthrange(year, month)[1])
    return on >= date(year, month, day)
