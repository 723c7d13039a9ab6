"""Seeing a borrower's full SSN/TIN and date of birth (issue 12, item 4).

Screens, letters, exports and the CLI show them masked (``***-**-6789``,
``1975-**-**``).  A user whose role holds ``person.reveal`` may see the full
values of one loan's parties; each look is an audit record naming whose data
was seen.  They are stored encrypted under the book's key
(:mod:`app.db.personal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from app.db.models import LoanParty, Person
from app.db.personal import PersonalDataUnreadable
from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.errors import ServiceError
from app.services.ledger import load_loan


@dataclass(frozen=True)
class Revealed:
    person_id: int
    role: str
    name: str
    tax_id: str | None  # formatted: 123-45-6789
    date_of_birth: date | None


def _format_tax_id(digits: str | None) -> str | None:
    return None if not digits else f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def reveal_parties(ctx: ServiceContext, loan_number: str) -> list[Revealed]:
    """The full SSN/TIN and date of birth of a loan's parties, for a role that may; each look audited."""
    permissions.require(ctx.actor, permissions.REVEAL_PERSONAL)
    with ctx.unit() as session:
        loan = load_loan(session, loan_number)
        rows = session.execute(select(LoanParty.role, Person).join(Person, Person.id == LoanParty.person_id)
                               .where(LoanParty.loan_id == loan.id).order_by(LoanParty.id)).all()
        out: list[Revealed] = []
        for role, person in rows:
            try:
                tax_id, born = person.tax_id, person.date_of_birth
            except PersonalDataUnreadable as exc:
                raise ServiceError(f"{person.display_name}'s personal data cannot be read: {exc}") from None
            fields = [name for name, value in (("SSN/TIN", tax_id), ("date of birth", born)) if value is not None]
            if fields:
                audit.record(session, ctx.actor, "person.revealed", entity="person", entity_id=person.id,
                             loan_id=loan.id, details={"person": person.display_name, "fields": fields,
                                                       "loan": loan.loan_number})
            out.append(Revealed(person.id, role, person.display_name, _format_tax_id(tax_id), born))
        return out


__all__ = ["Revealed", "reveal_parties"]
