"""Minimal rows for database tests: a user, a product version, a loan, ledger entries."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy.orm import Session

from app.db.models import LedgerEntry, Loan, Product, ProductVersion, User

_counter = itertools.count(1)

BUSINESS_DATE = dt.date(2026, 11, 27)


def make_user(session: Session, role: str = "clerk") -> User:
    n = next(_counter)
    user = User(username=f"user{n}", full_name=f"User {n}", role=role, password_hash="x")
    session.add(user)
    session.flush()
    return user


def make_loan(session: Session, user: User | None = None) -> Loan:
    n = next(_counter)
    user = user or make_user(session)
    product = Product(code=f"P{n}", name=f"Product {n}")
    version = ProductVersion(
        product=product,
        effective_date=dt.date(2026, 1, 1),
        rules={"interest_method": "simple_daily", "day_count": "actual_365", "grace_days": "15"},
    )
    loan = Loan(
        loan_number=f"KL-{n:06d}",
        product_version=version,
        terms={"principal": "10000.00", "rate": "12.375", "term_months": "60"},
        boarded_on=BUSINESS_DATE,
        boarded_by=user,
    )
    session.add_all([product, version, loan])
    session.flush()
    return loan


def add_entry(
    session: Session,
    loan: Loan,
    amount: str = "100.00",
    type_: str = "payment",
    **kwargs: object,
) -> LedgerEntry:
    seq = len(loan.ledger_entries) + 1
    entry = LedgerEntry(
        seq=seq,
        type=type_,
        effective_date=BUSINESS_DATE,
        business_date=BUSINESS_DATE,
        amount=Decimal(amount),
        user_id=loan.boarded_by_id,
        **kwargs,
    )
    loan.ledger_entries.append(entry)
    session.flush()
    return entry
