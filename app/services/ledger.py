"""The ledger as the engine sees it, and the cached loan state.

A loan's truth is its terms plus its append-only ledger.  This module turns
ledger rows into engine events, replays them with the one engine
(:mod:`app.domain.engine`), and keeps the cache in ``loan_states``:

* ``engine_state`` is the engine's state at the end of the last closed day
  (the business date minus one).  End of day advances it one day with the
  engine's own ``advance``; a back-dated entry re-derives it by replay.
* The figure columns (principal, amount due, bucket, ...) are the loan as of
  the open business date, including entries posted today, so lists and
  queues can be built with set-based queries.

``verify`` proves both halves against a full replay of the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import LedgerEntry, Loan, LoanState
from app.db.settings import get_business_date
from app.domain.engine import (
    Entry,
    Event,
    LoanState as EngineState,
    Snapshot,
    advance,
    converted_state,
    initial_state,
    replay,
    snapshot,
    state_from_dict,
    state_to_dict,
)
from app.domain.errors import InputError
from app.domain.money import format_money, round_money, to_money
from app.domain.text import unsafe_character
from app.domain.terms import MAX_PRINCIPAL, Terms, parse_date, terms_from_dict
from app.services.errors import InvalidInput, NotFound, ServiceError

#: Ledger types the engine replays; the others (boarding, accrual, posted late
#: fees) are for the books and are derived from these.
ENGINE_TYPES = frozenset(
    {"payment", "reversal", "fee", "waiver", "terms_change", "adjustment", "write_off", "refund", "charge_off", "recovery"}
)


def business_date(session: Session) -> date:
    day = get_business_date(session)
    if day is None:
        raise ServiceError("This database has no business date yet; run 'keel db upgrade' and set it up first")
    return day


def load_loan(session: Session, loan_number: str, *, lock: bool = False) -> Loan:
    """The loan by number; ``lock`` takes a row lock so two desks post in order."""
    number = (loan_number or "").strip()
    if not number:
        raise InvalidInput("loan", "a loan number is required")
    if len(number) > 64 or unsafe_character(number) is not None:
        # Not looked up: no loan number is that long or holds such a character (and a NUL is a
        # driver error on PostgreSQL, issue 12).
        shown = repr(number) if len(number) <= 40 else repr(number[:37] + "...")
        raise NotFound(f"loan: no loan numbered {shown}")
    stmt = select(Loan).where(Loan.loan_number == number)
    if lock:
        stmt = stmt.with_for_update()
    loan = session.scalars(stmt).one_or_none()
    if loan is None:
        raise NotFound(f"loan: no loan numbered {number!r}")
    return loan


def _loan_terms(loan: Loan) -> Terms:
    return terms_from_dict(loan.terms)


def _ledger_rows(session: Session, loan_id: int) -> list[LedgerEntry]:
    """A loan's entries in replay order: effective date, then posting order."""
    stmt = select(LedgerEntry).where(LedgerEntry.loan_id == loan_id).order_by(LedgerEntry.effective_date, LedgerEntry.seq)
    return list(session.scalars(stmt))


def next_seq(session: Session, loan_id: int) -> int:
    current = session.scalar(select(func.max(LedgerEntry.seq)).where(LedgerEntry.loan_id == loan_id))
    return (current or 0) + 1


def to_event(row: LedgerEntry) -> Event | None:
    """The engine's view of a ledger row (None for rows the engine does not replay)."""
    if row.type not in ENGINE_TYPES:
        return None
    payload: dict[str, Any] = row.payload or {}
    event_id = str(row.id)
    if row.type == "reversal":
        return Event(event_id, "reversal", row.effective_date, of=str(row.reverses_id))
    if row.type == "waiver":
        amount = None if payload.get("whole") else row.amount
        return Event(event_id, "waiver", row.effective_date, amount, of=str(payload["of"]))
    if row.type == "terms_change":
        return Event(
            event_id,
            "terms_change",
            row.effective_date,
            rate=Decimal(payload["rate"]) if payload.get("rate") is not None else None,
            payment=Decimal(payload["payment"]) if payload.get("payment") is not None else None,
            term=int(payload["term"]) if payload.get("term") is not None else None,
            next_due=date.fromisoformat(payload["next_due"]) if payload.get("next_due") else None,
        )
    if row.type == "fee":
        return Event(event_id, "fee", row.effective_date, row.amount, kind=row.fee_kind)
    if row.type == "payment" and payload.get("split"):
        split = tuple((part, Decimal(value)) for part, value in sorted(payload["split"].items()))
        return Event(event_id, "payment", row.effective_date, row.amount, split=split)
    return Event(event_id, row.type, row.effective_date, row.amount)


def origin_state(terms: Terms, rows: Sequence[LedgerEntry]) -> EngineState:
    """Where replay starts: a new loan's first day, or a seasoned loan's conversion balances."""
    conversion = next((row for row in rows if row.type == "conversion"), None)
    if conversion is None:
        return initial_state(terms)
    p = conversion.payload or {}
    return converted_state(
        terms,
        conversion.effective_date,
        principal=to_money(p["principal"]),
        next_due=parse_date(p["next_due"], "next_due"),
        accrued_interest=Decimal(p.get("accrued_interest", "0")),
        fees=to_money(p.get("fees", "0")),
        suspense=to_money(p.get("suspense", "0")),
        payment=to_money(p["payment"]) if p.get("payment") else None,
        paid_through=parse_date(p["paid_through"], "paid_through") if p.get("paid_through") else None,
    )


