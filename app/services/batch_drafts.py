"""Batch drafts: a deposit saved as it is typed, per user, kept until posted or deleted (issue 11).

A clerk types a deposit of forty checks, is called away, and Keel is closed
or the machine restarts: the batch must still be there.  The desktop saves
the batch a moment after each edit (:func:`save_draft`); the draft belongs to
the user who typed it and only they see it (:func:`list_drafts`).  Posting
the batch deletes its draft in the same transaction
(``batches.post_batch(..., draft_id=...)``), so a posted batch never comes
back as a draft.

Rows are kept as typed -- strings, a mistyped amount included -- because a
draft is unfinished work; amounts become Decimals only when the batch is
checked and posted.  Creating and deleting a draft are audited; the saves in
between are not (one per pause in typing would bury the audit trail), and
the draft's ``updated_at`` says when it was last saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.db.base import utc_now
from app.db.models import PAYMENT_METHODS, BatchDraft
from app.domain.errors import InputError
from app.domain.money import ZERO, to_money
from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.errors import Conflict, InvalidInput, NotFound
from app.services.fields import text_field

#: The fields of a draft row, all strings as typed.
ROW_FIELDS = ("loan_number", "amount", "reference", "method", "effective_date")
MAX_ROWS = 5_000


@dataclass(frozen=True)
class DraftRow:
    """One row as typed: every field a string ("" for nothing typed)."""

    loan_number: str = ""
    amount: str = ""
    reference: str = ""
    method: str = ""  # "" = the batch's method
    effective_date: str = ""  # "" = the batch's date

    @property
    def blank(self) -> bool:
        return not any((self.loan_number, self.amount, self.reference, self.method, self.effective_date))


@dataclass(frozen=True)
class Draft:
    id: int
    version: int
    control_total: Decimal | None
    deposit_date: date | None
    method: str
    rows: tuple[DraftRow, ...]
    file_name: str | None
    file_hash: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def count(self) -> int:
        """Rows with something typed in them."""
        return sum(1 for row in self.rows if not row.blank)

    @property
    def total(self) -> Decimal:
        """The sum of the amounts that are amounts (a mistyped one counts for nothing)."""
        total = ZERO
        for row in self.rows:
            try:
                total += to_money(row.amount.replace("$", "").strip(), "amount") if row.amount.strip() else ZERO
            except InputError:
                continue
        return total


def _rows_doc(rows: list[DraftRow] | tuple[DraftRow, ...]) -> dict[str, list[dict[str, str]]]:
    kept = [row for row in rows if not row.blank]
    if len(kept) > MAX_ROWS:
        raise InvalidInput("rows", f"a draft holds at most {MAX_ROWS:,} payments")
    return {"rows": [{name: str(getattr(row, name))[:260] for name in ROW_FIELDS} for row in kept]}


def _method(method: str) -> str:
    chosen = (method or "check").strip().lower()
    if chosen not in PAYMENT_METHODS:
        shown = method if len(method or "") <= 40 else method[:37] + "..."
        raise InvalidInput("method", f"\u201c{shown}\u201d is not one of {', '.join(PAYMENT_METHODS)}")
    return chosen


def _control(value: object) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return to_money(value, "control_total")
    except InputError as exc:
        raise InvalidInput("control_total", exc.problem) from None


def _frozen(row: BatchDraft) -> Draft:
    rows = tuple(DraftRow(**{name: str(item.get(name, "") or "") for name in ROW_FIELDS})
                 for item in (row.rows or {}).get("rows", []))
    return Draft(row.id, row.version, row.control_total, row.deposit_date, row.method, rows, row.file_name,
                 row.file_hash, row.created_at, row.updated_at)


def _own(session: Session, ctx: ServiceContext, draft_id: int) -> BatchDraft:
    row = session.get(BatchDraft, draft_id)
    if row is None or row.user_id != ctx.actor.user_id:
        # Another user's draft is as good as missing: drafts are private work in progress.
        raise NotFound(f"There is no batch draft number {draft_id} of yours; it may have been posted or deleted")
    return row


def create_draft(
    ctx: ServiceContext,
    *,
    control_total: object = None,
    deposit_date: date | None = None,
    method: str = "check",
    rows: list[DraftRow] | tuple[DraftRow, ...] = (),
    file_name: str | None = None,
    file_hash: str | None = None,
) -> Draft:
    """Start a draft for the signed-in user (audited)."""
    permissions.require(ctx.actor, permissions.POST_BATCH)
    control, chosen, doc = _control(control_total), _method(method), _rows_doc(rows)
    file_name = text_field(file_name, "file_name", max_len=260)
    with ctx.unit() as session:
        draft = BatchDraft(user_id=ctx.actor.user_id, control_total=control, deposit_date=deposit_date,
                           method=chosen, rows=doc, file_name=file_name, file_hash=file_hash, updated_at=utc_now())
        session.add(draft)
        session.flush()
        audit.record(session, ctx.actor, "batch_draft.created", entity="batch_draft", entity_id=draft.id,
                     details={"rows": str(len(doc["rows"])), "file_name": file_name})
        return _frozen(draft)


def save_draft(
    ctx: ServiceContext,
    draft_id: int,
    *,
    control_total: object = None,
    deposit_date: date | None = None,
    method: str = "check",
    rows: list[DraftRow] | tuple[DraftRow, ...] = (),
    file_name: str | None = None,
    file_hash: str | None = None,
) -> Draft:
    """Replace the draft's content with what is on screen now (the autosave)."""
    permissions.require(ctx.actor, permissions.POST_BATCH)
    control, chosen, doc = _control(control_total), _method(method), _rows_doc(rows)
    file_name = text_field(file_name, "file_name", max_len=260)
    try:
        with ctx.unit() as session:
            draft = _own(session, ctx, draft_id)
            draft.control_total = control
            draft.deposit_date = deposit_date
            draft.method = chosen
            draft.rows = doc
            draft.file_name, draft.file_hash = file_name, file_hash
            draft.updated_at = utc_now()
            session.flush()
            return _frozen(draft)
    except StaleDataError:
        raise Conflict("This batch draft") from None


