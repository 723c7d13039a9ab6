"""The statement cycle's settings and facts (issue 13, item 4).

End of day queues each active loan's billing statement (and, where the
product asks for them, payment reminders) into the letters queue with the
other notices; the rules of when are :mod:`app.domain.statement_cycle`, the
product's days are ``statement_days_before_due`` and
``reminder_days_before_due`` (:mod:`app.services.products`).  This module
keeps what is the lender's, not the product's: the exemptions from Regulation
Z's periodic statements it claims for its mortgages, one JSON document in the
``statements`` system setting, changed only by an administrator
(``settings.manage``) and audited with before and after:

* ``small_servicer``: ``own_loans`` (1026.41(e)(4)(ii)(A): with its
  affiliates it services 5,000 or fewer mortgage loans, all owned or
  originated by it or an affiliate), ``housing_finance_agency`` ((B), 24 CFR
  266.5) or ``nonprofit`` ((C): a 501(c)(3) entity servicing 5,000 or fewer,
  all originated by it or an associated nonprofit), or none;
* ``coupon_books``: the lender gives its fixed-rate mortgage borrowers
  coupon books meeting 1026.41(e)(3) instead of statements.

Keel cannot see affiliates, ownership or coupon books, so the lender
declares these; Keel counts the mortgage loans it services and warns when a
count-based basis is claimed with more than 5,000 of them.  A mortgage, for
these rules and Regulation X's requests, is a loan with ``real_estate``
collateral (a closed-end consumer credit transaction secured by a dwelling,
1026.41(a)(1)).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.db.models import Collateral, Loan, LoanParty, Person
from app.db.settings import get_setting, set_setting
from app.domain.statement_cycle import SMALL_SERVICER_BASES, SMALL_SERVICER_LOANS, Exemptions
from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.errors import InvalidInput

SETTING_STATEMENTS = "statements"

#: Each basis in words (the desktop's choices, the CLI's help, the audit trail).
SMALL_SERVICER_WORDS = {
    "own_loans": "5,000 or fewer mortgage loans, all owned or originated by us or an affiliate "
                 "(12 CFR 1026.41(e)(4)(ii)(A))",
    "housing_finance_agency": "a Housing Finance Agency (12 CFR 1026.41(e)(4)(ii)(B))",
    "nonprofit": "a nonprofit servicing 5,000 or fewer mortgage loans, all originated by it or an associated "
                 "nonprofit (12 CFR 1026.41(e)(4)(ii)(C))",
}


@dataclass(frozen=True)
class StatementSettings:
    small_servicer: str | None = None  # one of SMALL_SERVICER_BASES, or None
    coupon_books: bool = False

    def exemptions(self) -> Exemptions:
        return Exemptions(self.small_servicer, self.coupon_books)

    def as_dict(self) -> dict[str, object]:
        return {"small_servicer": self.small_servicer, "coupon_books": self.coupon_books}


@dataclass(frozen=True)
class StatementSettingsInfo:
    """The settings, the mortgage loans Keel services, and any warning about the claim."""

    settings: StatementSettings
    mortgage_loans: int
    warnings: tuple[str, ...] = ()


def read(session: Session) -> StatementSettings:
    """The settings in force (no exemption when nothing is stored)."""
    text = get_setting(session, SETTING_STATEMENTS)
    stored = json.loads(text) if text else {}
    basis = stored.get("small_servicer")
    return StatementSettings(basis if basis in SMALL_SERVICER_BASES else None, bool(stored.get("coupon_books")))


def clean(settings: StatementSettings) -> StatementSettings:
    """Validate (each refusal names its field); ``small_servicer`` may be written with dashes or as "none"."""
    basis = settings.small_servicer
    if isinstance(basis, str):
        basis = basis.strip().lower().replace("-", "_") or None
        if basis in ("none", "no", "off"):
            basis = None
    if basis is not None and basis not in SMALL_SERVICER_BASES:
        raise InvalidInput("small_servicer", f"{settings.small_servicer!r} is not one of "
                                             f"{', '.join(SMALL_SERVICER_BASES)} or none")
    if not isinstance(settings.coupon_books, bool):
        raise InvalidInput("coupon_books", f"{settings.coupon_books!r} is not on or off")
    return StatementSettings(basis, settings.coupon_books)


def mortgage_loans(session: Session) -> int:
    """Active loans secured by real estate: the mortgage loans a small servicer counts (1026.41(e)(4))."""
    return int(session.scalar(
        select(func.count(func.distinct(Collateral.loan_id))).join(Loan, Loan.id == Collateral.loan_id)
        .where(Collateral.kind == "real_estate", Loan.status == "active")
    ) or 0)


def _warnings(settings: StatementSettings, count: int) -> tuple[str, ...]:
    if settings.small_servicer in ("own_loans", "nonprofit") and count > SMALL_SERVICER_LOANS:
        return (f"Keel services {count:,} mortgage loans; a small servicer on this basis services "
                f"{SMALL_SERVICER_LOANS:,} or fewer as of January 1 (12 CFR 1026.41(e)(4)(ii), (iii)). Check the "
                "count of January 1 before relying on the exemption.",)
    return ()


def statement_settings(ctx: ServiceContext) -> StatementSettingsInfo:
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        settings = read(session)
        count = mortgage_loans(session)
    return StatementSettingsInfo(settings, count, _warnings(settings, count))


def save_statement_settings(ctx: ServiceContext, settings: StatementSettings) -> StatementSettingsInfo:
    """Validate and save the lender's exemptions; audited with before and after."""
    permissions.require(ctx.actor, permissions.MANAGE_SETTINGS)
    new = clean(settings)
    with ctx.unit() as session:
        before = read(session)
        count = mortgage_loans(session)
        set_setting(session, SETTING_STATEMENTS, json.dumps(new.as_dict(), sort_keys=True))
        audit.record(session, ctx.actor, "settings.statements_changed", entity="setting",
                     entity_id=SETTING_STATEMENTS,
                     details={"before": before.as_dict(), "after": new.as_dict(), "mortgage_loans": count})
    return StatementSettingsInfo(new, count, _warnings(new, count))


