"""Keel's tables as typed SQLAlchemy models (issue 3, item 1).

Conventions:

* Money columns are :class:`~app.db.types.Money` (``Decimal`` with 2 places);
  accrued interest is :class:`~app.db.types.Interest` (10 places); rates are
  :class:`~app.db.types.ExactDecimal`; instants are aware UTC datetimes;
  business dates are ``datetime.date``.
* Every editable table mixes in :class:`~app.db.base.Versioned`: a stale edit
  raises ``StaleDataError``.
* ``ledger_entries``, ``notes`` and ``audit_events`` are append-only.  The ORM
  refuses to flush an UPDATE or DELETE of them (:class:`AppendOnlyError`) and
  the database refuses one too (triggers created by the initial migration), so
  raw SQL cannot edit history either.  A mistake is undone by a reversal entry.
* Enumerated text columns are checked by the ORM on assignment (``@validates``)
  rather than by database CHECK constraints, because a new ledger type must not
  require rebuilding ``ledger_entries`` on SQLite (a rebuild drops its triggers).
* JSON documents (product rules, loan terms, engine state, payloads, audit
  details) are TEXT holding JSON whose leaves are strings; see
  :class:`~app.db.types.JSONText`.
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
    true,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import (
    Mapped,
    Mapper,
    ORMExecuteState,
    Session,
    mapped_column,
    object_session,
    relationship,
    validates,
)

from app.db.base import (
    Base,
    Versioned,
    code,
    code_or_none,
    created_at,
    flag,
    interest,
    intpk,
    json_doc,
    json_doc_or_none,
    long_text,
    money,
    money_or_none,
    name,
    name_or_none,
    utc_now,
)
from app.db.types import Money, UTCDateTime

# ---------------------------------------------------------------------------
# Allowed values of enumerated columns
# ---------------------------------------------------------------------------
USER_ROLES = ("clerk", "collector", "manager", "admin")
PARTY_ROLES = ("borrower", "co_borrower", "guarantor")
COLLATERAL_KINDS = ("real_estate", "vehicle", "other")
LOAN_STATUSES = ("active", "paid_off", "charged_off", "transferred")
DELINQUENCY_STATES = ("current", "delinquent", "default", "non_accrual")
BUCKETS = ("current", "1-29", "30-59", "60-89", "90-119", "120+")
LEDGER_TYPES = (
    "boarding",
    "conversion",
    "payment",
    "reversal",
    "fee",
    "waiver",
    "terms_change",
    "adjustment",
    "accrual",
    "late_fee",
    "charge_off",
    "recovery",
    "write_off",
    "payoff_write_off",
    "refund",
    "disbursement",
    # For the books only (issue 9; signs in app/domain/books.py)
    "suspense_applied",
    "reallocation",
    "late_fee_reversal",
    "accrual_adjustment",
    "nonaccrual_interest",
    "interest_reversal",
    "interest_recognition",
    "cost_recovery",
    "charge_off_adjustment",
)
PAYMENT_METHODS = ("check", "ach", "cash", "card", "money_order")
BATCH_STATUSES = ("open", "posted", "cancelled")

# Keys of the system_settings table.
SETTING_BUSINESS_DATE = "business_date"  # ISO date of the open day, shared by every desk
SETTING_DATABASE_KIND = "database_kind"  # "demo" or "production"
SETTING_LENDER_NAME = "lender_name"
SETTING_LENDER_ADDRESS = "lender_address"
SETTING_LENDER_PHONE = "lender_phone"
SETTING_LENDER_LOGO = "lender_logo_png"  # base64 PNG
SETTING_LENDER_WEBSITE = "lender_website"
SETTING_LENDER_EMAIL = "lender_email"
# The servicing rules (app.domain.engine.RULES_REVISION) the book's cache and adjusting
# entries were last derived under; a book from an older Keel has none.
SETTING_RULES_REVISION = "servicing_rules_revision"
DATABASE_KINDS = ("demo", "production")


def _one_of(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(allowed)}; got {value!r}")
    return value


class AppendOnlyError(Exception):
    """An attempt to edit or delete a row of an append-only table."""


# ---------------------------------------------------------------------------
# Users and settings
# ---------------------------------------------------------------------------
class User(Versioned, Base):
    __tablename__ = "users"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[name]
    role: Mapped[code]
    # argon2 hash (app/services); never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Demo users (password "demo") are refused outside a demo database.
    is_demo: Mapped[flag]
    created_at: Mapped[created_at]
    last_login_at: Mapped[_dt.datetime | None]
    # Sign-in lockout (issue 11): wrong passwords in a row, and until when the
    # account refuses even the right one.  A reset by an administrator sets
    # must_change_password, asked for at the next sign-in.
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[_dt.datetime | None]
    must_change_password: Mapped[flag]

    @validates("role")
    def _check_role(self, key: str, value: str) -> str:
        return _one_of(value, USER_ROLES, "role")


class SystemSetting(Versioned, Base):
    """One row per key: the business date, the database kind, the lender's details.

    ``business_date`` is the open day (ISO text), advanced only by end of day;
    it is shared by every desk and is not the wall clock.
    """

    __tablename__ = "system_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[_dt.datetime] = mapped_column(
        UTCDateTime(), default=utc_now, onupdate=utc_now
    )


# ---------------------------------------------------------------------------
# People, parties, collateral
# ---------------------------------------------------------------------------
_TAX_ID_RE = re.compile(r"\d{9}")


class Person(Versioned, Base):
    """A borrower, co-borrower or guarantor: a person or an organisation.

    The SSN/TIN and the date of birth are encrypted at rest (revision 0013,
    :mod:`app.db.personal`) under the book's data key, kept outside the
    database: read and set them only through :attr:`tax_id` and
    :attr:`date_of_birth`, which seal on flush and open on read.  The last
    four digits are kept in the clear (``tax_id_last4``) for search and for
    :attr:`tax_id_masked`, which screens, letters and logs use.  The legacy
    plain columns ``tax_id`` and ``date_of_birth`` are emptied when a book is
    opened (:func:`app.db.personal.seal_legacy`).
    """

    __tablename__ = "persons"
    __table_args__ = (
        CheckConstraint("last_name IS NOT NULL OR organization_name IS NOT NULL", name="has_name"),
        Index(None, "last_name", "first_name"),
        Index(None, "tax_id_last4"),
    )

    id: Mapped[intpk]
    first_name: Mapped[name_or_none]
    middle_name: Mapped[name_or_none]
    last_name: Mapped[name_or_none]
    organization_name: Mapped[name_or_none]
    address_line1: Mapped[name_or_none]
    address_line2: Mapped[name_or_none]
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(50))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2), default="US", server_default="US")
    home_phone: Mapped[str | None] = mapped_column(String(32))
    mobile_phone: Mapped[str | None] = mapped_column(String(32))
    work_phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    _legacy_date_of_birth: Mapped[_dt.date | None] = mapped_column("date_of_birth", Date)
    # IANA name; collection calls respect the borrower's local hours (FDCPA 805(a)(1)).
    time_zone: Mapped[str] = mapped_column(
        String(64), default="America/New_York", server_default="America/New_York"
    )
    _legacy_tax_id: Mapped[str | None] = mapped_column("tax_id", String(9))
    cease_contact: Mapped[flag]
    attorney_represented: Mapped[flag]
    created_at: Mapped[created_at]
    _tax_id_sealed: Mapped[str | None] = mapped_column("tax_id_sealed", Text)
    tax_id_last4: Mapped[str | None] = mapped_column(String(4))
    _date_of_birth_sealed: Mapped[str | None] = mapped_column("date_of_birth_sealed", Text)

    parties: Mapped[list[LoanParty]] = relationship(back_populates="person")

    # Values set and not yet sealed (field -> plain value) live in the instance's ``_unsealed``;
    # the session's before_flush seals them (app.db.personal).
    def _pending(self) -> dict[str, str | None]:
        pending = self.__dict__.get("_unsealed")
        if pending is None:
            pending = self.__dict__["_unsealed"] = {}
        return pending

    def _opened(self, field: str) -> str | None:
        pending = self._pending()
        if field in pending:
            return pending[field]
        from app.db import personal

        sealed = self._tax_id_sealed if field == "tax_id" else self._date_of_birth_sealed
        if sealed is not None:
            session = object_session(self)
            if session is None:
                raise personal.PersonalDataUnreadable(f"persons.{field}: read outside a session")
            return personal.open_sealed(session, personal.TAX_ID if field == "tax_id" else personal.DATE_OF_BIRTH,
                                        sealed)
        legacy = self._legacy_tax_id if field == "tax_id" else self._legacy_date_of_birth
        return None if legacy is None else (legacy if isinstance(legacy, str) else legacy.isoformat())

    @property
    def tax_id(self) -> str | None:
        """The full SSN/TIN, nine digits (decrypted with the book's key); the one way in and out."""
        return self._opened("tax_id")

    @tax_id.setter
    def tax_id(self, value: str | None) -> None:
        if value is None or value.strip() == "":
            digits = None
        else:
            digits = re.sub(r"[\s-]", "", value)
            if not _TAX_ID_RE.fullmatch(digits):
                raise ValueError("tax id must be nine digits (SSN, ITIN or EIN)")
        self._pending()["tax_id"] = digits
        self.tax_id_last4 = None if digits is None else digits[-4:]
        self._tax_id_sealed = None  # marks the row changed; sealed on flush
        self._legacy_tax_id = None

    @property
    def date_of_birth(self) -> _dt.date | None:
        """The date of birth (decrypted with the book's key)."""
        text = self._opened("date_of_birth")
        return None if text is None else _dt.date.fromisoformat(text)

    @date_of_birth.setter
    def date_of_birth(self, value: _dt.date | None) -> None:
        if value is not None and not isinstance(value, _dt.date):
            raise ValueError("date of birth must be a date")
        self._pending()["date_of_birth"] = None if value is None else value.isoformat()
        self._date_of_birth_sealed = None
        self._legacy_date_of_birth = None

    @property
    def tax_id_masked(self) -> str | None:
        return None if not self.tax_id_last4 else f"***-**-{self.tax_id_last4}"

    @property
    def date_of_birth_masked(self) -> str | None:
        """The year only (``1975-**-**``), which needs the key: the year is not kept in the clear."""
        born = self.date_of_birth
        return None if born is None else f"{born.year}-**-**"

    @property
    def display_name(self) -> str:
        if self.organization_name:
            return self.organization_name
        parts = (self.first_name, self.middle_name, self.last_name)
        return " ".join(p for p in parts if p)


class LoanParty(Versioned, Base):
    __tablename__ = "loan_parties"
    __table_args__ = (UniqueConstraint("loan_id", "person_id", "role"),)

    id: Mapped[intpk]
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    role: Mapped[code]

    loan: Mapped[Loan] = relationship(back_populates="parties")
    person: Mapped[Person] = relationship(back_populates="parties")

    @validates("role")
    def _check_role(self, key: str, value: str) -> str:
        return _one_of(value, PARTY_ROLES, "party role")


class Collateral(Versioned, Base):
    __tablename__ = "collateral"

    id: Mapped[intpk]
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    kind: Mapped[code]
    address_line1: Mapped[name_or_none]
    address_line2: Mapped[name_or_none]
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(50))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    vin: Mapped[str | None] = mapped_column(String(17))
    year: Mapped[int | None] = mapped_column(Integer)
    make: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    value: Mapped[money_or_none]

    loan: Mapped[Loan] = relationship(back_populates="collateral")

    @validates("kind")
    def _check_kind(self, key: str, value: str) -> str:
        return _one_of(value, COLLATERAL_KINDS, "collateral kind")