def list_drafts(ctx: ServiceContext) -> list[Draft]:
    """The signed-in user's drafts, the most recently saved first."""
    permissions.require(ctx.actor, permissions.POST_BATCH)
    with ctx.unit(write=False) as session:
        found = session.scalars(select(BatchDraft).where(BatchDraft.user_id == ctx.actor.user_id)
                                .order_by(BatchDraft.updated_at.desc(), BatchDraft.id.desc()))
        return [_frozen(row) for row in found]


def get_draft(ctx: ServiceContext, draft_id: int) -> Draft:
    permissions.require(ctx.actor, permissions.POST_BATCH)
    with ctx.unit(write=False) as session:
        return _frozen(_own(session, ctx, draft_id))


def delete_draft(ctx: ServiceContext, draft_id: int) -> None:
    """Throw a draft away (audited, with how many payments it held)."""
    permissions.require(ctx.actor, permissions.POST_BATCH)
    try:
        with ctx.unit() as session:
            draft = _own(session, ctx, draft_id)
            _discard(session, ctx, draft, "batch_draft.deleted")
    except StaleDataError:
        raise Conflict("This batch draft") from None


def _discard(session: Session, ctx: ServiceContext, draft: BatchDraft, action: str) -> None:
    """Delete ``draft`` inside the caller's transaction, with its audit record (posting uses this too)."""
    frozen = _frozen(draft)
    audit.record(session, ctx.actor, action, entity="batch_draft", entity_id=draft.id,
                 details={"rows": str(frozen.count), "total": str(frozen.total),
                          "control_total": None if frozen.control_total is None else str(frozen.control_total)})
    session.delete(draft)
    session.flush()


def discard_in(session: Session, ctx: ServiceContext, draft_id: int) -> None:
    """Delete the user's draft ``draft_id`` as part of posting its batch (same transaction)."""
    _discard(session, ctx, _own(session, ctx, draft_id), "batch_draft.posted")
