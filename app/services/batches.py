"""Deposits: a batch of payments with a control total, posted all together or not at all.

A batch is typed in at the desk or read from a bank's lockbox file.  Every
row is checked first and every problem reported; the rows must add up to the
control total; then all payments post in one transaction, so a failure
half-way leaves nothing behind.  A lockbox file already posted (same SHA-256)
is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.db.models import PAYMENT_METHODS, Loan, PaymentBatch
from app.db.base import utc_now
from app.domain.errors import InputError
from app.domain.date_input import in_words
from app.domain.money import ZERO, format_money, to_money
from app.domain.terms import parse_date
from app.domain.text import unsafe_character
from app.services import approvals, audit, batch_drafts, permissions
from app.services.context import CancelToken, Progress, ServiceContext, no_progress
from app.services.errors import (
    Conflict,
    FileRejected,
    InvalidInput,
    NeedsApproval,
    NeedsConfirmation,
    Problem,
    ServiceError,
)
from app.services.json_input import MAX_FILE_BYTES, read_file_bytes
from app.services.ledger import MAX_AMOUNT, business_date
from app.services.servicing import Posted, post_payment


@dataclass(frozen=True)
class BatchRow:
    loan_number: str
    amount: Decimal
    reference: str | None = None
    effective_date: date | None = None
    method: str = "check"


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    count: int
    total: Decimal
    posted: tuple[Posted, ...]


LOCKBOX_COLUMNS = ("loan_number", "amount", "reference", "effective_date", "method")


def read_lockbox(path: str | Path) -> tuple[list[BatchRow], str]:
    """Read a lockbox CSV (header: loan_number, amount[, reference, effective_date, method]) and its SHA-256."""
    file = Path(path)
    raw = read_file_bytes(file, str(path), max_bytes=MAX_FILE_BYTES)
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(str(path), "is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    problems: list[Problem] = []
    for required in ("loan_number", "amount"):
        if required not in header:
            problems.append(Problem(file.name, None, required, "column is missing from the header"))
    for name in header:
        if name not in LOCKBOX_COLUMNS:
            problems.append(Problem(file.name, None, name, f"unknown column (expected {', '.join(LOCKBOX_COLUMNS)})"))
    if problems:
        raise FileRejected(problems)
    rows: list[BatchRow] = []
    try:
        records = list(enumerate(reader, start=2))
    except csv.Error as exc:
        raise FileRejected([Problem(file.name, reader.line_num or None, "file", f"is not valid CSV: {exc}")]) from None
    for number, record in records:
        if None in record:  # cells beyond the header's columns
            problems.append(Problem(file.name, number, "(row)", f"has more cells than the header's {len(header)} "
                                                               "columns"))
            continue
        values = {key.strip().lower(): (value or "").strip() for key, value in record.items() if key is not None}
        if not any(values.values()):
            continue
        text_problem = _text_problem(values)
        if text_problem is not None:
            problems.append(Problem(file.name, number, *text_problem))
            continue
        try:
            amount = to_money(values.get("amount", ""), "amount")
        except InputError as exc:
            problems.append(Problem(file.name, number, "amount", exc.problem))
            continue
        when = None
        if values.get("effective_date"):
            try:
                when = parse_date(values["effective_date"], "effective_date")
            except InputError as exc:
                problems.append(Problem(file.name, number, "effective_date", exc.problem))
                continue
        rows.append(BatchRow(values.get("loan_number", ""), amount, values.get("reference") or None, when,
                             values.get("method") or "check"))
    if problems:
        raise FileRejected(problems)
    return rows, digest


#: How long each text cell of a batch row may be (the ledger's columns).
_ROW_TEXT = {"loan_number": 20, "reference": 64, "method": 16, "effective_date": 10}


def _text_problem(values: dict[str, str]) -> tuple[str, str] | None:
    """(field, reason) for the first text cell that is too long or holds a control character, or None."""
    for name, limit in _ROW_TEXT.items():
        value = values.get(name) or ""
        if len(value) > limit:
            return name, f"is longer than {limit} characters"
        bad = unsafe_character(value)
        if bad is not None:
            return name, f"contains an invisible or control character {bad}; retype it"
    return None


def check_batch(ctx: ServiceContext, rows: list[BatchRow], control_total: object, source: str = "batch") -> list[Problem]:
    """Every problem with a batch, without writing anything."""
    permissions.require(ctx.actor, permissions.POST_BATCH)
    problems: list[Problem] = []
    try:
        control = to_money(control_total, "control_total")
    except InputError as exc:
        return [Problem(source, None, "control_total", exc.problem)]
    if not rows:
        problems.append(Problem(source, None, "rows", "the batch has no payments"))
    unsafe: dict[int, tuple[str, str]] = {}
    for index, row in enumerate(rows, start=1):
        found_problem = _text_problem({"loan_number": row.loan_number.strip(), "reference": row.reference or "",
                                       "method": row.method})
        if found_problem is not None:
            unsafe[index] = found_problem
    with ctx.unit(write=False) as session:
        today = business_date(session)
        numbers = {row.loan_number.strip() for index, row in enumerate(rows, start=1) if index not in unsafe}
        found = {
            number: status
            for number, status in session.execute(select(Loan.loan_number, Loan.status).where(Loan.loan_number.in_(numbers)))
        }
    seen: dict[tuple[str, Decimal, str | None], int] = {}
    for index, row in enumerate(rows, start=1):
        number = row.loan_number.strip()
        if index in unsafe:
            problems.append(Problem(source, index, *unsafe[index]))
            continue
        # Sentences for the clerk (issue 11): money as money, dates in words, names in quotes.
        if not number:
            problems.append(Problem(source, index, "loan_number", "is empty"))
        elif number not in found:
            problems.append(Problem(source, index, "loan_number", f"there is no loan numbered \u201c{number}\u201d"))
        elif found[number] in ("charged_off", "transferred"):
            problems.append(Problem(source, index, "loan_number", f"{number} is {found[number].replace('_', ' ')}"))
        if row.amount <= 0:
            problems.append(Problem(source, index, "amount", f"{format_money(row.amount)} is not more than zero"))
        elif row.amount > MAX_AMOUNT:
            problems.append(Problem(source, index, "amount", f"{format_money(row.amount)} is more than Keel's limit of "
                                                             f"{format_money(MAX_AMOUNT)} for one amount on a loan"))
        if row.effective_date is not None and row.effective_date > today:
            problems.append(Problem(source, index, "effective_date", f"{in_words(row.effective_date)} is after the "
                                    f"open business date, {in_words(today)}"))
        if row.method not in PAYMENT_METHODS:
            problems.append(Problem(source, index, "method",
                                    f"\u201c{row.method}\u201d is not one of {', '.join(PAYMENT_METHODS)}"))
        key = (number, row.amount, row.reference)
        if row.reference and key in seen:
            problems.append(Problem(source, index, "reference", f"repeats row {seen[key]} (same loan, amount and reference)"))
        seen.setdefault(key, index)
    total = sum((row.amount for row in rows), ZERO)
    if total != control:
        problems.append(Problem(source, None, "control_total",
                                f"the payments add up to {format_money(total)}, not {format_money(control)} "
                                f"(difference {format_money(total - control)})"))
    return problems


def post_batch(
    ctx: ServiceContext,
    rows: list[BatchRow],
    control_total: object,
    *,
    source: str = "batch",
    file_hash: str | None = None,
    deposit_date: date | None = None,
    confirm_duplicates: bool = False,
    confirm_backdated: bool = False,
    draft_id: int | None = None,
    approval: approvals.Approval | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> BatchResult:
    """Post every payment of a balanced batch in one transaction, or none.

    ``draft_id``: the user's draft this batch was typed in; it is deleted in the same transaction, so a
    posted batch never comes back as a draft and a failed post keeps it (issue 11).
    ``approval``: a second user's approval for the rows above a limit (each row is approved and audited).
    """
    permissions.require(ctx.actor, permissions.POST_BATCH)
    permissions.require(ctx.actor, permissions.POST_PAYMENT)
    problems = check_batch(ctx, rows, control_total, source)
    if problems:
        raise FileRejected(problems)
    control = to_money(control_total, "control_total")
    approver = approvals.verified(ctx, approval)  # before the batch's transaction holds the write lock
    try:
        with ctx.unit() as session:
            if file_hash is not None:
                earlier = session.scalar(select(PaymentBatch.id).where(PaymentBatch.file_hash == file_hash))
                if earlier is not None:
                    raise InvalidInput("file", f"{source} was already posted as batch {earlier}")
            today = business_date(session)
            batch = PaymentBatch(control_total=control, file_hash=file_hash, file_name=source if file_hash else None,
                                 deposit_date=deposit_date or today, status="open", created_by_id=ctx.actor.user_id)
            session.add(batch)
            session.flush()
            posted: list[Posted] = []
            for index, row in enumerate(rows, start=1):
                if cancel is not None and cancel.cancelled:
                    raise ServiceError("The batch was cancelled; nothing was posted")
                try:
                    posted.append(
                        post_payment(ctx, row.loan_number, row.amount, row.effective_date, method=row.method,
                                     reference=row.reference, batch_id=batch.id, confirm_duplicate=confirm_duplicates,
                                     confirm_backdated=confirm_backdated, approval=approver, session=session)
                    )
                except NeedsApproval as exc:
                    raise NeedsApproval(f"{source}, row {index}: {exc}", exc.permission, exc.reasons) from None
                except NeedsConfirmation as exc:
                    raise NeedsConfirmation(f"{source}, row {index}: {exc}", exc.preview) from None
                except InvalidInput as exc:
                    raise FileRejected([Problem(source, index, exc.field, exc.problem)]) from None
                progress(index, len(rows), "payments posted")
            batch.status = "posted"
            batch.posted_at = utc_now()
            if draft_id is not None:
                batch_drafts.discard_in(session, ctx, draft_id)
            audit.record(session, ctx.actor, "batch.posted", entity="payment_batch", entity_id=batch.id,
                         details={"count": len(rows), "control_total": str(control), "source": source,
                                  "file_hash": file_hash})
            return BatchResult(batch.id, len(posted), control, tuple(posted))
    except (StaleDataError, IntegrityError):
        raise Conflict("A loan in this batch") from None


def post_lockbox_file(ctx: ServiceContext, path: str | Path, control_total: object, **options: object) -> BatchResult:
    name = Path(path).name
    # Kept as the batch's name: "lockbox\u202evsc.txt" would print as another file's name (issue 12).
    bad = unsafe_character(name)
    if bad is not None:
        raise InvalidInput("file", f"the file's name contains an invisible or control character {bad}; rename it")
    if len(name) > 260:
        raise InvalidInput("file", "the file's name is longer than 260 characters; rename it")
    rows, digest = read_lockbox(path)
    return post_batch(ctx, rows, control_total, source=Path(path).name, file_hash=digest, **options)  # type: ignore[arg-type]