# ---------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------
class Product(Versioned, Base):
    __tablename__ = "products"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[name]
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[created_at]

    versions: Mapped[list[ProductVersion]] = relationship(
        back_populates="product", order_by="ProductVersion.effective_date"
    )


class ProductVersion(Versioned, Base):
    """The product's rules from ``effective_date`` on.

    ``rules`` is a JSON document of strings: interest method, day count,
    frequency, late fee block, grace days, tolerance, waterfall, excess and
    partial handling, delinquency/default/non-accrual/charge-off thresholds in
    days, small-balance write-off threshold, letter triggers.  A loan copies the
    terms it needs at boarding (``Loan.terms``), so a new version affects only
    loans boarded after it.
    """

    __tablename__ = "product_versions"
    __table_args__ = (UniqueConstraint("product_id", "effective_date"),)

    id: Mapped[intpk]
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    effective_date: Mapped[_dt.date] = mapped_column(Date)
    rules: Mapped[json_doc]
    created_at: Mapped[created_at]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    product: Mapped[Product] = relationship(back_populates="versions")


# ---------------------------------------------------------------------------
# Loans and their cached state
# ---------------------------------------------------------------------------
class Loan(Versioned, Base):
    __tablename__ = "loans"

    id: Mapped[intpk]
    loan_number: Mapped[str] = mapped_column(String(20), unique=True)  # e.g. KL-000123
    product_version_id: Mapped[int] = mapped_column(ForeignKey("product_versions.id"), index=True)
    los_reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32), default="active", index=True)
    delinquency: Mapped[str] = mapped_column(String(32), default="current")
    # While on non-accrual: the first morning end of day found the loan current (0 days past
    # due), unbroken since; the loan returns to accrual after the product's N months current.
    current_since: Mapped[_dt.date | None] = mapped_column(Date)
    # The loan's own copy of the note's terms, in the engine's canonical form.
    # Changing one loan's terms is a terms_change ledger entry; this column then
    # holds the current terms and the entry's payload the change.
    terms: Mapped[json_doc]
    boarded_on: Mapped[_dt.date] = mapped_column(Date)
    boarded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reg_f_applies: Mapped[flag]  # Regulation F (12 CFR 1006) debt-collection rules apply to this loan
    hardship: Mapped[flag]
    dispute: Mapped[flag]
    created_at: Mapped[created_at]

    product_version: Mapped[ProductVersion] = relationship()
    boarded_by: Mapped[User] = relationship()
    parties: Mapped[list[LoanParty]] = relationship(back_populates="loan")
    collateral: Mapped[list[Collateral]] = relationship(back_populates="loan")
    state: Mapped[LoanState | None] = relationship(back_populates="loan")
    ledger_entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="loan", order_by="LedgerEntry.seq"
    )
    notes: Mapped[list[Note]] = relationship(back_populates="loan", order_by="Note.id")

    @validates("status")
    def _check_status(self, key: str, value: str) -> str:
        return _one_of(value, LOAN_STATUSES, "loan status")

    @validates("delinquency")
    def _check_delinquency(self, key: str, value: str) -> str:
        return _one_of(value, DELINQUENCY_STATES, "delinquency")


