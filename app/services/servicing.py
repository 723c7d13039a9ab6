"""Money in and out of one loan: payments, reversals, fees, waivers, adjustments, write-offs, refunds.

Each public function is one unit of work: it checks the actor's permission,
validates its input (a clear message naming the field, nothing written),
locks the loan so two desks post in order, appends ledger entries, refreshes
the cached state and writes the audit record, all in one transaction.

A back-dated entry (effective before the open business date) re-derives
everything after it; the caller first gets a :class:`Preview` of what it
changes and must confirm it (``confirm_backdated=True``).  The preview is
kept with the audit record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError

from app.db.models import PAYMENT_METHODS, LedgerEntry, Loan
from app.domain.engine import OVERRIDE_PARTS as ENGINE_OVERRIDE_PARTS
from app.domain.engine import Entry, Event, Snapshot, snapshot
from app.domain.money import ZERO, format_money, money_str
from app.services import approvals, audit, books, permissions, products, security
from app.services.context import ServiceContext
from app.services.errors import Conflict, InvalidInput, NeedsConfirmation, NotFound, ServiceError
from app.services.fields import SHORT_TEXT, rate_field, text_field
from app.services.ledger import (
    MAX_AMOUNT,
    Book,
    business_date,
    differences,
    live,
    load_loan,
    money_field,
    next_seq,
    open_book,
    snapshot_dict,
    store_cache,
)

PENDING = "pending"


@dataclass(frozen=True)
class Allocation:
    interest: Decimal
    principal: Decimal
    fees: Decimal
    suspense: Decimal
    refund: Decimal

    @classmethod
    def of(cls, entry: Entry | None) -> Allocation:
        if entry is None:
            return cls(ZERO, ZERO, ZERO, ZERO, ZERO)
        return cls(entry.interest, entry.principal, entry.fees, entry.suspense, entry.refund)


@dataclass(frozen=True)
class Preview:
    """What an entry would do, before it is written."""

    loan_number: str
    effective_date: date
    business_date: date
    backdated: bool
    allocation: Allocation
    before: Snapshot
    after: Snapshot
    changes: tuple[tuple[str, str | int | None, str | int | None], ...]
    #: A payment within the product's payoff tolerance of the payoff: the shortfall written off.
    payoff_write_off: Allocation | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "effective_date": self.effective_date.isoformat(),
            "backdated": self.backdated,
            "allocation": {k: str(v) for k, v in self.allocation.__dict__.items()},
            **({"payoff_write_off": {k: str(v) for k, v in self.payoff_write_off.__dict__.items()}}
               if self.payoff_write_off is not None else {}),
            "changes": [{"field": f, "before": b, "after": a} for f, b, a in self.changes],
        }


@dataclass(frozen=True)
class Posted:
    entry_id: int
    loan_number: str
    allocation: Allocation
    snapshot: Snapshot
    preview: Preview


# ---------------------------------------------------------------- plumbing


def _write(ctx: ServiceContext, work: Callable[[Session], Posted]) -> Posted:
    """Run ``work`` in one transaction; a concurrent change becomes a clear retry message."""
    try:
        with ctx.unit() as session:
            return work(session)
    except StaleDataError:
        raise Conflict() from None
    except IntegrityError as exc:
        if "seq" in str(exc.orig).lower() or "unique" in str(exc.orig).lower():
            raise Conflict() from None
        raise
    except OperationalError as exc:
        text = str(exc.orig).lower()
        # A busy SQLite database is DatabaseBusy (services.context.unit_of_work), not a conflict: nobody
        # changed the record (issue 12).
        if "deadlock" in text or "could not serialize" in text:
            raise Conflict() from None
        raise


def _check_date(book: Book, value: date | None, today: date, field: str = "effective_date") -> date:
    day = today if value is None else value
    if day > today:
        raise InvalidInput(field, f"{day} is after the open business date {today}")
    if day <= book.origin.date:
        raise InvalidInput(field, f"{day} is before the loan's first day on Keel {book.origin.date + timedelta(days=1)}")
    return day


def _preview(book: Book, today: date, new_events: list[Event], effective: date, key: str = PENDING) -> Preview:
    before_state, _ = live(book, today)
    after_state, entries = live(book, today, new_events)
    mine = next((entry for entry in entries if entry.id == key), None)
    shortfall = next((entry for entry in entries if entry.id == f"{key}:payoff_write_off"), None)
    before, after = snapshot(before_state, book.terms), snapshot(after_state, book.terms)
    return Preview(
        loan_number=book.loan.loan_number,
        effective_date=effective,
        business_date=today,
        backdated=effective < today,
        allocation=Allocation.of(mine),
        before=before,
        after=after,
        changes=tuple(differences(before, after)),
        payoff_write_off=Allocation.of(shortfall) if shortfall is not None else None,
    )


def _append(
    session: Session,
    ctx: ServiceContext,
    book: Book,
    today: date,
    *,
    type: str,
    effective: date,
    amount: Decimal,
    allocation: Allocation | None = None,
    **columns: Any,
) -> LedgerEntry:
    _ensure_day_open(session)
    alloc = allocation or Allocation.of(None)
    row = LedgerEntry(
        loan_id=book.loan.id,
        seq=next_seq(session, book.loan.id),
        type=type,
        effective_date=effective,
        business_date=today,
        amount=amount,
        interest=alloc.interest,
        principal=alloc.principal,
        fees=alloc.fees,
        suspense=alloc.suspense,
        refund=alloc.refund,
        user_id=ctx.actor.user_id,
        **columns,
    )
    session.add(row)
    session.flush()
    book.rows.append(row)
    book.rows.sort(key=lambda r: (r.effective_date, r.seq))
    return row


def _ensure_day_open(session: Session) -> None:
    from app.services.eod import eod_running

    running = eod_running(session)
    if running is not None:
        raise ServiceError(
            f"End of day is closing the business date (started by {running.get('user')}); "
            "posting resumes when it finishes"
        )


def _finish(
    session: Session, ctx: ServiceContext, book: Book, today: date, preview: Preview, row: LedgerEntry, action: str,
    details: dict[str, Any],
) -> Posted:
    snap = store_cache(session, book, today, rederive=preview.backdated or row.type == "reversal")
    # The rule for the ledger (issue 9): what the entry changed in history is booked now, explained.
    adjusting = books.reconcile(session, ctx, book, today, cause=row.id)
    extra = {"adjusting_entries": books.adjustment_details(adjusting)} if adjusting else {}
    audit.record(
        session,
        ctx.actor,
        action,
        entity="ledger_entry",
        entity_id=row.id,
        loan_id=book.loan.id,
        details={**details, "preview": preview.as_dict(), "before": snapshot_dict(preview.before),
                 "after": snapshot_dict(snap), **extra},
    )
    return Posted(row.id, book.loan.loan_number, preview.allocation, snap, preview)


def _refuse_charged_off(book: Book, what: str) -> None:
    """A charged-off balance is off the books: no new fee or adjustment goes on it (money in is a recovery)."""
    if book.loan.status == "charged_off":
        raise InvalidInput("loan", f"{book.loan.loan_number} is charged off: {what} cannot be posted to it")


def _confirm_backdated(preview: Preview, confirmed: bool) -> None:
    if preview.backdated and not confirmed:
        raise NeedsConfirmation(
            f"effective_date: {preview.effective_date} is before the open business date {preview.business_date}; "
            "review the changes and confirm the back-dated entry",
            preview,
        )


# ---------------------------------------------------------------- payments


def _payment_inputs(amount: object, method: str | None, reference: str | None) -> tuple[Decimal, str, str | None]:
    value = money_field(amount, "amount")
    chosen = (method or "check").strip().lower().replace(" ", "_").replace("-", "_")
    if chosen not in PAYMENT_METHODS:
        raise InvalidInput("method", f"{_quoted(method)} is not one of {', '.join(PAYMENT_METHODS)}")
    ref = text_field(reference, "reference", max_len=64)
    return value, chosen, ref


def _duplicate_of(session: Session, loan: Loan, amount: Decimal, effective: date, reference: str | None) -> LedgerEntry | None:
    reversed_ids = select(LedgerEntry.reverses_id).where(LedgerEntry.loan_id == loan.id, LedgerEntry.reverses_id.is_not(None))
    stmt = select(LedgerEntry).where(
        LedgerEntry.loan_id == loan.id,
        LedgerEntry.type == "payment",
        LedgerEntry.amount == amount,
        LedgerEntry.effective_date == effective,
        LedgerEntry.reference.is_(None) if reference is None else LedgerEntry.reference == reference,
        LedgerEntry.id.not_in(reversed_ids),
    )
    return session.scalars(stmt.limit(1)).first()


def preview_payment(
    ctx: ServiceContext, loan_number: str, amount: object, effective_date: date | None = None,
    *, split: dict[str, object] | None = None,
) -> Preview:
    """How a payment would be applied, without writing anything.

    With ``split`` (an allocation override, as :func:`post_payment` takes it)
    the parts are checked as posting checks them -- the permission, no
    negative part, a sum equal to the payment -- and the preview shows the
    payment applied that way.
    """
    permissions.require(ctx.actor, permissions.VIEW)
    value = money_field(amount, "amount")
    parts = _override_parts(ctx, split, value)
    with ctx.unit(write=False) as session:
        today = business_date(session)
        loan = load_loan(session, loan_number)
        if parts is not None and loan.status == "charged_off":
            raise InvalidInput("split", f"{loan.loan_number} is charged off: money received is a recovery")
        book = open_book(session, loan)
        day = _check_date(book, effective_date, today)
        event = Event(PENDING, "payment", day, value, split=tuple(sorted(parts.items())) if parts else None)
        return _preview(book, today, [event], day)


def post_payment(
    ctx: ServiceContext,
    loan_number: str,
    amount: object,
    effective_date: date | None = None,
    *,
    method: str | None = "check",
    reference: str | None = None,
    batch_id: int | None = None,
    confirm_duplicate: bool = False,
    confirm_backdated: bool = False,
    split: dict[str, object] | None = None,
    override_reason: str | None = None,
    approval: approvals.Approval | approvals.Approver | None = None,
    session: Session | None = None,
) -> Posted:
    """Post one payment, allocated by the engine under the loan's own terms.

    ``split`` overrides the waterfall for this payment (interest, principal,
    fees, suspense amounts adding up to it): it needs the permission for it
    and a reason code, and is listed in :func:`overrides_report`.

    A payment above the role's posting limit or above the payoff by more than
    the loan's payoff tolerance, or an override of a payment above the
    override threshold, raises NeedsApproval unless ``approval`` names a
    different user who may approve it (:mod:`app.services.approvals`).
    """
    permissions.require(ctx.actor, permissions.POST_PAYMENT)
    value, chosen, ref = _payment_inputs(amount, method, reference)
    parts = _override(ctx, split, override_reason, value)
    approver = approvals.verified(ctx, approval)
    if parts is not None:  # the code as the overrides report lists it ("Borrower request" -> borrower_request)
        override_reason = (override_reason or "").strip().lower().replace(" ", "_")

    def work(session: Session) -> Posted:
        today = business_date(session)
        loan = load_loan(session, loan_number, lock=True)
        book = open_book(session, loan)
        day = _check_date(book, effective_date, today)
        if not confirm_duplicate:
            duplicate = _duplicate_of(session, loan, value, day, ref)
            if duplicate is not None:
                raise NeedsConfirmation(
                    f"amount: a payment of {value} dated {day} with reference {ref or '(none)'} is already posted "
                    f"to {loan.loan_number} (entry {duplicate.id}); confirm it is not a duplicate"
                )
        kind = "recovery" if loan.status == "charged_off" else "payment"  # money after charge-off
        if parts is not None and kind != "payment":
            raise InvalidInput("split", f"{loan.loan_number} is charged off: money received is a recovery")
        event = Event(PENDING, kind, day, value, split=tuple(sorted(parts.items())) if parts else None)
        preview = _preview(book, today, [event], day)
        _confirm_backdated(preview, confirm_backdated)
        rules = security.read(session)
        payoff = preview.before.payoff if kind == "payment" else None  # a recovery has no payoff to exceed
        approved = approvals.require(
            session, ctx, approver, permissions.POST_PAYMENT,
            approvals.payment_limits_crossed(ctx.actor.role, value, rules.payment_limit(ctx.actor.role), payoff,
                                             book.terms.payoff_tolerance),
            what=f"A payment of {format_money(value)} to {loan.loan_number}", loan_id=loan.id)
        if parts is not None and value > rules.override_approval_above:
            approved = approvals.require(
                session, ctx, approver, permissions.OVERRIDE_ALLOCATION,
                (f"overriding the allocation of {format_money(value)} is above the override threshold of "
                 f"{format_money(rules.override_approval_above)}",),
                what=f"An allocation override of {format_money(value)} on {loan.loan_number}",
                loan_id=loan.id) or approved
        if kind == "recovery":
            # Off the books: a recovery meets the charged-off deficiency, principal first (books.RECOVERY_ORDER).
            share = books.replay_of(book, today, [event]).recoveries.get(PENDING)
            if share is not None:
                preview = dataclasses.replace(
                    preview, allocation=Allocation(share.interest, share.principal, share.fees, ZERO, ZERO))
        extra: dict[str, Any] = {}
        if parts is not None:
            extra = {"reason_code": override_reason,
                     "payload": {"split": {part: str(amount) for part, amount in parts.items()}}}
        if approved is not None:
            extra["payload"] = {**extra.get("payload", {}), "approval": approved}
        row = _append(session, ctx, book, today, type=kind, effective=day, amount=value,
                      allocation=preview.allocation, method=chosen, reference=ref, batch_id=batch_id, **extra)
        if preview.payoff_write_off is not None:
            _book_payoff_write_off(session, ctx, book, today, day, row, preview.payoff_write_off)
        return _finish(session, ctx, book, today, preview, row, f"{kind}.posted",
                       {"amount": str(value), "method": chosen, "reference": ref, "batch_id": batch_id,
                        **({"override": extra["payload"]["split"], "reason_code": override_reason}
                           if parts is not None else {}),
                        **({"approved_by": approved["by"]} if approved is not None else {})})

    if session is not None:
        return work(session)
    return _write(ctx, work)


def _book_payoff_write_off(
    session: Session, ctx: ServiceContext, book: Book, today: date, day: date, payment: LedgerEntry,
    shortfall: Allocation,
) -> None:
    """Book the shortfall of a payment within the payoff tolerance: its own entry and audit (issue 9, defect 4).

    The engine derives it from the payment on every replay, so the row is for the books
    and is not an input to the replay (like a posted late fee).
    """
    amount = shortfall.interest + shortfall.principal + shortfall.fees
    row = _append(session, ctx, book, today, type="payoff_write_off", effective=day, amount=amount,
                  allocation=shortfall, reason_code="payoff_tolerance",
                  payload={"cause": payment.id, "engine_id": f"{payment.id}:payoff_write_off",
                           "reason": f"payment {payment.id} was within the payoff tolerance "
                                     f"{money_str(book.terms.payoff_tolerance)} of the payoff"})
    audit.record(session, ctx.actor, "payoff.shortfall_written_off", entity="ledger_entry", entity_id=row.id,
                 loan_id=book.loan.id,
                 details={"payment_entry": payment.id, "amount": str(amount),
                          "tolerance": money_str(book.terms.payoff_tolerance),
                          "interest": str(shortfall.interest), "principal": str(shortfall.principal),
                          "fees": str(shortfall.fees)})


OVERRIDE_REASONS = ("borrower_request", "court_order", "hardship_plan", "correction", "investor_rule", "other")
#: The parts an allocation override names (the engine's; escrow is not a part of a payment's split).
OVERRIDE_PARTS = ENGINE_OVERRIDE_PARTS


def _override(ctx: ServiceContext, split: dict[str, object] | None, reason: str | None,
              amount: Decimal) -> dict[str, Decimal] | None:
    """Check an allocation override: the permission, a reason code, parts that add up."""
    if split is None:
        return None
    permissions.require(ctx.actor, permissions.OVERRIDE_ALLOCATION)
    why = (reason or "").strip().lower().replace(" ", "_")
    if why not in OVERRIDE_REASONS:
        raise InvalidInput("override_reason", f"{_quoted(reason)} is not one of {', '.join(OVERRIDE_REASONS)}")
    return _override_parts(ctx, split, amount)


def _override_parts(ctx: ServiceContext, split: dict[str, object] | None, amount: Decimal) -> dict[str, Decimal] | None:
    """The parts of an allocation override, checked: the permission, known parts, none negative, the sum."""
    if split is None:
        return None
    permissions.require(ctx.actor, permissions.OVERRIDE_ALLOCATION)
    parts: dict[str, Decimal] = {}
    for part, value in split.items():
        if part not in OVERRIDE_PARTS:
            raise InvalidInput("split", f"{_quoted(part)} is not one of {', '.join(OVERRIDE_PARTS)}")
        parts[part] = money_field(value, f"split.{part}", positive=False)
        if parts[part] < 0:
            raise InvalidInput(f"split.{part}", f"{parts[part]} must not be negative")
    total = sum(parts.values(), ZERO)
    if total != amount:
        raise InvalidInput("split", f"the parts add up to {total}, not the payment's {amount}")
    return parts


@dataclass(frozen=True)
class OverrideLine:
    entry_id: int
    loan_number: str
    effective_date: date
    amount: Decimal
    split: dict[str, Decimal]
    reason_code: str | None
    user: str
    reversed: bool


def overrides_report(ctx: ServiceContext, start: date | None = None, end: date | None = None) -> list[OverrideLine]:
    """Every payment posted with an allocation override, in a date range (one query)."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    from app.db.models import User

    with ctx.unit(write=False) as session:
        reversal = aliased(LedgerEntry)
        stmt = (
            select(LedgerEntry, Loan.loan_number, User.username, reversal.id)
            .join(Loan, Loan.id == LedgerEntry.loan_id)
            .join(User, User.id == LedgerEntry.user_id)
            .outerjoin(reversal, reversal.reverses_id == LedgerEntry.id)
            .where(LedgerEntry.type == "payment", LedgerEntry.payload.is_not(None),
                   LedgerEntry.reason_code.in_(OVERRIDE_REASONS))
            .order_by(LedgerEntry.effective_date, LedgerEntry.id)
        )
        if start is not None:
            stmt = stmt.where(LedgerEntry.effective_date >= start)
        if end is not None:
            stmt = stmt.where(LedgerEntry.effective_date <= end)
        out = []
        for row, number, username, reversed_by in session.execute(stmt):
            split = (row.payload or {}).get("split")
            if not split:
                continue
            out.append(OverrideLine(row.id, number, row.effective_date, row.amount,
                                    {k: Decimal(v) for k, v in split.items()}, row.reason_code, username,
                                    reversed_by is not None))
        return out


