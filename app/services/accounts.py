"""What a loan looks like: the account on any date, its ledger, its payoff quote.

Every number here comes from the engine replaying the ledger, the same
function the CLI, letters and end of day use.  An account "as of" a past date
shows everything recorded up to now by its effective date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Loan, LoanParty, User
from app.domain.account_figures import running_principal
from app.domain.books import ADJUSTING_TYPES, Balances, describe, replay_books
from app.domain.engine import Snapshot, snapshot
from app.domain.schedule import ScheduleRow, build_schedule
from app.domain.terms import Terms
from app.domain.text import unsafe_character
from app.services import permissions
from app.services.context import ServiceContext
from app.services.errors import InvalidInput
from app.services.ledger import Book, business_date, live, load_loan, open_book


@dataclass(frozen=True)
class LedgerLine:
    """One line of an account's ledger: the entry and how it is applied now."""

    entry_id: int | None  # None for what the engine derived (a late fee it assessed)
    engine_id: str
    seq: int | None
    type: str
    effective_date: date
    posted_at: datetime | None
    amount: Decimal | None
    interest: Decimal
    principal: Decimal
    fees: Decimal
    suspense: Decimal
    refund: Decimal
    reversed: bool
    reverses_id: int | None
    method: str | None
    reference: str | None
    user: str | None
    note: str | None
    #: An adjusting entry's cause (the entry whose posting changed history), and the entry it re-applies.
    cause_id: int | None = None
    reapplies_id: int | None = None
    #: An adjusting entry that exists only for the books (it does not move the running principal).
    books_only: bool = False
    #: The principal owed after this line (the ledger tab's running balance).
    principal_balance: Decimal | None = None