@dataclass
class Book:
    """Everything needed to derive one loan: its terms, origin and events."""

    loan: Loan
    terms: Terms
    rows: list[Any]  # LedgerEntry rows, or plain rows with the same attributes
    origin: EngineState

    @property
    def events(self) -> list[Event]:
        return [event for event in (to_event(row) for row in self.rows) if event is not None]

    def derive(self, through: date, extra: Sequence[Event] = ()) -> tuple[EngineState, list[Entry]]:
        """Replay the whole ledger (plus ``extra`` not yet written) to the end of ``through``."""
        if through < self.origin.date:
            through = self.origin.date
        try:
            return replay(self.terms, [*self.events, *extra], through, start=self.origin)
        except InputError as exc:
            raise InvalidInput(exc.field, exc.problem) from None


def open_book(session: Session, loan: Loan) -> Book:
    terms = _loan_terms(loan)
    rows = _ledger_rows(session, loan.id)
    return Book(loan, terms, rows, origin_state(terms, rows))


def live(book: Book, today: date, extra: Sequence[Event] = ()) -> tuple[EngineState, list[Entry]]:
    """The loan at the end of ``today`` (the open business date).

    Fast path: the cached state of the last closed day advanced over today's
    entries.  Anything that reaches back (a back-dated entry, a reversal) is a
    full replay.
    """
    cache = book.loan.state
    closed = today - timedelta(days=1)
    events = [*book.events, *extra]
    if cache is not None and cache.engine_state and all(
        event.type != "reversal" for event in events if event.date >= today
    ):
        state = state_from_dict(cache.engine_state)
        if state.date == closed and all(event.date >= today for event in extra):
            todays = [event for event in events if event.date == today]
            if all(event.date <= today for event in events):
                return advance(state, book.terms, todays, today)
    return book.derive(today, extra)


def store_cache(session: Session, book: Book, today: date, *, rederive: bool) -> Snapshot:
    """Write the cache: the closed day's engine state and today's figures."""
    closed = today - timedelta(days=1)
    row = book.loan.state
    if row is None:
        row = LoanState(loan_id=book.loan.id, engine_state={})
        session.add(row)
        book.loan.state = row
    if rederive or not row.engine_state or state_from_dict(row.engine_state).date != closed:
        state_closed, _ = book.derive(closed)
        row.engine_state = state_to_dict(state_closed)
        row.as_of = state_closed.date
    current, _ = live(book, today)
    snap = snapshot(current, book.terms)
    _apply_snapshot(row, snap)
    if book.loan.status in ("active", "paid_off") and book.loan.status != snap.status:
        book.loan.status = snap.status
    session.flush()
    return snap


def _apply_snapshot(row: LoanState, snap: Snapshot) -> None:
    row.principal = snap.principal
    row.accrued_interest = snap.accrued_interest
    row.fees = snap.fees
    row.suspense = snap.suspense
    row.refund_due = snap.refund_due
    row.paid_through = snap.paid_through
    row.next_due = snap.next_due
    row.amount_due = snap.amount_due
    row.days_past_due = snap.days_past_due
    row.bucket = snap.bucket
    row.status = snap.status
    row.per_diem = snap.per_diem
    row.payoff = snap.payoff


def snapshot_dict(snap: Snapshot) -> dict[str, str | int | None]:
    """Figures as strings, for audit records and previews."""
    return {
        "principal": str(snap.principal),
        "accrued_interest": str(snap.accrued_interest),
        "fees": str(snap.fees),
        "suspense": str(snap.suspense),
        "refund_due": str(snap.refund_due),
        "amount_due": str(snap.amount_due),
        "payoff": str(snap.payoff),
        "paid_through": snap.paid_through.isoformat() if snap.paid_through else None,
        "next_due": snap.next_due.isoformat() if snap.next_due else None,
        "days_past_due": snap.days_past_due,
        "bucket": snap.bucket,
        "status": snap.status,
    }


def differences(before: Snapshot, after: Snapshot) -> list[tuple[str, str | int | None, str | int | None]]:
    """Each figure that changes: (name, before, after)."""
    a, b = snapshot_dict(before), snapshot_dict(after)
    a["next_payment"], b["next_payment"] = str(before.next_payment), str(after.next_payment)
    return [(key, a[key], b[key]) for key in a if a[key] != b[key]]


#: The largest single amount posted to a loan (a payment, a fee, an adjustment, a refund): the largest
#: principal Keel boards.  Every money column holds far more (64-bit cents), but a loan's figures are summed
#: and accrued from these, so each is refused where it is typed, with its field named (issue 12).
MAX_AMOUNT = MAX_PRINCIPAL


def money_field(value: object, field: str, *, positive: bool = True, maximum: Decimal | None = MAX_AMOUNT) -> Decimal:
    try:
        amount = to_money(value, field)
    except InputError as exc:
        raise InvalidInput(exc.field, exc.problem) from None
    if maximum is not None and abs(amount) > maximum:
        raise InvalidInput(field, f"{format_money(amount)} is more than Keel's limit of {format_money(maximum)} "
                                  "for one amount on a loan")
    if positive and amount <= 0:
        raise InvalidInput(field, f"{amount} must be more than zero")
    return round_money(amount)