# ---------------------------------------------------------------- reversals


def _payment_to_reverse(session: Session, entry_id: int) -> LedgerEntry:
    row = session.get(LedgerEntry, entry_id)
    if row is None:
        raise NotFound(f"entry: no ledger entry {entry_id}")
    if row.type != "payment":
        raise InvalidInput("entry", f"entry {entry_id} is a {row.type}; only payments are reversed")
    already = session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == row.id))
    if already is not None:
        raise InvalidInput("entry", f"entry {entry_id} was already reversed by entry {already}")
    return row


REVERSAL_REASONS = ("nsf", "posting_error", "stop_payment", "duplicate", "other")


def preview_reversal(ctx: ServiceContext, entry_id: int, nsf_fee: object | None = None) -> Preview:
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        original = _payment_to_reverse(session, entry_id)
        today = business_date(session)
        book = open_book(session, original.loan)
        events = [Event(PENDING, "reversal", today, of=str(original.id))]
        if nsf_fee is not None:
            events.append(Event("pending-fee", "fee", today, money_field(nsf_fee, "fee"), kind="nsf"))
        return _preview(book, today, events, today)


def reverse_payment(
    ctx: ServiceContext, entry_id: int, reason: str, *, nsf_fee: object | None = None, note: str | None = None
) -> Posted:
    """Reverse a payment (a returned check, a posting error), optionally with an NSF fee.

    The payment is removed as if never received and everything after it is
    derived again; the reversal itself charges nothing — the fee is its own entry.
    """
    permissions.require(ctx.actor, permissions.REVERSE)
    why = (reason or "").strip().lower().replace(" ", "_").replace("-", "_")
    if why not in REVERSAL_REASONS:
        raise InvalidInput("reason", f"{_quoted(reason)} is not one of {', '.join(REVERSAL_REASONS)}")
    note = text_field(note, "note", max_len=SHORT_TEXT)
    fee = money_field(nsf_fee, "fee") if nsf_fee is not None else None
    if fee is not None:
        permissions.require(ctx.actor, permissions.ASSESS_FEE)

    def work(session: Session) -> Posted:
        original = _payment_to_reverse(session, entry_id)
        today = business_date(session)
        loan = load_loan(session, original.loan.loan_number, lock=True)
        book = open_book(session, loan)
        events = [Event(PENDING, "reversal", today, of=str(original.id))]
        if fee is not None:
            events.append(Event("pending-fee", "fee", today, fee, kind="nsf"))
        preview = _preview(book, today, events, today)
        negative = Allocation(-original.interest, -original.principal, -original.fees, -original.suspense, -original.refund)
        row = _append(session, ctx, book, today, type="reversal", effective=today, amount=-original.amount,
                      allocation=negative, reverses_id=original.id, reason_code=why,
                      payload={"note": note} if note else None)
        if fee is not None:
            _append(session, ctx, book, today, type="fee", effective=today, amount=fee,
                    allocation=Allocation(ZERO, ZERO, fee, ZERO, ZERO), fee_kind="nsf", reason_code=why)
        return _finish(session, ctx, book, today, preview, row, "payment.reversed",
                       {"reverses": original.id, "amount": str(original.amount), "reason": why,
                        "nsf_fee": str(fee) if fee is not None else None})

    return _write(ctx, work)