# ---------------------------------------------------------------- facts end of day reads, a chunk at a time


def mortgage_ids(session: Session, loan_ids: Iterable[int]) -> set[int]:
    """Which of these loans are mortgages (real-estate collateral): one query."""
    ids = list(loan_ids)
    if not ids:
        return set()
    return set(session.scalars(
        select(Collateral.loan_id).where(Collateral.loan_id.in_(ids), Collateral.kind == "real_estate").distinct()
    ))


def contact_blocks(session: Session, loan_ids: Iterable[int]) -> dict[int, tuple[bool, bool]]:
    """loan id -> (cease contact, attorney represented) for the loans a borrower flagged so: one query."""
    ids = list(loan_ids)
    if not ids:
        return {}
    found: dict[int, tuple[bool, bool]] = {}
    for loan_id, cease, attorney in session.execute(
        select(LoanParty.loan_id, Person.cease_contact, Person.attorney_represented)
        .join(Person, Person.id == LoanParty.person_id)
        .where(LoanParty.loan_id.in_(ids), LoanParty.role == "borrower",
               or_(Person.cease_contact.is_(True), Person.attorney_represented.is_(True)))
    ):
        was = found.get(loan_id, (False, False))
        found[loan_id] = (was[0] or bool(cease), was[1] or bool(attorney))
    return found


__all__ = [
    "SETTING_STATEMENTS",
    "SMALL_SERVICER_WORDS",
    "StatementSettings",
    "StatementSettingsInfo",
    "clean",
    "contact_blocks",
    "mortgage_ids",
    "mortgage_loans",
    "read",
    "save_statement_settings",
    "statement_settings",
]
