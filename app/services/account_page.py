"""The account page in one read: everything the account view's tabs show (issue 11, item 5).

:func:`account_page` reads the account (balances, ledger with its running
principal), the note's schedule, the parties, collateral, notes, contacts,
promises, letters and audit history of one loan in **one** unit of work, so
every tab shows the same moment: a payment posted at another desk while the
page loads appears on every tab or on none.  On PostgreSQL the read runs at
REPEATABLE READ (one snapshot for every statement); SQLite's read
transaction holds one snapshot already.  Each part is one set-based query
(no query per row).

The summary's extra figures come from the engine's replay and the pure rules
in ``app/domain``: last payment, maturity (``account_figures.maturity_date``),
interest paid this calendar year and last (``interest_paid.interest_paid_in``;
the year is the as-of date's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Collateral
from app.domain.account_figures import maturity_date
from app.domain.interest_paid import interest_paid_in
from app.domain.money import ZERO, to_money
from app.domain.schedule import ScheduleRow, build_schedule
from app.services import collections, letters, permissions, search
from app.services.accounts import Account, read_account
from app.services.collections import ContactInfo, PromiseInfo
from app.services.context import ServiceContext
from app.services.letters import LetterRecord, QueuedLetter
from app.services.search import AuditLine, NoteLine, Party


@dataclass(frozen=True)
class CollateralItem:
    """What secures the loan, read-only here: a vehicle or a property."""

    kind: str  # vehicle, real_estate, other
    #: "2021 Toyota Camry" for a vehicle; the first address line for a property; the description otherwise.
    title: str
    vin: str | None
    address: str  # a property's address, lines joined by newlines ("" for a vehicle)
    description: str | None
    value: Decimal | None


@dataclass(frozen=True)
class LastPayment:
    effective_date: date
    amount: Decimal
    method: str | None


@dataclass(frozen=True)
class AccountPage:
    """Everything the account view shows, read in one unit of work."""

    account: Account
    schedule: tuple[ScheduleRow, ...]
    parties: tuple[Party, ...]
    collateral: tuple[CollateralItem, ...]
    notes: tuple[NoteLine, ...]
    audit: tuple[AuditLine, ...]
    contacts: tuple[ContactInfo, ...]
    promises: tuple[PromiseInfo, ...]
    letters: tuple[LetterRecord, ...]
    last_payment: LastPayment | None
    maturity: date
    #: The calendar year of the as-of date, its interest paid to the as-of date, and the year before's.
    year: int
    interest_paid_ytd: Decimal
    interest_paid_last_year: Decimal
    #: Letters waiting for the next letter run (statements end of day queued among them), oldest first.
    queued_letters: tuple[QueuedLetter, ...] = ()

    @property
    def co_borrowers(self) -> tuple[Party, ...]:
        """Everyone on the loan but the (first) borrower: co-borrowers and guarantors."""
        return self.parties[1:] if self.parties and self.parties[0].role == "borrower" else self.parties


def _collateral(session: Session, loan_id: int) -> tuple[CollateralItem, ...]:
    rows = session.scalars(select(Collateral).where(Collateral.loan_id == loan_id).order_by(Collateral.id)).all()
    items = []
    for c in rows:
        city_line = " ".join(p for p in (f"{c.city}," if c.city else None, c.state, c.postal_code) if p)
        address = "\n".join(p for p in (c.address_line1, c.address_line2, city_line) if p)
        if c.kind == "vehicle":
            title = " ".join(str(p) for p in (c.year, c.make, c.model) if p) or (c.description or "Vehicle")
        elif c.kind == "real_estate":
            title = c.address_line1 or c.description or "Property"
        else:
            title = c.description or "Other collateral"
        items.append(CollateralItem(c.kind, title, c.vin, address if c.kind != "vehicle" else "", c.description,
                                    c.value))
    return tuple(items)


def _carried(rows: list[object], first: date, last: date) -> Decimal:
    """A converted loan's interest paid at the prior servicer, when the conversion date is in the period."""
    total = ZERO
    for row in rows:
        if getattr(row, "type", None) == "conversion" and first <= row.effective_date <= last:  # type: ignore[attr-defined]
            value = (getattr(row, "payload", None) or {}).get("interest_paid_ytd")
            if value:
                total += to_money(value, "interest_paid_ytd")
    return total


def account_page(ctx: ServiceContext, loan_number: str, as_of: date | None = None) -> AccountPage:
    """The whole account page for ``loan_number`` as of ``as_of`` (default: the open business date)."""
    permissions.require(ctx.actor, permissions.VIEW)
    # One snapshot for every statement below (REPEATABLE READ on PostgreSQL: app/db/session.py).
    with ctx.unit(write=False, snapshot=True) as session:
        read = read_account(session, loan_number, as_of)
        account, book = read.account, read.book
        loan = book.loan
        day = account.snapshot.as_of
        year = day.year
        ytd = interest_paid_in(read.entries, date(year, 1, 1), day,
                               carried=_carried(book.rows, date(year, 1, 1), day))
        last_year = interest_paid_in(read.entries, date(year - 1, 1, 1), date(year - 1, 12, 31),
                                     carried=_carried(book.rows, date(year - 1, 1, 1), date(year - 1, 12, 31)))
        received = [line for line in account.lines
                    if line.type in ("payment", "recovery") and not line.reversed and line.amount is not None]
        last = max(received, key=lambda line: (line.effective_date, line.seq or 0), default=None)
        return AccountPage(
            account=account,
            schedule=build_schedule(book.terms).rows,
            parties=tuple(search.parties_of(session, loan)),
            collateral=_collateral(session, loan.id),
            notes=tuple(search.notes_of(session, loan)),
            audit=tuple(search.audit_of(session, loan)),
            contacts=tuple(collections.contacts_of(session, loan)),
            promises=tuple(collections.promises_of(session, loan)),
            letters=tuple(letters.letters_of(session, loan)),
            last_payment=LastPayment(last.effective_date, last.amount, last.method)  # type: ignore[arg-type]
            if last is not None else None,
            maturity=maturity_date(read.state, book.terms),
            year=year,
            interest_paid_ytd=ytd,
            interest_paid_last_year=last_year,
            queued_letters=tuple(letters.queued_of(session, loan)),
        )


__all__ = ["AccountPage", "CollateralItem", "LastPayment", "account_page"]