class LoanState(Versioned, Base):
    """The engine's state for one loan as of ``as_of``: a cache of the ledger replay.

    ``keel verify`` proves it equals a fresh replay.  Every post to a loan
    updates this row, so its version number serialises concurrent posts to the
    same loan: the second desk gets StaleDataError and retries.
    """

    __tablename__ = "loan_states"
    __table_args__ = (
        Index(None, "bucket"),
        Index(None, "status"),
        Index(None, "next_due"),
    )

    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), primary_key=True)
    as_of: Mapped[_dt.date] = mapped_column(Date)
    principal: Mapped[money]
    accrued_interest: Mapped[interest]
    fees: Mapped[money]
    suspense: Mapped[money]
    refund_due: Mapped[money]
    paid_through: Mapped[_dt.date | None] = mapped_column(Date)
    next_due: Mapped[_dt.date | None] = mapped_column(Date)
    amount_due: Mapped[money]
    days_past_due: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    bucket: Mapped[str] = mapped_column(String(16), default="current")
    status: Mapped[str] = mapped_column(String(32), default="active")
    per_diem: Mapped[money]
    payoff: Mapped[money]
    engine_state: Mapped[json_doc]

    loan: Mapped[Loan] = relationship(back_populates="state")

    @validates("bucket")
    def _check_bucket(self, key: str, value: str) -> str:
        return _one_of(value, BUCKETS, "bucket")


