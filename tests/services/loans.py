"""Test helper: put a loan on the books directly (boarding files are tested on their own)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy import select

from app.db.models import LedgerEntry, Loan, LoanParty, Person, Product, ProductVersion
from app.domain.terms import terms_from_dict, terms_to_dict
from app.services import books
from app.services.context import ServiceContext
from app.services.ledger import business_date, open_book, store_cache

_numbers = itertools.count(1)

BASE_TERMS = {
    "principal": "10000.00",
    "rate": "12",
    "term": 12,
    "start": "2026-01-01",
    "first_due": "2026-02-01",
    "late_fee": {"grace_days": 10, "fixed": "25.00"},
}


def make_loan(ctx: ServiceContext, *, rules: dict | None = None, **overrides: object) -> str:
    """A loan with BASE_TERMS (changed by ``overrides``); returns its loan number."""
    data = dict(BASE_TERMS)
    data.update(overrides)
    terms = terms_from_dict(data)
    with ctx.unit() as session:
        product = session.scalars(select(Product).where(Product.code == "TEST")).first()
        if product is None:
            product = Product(code="TEST", name="Test product")
            session.add(product)
            session.flush()
        version = ProductVersion(product=product, effective_date=dt.date(2020, 1, 1) + dt.timedelta(days=next(_numbers)),
                                 rules=rules or {})
        session.add(version)
        today = business_date(session)
        number = f"T-{next(_numbers):06d}"
        person = Person(first_name="Pat", last_name=f"Borrower{number[-3:]}", address_line1="1 Main St",
                        city="Springfield", state="IL", postal_code="62701")
        loan = Loan(loan_number=number, product_version=version, terms=terms_to_dict(terms),
                    boarded_on=today, boarded_by_id=ctx.actor.user_id)
        session.add_all([person, loan])
        session.flush()
        session.add(LoanParty(loan_id=loan.id, person_id=person.id, role="borrower"))
        session.add(LedgerEntry(loan_id=loan.id, seq=1, type="boarding", effective_date=terms.start,
                                business_date=today, amount=terms.principal,
                                principal=Decimal("0.00"), user_id=ctx.actor.user_id))
        session.flush()
        book = open_book(session, loan)
        store_cache(session, book, today, rederive=True)
        # As boarding does: interest earned before the business date is booked (issue 9).
        books.reconcile(session, ctx, book, today, cause=None)
        return number