# ---------------------------------------------------------------- fees and adjustments


FEE_KINDS = ("nsf", "late", "returned_item", "extension", "payoff_statement", "other")


def _fee_inputs(amount: object, kind: str) -> tuple[Decimal, str]:
    value = money_field(amount, "amount")
    chosen = (kind or "").strip().lower()
    if chosen not in FEE_KINDS:
        raise InvalidInput("kind", f"{_quoted(kind)} is not one of {', '.join(FEE_KINDS)}")
    return value, chosen


def _read_preview(ctx: ServiceContext, plan: Callable[[Session, bool], tuple[Book, date, Preview, Any]]) -> Preview:
    """A preview in a read-only unit: the same plan the write runs, without the row lock or any write."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        return plan(session, False)[2]


def _fee_plan(loan_number: str, value: Decimal, kind: str, effective_date: date | None,
              ) -> Callable[[Session, bool], tuple[Book, date, Preview, Any]]:
    def plan(session: Session, lock: bool) -> tuple[Book, date, Preview, Any]:
        today = business_date(session)
        book = open_book(session, load_loan(session, loan_number, lock=lock))
        _refuse_charged_off(book, "a fee")
        day = _check_date(book, effective_date, today)
        return book, today, _preview(book, today, [Event(PENDING, "fee", day, value, kind=kind)], day), day

    return plan


def preview_fee(ctx: ServiceContext, loan_number: str, amount: object, kind: str, *,
                effective_date: date | None = None) -> Preview:
    """What assessing a fee would change, writing nothing (the desk and ``keel fee`` show it first)."""
    value, chosen = _fee_inputs(amount, kind)
    return _read_preview(ctx, _fee_plan(loan_number, value, chosen, effective_date))


def assess_fee(
    ctx: ServiceContext, loan_number: str, amount: object, kind: str, *, effective_date: date | None = None,
    reason: str | None = None, confirm_backdated: bool = False,
) -> Posted:
    permissions.require(ctx.actor, permissions.ASSESS_FEE)
    value, chosen = _fee_inputs(amount, kind)
    reason = text_field(reason, "reason")
    plan = _fee_plan(loan_number, value, chosen, effective_date)

    def work(session: Session) -> Posted:
        book, today, preview, day = plan(session, True)
        _confirm_backdated(preview, confirm_backdated)
        row = _append(session, ctx, book, today, type="fee", effective=day, amount=value,
                      allocation=preview.allocation, fee_kind=chosen, payload={"reason": reason} if reason else None)
        return _finish(session, ctx, book, today, preview, row, "fee.assessed", {"amount": str(value), "kind": chosen})

    return _write(ctx, work)


def outstanding_fees(ctx: ServiceContext, loan_number: str) -> list[tuple[str, str, Decimal]]:
    """The fees a waiver can cite: (fee id, kind, amount outstanding)."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        today = business_date(session)
        state, _ = live(open_book(session, load_loan(session, loan_number)), today)
        return [(fee.id, fee.kind, fee.remaining) for fee in state.fees]


