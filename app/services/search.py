"""Finding a loan, and what the account screen shows about it besides the ledger.

:func:`search_loans` is the workstation's global search box: a loan number
(or its start), a borrower's name (``smith``, ``smith, jo``, ``jo smith``), a
phone number (ten digits, or the last seven) or the last four digits of an
SSN/TIN.  Every form is one set-based query returning at most ``limit`` rows;
loan numbers and last names are read through their indexes with range
predicates (``col >= 'abc' AND col < 'abc' || U+FFFF``), which both SQLite and
PostgreSQL serve from a B-tree, unlike ``LIKE 'abc%'`` on case-insensitive
SQLite.  Phones and SSN last four have no index yet (they need expression
indexes in a migration); at 50,000 borrowers the scan stays well under the
200 ms the search box allows (docs/benchmarks.md).

:func:`parties_of`, :func:`notes_of` and :func:`audit_of` are the read side
of the account screen's borrower, notes and audit tabs, inside the account
page's one unit of work (``account_page.account_page``).  They return
frozen values; the SSN/TIN only ever leaves this module masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from app.db.models import AuditEvent, Loan, LoanParty, LoanState, Note, Person, User
from app.domain.audit_words import audit_sentence
from app.domain.text import unsafe_character
from app.services import permissions
from app.services.context import ServiceContext
from app.services.fields import search_text
from app.services.ledger import load_loan

#: Sorts after every character a loan number or name holds: the end of a prefix range.
_HIGH = "\uffff"
_DIGITS = re.compile(r"\D", re.ASCII)  # full-width digits are not a loan number's or a phone's


@dataclass(frozen=True)
class LoanHit:
    """One search result: enough to recognise the account and open it."""

    loan_number: str
    borrower: str
    phone: str | None
    tax_id_last4: str | None  # the last four digits only, never the whole number
    city: str | None
    status: str
    bucket: str
    days_past_due: int
    principal: Decimal
    amount_due: Decimal
    matched: str  # "loan number", "name", "phone", "SSN last four"


def _like_escaped(text: str) -> str:
    """``text`` as literal characters in a LIKE pattern (issue 12: ``%`` or ``_`` typed matched every borrower)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix(column: Any, text: str) -> ColumnElement[bool]:
    return and_(column >= text, column < text + _HIGH)


def _name_variants(text: str) -> set[str]:
    """How a typed name fragment may be stored: as typed, Capitalized, UPPER."""
    return {text, text[:1].upper() + text[1:].lower(), text.capitalize(), text.upper()}


def _hits(session: Session, where: ColumnElement[bool], matched: str, limit: int,
          order_by: tuple[Any, ...] = ()) -> list[LoanHit]:
    """The loans matching ``where``, each with its (first) borrower, at most ``limit``.

    The borrower is a correlated subquery per result row (the loan_parties
    index on loan_id), so the cost follows the rows returned, not the book.
    """
    borrower_id = (
        select(func.min(LoanParty.person_id))
        .where(LoanParty.loan_id == Loan.id, LoanParty.role == "borrower")
        .correlate(Loan)
        .scalar_subquery()
    )
    stmt = (
        select(
            Loan.loan_number,
            Person.first_name,
            Person.middle_name,
            Person.last_name,
            Person.organization_name,
            Person.mobile_phone,
            Person.home_phone,
            Person.work_phone,
            Person.tax_id_last4,
            Person.city,
            Loan.status,
            LoanState.bucket,
            LoanState.days_past_due,
            LoanState.principal,
            LoanState.amount_due,
        )
        .select_from(Loan)
        .outerjoin(LoanState, LoanState.loan_id == Loan.id)
        .outerjoin(Person, Person.id == borrower_id)
        .where(where)
        .order_by(*order_by, Loan.loan_number)
        .limit(limit)
    )
    out: list[LoanHit] = []
    for row in session.execute(stmt):
        name = row.organization_name or " ".join(p for p in (row.first_name, row.middle_name, row.last_name) if p)
        out.append(
            LoanHit(
                loan_number=row.loan_number,
                borrower=name,
                phone=row.mobile_phone or row.home_phone or row.work_phone,
                tax_id_last4=row.tax_id_last4,
                city=row.city,
                status=row.status,
                bucket=row.bucket or "current",
                days_past_due=row.days_past_due or 0,
                principal=row.principal if row.principal is not None else Decimal("0.00"),
                amount_due=row.amount_due if row.amount_due is not None else Decimal("0.00"),
                matched=matched,
            )
        )
    return out