def _entry_note(payload: dict[str, Any] | None) -> str | None:
    """The words kept with an entry: a reversal's note, or the reason given for a fee, waiver or adjustment.

    Reversals keep ``note`` and the other entries ``reason`` (issue 11: the
    ledger read only ``reason``, so every reversal note was blank).
    """
    if not payload:
        return None
    for key in ("note", "reason"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _method(row: Any) -> str | None:
    """How the money came; a payment boarded from the prior servicer's history says so (issue 11: it showed a dash)."""
    if row.method:
        return str(row.method)
    if row.type == "payment" and row.reason_code == "boarding_history":
        return "prior_servicer"
    return None


@dataclass(frozen=True)
class Account:
    loan_id: int
    loan_number: str
    borrower: str
    product: str
    status: str
    business_date: date
    terms: Terms
    snapshot: Snapshot
    lines: tuple[LedgerLine, ...]
    #: Charged off: the deficiency still owed by part (off the books), and the recoveries received.
    deficiency: Balances | None = None
    recovered: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class PayoffQuote:
    loan_number: str
    date: date
    principal: Decimal
    accrued_interest: Decimal
    fees: Decimal
    suspense: Decimal
    payoff: Decimal
    per_diem: Decimal


def borrower_name(session: Session, loan: Loan) -> str:
    party = session.scalars(
        select(LoanParty).where(LoanParty.loan_id == loan.id, LoanParty.role == "borrower").limit(1)
    ).first()
    return party.person.display_name if party is not None else ""


def _state_on(book: Book, today: date, as_of: date) -> tuple[Snapshot, list]:  # type: ignore[type-arg]
    if as_of == today:
        state, entries = live(book, today)
    else:
        state, entries = book.derive(as_of)
    return snapshot(state, book.terms), entries


def account(ctx: ServiceContext, loan_number: str, as_of: date | None = None) -> Account:
    """The account as of ``as_of`` (default: the open business date)."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        return read_account(session, loan_number, as_of).account


@dataclass(frozen=True)
class AccountRead:
    """:func:`read_account`'s result: the account and the replay it came from (for further figures)."""

    account: Account
    book: Book
    state: Any  # the engine's LoanState at the end of the day shown
    entries: tuple[Any, ...]  # the engine's replayed entries


def read_account(session: Session, loan_number: str, as_of: date | None = None) -> AccountRead:
    """The account inside the caller's unit of work (the account page reads it with everything else)."""
    today = business_date(session)
    loan = load_loan(session, loan_number)
    book = open_book(session, loan)
    day = today if as_of is None else as_of
    if day <= book.origin.date:
        raise InvalidInput("as_of", f"{day} is before the loan's first day on Keel")
    # The whole ledger is shown, so replay it all (the cache only saves work
    # for the figures, and verify proves both agree).
    state, entries = book.derive(day)
    snap = snapshot(state, book.terms)
    rows = {str(row.id): row for row in book.rows}
    users = {u.id: u.username for u in session.scalars(select(User))}
    lines: list[LedgerLine] = []
    for entry in entries:
        row = rows.get(entry.id)
        lines.append(
            LedgerLine(
                entry_id=row.id if row is not None else None,
                engine_id=entry.id,
                seq=row.seq if row is not None else None,
                type=entry.type,
                effective_date=entry.date,
                posted_at=row.posted_at if row is not None else None,
                amount=entry.amount,
                interest=entry.interest,
                principal=entry.principal,
                fees=entry.fees,
                suspense=entry.suspense,
                refund=entry.refund,
                reversed=entry.reversed,
                reverses_id=row.reverses_id if row is not None else None,
                method=_method(row) if row is not None else None,
                reference=row.reference if row is not None else None,
                user=users.get(row.user_id) if row is not None else "engine",
                note=_entry_note(row.payload) if row is not None else None,
            )
        )
    # The books' own adjusting entries (issue 9), each with its reason and cause, where they were posted.
    for row in book.rows:
        payload = row.payload or {}
        if row.effective_date <= day and (row.type in ADJUSTING_TYPES or (
                row.type in ("late_fee", "suspense_applied") and "cause" in payload)):
            lines.append(LedgerLine(
                row.id, str(row.id), row.seq, row.type, row.effective_date, row.posted_at, row.amount,
                row.interest, row.principal, row.fees, row.suspense, row.refund, False, row.reverses_id,
                None, None, users.get(row.user_id), payload.get("reason") or describe(row.type),
                payload.get("cause"), payload.get("reallocates"), books_only=True))
    lines.sort(key=lambda line: (line.effective_date, line.seq if line.seq is not None else 0))
    for row in book.rows:
        if row.type in ("boarding", "conversion") and row.effective_date <= day:
            lines.insert(
                0,
                LedgerLine(row.id, str(row.id), row.seq, row.type, row.effective_date, row.posted_at, row.amount,
                           row.interest, row.principal, row.fees, row.suspense, row.refund, False, None,
                           row.method, row.reference, users.get(row.user_id), None),
            )
    # The principal owed after each line (app/domain/account_figures.py).
    balances = running_principal((line, not line.books_only) for line in lines)
    lines = [replace(line, principal_balance=balance) for line, balance in zip(lines, balances, strict=True)]
    product = loan.product_version.product.code if loan.product_version is not None else ""
    books = replay_books(state, book.terms, entries)
    result = Account(
        loan_id=loan.id,
        loan_number=loan.loan_number,
        borrower=borrower_name(session, loan),
        product=product,
        status=loan.status if loan.status not in ("active", "paid_off") else snap.status,
        business_date=today,
        terms=book.terms,
        snapshot=snap,
        lines=tuple(lines),
        deficiency=books.deficiency if state.status == "charged_off" else None,
        recovered=state.recovered,
    )
    return AccountRead(result, book, state, tuple(entries))


def payoff_quote(ctx: ServiceContext, loan_number: str, on: date | None = None) -> PayoffQuote:
    """Principal + interest to the date + fees, and the per diem after it."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        today = business_date(session)
        book = open_book(session, load_loan(session, loan_number))
        day = today if on is None else on
        if day <= book.origin.date:
            raise InvalidInput("date", f"{day} is before the loan's first day on Keel")
        snap, _ = _state_on(book, today, day)
        return PayoffQuote(book.loan.loan_number, day, snap.principal, snap.accrued_interest, snap.fees,
                           snap.suspense, snap.payoff, snap.per_diem)


def original_schedule(ctx: ServiceContext, loan_number: str) -> tuple[ScheduleRow, ...]:
    """The note's schedule as boarded (what the loan would do if paid on time)."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        book = open_book(session, load_loan(session, loan_number))
        return build_schedule(book.terms).rows


# ---------------------------------------------------------------- notes and borrowers


MAX_NOTE = 4000


def add_note(ctx: ServiceContext, loan_number: str, text: str) -> int:
    """Add a note to a loan (append-only: a correction is a new note); returns its id."""
    from app.db.models import Note
    from app.services import audit

    permissions.require(ctx.actor, permissions.ADD_NOTE)
    body = (text or "").strip()
    if not body:
        raise InvalidInput("note", "is empty")
    if len(body) > MAX_NOTE:
        raise InvalidInput("note", f"is longer than {MAX_NOTE} characters")
    bad = unsafe_character(body, multiline=True)
    if bad is not None:
        raise InvalidInput("note", f"contains an invisible or control character {bad}; retype it")
    with ctx.unit() as session:
        loan = load_loan(session, loan_number)
        note = Note(loan_id=loan.id, user_id=ctx.actor.user_id, text=body)
        session.add(note)
        session.flush()
        audit.record(session, ctx.actor, "note.added", entity="note", entity_id=note.id, loan_id=loan.id,
                     details={"length": len(body)})
        return note.id


#: Fields of a borrower (person) a desk may edit, with their limits.
PARTY_FIELDS = ("first_name", "middle_name", "last_name", "organization_name", "address_line1", "address_line2",
                "city", "state", "postal_code", "home_phone", "mobile_phone", "work_phone", "email", "time_zone",
                "cease_contact", "attorney_represented")
_ZIP = re.compile(r"\d{5}(-\d{4})?")


def _clean_party_value(field: str, value: object) -> object:
    if field in ("cease_contact", "attorney_represented"):
        if not isinstance(value, bool):
            raise InvalidInput(field, "must be true or false")
        return value
    text = "" if value is None else str(value).strip()
    if not text:
        if field in ("last_name", "address_line1", "city", "state", "postal_code", "time_zone"):
            if field == "last_name":
                return None  # an organisation has no last name; checked below
            raise InvalidInput(field, "is required")
        return None
    if len(text) > 200:
        raise InvalidInput(field, "is longer than 200 characters")
    bad = unsafe_character(text)
    if bad is not None:
        raise InvalidInput(field, f"contains an invisible or control character {bad}; retype it")
    if field == "state" and not (len(text) == 2 and text.isalpha()):
        raise InvalidInput(field, f"{text!r} is not a two-letter state code")
    if field == "postal_code" and not _ZIP.fullmatch(text):
        raise InvalidInput(field, f"{text!r} is not a ZIP code (12345 or 12345-6789)")
    if field.endswith("_phone"):
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) != 10:
            raise InvalidInput(field, f"{text!r} is not a 10-digit US telephone number")
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if field == "email" and ("@" not in text or " " in text):
        raise InvalidInput(field, f"{text!r} is not an email address")
    if field == "time_zone":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(field, f"{text!r} is not a time zone such as America/Chicago") from None
    return text.upper() if field == "state" else text