def _waiver_plan(loan_number: str, fee_id: str, value: Decimal | None,
                 ) -> Callable[[Session, bool], tuple[Book, date, Preview, Any]]:
    def plan(session: Session, lock: bool) -> tuple[Book, date, Preview, Any]:
        today = business_date(session)
        book = open_book(session, load_loan(session, loan_number, lock=lock))
        state, _ = live(book, today)
        fee = next((f for f in state.fees if f.id == str(fee_id)), None)
        if fee is None:
            raise InvalidInput("fee", f"{fee_id!r} is not an outstanding fee on {book.loan.loan_number}")
        if value is not None and value > fee.remaining:
            raise InvalidInput("amount", f"{money_str(value)} is more than the {money_str(fee.remaining)} "
                                         f"outstanding on this fee")
        preview = _preview(book, today, [Event(PENDING, "waiver", today, value, of=fee.id)], today)
        return book, today, preview, fee

    return plan


def preview_waiver(ctx: ServiceContext, loan_number: str, fee_id: str, *, amount: object | None = None) -> Preview:
    """What waiving (part of) a fee would change, writing nothing."""
    value = money_field(amount, "amount") if amount is not None else None
    return _read_preview(ctx, _waiver_plan(loan_number, fee_id, value))


def waive_fee(
    ctx: ServiceContext, loan_number: str, fee_id: str, *, amount: object | None = None, reason: str,
    approval: approvals.Approval | None = None,
) -> Posted:
    """Waive an outstanding fee (``late_fee:N`` for late fees, or the fee's entry id).

    A waiver above the waiver threshold (security settings) needs a second user's approval.
    """
    permissions.require(ctx.actor, permissions.WAIVE_FEE)
    if text_field(reason, "reason") is None:
        raise InvalidInput("reason", "a reason is required to waive a fee")
    value = money_field(amount, "amount") if amount is not None else None
    plan = _waiver_plan(loan_number, fee_id, value)
    approver = approvals.verified(ctx, approval)

    def work(session: Session) -> Posted:
        book, today, preview, fee = plan(session, True)
        waived = fee.remaining if value is None else value
        limit = security.read(session).waiver_approval_above
        approved = approvals.require(
            session, ctx, approver, permissions.WAIVE_FEE,
            (f"waiving {format_money(waived)} is above the waiver threshold of {format_money(limit)}",)
            if waived > limit else (),
            what=f"A waiver of {format_money(waived)} on {book.loan.loan_number}", loan_id=book.loan.id)
        payload: dict[str, Any] = {"of": fee.id, "whole": value is None, "reason": reason.strip()}
        if approved is not None:
            payload["approval"] = approved
        row = _append(session, ctx, book, today, type="waiver", effective=today, amount=waived,
                      allocation=Allocation(ZERO, ZERO, -waived, ZERO, ZERO), reason_code="waiver",
                      payload=payload)
        return _finish(session, ctx, book, today, preview, row, "fee.waived",
                       {"fee": fee.id, "amount": str(waived), "reason": reason.strip(),
                        **({"approved_by": approved["by"]} if approved is not None else {})})

    return _write(ctx, work)