def _of_persons(session: Session, persons: Select[Any], matched: str, limit: int) -> list[LoanHit]:
    """The loans of the first ``limit`` persons found (a borrower, co-borrower or guarantor)."""
    ids = list(session.scalars(persons.limit(limit)))
    if not ids:
        return []
    loans = select(LoanParty.loan_id).where(LoanParty.person_id.in_(ids))
    order = (Person.last_name, Person.first_name) if matched == "name" else ()
    return _hits(session, Loan.id.in_(loans), matched, limit, order)


def _by_name(session: Session, text: str, limit: int) -> list[LoanHit]:
    """``smith``, ``smith, jo``, ``jo smith``, or an organisation's name.

    Each spelling of the last name (as typed, Capitalized, UPPER) is a range on
    the (last_name, first_name) index read in name order, so the query stops
    after ``limit`` people however common the name.
    """
    if "," in text:
        last, _, first = (part.strip() for part in text.partition(","))
    else:
        words = text.split()
        last, first = (words[-1], " ".join(words[:-1])) if len(words) > 1 else (text, "")
    found: list[int] = []
    for variant in sorted(_name_variants(last)):
        stmt = select(Person.id).where(_prefix(Person.last_name, variant))
        if first:
            stmt = stmt.where(or_(*[_prefix(Person.first_name, v) for v in _name_variants(first)]))
        stmt = stmt.order_by(Person.last_name, Person.first_name).limit(limit - len(found))
        found += [pid for pid in session.scalars(stmt) if pid not in found]
        if len(found) >= limit:
            break
    if not first and len(found) < limit:
        for variant in sorted(_name_variants(text)):
            stmt = select(Person.id).where(_prefix(Person.organization_name, variant)).limit(limit - len(found))
            found += [pid for pid in session.scalars(stmt) if pid not in found]
    if found:
        return _of_persons(session, select(Person.id).where(Person.id.in_(found)), "name", limit)

    # Mixed-case names (McAllister typed as "mcallister"): a case-blind scan,
    # only when the indexed forms found nobody.
    def starts(column: Any, value: str) -> ColumnElement[bool]:
        return func.lower(column).like(_like_escaped(value.lower()) + "%", escape="\\")

    if first:
        persons = select(Person.id).where(starts(Person.last_name, last), starts(Person.first_name, first))
    else:
        persons = select(Person.id).where(or_(starts(Person.last_name, last), starts(Person.organization_name, text)))
    return _of_persons(session, persons, "name", limit)


def _by_phone(session: Session, digits: str, limit: int) -> list[LoanHit]:
    # Boarding stores US phones as 217-555-0142 (boarding._phone).
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10:
        shown = f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
        match = [Person.mobile_phone == shown, Person.home_phone == shown, Person.work_phone == shown]
    else:
        tail = f"%{digits[-7:-4]}-{digits[-4:]}"
        match = [Person.mobile_phone.like(tail), Person.home_phone.like(tail), Person.work_phone.like(tail)]
    return _of_persons(session, select(Person.id).where(or_(*match)), "phone", limit)


def _by_tax_id_last4(session: Session, digits: str, limit: int) -> list[LoanHit]:
    persons = select(Person.id).where(Person.tax_id_last4 == digits)
    return _of_persons(session, persons, "SSN last four", limit)