# ---------------------------------------------------------------------------
# Deposits and the ledger
# ---------------------------------------------------------------------------
class PaymentBatch(Versioned, Base):
    """A deposit: payments typed in or read from a lockbox file, posted all or nothing."""

    __tablename__ = "payment_batches"

    id: Mapped[intpk]
    control_total: Mapped[Decimal] = mapped_column(Money())
    # SHA-256 of a lockbox file; the unique index refuses the same file twice.
    file_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    file_name: Mapped[str | None] = mapped_column(String(260))
    deposit_date: Mapped[_dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created_at]
    posted_at: Mapped[_dt.datetime | None]

    created_by: Mapped[User] = relationship()
    entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="batch", order_by="LedgerEntry.id"
    )

    @validates("status")
    def _check_status(self, key: str, value: str) -> str:
        return _one_of(value, BATCH_STATUSES, "batch status")


class BatchDraft(Versioned, Base):
    """A deposit being typed: saved as the clerk types, per user, until posted or deleted (issue 11).

    ``rows`` keeps each row as typed (``{"rows": [{"loan_number": ..., "amount": "1,234.50", ...}]}``,
    strings only), so a half-typed or mistyped amount comes back exactly as it was left; the batch
    is checked and its amounts read only when it is posted.
    """

    __tablename__ = "batch_drafts"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    control_total: Mapped[money_or_none]
    deposit_date: Mapped[_dt.date | None] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(16), default="check")
    rows: Mapped[json_doc]
    file_name: Mapped[str | None] = mapped_column(String(260))
    file_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]
    updated_at: Mapped[_dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)

    @validates("method")
    def _check_method(self, key: str, value: str) -> str:
        return _one_of(value, PAYMENT_METHODS, "payment method")