def _adjustment_value(amount: object) -> Decimal:
    value = money_field(amount, "amount", positive=False)
    if value == 0:
        raise InvalidInput("amount", "an adjustment of 0.00 changes nothing")
    return value


def _adjustment_plan(loan_number: str, value: Decimal) -> Callable[[Session, bool], tuple[Book, date, Preview, Any]]:
    def plan(session: Session, lock: bool) -> tuple[Book, date, Preview, Any]:
        today = business_date(session)
        book = open_book(session, load_loan(session, loan_number, lock=lock))
        _refuse_charged_off(book, "a principal adjustment")
        state, _ = live(book, today)
        if state.principal + value > MAX_AMOUNT:
            raise InvalidInput("amount", f"{money_str(value)} would make principal {money_str(state.principal + value)}, "
                                         f"more than Keel's limit of {money_str(MAX_AMOUNT)} for one loan")
        if state.principal + value < 0:
            raise InvalidInput("amount", f"{money_str(value)} would make principal "
                                         f"{money_str(state.principal + value)} negative")
        return book, today, _preview(book, today, [Event(PENDING, "adjustment", today, value)], today), None

    return plan


def preview_adjustment(ctx: ServiceContext, loan_number: str, amount: object) -> Preview:
    """What a principal adjustment would change, writing nothing."""
    return _read_preview(ctx, _adjustment_plan(loan_number, _adjustment_value(amount)))