def _by_loan_number(session: Session, text: str, limit: int) -> list[LoanHit]:
    upper = text.upper()
    hits = _hits(session, _prefix(Loan.loan_number, upper), "loan number", limit)
    if not hits and upper != text:
        hits = _hits(session, _prefix(Loan.loan_number, text), "loan number", limit)
    if not hits:
        # "123" for KL-000123: a scan of the loan-number index, still one query.
        pattern = "%" + _like_escaped(upper) + "%"
        hits = _hits(session, Loan.loan_number.like(pattern, escape="\\"), "loan number", limit)
    return hits


def search_loans(ctx: ServiceContext, text: str, limit: int = 50) -> list[LoanHit]:
    """Loans matching what was typed in the search box (by name for a name, else by loan number)."""
    permissions.require(ctx.actor, permissions.VIEW)
    # Typed text as any stored text is checked (issue 12): a NUL is a driver error on PostgreSQL.
    query = " ".join(search_text(text, "search").split())
    if not query or limit <= 0:
        return []
    limit = min(limit, 500)
    digits = _DIGITS.sub("", query)
    only_digits = bool(digits) and not re.search(r"[A-Za-z]", query)
    with ctx.unit(write=False) as session:
        if only_digits and len(digits) == 4 and len(query.replace("-", "").replace(" ", "")) == 4:
            hits = _by_tax_id_last4(session, digits, limit)
            # Four digits may also be the start of a loan number typed without its prefix.
            seen = {hit.loan_number for hit in hits}
            more = _by_loan_number(session, query, limit)
            return hits + [hit for hit in more if hit.loan_number not in seen][: max(0, limit - len(hits))]
        if only_digits and len(digits) >= 7:
            return _by_phone(session, digits, limit)
        if re.search(r"\d", query):
            hits = _by_loan_number(session, query, limit)
            if hits or not re.search(r"[A-Za-z]{2}", query):
                return hits
            return _by_name(session, query, limit)  # a name with digits in it ("Borrower002")
        if re.match(r"[A-Za-z]{1,4}-", query):  # "KL-": a loan number's prefix, or a hyphenated name
            hits = _by_loan_number(session, query, limit)
            if hits:
                return hits
        return _by_name(session, query, limit)


def _number_digits(text: str) -> str:
    """The loan number's own digits, without prefix or leading zeros: ``KL-000123`` -> ``123``."""
    return _DIGITS.sub("", text).lstrip("0")


def find_loan(ctx: ServiceContext, text: str) -> LoanHit | None:
    """The one loan a typed loan number means, or None.

    Exactly as spelt (any case), or -- as the search box finds it -- by its
    digits alone when exactly one loan has those digits: ``100118`` or
    ``kl100118`` for ``KL-100118``, ``123`` for ``KL-000123`` (issue 11:
    payment entry refused ``100118`` where search found it).  Never a guess
    between two loans.
    """
    typed = (text or "").strip()
    if not typed:
        return None
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        return loan_typed(session, typed)


def loan_typed(session: Session, text: str) -> LoanHit | None:
    """:func:`find_loan` inside the caller's unit of work (the audit search's loan filter reads it so too)."""
    typed = (text or "").strip()
    if not typed or len(typed) > 64 or unsafe_character(typed) is not None:
        return None  # no loan number is that long or holds such a character
    for spelling in dict.fromkeys((typed, typed.upper())):  # on the unique index, not a scan
        exact = _hits(session, Loan.loan_number == spelling, "loan number", 1)
        if exact:
            return exact[0]
    digits = _number_digits(typed)
    if not digits or re.search(r"[A-Za-z]{2}", typed) and not re.match(r"^[A-Za-z]{1,4}-?\d+$", typed):
        return None
    pattern = "%" + digits + "%"
    candidates = _hits(session, Loan.loan_number.like(pattern), "loan number", 50)
    same = [hit for hit in candidates if _number_digits(hit.loan_number) == digits]
    return same[0] if len(same) == 1 else None