class LedgerEntry(Base):
    """One money event on one loan.  Append-only: never updated, never deleted.

    ``seq`` numbers a loan's entries 1, 2, 3... in posting order (unique per
    loan); ``effective_date`` orders them for replay.  ``amount`` is the event's
    amount; the allocation columns say where a payment (or its reversal) went.
    A reversal points at its original through ``reverses_id``, which is unique,
    so an entry can be reversed only once.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("loan_id", "seq"),
        Index(None, "loan_id", "effective_date"),
        Index(None, "reference"),
        Index(None, "batch_id"),
        Index(None, "business_date"),
        # The dashboard's principal-by-month and payments-by-month read only these columns.
        Index(None, "type", "effective_date", "amount", "principal"),
        # The reports' period reads by entry type (cash received, boardings, charge-offs, fees), revision 0015.
        Index(None, "type", "business_date"),
        Index(None, "tx"),
    )

    id: Mapped[intpk]
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[code]
    effective_date: Mapped[_dt.date] = mapped_column(Date)
    posted_at: Mapped[created_at]
    business_date: Mapped[_dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money())  # required: no default
    interest: Mapped[money]
    principal: Mapped[money]
    fees: Mapped[money]
    escrow: Mapped[money]
    suspense: Mapped[money]
    refund: Mapped[money]
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    fee_kind: Mapped[code_or_none]
    method: Mapped[str | None] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(64))
    reason_code: Mapped[code_or_none]
    payload: Mapped[json_doc_or_none]
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("payment_batches.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The token of the transaction that wrote it, which its sealed audit row covers (revision 0012).
    tx: Mapped[str | None] = mapped_column(String(32))

    loan: Mapped[Loan] = relationship(back_populates="ledger_entries")
    user: Mapped[User] = relationship()
    batch: Mapped[PaymentBatch | None] = relationship(back_populates="entries")
    reverses: Mapped[LedgerEntry | None] = relationship(remote_side="LedgerEntry.id")

    @validates("type")
    def _check_type(self, key: str, value: str) -> str:
        return _one_of(value, LEDGER_TYPES, "ledger entry type")

    @validates("method")
    def _check_method(self, key: str, value: str | None) -> str | None:
        return None if value is None else _one_of(value, PAYMENT_METHODS, "payment method")


class Note(Base):
    """A free-text note on a loan.  Append-only: a correction is a new note."""

    __tablename__ = "notes"
    __table_args__ = (Index(None, "loan_id", "created_at"),)

    id: Mapped[intpk]
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[long_text]
    created_at: Mapped[created_at]

    loan: Mapped[Loan] = relationship(back_populates="notes")
    user: Mapped[User] = relationship()


class AuditEvent(Base):
    """Who did what, when.  Written by each service in its own transaction; append-only.

    ``details`` carries the before/after of the change (and, for a back-dated
    entry, the preview the user confirmed).
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "loan_id"), Index(None, "at"), Index(None, "tx"),
                      Index(None, "number", unique=True))

    id: Mapped[intpk]
    at: Mapped[created_at]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[json_doc]
    # The sealed chain (revision 0012, app.db.chain): 1, 2, 3... with no gap, the transaction's token and
    # the HMAC over this row, its transaction's ledger entries and the row before.  NULL only on rows
    # written before the chain began.
    number: Mapped[int | None] = mapped_column(BigInteger)
    tx: Mapped[str | None] = mapped_column(String(32))
    mac: Mapped[str | None] = mapped_column(String(64))


# ---------------------------------------------------------------------------
# End of day, collections and letters (revision 0002)
# ---------------------------------------------------------------------------
EOD_STATUSES = ("running", "completed", "failed", "cancelled")
CONTACT_CHANNELS = ("call", "text", "email", "letter", "visit")
CONTACT_OUTCOMES = (
    "promise_to_pay",
    "left_message",
    "no_answer",
    "wrong_number",
    "refused",
    "dispute",
    "hardship",
    "contacted",
    "payment_arranged",
)
PROMISE_STATUSES = ("open", "kept", "partly_kept", "broken", "cancelled", "corrected")
LETTER_KINDS = ("late-notice", "default-notice", "validation-notice", "payoff", "statement", "paid-in-full",
                "payment-reminder")
# "issued": the letter is recorded (its PDF and hash kept) and waits for the printer (issue 11).
LETTER_QUEUE_STATUSES = ("queued", "issued", "printed", "dropped", "cancelled")