def adjust_principal(ctx: ServiceContext, loan_number: str, amount: object, *, reason: str) -> Posted:
    """A principal adjustment (positive adds, negative reduces), with a reason; dated today."""
    permissions.require(ctx.actor, permissions.ADJUST)
    value = _adjustment_value(amount)
    if text_field(reason, "reason") is None:
        raise InvalidInput("reason", "a reason is required for an adjustment")
    plan = _adjustment_plan(loan_number, value)

    def work(session: Session) -> Posted:
        book, today, preview, _ = plan(session, True)
        row = _append(session, ctx, book, today, type="adjustment", effective=today, amount=value,
                      allocation=Allocation(ZERO, value, ZERO, ZERO, ZERO), payload={"reason": reason.strip()})
        return _finish(session, ctx, book, today, preview, row, "principal.adjusted",
                       {"amount": str(value), "reason": reason.strip()})

    return _write(ctx, work)


def small_balance_threshold(loan: Loan) -> Decimal:
    from app.services.products import rules_or_defaults

    return rules_or_defaults(loan.product_version.rules if loan.product_version is not None else None).small_balance_threshold


def _write_off_plan(loan_number: str) -> Callable[[Session, bool], tuple[Book, date, Preview, Any]]:
    def plan(session: Session, lock: bool) -> tuple[Book, date, Preview, Any]:
        today = business_date(session)
        loan = load_loan(session, loan_number, lock=lock)
        book = open_book(session, loan)
        state, _ = live(book, today)
        snap = snapshot(state, book.terms)
        threshold = small_balance_threshold(loan)
        if snap.status != "active" or snap.payoff <= 0:
            raise InvalidInput("loan", f"{loan.loan_number} has no balance to write off")
        if snap.payoff > threshold:
            raise InvalidInput("loan", f"the balance {money_str(snap.payoff)} is above the small-balance "
                                       f"threshold {money_str(threshold)}")
        preview = _preview(book, today, [Event(PENDING, "write_off", today)], today)
        return book, today, preview, (snap.payoff, threshold)

    return plan