# ---------------------------------------------------------------- account screen extras


@dataclass(frozen=True)
class Party:
    role: str  # borrower, co_borrower, guarantor
    name: str
    address: str
    home_phone: str | None
    mobile_phone: str | None
    work_phone: str | None
    email: str | None
    date_of_birth_masked: str | None  # the year only: 1975-**-** (the full date is revealed, audited)
    tax_id_masked: str | None
    time_zone: str
    cease_contact: bool
    attorney_represented: bool
    #: For editing (accounts.update_party): the person, the version shown, and the editable fields' values.
    person_id: int = 0
    version: int = 0
    fields: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class NoteLine:
    at: datetime
    user: str
    text: str


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    user: str
    action: str
    entity: str
    entity_id: str | None
    details: dict[str, Any]
    #: The record in words (app/domain/audit_words.py), with the user's full name.
    sentence: str = ""
    loan_number: str | None = None
    user_name: str = ""


def audit_line(event: AuditEvent, username: str | None, full_name: str | None, loan_number: str | None) -> AuditLine:
    """One audit row as the desk and the CLI show it: the record and its sentence."""
    details = dict(event.details or {})
    who = full_name or username or "Keel"
    return AuditLine(event.at, username or "system", event.action, event.entity, event.entity_id, details,
                     audit_sentence(event.action, details, who=who, entity=event.entity, entity_id=event.entity_id),
                     loan_number, who)


def _address(person: Person) -> str:
    city_line = " ".join(p for p in (f"{person.city}," if person.city else None, person.state, person.postal_code) if p)
    return "\n".join(p for p in (person.address_line1, person.address_line2, city_line) if p)


def loan_parties(ctx: ServiceContext, loan_number: str) -> list[Party]:
    """The borrower, co-borrowers and guarantors of a loan (SSN/TIN masked), with what editing them needs."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        return parties_of(session, load_loan(session, loan_number))


def parties_of(session: Session, loan: Loan) -> list[Party]:
    """:func:`loan_parties` inside the caller's unit of work: one query."""
    from app.services.accounts import PARTY_FIELDS

    order = {"borrower": 0, "co_borrower": 1, "guarantor": 2}
    rows = session.execute(
        select(LoanParty.role, Person).join(Person, Person.id == LoanParty.person_id).where(LoanParty.loan_id == loan.id)
    ).all()
    parties = [
        Party(role, p.display_name, _address(p), p.home_phone, p.mobile_phone, p.work_phone, p.email,
              p.date_of_birth_masked, p.tax_id_masked, p.time_zone, p.cease_contact, p.attorney_represented,
              person_id=p.id, version=p.version, fields={name: getattr(p, name) for name in PARTY_FIELDS})
        for role, p in rows
    ]
    return sorted(parties, key=lambda party: (order.get(party.role, 9), party.name))


def notes_of(session: Session, loan: Loan, limit: int = 500) -> list[NoteLine]:
    """A loan's notes, newest first: one query in the caller's unit of work."""
    rows = session.execute(
        select(Note.created_at, User.username, Note.text)
        .join(User, User.id == Note.user_id)
        .where(Note.loan_id == loan.id)
        .order_by(Note.created_at.desc(), Note.id.desc())
        .limit(limit)
    ).all()
    return [NoteLine(at, user, text) for at, user, text in rows]


def audit_of(session: Session, loan: Loan, limit: int = 1000) -> list[AuditLine]:
    """Who did what to a loan, newest first, each in words: one query in the caller's unit of work."""
    rows = session.execute(
        select(AuditEvent, User.username, User.full_name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.loan_id == loan.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ).all()
    return [audit_line(event, username, full_name, loan.loan_number) for event, username, full_name in rows]


__all__ = ["AuditLine", "LoanHit", "NoteLine", "Party", "audit_line", "audit_of", "loan_parties", "loan_typed",
           "notes_of", "parties_of", "search_loans"]