class EodRun(Versioned, Base):
    """One end-of-day run: the day it closed and what it did.

    Progress is per loan (``loan_states.as_of``), so a killed run is finished
    by the next one with nothing posted twice.
    """

    __tablename__ = "eod_runs"
    __table_args__ = (Index(None, "business_date"),)

    id: Mapped[intpk]
    business_date: Mapped[_dt.date] = mapped_column(Date)  # the day being closed
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[created_at]
    finished_at: Mapped[_dt.datetime | None]
    heartbeat_at: Mapped[_dt.datetime | None]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    loans_total: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    loans_processed: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    interest_accrued: Mapped[money]
    fees_assessed: Mapped[money]
    late_fees: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    status_changes: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    summary: Mapped[json_doc]  # counts by kind of change, errors (loan, message)

    @validates("status")
    def _check_status(self, key: str, value: str) -> str:
        return _one_of(value, EOD_STATUSES, "end-of-day status")


class Contact(Base):
    """A contact attempt or conversation with a borrower.  Append-only."""

    __tablename__ = "contacts"
    __table_args__ = (Index(None, "loan_id", "at"), Index(None, "corrects_id", unique=True))

    id: Mapped[intpk]
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    at: Mapped[_dt.datetime] = mapped_column(UTCDateTime())
    channel: Mapped[code]
    outcome: Mapped[code]
    note: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)  # a Regulation F warning the collector overrode
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created_at]
    # A correction is a new contact that points at the mis-logged one (which is never changed): at most one
    # correction per contact, so the history reads original -> correction -> its correction (issue 11).
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)

    @validates("channel")
    def _check_channel(self, key: str, value: str) -> str:
        return _one_of(value, CONTACT_CHANNELS, "contact channel")

    @validates("outcome")
    def _check_outcome(self, key: str, value: str) -> str:
        return _one_of(value, CONTACT_OUTCOMES, "contact outcome")


class Promise(Versioned, Base):
    """A promise to pay one dated amount; settled by end of day as kept, partly kept or broken."""

    __tablename__ = "promises"
    __table_args__ = (Index(None, "loan_id", "status"), Index(None, "due_date"), Index(None, "contact_id"),
                      Index(None, "corrects_id", unique=True))

    id: Mapped[intpk]
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    due_date: Mapped[_dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(16), default="open")
    paid_amount: Mapped[money]
    settled_on: Mapped[_dt.date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created_at]
    # A mis-logged promise is corrected by a new promise pointing at it; the original becomes "corrected".
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("promises.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)

    @validates("status")
    def _check_status(self, key: str, value: str) -> str:
        return _one_of(value, PROMISE_STATUSES, "promise status")


class CollectionAssignment(Versioned, Base):
    """Which collector works a loan (by rule, or reassigned by a manager)."""

    __tablename__ = "collection_assignments"

    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), primary_key=True)
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    rule: Mapped[str | None] = mapped_column(String(64))  # how it was assigned: "bucket:30-59", "manual"
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[created_at]


class LetterQueueItem(Versioned, Base):
    """A letter end of day (or a collector) asked for, waiting for the next letter run."""

    __tablename__ = "letter_queue"
    __table_args__ = (
        Index(None, "status", "kind"),
        Index(None, "loan_id"),
        # One billing statement and one payment reminder per loan per cycle (issue 13; revision 0014).
        Index(None, "loan_id", "kind", "cycle_due", unique=True),
    )

    id: Mapped[intpk]
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    kind: Mapped[code]
    queued_on: Mapped[_dt.date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id"))
    created_at: Mapped[created_at]
    #: A statement's or reminder's cycle: the payment due date it is for (None for other letters).
    cycle_due: Mapped[_dt.date | None] = mapped_column(Date)

    @validates("kind")
    def _check_kind(self, key: str, value: str) -> str:
        return _one_of(value, LETTER_KINDS, "letter kind")

    @validates("status")
    def _check_status(self, key: str, value: str) -> str:
        return _one_of(value, LETTER_QUEUE_STATUSES, "letter queue status")


class LetterTemplate(Base):
    """An admin's edit of a letter's text; the newest version of a kind is used.  Append-only."""

    __tablename__ = "letter_templates"
    __table_args__ = (UniqueConstraint("kind", "version"),)

    id: Mapped[intpk]
    kind: Mapped[code]
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[long_text]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created_at]