def preview_write_off(ctx: ServiceContext, loan_number: str) -> Preview:
    """What writing off a small balance would change, writing nothing (refused above the threshold)."""
    return _read_preview(ctx, _write_off_plan(loan_number))


def write_off_small_balance(ctx: ServiceContext, loan_number: str, *, reason: str = "small balance") -> Posted:
    """Write off what is left after a payoff when it is under the product's small-balance threshold."""
    permissions.require(ctx.actor, permissions.WRITE_OFF)
    why = text_field(reason, "reason") or "small balance"
    plan = _write_off_plan(loan_number)

    def work(session: Session) -> Posted:
        book, today, preview, (payoff, threshold) = plan(session, True)
        row = _append(session, ctx, book, today, type="write_off", effective=today, amount=payoff,
                      allocation=preview.allocation, reason_code="small_balance", payload={"reason": why})
        return _finish(session, ctx, book, today, preview, row, "balance.written_off",
                       {"amount": str(payoff), "threshold": str(threshold), "reason": why})

    return _write(ctx, work)


def _refund_plan(loan_number: str, amount: object | None) -> Callable[[Session, bool], tuple[Book, date, Preview, Any]]:
    def plan(session: Session, lock: bool) -> tuple[Book, date, Preview, Any]:
        today = business_date(session)
        book = open_book(session, load_loan(session, loan_number, lock=lock))
        state, _ = live(book, today)
        value = state.refund_due if amount is None else money_field(amount, "amount")
        if state.refund_due <= 0:
            raise InvalidInput("amount", f"{book.loan.loan_number} has no refund due")
        if value <= 0 or value > state.refund_due:
            raise InvalidInput("amount", f"{money_str(value)} is not between 0.01 and the refund due "
                                         f"{money_str(state.refund_due)}")
        return book, today, _preview(book, today, [Event(PENDING, "refund", today, value)], today), value

    return plan


def preview_refund(ctx: ServiceContext, loan_number: str, amount: object | None = None) -> Preview:
    """What paying a refund would change, writing nothing (the whole refund due when no amount is given)."""
    return _read_preview(ctx, _refund_plan(loan_number, amount))


def pay_refund(ctx: ServiceContext, loan_number: str, amount: object | None = None, *, method: str = "check",
               reference: str | None = None) -> Posted:
    """Pay back money held beyond the payoff (refund due)."""
    permissions.require(ctx.actor, permissions.REFUND)
    plan = _refund_plan(loan_number, amount)

    def work(session: Session) -> Posted:
        book, today, preview, value = plan(session, True)
        _, chosen, ref = _payment_inputs(value, method, reference)
        row = _append(session, ctx, book, today, type="refund", effective=today, amount=value,
                      allocation=preview.allocation, method=chosen, reference=ref)
        return _finish(session, ctx, book, today, preview, row, "refund.paid", {"amount": str(value)})

    return _write(ctx, work)


def _terms_event(rate: object | None, payment: object | None, term: int | None, next_due: date | None,
                 day: date) -> Event:
    new_rate = rate_field(rate, "rate") if rate is not None else None
    new_payment = money_field(payment, "payment") if payment is not None else None
    if term is not None and not 1 <= term <= 1200:
        raise InvalidInput("term", f"{term} is outside 1 to 1200 installments")
    if all(v is None for v in (new_rate, new_payment, term, next_due)):
        raise InvalidInput("terms", "give a new rate, payment, remaining term or next due date")
    return Event(PENDING, "terms_change", day, rate=new_rate, payment=new_payment, term=term, next_due=next_due)