_RESTRICTIONS = ("cease_contact", "attorney_represented")


def update_party(ctx: ServiceContext, person_id: int, changes: dict[str, object], *, expected_version: int) -> int:
    """Edit a borrower's contact details; refused if someone changed them since they were shown.

    Returns the new version.  Every change is audited with before and after.
    """
    from sqlalchemy.orm.exc import StaleDataError

    from app.db.base import check_version
    from app.db.models import LoanParty, Person
    from app.services import audit
    from app.services.errors import Conflict, NotFound

    permissions.require(ctx.actor, permissions.EDIT_BORROWER)
    unknown = [field for field in changes if field not in PARTY_FIELDS]
    if unknown:
        raise InvalidInput(unknown[0], "cannot be edited here")
    clean = {field: _clean_party_value(field, value) for field, value in changes.items()}
    try:
        with ctx.unit() as session:
            person = session.get(Person, person_id)
            if person is None:
                raise NotFound(f"borrower: no person {person_id}")
            check_version(person, expected_version)
            before = {field: getattr(person, field) for field in clean}
            for field in _RESTRICTIONS:
                # Setting a restriction is any desk role's; lifting one is a manager's (issue 11, item 7).
                if field in clean and bool(clean[field]) != bool(before[field]):
                    permissions.require(ctx.actor, permissions.SET_RESTRICTION if clean[field]
                                        else permissions.CLEAR_FLAG)
            for field, value in clean.items():
                setattr(person, field, value)
            if not person.last_name and not person.organization_name:
                raise InvalidInput("last_name", "a person needs a last name (or an organisation name)")
            session.flush()
            loan_ids = session.scalars(select(LoanParty.loan_id).where(LoanParty.person_id == person.id)).all()
            audit.record(session, ctx.actor, "borrower.updated", entity="person", entity_id=person.id,
                         loan_id=loan_ids[0] if loan_ids else None,
                         details={"before": {k: str(v) if v is not None else None for k, v in before.items()},
                                  "after": {k: str(v) if v is not None else None for k, v in clean.items()}})
            return person.version
    except StaleDataError:
        raise Conflict("This borrower") from None