class Letter(Base):
    """A letter as sent: its figures, its file and the file's hash.  Append-only."""

    __tablename__ = "letters"
    __table_args__ = (Index(None, "loan_id", "letter_date"),)

    id: Mapped[intpk]
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    kind: Mapped[code]
    letter_date: Mapped[_dt.date] = mapped_column(Date)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    figures: Mapped[json_doc]
    template_version: Mapped[int | None] = mapped_column(Integer)
    file_hash: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    run_id: Mapped[str | None] = mapped_column(String(64))  # one batch run's letters share it
    created_at: Mapped[created_at]

    @validates("kind")
    def _check_kind(self, key: str, value: str) -> str:
        return _one_of(value, LETTER_KINDS, "letter kind")


#: The loan flags a desk sets with a date and a reason (issue 11).
LOAN_FLAGS = ("hardship", "dispute", "reg_f")
DISPUTE_FORMS = ("written", "oral")
#: Why the lender is a debt collector for a loan (12 CFR 1006.2(i), FDCPA 803(6)); "policy": the lender applies
#: Regulation F's guardrails to the loan by choice.
REG_F_BASES = ("serviced_in_default", "bought_in_default", "other_name", "policy")


class LoanFlagEvent(Base):
    """One change to a loan's hardship, dispute or Regulation F flag.  Append-only.

    The loan's flag columns say what holds now; these rows say since when, why and who.
    """

    __tablename__ = "loan_flag_events"
    __table_args__ = (Index(None, "loan_id"),)

    id: Mapped[intpk]
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    flag: Mapped[code]
    on: Mapped[bool] = mapped_column(nullable=False)
    effective_date: Mapped[_dt.date] = mapped_column(Date)
    reason: Mapped[long_text]
    dispute_form: Mapped[code_or_none]
    within_validation_period: Mapped[bool | None] = mapped_column(nullable=True)
    reg_f_basis: Mapped[code_or_none]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created_at]

    @validates("flag")
    def _check_flag(self, key: str, value: str) -> str:
        return _one_of(value, LOAN_FLAGS, "loan flag")

    @validates("dispute_form")
    def _check_form(self, key: str, value: str | None) -> str | None:
        return None if value is None else _one_of(value, DISPUTE_FORMS, "dispute form")

    @validates("reg_f_basis")
    def _check_basis(self, key: str, value: str | None) -> str | None:
        return None if value is None else _one_of(value, REG_F_BASES, "Regulation F basis")


#: Written requests a mortgage servicer must answer on time (Reg X 12 CFR 1024.35, 1024.36; Reg Z 1026.36(c)(3)).
SERVICING_REQUEST_KINDS = ("notice_of_error", "information_request", "payoff_request")
#: What a request is about, where the deadline depends on it: a payoff-balance error (1024.35(b)(6)) is answered
#: within 7 days, a request for the owner's identity (1024.36(d)(2)(i)(A)) within 10.
SERVICING_REQUEST_SUBJECTS = ("payoff_balance", "owner_identity")


class ServicingRequest(Versioned, Base):
    """A written notice of error, request for information or payoff request, with its due dates.

    The due dates are worked out once, when it is logged, and kept; marking it
    acknowledged or answered is audited.
    """

    __tablename__ = "servicing_requests"
    __table_args__ = (Index(None, "loan_id"), Index(None, "responded_on", "respond_by"))

    id: Mapped[intpk]
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    kind: Mapped[code]
    subject: Mapped[code_or_none]
    received_on: Mapped[_dt.date] = mapped_column(Date)
    description: Mapped[long_text]
    acknowledge_by: Mapped[_dt.date | None] = mapped_column(Date)  # None: no acknowledgment is required
    respond_by: Mapped[_dt.date] = mapped_column(Date)
    acknowledged_on: Mapped[_dt.date | None] = mapped_column(Date)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    responded_on: Mapped[_dt.date | None] = mapped_column(Date)
    responded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    response_note: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created_at]

    @validates("kind")
    def _check_kind(self, key: str, value: str) -> str:
        return _one_of(value, SERVICING_REQUEST_KINDS, "request kind")

    @validates("subject")
    def _check_subject(self, key: str, value: str | None) -> str | None:
        return None if value is None else _one_of(value, SERVICING_REQUEST_SUBJECTS, "request subject")


# ---------------------------------------------------------------------------
# Month-end snapshots (revision 0015)
# ---------------------------------------------------------------------------
SNAPSHOT_SOURCES = ("end_of_day", "on_demand", "replayed")