def preview_terms_change(
    ctx: ServiceContext, loan_number: str, *, effective_date: date | None = None, rate: object | None = None,
    payment: object | None = None, term: int | None = None, next_due: date | None = None,
) -> Preview:
    """What a terms change would do (each balance, payment and due date before and after), writing nothing."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        today = business_date(session)
        book = open_book(session, load_loan(session, loan_number))
        day = _check_date(book, effective_date, today)
        return _preview(book, today, [_terms_event(rate, payment, term, next_due, day)], day)


def change_terms(
    ctx: ServiceContext, loan_number: str, *, effective_date: date | None = None, rate: object | None = None,
    payment: object | None = None, term: int | None = None, next_due: date | None = None, reason: str,
    confirm_backdated: bool = False,
) -> Posted:
    """A terms change on one loan (a modification), as a dated ledger entry."""
    permissions.require(ctx.actor, permissions.CHANGE_TERMS)
    new_rate = rate_field(rate, "rate") if rate is not None else None
    new_payment = money_field(payment, "payment") if payment is not None else None
    if term is not None and not 1 <= term <= 1200:
        raise InvalidInput("term", f"{term} is outside 1 to 1200 installments")
    if all(v is None for v in (new_rate, new_payment, term, next_due)):
        raise InvalidInput("terms", "give a new rate, payment, remaining term or next due date")
    if text_field(reason, "reason") is None:
        raise InvalidInput("reason", "a reason is required for a terms change")

    def work(session: Session) -> Posted:
        today = business_date(session)
        loan = load_loan(session, loan_number, lock=True)
        if new_rate is not None and loan.product_version is not None:
            for name, problem in products.rules_of(loan.product_version).beyond_limits(rate=new_rate):
                raise InvalidInput(name, problem)
        book = open_book(session, loan)
        day = _check_date(book, effective_date, today)
        event = Event(PENDING, "terms_change", day, rate=new_rate, payment=new_payment, term=term, next_due=next_due)
        preview = _preview(book, today, [event], day)
        _confirm_backdated(preview, confirm_backdated)
        payload = {
            "rate": str(new_rate) if new_rate is not None else None,
            "payment": str(new_payment) if new_payment is not None else None,
            "term": term,
            "next_due": next_due.isoformat() if next_due else None,
            "reason": reason.strip(),
        }
        row = _append(session, ctx, book, today, type="terms_change", effective=day, amount=ZERO, payload=payload)
        return _finish(session, ctx, book, today, preview, row, "terms.changed", payload)

    return _write(ctx, work)


def charge_off(ctx: ServiceContext, loan_number: str, *, reason: str) -> Posted:
    """Charge a loan off by a manager's decision: its balance leaves the books; later money is a recovery."""
    permissions.require(ctx.actor, permissions.CHARGE_OFF)
    if text_field(reason, "reason") is None:
        raise InvalidInput("reason", "a reason is required to charge off a loan")

    def work(session: Session) -> Posted:
        today = business_date(session)
        loan = load_loan(session, loan_number, lock=True)
        if loan.status != "active":
            raise InvalidInput("loan", f"{loan.loan_number} is {loan.status.replace('_', ' ')}, not active")
        book = open_book(session, loan)
        event = Event(PENDING, "charge_off", today)
        preview = _preview(book, today, [event], today)
        parts = _charge_off_parts(session, ctx, book, today, event)
        total = parts.interest + parts.principal + parts.fees
        preview = dataclasses.replace(preview, allocation=parts)
        row = _append(session, ctx, book, today, type="charge_off", effective=today, amount=total,
                      allocation=parts, reason_code="manager", payload={"reason": reason.strip()})
        loan.status = "charged_off"
        loan.delinquency = "current"
        return _finish(session, ctx, book, today, preview, row, "loan.charged_off",
                       {"amount": str(total), "reason": reason.strip()})

    return _write(ctx, work)


def _charge_off_parts(session: Session, ctx: ServiceContext, book: Book, today: date, event: Event) -> Allocation:
    """What a charge-off takes off the books: the *booked* principal, interest and fees (issue 9).

    Interest the replay has earned but the books have not (an accrual missed)
    is booked first as an accrual adjustment; interest kept off the books on
    non-accrual stays in the memo and becomes part of the deficiency.
    """
    from app.domain.books import Row

    planned = books.plan(book, today, cause=None, extra=[event], extra_rows=[Row(None, "charge_off")])
    moved = next((p for p in planned if p.type == "charge_off_adjustment"), None)
    books.book_entries(session, ctx, book, today, [p for p in planned if p.type != "charge_off_adjustment"])
    if moved is None:
        return Allocation(ZERO, ZERO, ZERO, ZERO, ZERO)
    return Allocation(moved.interest, moved.principal, moved.fees, ZERO, ZERO)


def _quoted(value: object) -> str:
    """A refused choice as the message quotes it: on one line, cut short."""
    text = repr(value)
    return text if len(text) <= 42 else text[:39] + "..."