class MonthEndSnapshot(Base):
    """One loan as the close of a month's last day left it (issue 13).  Append-only.

    Written for every loan by end of day in the transaction that closes the
    month end (``app.services.reports.snapshots``): status, bucket, days past
    due and the cached balances are the loan's cache as that close left it
    (the figures the desk sees the next morning); product and collector are
    the ones it had then.  ``booked_*`` are the booked ledger through the
    month end by ``business_date`` (the sign table of app.domain.books;
    conversion openings are not included, as in ``services.books.booked_sums``).
    ``source``: ``end_of_day``; ``on_demand`` (copied later from a cache the
    month end's close still held); ``replayed`` (derived for a month end that
    passed without one, from the entries booked by then).
    """

    __tablename__ = "month_end_snapshots"
    __table_args__ = (Index(None, "loan_id"),)

    month_end: Mapped[_dt.date] = mapped_column(Date, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(32))
    delinquency: Mapped[str | None] = mapped_column(String(32))
    bucket: Mapped[str] = mapped_column(String(16))
    days_past_due: Mapped[int] = mapped_column(Integer)
    principal: Mapped[money]
    accrued_interest: Mapped[interest]
    fees: Mapped[money]
    suspense: Mapped[money]
    amount_due: Mapped[money]
    booked_principal: Mapped[money]
    booked_interest: Mapped[money]
    booked_fees: Mapped[money]
    booked_suspense: Mapped[money]
    booked_refund: Mapped[money]
    state_as_of: Mapped[_dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[created_at]

    @validates("source")
    def _check_source(self, key: str, value: str) -> str:
        return _one_of(value, SNAPSHOT_SOURCES, "snapshot source")


class LedgerDayTotal(Base):
    """What one closed business day booked, by product and entry type (issue 13).  Append-only.

    Written by end of day in the transaction that closes the day
    (``app.services.reports.day_totals``): the day's entries (by
    ``business_date``) counted and summed column by column.  Entries booked
    on a day never change once it is closed, so the period reports read a
    closed day's totals instead of its entries (a day of a large book is
    mostly one accrual per loan).
    """

    __tablename__ = "ledger_day_totals"

    business_date: Mapped[_dt.date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    entries: Mapped[int] = mapped_column(Integer)
    amount: Mapped[money]
    principal: Mapped[money]
    interest: Mapped[money]
    fees: Mapped[money]
    suspense: Mapped[money]
    refund: Mapped[money]
    escrow: Mapped[money]


# ---------------------------------------------------------------------------
# Append-only guards (the ORM half; the database half is in the migration)
# ---------------------------------------------------------------------------
APPEND_ONLY_MODELS: tuple[type[Base], ...] = (LedgerEntry, Note, AuditEvent, Contact, Letter, LetterTemplate,
                                               LoanFlagEvent, MonthEndSnapshot, LedgerDayTotal)
APPEND_ONLY_TABLES: tuple[str, ...] = tuple(m.__tablename__ for m in APPEND_ONLY_MODELS)


def _refuse_update(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    # before_update also fires when only a relationship collection changed;
    # refuse only a real change to a column.
    from sqlalchemy.orm import object_session

    session = object_session(target)
    if session is None or session.is_modified(target, include_collections=False):
        raise AppendOnlyError(f"{mapper.class_.__name__} rows are append-only; post a reversal")


def _refuse_delete(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    raise AppendOnlyError(f"{mapper.class_.__name__} rows are append-only; post a reversal")


for _model in APPEND_ONLY_MODELS:
    event.listen(_model, "before_update", _refuse_update)
    event.listen(_model, "before_delete", _refuse_delete)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_edits(state: ORMExecuteState) -> None:
    """``session.execute(update(LedgerEntry)...)`` skips mapper events; stop it here."""
    if not (state.is_update or state.is_delete):
        return
    for mapper in state.all_mappers:
        if mapper.class_ in APPEND_ONLY_MODELS:
            raise AppendOnlyError(f"{mapper.class_.__name__} rows are append-only; post a reversal")


__all__ = [
    "APPEND_ONLY_MODELS",
    "CollectionAssignment",
    "Contact",
    "EodRun",
    "Letter",
    "LetterQueueItem",
    "LetterTemplate",
    "Promise",
    "ServicingRequest",
    "SERVICING_REQUEST_KINDS",
    "SERVICING_REQUEST_SUBJECTS",
    "APPEND_ONLY_TABLES",
    "LoanFlagEvent",
    "AppendOnlyError",
    "AuditEvent",
    "Base",
    "Collateral",
    "LedgerDayTotal",
    "LedgerEntry",
    "Loan",
    "LoanParty",
    "LoanState",
    "MonthEndSnapshot",
    "Note",
    "PaymentBatch",
    "Person",
    "Product",
    "ProductVersion",
    "SystemSetting",
    "User",
]
