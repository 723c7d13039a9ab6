"""Letters, notices and statements: render, issue, batch runs, history, reprint, templates (issue 6).

Every figure printed is the engine's: each letter replays the loan's ledger
with :meth:`app.services.ledger.Book.derive` (the function behind
``accounts.account`` and ``accounts.payoff_quote``) and reads the
:func:`app.domain.engine.snapshot` of the resulting state.  Projections (the
amount to cure on the cure-by date, a payoff good through a later day, the
statement's amount due on its due date) are the same replay run to that day,
assuming nothing else is posted.  The letter's own arithmetic is limited to
sums and differences of those figures (an itemization, "paid year to date").

Rules, as a careful US servicer would apply them (DESIGN.md asks for them to
be written down):

* Collection letters are ``late-notice``, ``default-notice`` and
  ``validation-notice``.  None is sent while the loan is flagged ``hardship``
  or ``dispute``, while the borrower has asked us to stop contact (FDCPA
  805(c), ``cease_contact``) or is represented by an attorney (805(a)(2)), or
  when the loan is not active.  Late and default notices need the loan to be
  past due; a ``validation-notice`` needs ``reg_f_applies``.
* A queued letter is checked again when it is printed (:func:`run_queued`):
  a loan whose days past due are now below the product's trigger for that
  letter (``letter_triggers``; 1 day when the product names none) is
  dropped as cured, with the reason; a late notice queued beside a default
  notice for the same loan is dropped as superseded; the figures are as of
  the print date.
* ``payoff`` and ``statement`` need an active loan; ``paid-in-full`` a paid-off one.
* A ``payment-reminder`` (issue 13) needs an active loan and follows the
  collection letters' contact rules (hardship, dispute, cease contact,
  attorney).  Queued by end of day for a cycle (the statement cycle,
  :mod:`app.domain.statement_cycle`), it is dropped at print time once that
  installment is paid or its due date has passed.  A queued statement for a
  loan that is not a mortgage is dropped when the borrower has asked us to
  cease contact or is represented by an attorney; a mortgage's periodic
  statement is not (Regulation Z 1026.41 requires it; CFPB Bulletin 2013-12).
* The validation period (12 CFR 1006.34(b)(5)) ends 30 days after the day
  the consumer is assumed to receive the notice, which is the fifth day after
  the letter date not counting Saturdays, Sundays and the US federal holidays
  of 5 U.S.C. 6103(a) (observed days are skipped too, which can only make
  the period longer); so it is always at least 35 days after the letter date.
* The itemization date (1006.34(b)(3)) is the last payment date
  ((b)(3)(iii)), or the day the loan was made when no payment was received.

A batch (:func:`run_queued`, :func:`print_selected`) reads and renders in a
read-only unit, then writes every Letter record, queue status and audit
record in one short transaction: all letters of a run are recorded together
or not at all.  Each letter is rendered once and stored with its SHA-256;
the file a run prints is those stored PDFs joined page for page (pypdf), so
the printed bytes are the hashed ones, and :func:`reprint` returns the very
bytes that were sent.

A queued letter goes ``queued`` -> ``issued`` (recorded by a run, waiting for
the printer) -> ``printed``.  Only the desk (or ``keel letters --mark-printed``)
says a letter was printed, after the printer took it: :func:`queued_batch`
joins every issued letter, and :func:`mark_printed` marks them printed in one
transaction, audits each, and logs each collection letter as a contact
(channel ``letter``) in the account's contact history.  A print that failed
marks nothing, so the letters stay in the queue for the next try.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import holidays as _holidays
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.db.models import (
    LETTER_KINDS,
    SETTING_LENDER_ADDRESS,
    SETTING_LENDER_EMAIL,
    SETTING_LENDER_LOGO,
    SETTING_LENDER_NAME,
    SETTING_LENDER_PHONE,
    SETTING_LENDER_WEBSITE,
    Collateral,
    Letter,
    LetterQueueItem,
    LetterTemplate,
    Loan,
    LoanParty,
    LoanState,
    Person,
    User,
)
from app.db.settings import get_setting
from app.domain.business_days import late_fee_day
from app.domain.engine import Entry, LoanState as EngineState, Snapshot, snapshot
from app.domain.interest_paid import interest_paid_to
from app.domain.money import ZERO
from app.domain.terms import add_months, due_date
from app.reports import letters as documents
from app.reports import templates
from app.reports.layout import Lender, Recipient, decode_logo, long_date, money
from app.services import audit, permissions
from app.services.context import CancelToken, Progress, ServiceContext, no_progress
from app.services.errors import Conflict, InvalidInput, NotFound, ServiceError
from app.services.fields import text_field
from app.services.ledger import Book, business_date, load_loan, open_book

KINDS: tuple[str, ...] = LETTER_KINDS
COLLECTION_KINDS = frozenset({"late-notice", "default-notice", "validation-notice"})
#: Default days from the letter date to the cure-by date of a default notice.
CURE_DAYS = 30
#: Default days from the letter date to a payoff statement's good-through date.
PAYOFF_GOOD_DAYS = 10
#: Validation period: days after the assumed receipt, and business days to receipt (1006.34(b)(5)).
VALIDATION_DAYS = 30
RECEIPT_BUSINESS_DAYS = 5

#: Regulation F for every loan (the setting app.services.collections reads too).
SETTING_REGF_ALL_LOANS = "regf_all_loans"


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class RenderedLetter:
    """A letter rendered but not recorded (a preview)."""

    kind: str
    loan_number: str
    letter_date: _dt.date
    pdf_bytes: bytes
    figures: dict[str, Any]  # the engine's figures printed (Decimal, date, ...)
    pages: int
    template_version: int | None  # None: the default text in resources/letters
    sha256: str


@dataclass(frozen=True)
class LetterRecord:
    """A letter as recorded in the account's history (without its PDF; see :func:`reprint`)."""

    id: int
    loan_number: str
    kind: str
    letter_date: _dt.date
    user: str
    figures: dict[str, Any]  # as stored: amounts and dates as strings
    template_version: int | None
    file_hash: str
    run_id: str | None
    created_at: _dt.datetime
    size: int
    #: the PDF as recorded; filled by :func:`issue_letter` only (see :func:`reprint` otherwise)
    pdf_bytes: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class QueuedLetter:
    """A letter waiting in the queue for the next letter run (the account's letters tab lists them)."""

    id: int
    kind: str
    queued_on: _dt.date
    reason: str | None
    #: a statement's or reminder's cycle: the payment due date it is for
    cycle_due: _dt.date | None = None


@dataclass(frozen=True)
class Dropped:
    """A letter that was not printed, and why."""

    loan_number: str
    kind: str
    reason: str
    queue_id: int | None = None


@dataclass(frozen=True)
class LetterRun:
    """One batch: the merged PDF to print, a record per letter, and what was dropped."""

    run_id: str
    letter_date: _dt.date
    pdf_bytes: bytes  # empty when nothing was printed
    records: tuple[LetterRecord, ...]
    dropped: tuple[Dropped, ...]
    pages: int


@dataclass(frozen=True)
class TemplateInfo:
    kind: str
    version: int | None  # None: the default file
    body: str
    placeholders: dict[str, str]  # name -> what it stands for
    created_by: str | None = None
    created_at: _dt.datetime | None = None


class LettersCancelled(ServiceError):
    """The user cancelled a letter run; nothing was recorded."""

    def __init__(self) -> None:
        super().__init__("Letter run cancelled; nothing was printed or recorded")


class _Drop(Exception):
    """This letter must not go out (internal; becomes InvalidInput or a Dropped)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- engine figures


@dataclass
class _Loan:
    """One loan's book, opened in the caller's session, with memoised replays."""

    session: Session
    loan: Loan
    book: Book
    today: _dt.date
    _states: dict[_dt.date, tuple[EngineState, list[Entry]]] = field(default_factory=dict)

    def state(self, day: _dt.date) -> tuple[EngineState, list[Entry]]:
        """The engine's state at the end of ``day`` and its entries (a full replay, memoised)."""
        if day not in self._states:
            self._states[day] = self.book.derive(day)
        return self._states[day]

    def snap(self, day: _dt.date) -> Snapshot:
        state, _ = self.state(day)
        return snapshot(state, self.book.terms)

    @property
    def first_day(self) -> _dt.date:
        return self.book.origin.date + _dt.timedelta(days=1)


def _fees_split(state: EngineState) -> tuple[Decimal, Decimal]:
    """Outstanding late charges and other fees, from the engine's own fee list."""
    late = sum((fee.remaining for fee in state.fees if fee.kind == "late"), ZERO)
    other = sum((fee.remaining for fee in state.fees if fee.kind != "late"), ZERO)
    return late, other


def _rate(state: EngineState) -> str:
    percent = (state.rate * 100).quantize(Decimal("0.001"))
    return f"{percent}%"


_PAY_TYPES = ("payment", "reversal", "suspense_applied")


def _paid_breakdown(entries: Iterable[Entry], start: _dt.date, end: _dt.date) -> dict[str, Decimal]:
    """Money received and applied in [start, end] by part (payments less reversals)."""
    out = {key: ZERO for key in ("principal", "interest", "escrow", "fees", "suspense", "refund", "total")}
    for e in entries:
        if e.type not in _PAY_TYPES or not start <= e.date <= end:
            continue
        out["principal"] += e.principal
        out["interest"] += e.interest
        out["fees"] += e.fees
        out["suspense"] += e.suspense
        out["refund"] += e.refund
    out["total"] = out["principal"] + out["interest"] + out["fees"] + out["suspense"] + out["refund"]
    return out


def _describe(e: Entry) -> tuple[str, Decimal | str, Decimal | str] | None:
    """(description, charges, payments and credits) for a statement's activity list."""
    amount = e.amount if e.amount is not None else ZERO
    if e.type == "payment":
        return ("Payment received" + (" (later returned)" if e.reversed else ""), "", amount)
    if e.type == "reversal":
        return ("Payment returned unpaid", "", amount)
    if e.type == "late_fee":
        return ("Late charge", e.fees, "")
    if e.type == "fee":
        return ("Fee assessed", e.fees, "")
    if e.type == "waiver":
        return ("Fee waived", "", -e.fees)
    if e.type == "adjustment":
        return ("Principal adjustment", e.principal, "") if e.principal > 0 else ("Principal adjustment", "", -e.principal)
    if e.type in ("write_off", "payoff_write_off"):
        return ("Balance forgiven", "", amount)
    if e.type == "refund":
        return ("Overpayment refunded to you", "", "")
    if e.type == "suspense_applied":
        return (f"Unapplied funds of {money(amount)} applied to your payment", "", "")
    if e.type == "terms_change":
        return ("Loan terms changed", "", "")
    return None


def _business_days_after(day: _dt.date, count: int) -> _dt.date:
    """The ``count``-th day after ``day`` that is not a Saturday, Sunday or US federal holiday.

    Federal holidays are those of 5 U.S.C. 6103(a) from the ``holidays``
    package, with their observed days (a Friday or Monday) skipped as well.
    """
    federal = _holidays.country_holidays("US", years=range(day.year, day.year + 2))
    current, found = day, 0
    while found < count:
        current += _dt.timedelta(days=1)
        if current.weekday() < 5 and current not in federal:
            found += 1
    return current


def _validation_period_end(letter_date: _dt.date) -> tuple[_dt.date, _dt.date]:
    """(assumed receipt date, validation period end date) for a notice mailed on ``letter_date``."""
    receipt = _business_days_after(letter_date, RECEIPT_BUSINESS_DAYS)
    return receipt, receipt + _dt.timedelta(days=VALIDATION_DAYS)


# ---------------------------------------------------------------- loan facts


def _borrower(session: Session, loan: Loan) -> Person:
    party = session.scalars(
        select(LoanParty).where(LoanParty.loan_id == loan.id, LoanParty.role == "borrower").order_by(LoanParty.id).limit(1)
    ).first()
    if party is None:
        raise _Drop("the loan has no borrower on file")
    return party.person


def _recipient(person: Person) -> Recipient:
    lines: list[str] = []
    for line in (person.address_line1, person.address_line2):
        if line and line.strip():
            lines.append(line.strip())
    city = " ".join(part for part in ((person.city or "").strip(), (person.state or "").strip(),
                                      (person.postal_code or "").strip()) if part)
    if city:
        lines.append(city)
    if person.country and person.country.upper() != "US":
        lines.append(person.country.upper())
    if not person.address_line1 or not city:
        raise _Drop("the borrower has no complete mailing address")
    return Recipient(person.display_name, tuple(lines))


def _lender(session: Session) -> Lender:
    name = (get_setting(session, SETTING_LENDER_NAME) or "").strip()
    if not name:
        raise ServiceError("Set the lender's name, address and telephone (settings lender_name, lender_address, "
                           "lender_phone) before printing letters")
    address = get_setting(session, SETTING_LENDER_ADDRESS) or ""
    return Lender(
        name=name,
        address_lines=tuple(line.strip() for line in address.replace("\r", "").split("\n") if line.strip()),
        phone=(get_setting(session, SETTING_LENDER_PHONE) or "").strip(),
        logo_png=decode_logo(get_setting(session, SETTING_LENDER_LOGO)),
        website=(get_setting(session, SETTING_LENDER_WEBSITE) or "").strip(),
        email=(get_setting(session, SETTING_LENDER_EMAIL) or "").strip(),
    )


def _trigger_days(loan: Loan, kind: str, cache: dict[tuple[int, str], int] | None = None) -> int:
    """Days past due at which the product sends ``kind`` (1 when it names no trigger)."""
    key = (loan.product_version_id, kind)
    if cache is not None and key in cache:
        return cache[key]
    days = _read_trigger_days(loan, kind)
    if cache is not None:
        cache[key] = days
    return days


def _read_trigger_days(loan: Loan, kind: str) -> int:
    try:
        from app.services.products import rules_of

        rules = rules_of(loan.product_version)
        days = [t.days_past_due for t in rules.letter_triggers if t.letter == kind]
    except Exception:  # a product document this code cannot read: fall back to "past due at all"
        days = []
    return min(days) if days else 1


def _reg_f(session: Session, loan: Loan) -> bool:
    return bool(loan.reg_f_applies) or _reg_f_everywhere(session)


def _collateral_risk(session: Session, loan: Loan) -> str:
    kinds = set(session.scalars(select(Collateral.kind).where(Collateral.loan_id == loan.id)))
    if "real_estate" in kinds:
        return "foreclosure \u2014 the loss of your home"
    if "vehicle" in kinds:
        return "repossession of your vehicle"
    return "collection action, including enforcement of any security interest"


def _check_allowed(session: Session, lo: _Loan, kind: str, person: Person, snap: Snapshot) -> None:
    """Raise _Drop when ``kind`` must not be sent for this loan now (see the module's rules)."""
    loan = lo.loan
    if kind in COLLECTION_KINDS:
        if loan.hardship:
            raise _Drop("the loan is flagged hardship: collection letters are stopped")
        if loan.dispute:
            raise _Drop("the loan is flagged dispute: collection letters are stopped")
        if person.cease_contact:
            raise _Drop("the borrower asked us to cease contact (FDCPA 805(c))")
        if person.attorney_represented:
            raise _Drop("the borrower is represented by an attorney (FDCPA 805(a)(2)); write to the attorney")
        if loan.status != "active" or snap.status != "active":
            raise _Drop(f"the loan is {snap.status if loan.status == 'active' else loan.status}, not active")
        if kind == "validation-notice" and not _reg_f(session, loan):
            raise _Drop("Regulation F does not apply to this loan: the validation notice is only for loans it applies to")
        if kind in ("late-notice", "default-notice") and snap.days_past_due <= 0:
            raise _Drop("the loan is current")
    elif kind in ("payoff", "statement"):
        if loan.status != "active" or snap.status != "active":
            raise _Drop(f"the loan is {snap.status if loan.status == 'active' else loan.status}, not active")
    elif kind == "payment-reminder":
        if loan.hardship:
            raise _Drop("the loan is flagged hardship: payment reminders are stopped")
        if loan.dispute:
            raise _Drop("the loan is flagged dispute: payment reminders are stopped")
        if person.cease_contact:
            raise _Drop("the borrower asked us to cease contact (FDCPA 805(c))")
        if person.attorney_represented:
            raise _Drop("the borrower is represented by an attorney (FDCPA 805(a)(2)); write to the attorney")
        if loan.status != "active" or snap.status != "active":
            raise _Drop(f"the loan is {snap.status if loan.status == 'active' else loan.status}, not active")
    elif kind == "paid-in-full":
        if snap.status != "paid_off":
            raise _Drop(f"the loan is not paid in full: the payoff is {money(snap.payoff)}")


# ---------------------------------------------------------------- figures by kind


def _common_values(lender: Lender, recipient: Recipient, loan: Loan, day: _dt.date, state: EngineState,
                   snap: Snapshot) -> dict[str, str]:
    return {
        "borrower_name": recipient.name,
        "loan_number": loan.loan_number,
        "letter_date": long_date(day),
        "lender_name": lender.name,
        "lender_address": lender.one_line_address,
        "lender_phone": lender.phone,
        "lender_website": lender.website,
        "lender_email": lender.email,
        "principal_balance": money(snap.principal),
        "interest_rate": _rate(state),
    }


def _past_due(lo: _Loan, day: _dt.date) -> dict[str, Any]:
    state, _ = lo.state(day)
    snap = lo.snap(day)
    late, other = _fees_split(state)
    return {
        "past_due_date": snap.next_due,
        "days_past_due": snap.days_past_due,
        "installments_past_due": sum(1 for inst in state.installments if inst.due <= day),
        "past_due_installments": snap.amount_due - snap.fees,
        "late_fees": late,
        "other_fees": other,
        "amount_due": snap.amount_due,
        "principal_balance": snap.principal,
        "regular_payment": state.payment,
    }


def _late_notice(lo: _Loan, day: _dt.date, opts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str]]]:
    f = _past_due(lo, day)
    grace = lo.book.terms.late_fee.grace_days if lo.book.terms.late_fee is not None else 0
    f["grace_days"] = grace
    values = {
        "amount_due": money(f["amount_due"]),
        "past_due_date": long_date(f["past_due_date"]),
        "days_past_due": str(f["days_past_due"]),
        "past_due_installments": money(f["past_due_installments"]),
        "late_fees": money(f["late_fees"]),
        "other_fees": money(f["other_fees"]),
        "regular_payment": money(f["regular_payment"]),
        "grace_days": str(grace),
    }
    ref = [("Date", long_date(day)), ("Loan number", lo.loan.loan_number),
           ("Days past due", str(f["days_past_due"])), ("Amount due now", money(f["amount_due"]))]
    return f, values, ref


def _default_notice(lo: _Loan, day: _dt.date, opts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str]]]:
    f = _past_due(lo, day)
    cure_days = int(opts.get("cure_days") or CURE_DAYS)
    if cure_days < 1:
        raise InvalidInput("cure_days", f"{cure_days} must be at least 1")
    cure_by = day + _dt.timedelta(days=cure_days)
    f["cure_amount"] = f["amount_due"]
    f["cure_by_date"] = cure_by
    f["cure_amount_by_date"] = lo.snap(cure_by).amount_due
    f["payoff_amount"] = lo.snap(day).payoff
    values = {
        "amount_due": money(f["amount_due"]),
        "cure_amount": money(f["cure_amount"]),
        "cure_by_date": long_date(cure_by),
        "cure_amount_by_date": money(f["cure_amount_by_date"]),
        "past_due_date": long_date(f["past_due_date"]),
        "days_past_due": str(f["days_past_due"]),
        "payoff_amount": money(f["payoff_amount"]),
    }
    ref = [("Date", long_date(day)), ("Loan number", lo.loan.loan_number),
           ("Amount to cure", money(f["cure_amount"])), ("Cure by", long_date(cure_by))]
    return f, values, ref


def _itemization_date(lo: _Loan, day: _dt.date) -> tuple[_dt.date, str]:
    _, entries = lo.state(day)
    paid = [e.date for e in entries if e.type == "payment" and not e.reversed and e.date <= day]
    if paid:
        return max(paid), "last payment date"
    return max(lo.book.terms.start, lo.first_day), "the date the loan was made"


def _validation_notice(lo: _Loan, day: _dt.date, opts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str]]]:
    lender: Lender = opts["lender"]
    item_day, basis = _itemization_date(lo, day)
    then_state, _ = lo.state(item_day)
    then = snapshot(then_state, lo.book.terms)
    now_state, entries = lo.state(day)
    now = lo.snap(day)
    window = [e for e in entries if item_day < e.date <= day]
    paid_i = sum((e.interest for e in window if e.type in _PAY_TYPES), ZERO)
    paid_p = sum((e.principal for e in window if e.type in _PAY_TYPES), ZERO)
    paid_f = sum((e.fees for e in window if e.type in _PAY_TYPES), ZERO)
    waived = -sum((e.fees for e in window if e.type == "waiver"), ZERO)
    forgiven_i = sum((e.interest for e in window if e.type in ("write_off", "payoff_write_off")), ZERO)
    forgiven_f = sum((e.fees for e in window if e.type in ("write_off", "payoff_write_off")), ZERO)
    # 1006.34(c)(2)(viii): interest, fees, payments and credits since the itemization
    # date.  Each is a sum or difference of engine figures; together they reconcile
    # the engine's balance on the itemization date to its balance today exactly.
    interest = now.accrued_interest - then.accrued_interest + paid_i + forgiven_i
    fees = now.fees - then.fees + paid_f + waived + forgiven_f
    payments = paid_i + paid_p + paid_f
    credits = (then.principal - now.principal - paid_p) + waived + forgiven_f + forgiven_i
    receipt, end = _validation_period_end(day)
    f: dict[str, Any] = {
        "account_number": lo.loan.loan_number,
        "creditor_on_itemization_date": lender.name,
        "current_creditor": lender.name,
        "itemization_date": item_day,
        "itemization_basis": basis,
        "amount_on_itemization_date": then.payoff,
        "interest_since": interest,
        "fees_since": fees,
        "payments_since": payments,
        "credits_since": credits,
        "current_amount": now.payoff,
        "assumed_receipt_date": receipt,
        "validation_end_date": end,
        "validation_rule": (
            f"we assume you receive this notice on {long_date(receipt)}, five days after it is mailed not counting "
            "Saturdays, Sundays and federal holidays, and the period ends 30 days later (12 CFR 1006.34(b)(5))."
        ),
        "days_past_due": now.days_past_due,
    }
    values = {
        "current_amount": money(now.payoff),
        "itemization_date": long_date(item_day),
        "validation_end_date": long_date(end),
        "creditor_name": lender.name,
        "days_past_due": str(now.days_past_due),
    }
    ref = [("Notice date", long_date(day)), ("Account number", lo.loan.loan_number),
           ("Amount of the debt", money(now.payoff)), ("Respond by", long_date(end))]
    return f, values, ref


def _payoff(lo: _Loan, day: _dt.date, opts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str]]]:
    good = opts.get("good_through") or day + _dt.timedelta(days=PAYOFF_GOOD_DAYS)
    if good < day:
        raise InvalidInput("good_through", f"{good} is before the letter date {day}")
    state, _ = lo.state(good)
    snap = lo.snap(good)
    today = lo.snap(day)
    late, other = _fees_split(state)
    f: dict[str, Any] = {
        "good_through_date": good,
        "principal": snap.principal,
        "interest": snap.accrued_interest,
        "late_fees": late,
        "other_fees": other,
        "fees": snap.fees,
        "escrow": ZERO,  # Keel keeps no escrow accounts yet
        "suspense": snap.suspense,
        "payoff_amount": snap.payoff,
        "per_diem": snap.per_diem,
        "interest_rate": _rate(state),
        "paid_through": today.paid_through,
        "interest_paid_to": interest_paid_to(lo.state(day)[0], lo.book.terms),
        "next_due": today.next_due,
    }
    values = {
        "payoff_amount": money(snap.payoff),
        "good_through_date": long_date(good),
        "per_diem": money(snap.per_diem),
        "interest_due": money(snap.accrued_interest),
        "fees_due": money(snap.fees),
    }
    ref = [("Date", long_date(day)), ("Loan number", lo.loan.loan_number),
           ("Good through", long_date(good)), ("Payoff amount", money(snap.payoff))]
    return f, values, ref


def _due_dates_through(state: EngineState, lo: _Loan, day: _dt.date) -> list[_dt.date]:
    """The loan's installment due dates up to ``day`` (from the note, or the last re-anchoring)."""
    terms = lo.book.terms
    out: list[_dt.date] = []
    n = 1
    while n <= state.term:
        if n < state.anchor_n:
            due = due_date(terms.frequency, terms.first_due, n - 1)
        else:
            due = due_date(terms.frequency, state.anchor_due, n - state.anchor_n)
        if due > day:
            break
        out.append(due)
        n += 1
    return out


def _statement(lo: _Loan, day: _dt.date, opts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str]]]:
    terms = lo.book.terms
    state, entries = lo.state(day)
    snap = lo.snap(day)
    # The payment due date: the oldest unpaid installment while current, else the next one to fall due.
    upcoming = None
    if state.status == "active" and state.next_n <= state.term:
        upcoming = due_date(terms.frequency, state.anchor_due, state.next_n - state.anchor_n)
    if snap.days_past_due == 0 and snap.next_due is not None and snap.next_due >= day:
        due = snap.next_due
    else:
        due = upcoming if upcoming is not None else day
    # Amount due = fees imposed and installments unpaid as of the statement date, plus
    # the installment falling due on the payment due date (from the engine's replay
    # run to that date).  Late fees the projection would add after today are not
    # "imposed" yet, so they are not billed here; the late-fee warning says when one is.
    day_before = day - _dt.timedelta(days=1)
    if due == day:
        earlier = snapshot(state, terms, day_before).amount_due
        current = snap.amount_due - earlier
        overdue = earlier - snap.fees
        due_state = state
    else:
        due_state, _ = lo.state(due)
        current = snapshot(due_state, terms).amount_due - snapshot(due_state, terms, due - _dt.timedelta(days=1)).amount_due
        overdue = snap.amount_due - snap.fees
    f: dict[str, Any] = {
        "payment_due_date": due,
        "amount_due": snap.fees + overdue + current,
        "fees_due": snap.fees,
        "past_due_installments": overdue,
        "current_installment": current,
        "escrow": ZERO,
        "principal_balance": snap.principal,
        "interest_rate": _rate(state),
        "paid_through": snap.paid_through,
        "interest_paid_to": interest_paid_to(state, terms),
        "suspense_held": snap.suspense,
        "days_past_due": snap.days_past_due,
        "current_principal": None,
        "current_interest": None,
        "late_fee_amount": ZERO,
        "late_fee_date": None,
    }
    if terms.interest == "scheduled":
        parts = [inst for inst in due_state.installments if inst.due == due]
        if parts:
            f["current_principal"] = sum((i.principal - i.paid_principal for i in parts), ZERO)
            f["current_interest"] = sum((i.interest - i.paid_interest for i in parts), ZERO)
    if terms.late_fee is not None and current > 0:
        # The last day to pay on time: the grace period's end, moved past a weekend or bank holiday (issue 9).
        fee_day = late_fee_day(due, terms.late_fee.grace_days) - _dt.timedelta(days=1)
        after = lo.snap(fee_day + _dt.timedelta(days=1))
        late = lo.snap(fee_day).fees
        if after.fees > late:
            f["late_fee_amount"] = after.fees - late
            f["late_fee_date"] = fee_day
    # The statement period: since the last statement recorded for this loan.
    previous = lo.session.scalar(
        select(func.max(Letter.letter_date)).where(Letter.loan_id == lo.loan.id, Letter.kind == "statement",
                                                   Letter.letter_date < day)
    )
    start = previous + _dt.timedelta(days=1) if previous else add_months(day, -1, day.day) + _dt.timedelta(days=1)
    start = max(start, lo.first_day)
    f["period_start"], f["period_end"] = start, day
    f["paid_since_last"] = _paid_breakdown(entries, start, day)
    f["paid_year_to_date"] = _paid_breakdown(entries, max(_dt.date(day.year, 1, 1), lo.first_day), day)
    activity = []
    for e in entries:
        if start <= e.date <= day:
            described = _describe(e)
            if described is not None:
                activity.append({"date": e.date, "description": described[0], "charges": described[1],
                                 "payments": described[2]})
    f["activity"] = activity
    if snap.days_past_due > 0:
        history = []
        dues = _due_dates_through(state, lo, day)[-6:]
        for i, d in enumerate(dues):
            end = dues[i + 1] - _dt.timedelta(days=1) if i + 1 < len(dues) else day
            cycle = lo.snap(end)
            history.append({"due": d, "unpaid": cycle.amount_due - cycle.fees})
        f["delinquency"] = {
            "days_past_due": snap.days_past_due,
            "delinquent_since": snap.next_due,
            "history": history,
            "risk": _collateral_risk(lo.session, lo.loan),
            "loss_mitigation": (
                "Your account is under a hardship review or program. Keep to its terms, and call us if your "
                "situation changes."
                if lo.loan.hardship else
                "You are not in a loss mitigation program. If you are having trouble making payments, call us: "
                "you may be able to get help such as a repayment plan, a deferral or a loan modification."
            ),
        }
    values = {
        "amount_due": money(f["amount_due"]),
        "payment_due_date": long_date(due),
        "late_fee_amount": money(f["late_fee_amount"]),
        "late_fee_date": long_date(f["late_fee_date"]),
        "past_due_amount": money(overdue),
        "days_past_due": str(snap.days_past_due),
    }
    ref = [("Statement date", long_date(day)), ("Loan number", lo.loan.loan_number),
           ("Payment due date", long_date(due)), ("Amount due", money(f["amount_due"]))]
    return f, values, ref


def _paid_in_full(lo: _Loan, day: _dt.date, opts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str]]]:
    _, entries = lo.state(day)
    snap = lo.snap(day)
    closing = [e for e in entries if e.type in ("payment", "write_off", "payoff_write_off", "adjustment") and not e.reversed]
    paid_off = max((e.date for e in closing), default=day)
    final = sum((e.amount or ZERO for e in closing if e.type == "payment" and e.date == paid_off), ZERO)
    f: dict[str, Any] = {
        "paid_off_date": paid_off,
        "final_payment_amount": final,
        "principal_balance": snap.principal,
        "amount_owed": snap.payoff - snap.principal,
        "refund_due": snap.refund_due,
    }
    values = {
        "paid_off_date": long_date(paid_off),
        "final_payment_amount": money(final),
        "refund_due": money(snap.refund_due),
    }
    ref = [("Date", long_date(day)), ("Loan number", lo.loan.loan_number), ("Paid in full on", long_date(paid_off))]
    return f, values, ref


def _payment_reminder(lo: _Loan, day: _dt.date, opts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str]]]:
    """The statement's own amount-due figures (one computation for both), for the reminder's due date."""
    stmt, _, _ = _statement(lo, day, opts)
    keys = ("payment_due_date", "amount_due", "fees_due", "past_due_installments", "current_installment",
            "late_fee_amount", "late_fee_date", "days_past_due", "principal_balance")
    f: dict[str, Any] = {key: stmt[key] for key in keys}
    f["regular_payment"] = lo.state(day)[0].payment
    due = f["payment_due_date"]
    values = {
        "amount_due": money(f["amount_due"]),
        "payment_due_date": long_date(due),
        "regular_payment": money(f["regular_payment"]),
        "late_fee_amount": money(f["late_fee_amount"]),
        "late_fee_date": long_date(f["late_fee_date"]),
    }
    ref = [("Date", long_date(day)), ("Loan number", lo.loan.loan_number), ("Payment due date", long_date(due)),
           ("Amount due", money(f["amount_due"]))]
    return f, values, ref


def _cycle_check(session: Session, lo: _Loan, kind: str, day: _dt.date, cycle_due: _dt.date | None,
                 person: Person) -> None:
    """A statement or reminder end of day queued for a cycle, checked again at print time (see the module)."""
    from app.domain.statement_cycle import first_due_after, installment_due, unpaid

    if kind == "statement":
        if (person.cease_contact or person.attorney_represented) and not _is_mortgage(session, lo.loan):
            raise _Drop("the borrower asked us to cease contact (FDCPA 805(c))" if person.cease_contact else
                        "the borrower is represented by an attorney (FDCPA 805(a)(2)); write to the attorney")
        return
    if kind != "payment-reminder" or cycle_due is None:
        return
    if cycle_due < day:
        raise _Drop(f"the payment due {cycle_due.isoformat()} is past: a reminder is too late")
    state, _ = lo.state(day)
    terms = lo.book.terms
    n = first_due_after(terms, state, cycle_due - _dt.timedelta(days=1))
    if n <= state.term and installment_due(terms, state, n) == cycle_due and not unpaid(terms, state, n):
        raise _Drop(f"paid: the payment due {cycle_due.isoformat()} was received")


def _is_mortgage(session: Session, loan: Loan) -> bool:
    from app.services.statements import mortgage_ids

    return loan.id in mortgage_ids(session, [loan.id])


_FIGURES = {
    "late-notice": _late_notice,
    "default-notice": _default_notice,
    "validation-notice": _validation_notice,
    "payoff": _payoff,
    "statement": _statement,
    "paid-in-full": _paid_in_full,
    "payment-reminder": _payment_reminder,
}


# ---------------------------------------------------------------- templates


def _current_template(session: Session, kind: str) -> templates.LetterText:
    row = session.scalars(
        select(LetterTemplate).where(LetterTemplate.kind == kind).order_by(LetterTemplate.version.desc()).limit(1)
    ).first()
    if row is None:
        return templates.default_text(kind)
    try:
        return templates.parse(kind, row.body, row.version)
    except templates.TemplateProblem as exc:
        raise ServiceError(f"The {kind} template version {row.version} can no longer be used ({exc}); "
                           "save a corrected version") from None


def _check_kind(kind: str) -> str:
    value = (kind or "").strip().lower()
    if value not in KINDS:
        raise InvalidInput("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    return value


def placeholders(kind: str) -> dict[str, str]:
    """The placeholders a template of ``kind`` may name, with what each stands for (for the editor)."""
    return templates.allowed_placeholders(_check_kind(kind))


def template(ctx: ServiceContext, kind: str) -> TemplateInfo:
    """The text in use for ``kind``: the newest saved version, else the default file."""
    permissions.require(ctx.actor, permissions.VIEW)
    kind = _check_kind(kind)
    with ctx.unit(write=False) as session:
        row = session.scalars(
            select(LetterTemplate).where(LetterTemplate.kind == kind).order_by(LetterTemplate.version.desc()).limit(1)
        ).first()
        if row is None:
            return TemplateInfo(kind, None, templates.default_body(kind), templates.allowed_placeholders(kind))
        user = session.get(User, row.created_by_id) if row.created_by_id else None
        return TemplateInfo(kind, row.version, row.body, templates.allowed_placeholders(kind),
                            user.username if user else None, row.created_at)


def shipped_template(ctx: ServiceContext, kind: str) -> TemplateInfo:
    """The text Keel ships for ``kind`` (to restore it in the editor; saving it makes a new version)."""
    permissions.require(ctx.actor, permissions.VIEW)
    kind = _check_kind(kind)
    return TemplateInfo(kind, None, templates.default_body(kind), templates.allowed_placeholders(kind))


def template_versions(ctx: ServiceContext, kind: str) -> list[TemplateInfo]:
    """Every saved version of ``kind``, newest first (the default file is not listed)."""
    permissions.require(ctx.actor, permissions.VIEW)
    kind = _check_kind(kind)
    with ctx.unit(write=False) as session:
        users = {u.id: u.username for u in session.scalars(select(User))}
        rows = session.scalars(
            select(LetterTemplate).where(LetterTemplate.kind == kind).order_by(LetterTemplate.version.desc())
        )
        return [TemplateInfo(kind, r.version, r.body, templates.allowed_placeholders(kind),
                             users.get(r.created_by_id) if r.created_by_id else None, r.created_at) for r in rows]


def save_template(ctx: ServiceContext, kind: str, body: str) -> TemplateInfo:
    """Save an admin's edit as the next version; refuse unknown placeholders or sections, naming them."""
    permissions.require(ctx.actor, permissions.MANAGE_SETTINGS)
    kind = _check_kind(kind)
    text_field(body, "body", max_len=100_000, multiline=True)
    try:
        templates.parse(kind, body)
    except templates.TemplateProblem as exc:
        raise InvalidInput("body", str(exc)) from None
    try:
        with ctx.unit() as session:
            latest = session.scalar(select(func.max(LetterTemplate.version)).where(LetterTemplate.kind == kind)) or 0
            row = LetterTemplate(kind=kind, version=latest + 1, body=body, created_by_id=ctx.actor.user_id)
            session.add(row)
            session.flush()
            audit.record(session, ctx.actor, "letter_template.saved", entity="letter_template", entity_id=row.id,
                         details={"kind": kind, "version": row.version})
            return TemplateInfo(kind, row.version, body, templates.allowed_placeholders(kind), ctx.actor.username,
                                row.created_at)
    except StaleDataError:
        raise Conflict(f"The {kind} template") from None
    except Exception as exc:  # two admins saving at once: the unique (kind, version) refuses one
        if "unique" in str(exc).lower() or "duplicate" in str(exc).lower():
            raise Conflict(f"The {kind} template") from None
        raise


#: Loans tried, most past due first, when a template preview picks its own sample loan.
PREVIEW_CANDIDATES = 12


def preview_template(
    ctx: ServiceContext, kind: str, body: str, loan_number: str | None = None
) -> RenderedLetter:
    """An unsaved template edit rendered for a sample loan (nothing is recorded): the editor's live preview.

    With no ``loan_number`` the sample is a loan that would get this kind of
    letter today: for a collection letter the most past-due active loan that
    may be sent one (hardship, dispute, cease-contact and attorney flags are
    respected here too), for ``paid-in-full`` a paid-off loan, otherwise an
    active loan.  A template problem is refused with field ``body``, naming
    the placeholder or section; no loan that fits with field ``loan_number``.
    """
    permissions.require(ctx.actor, permissions.VIEW)
    kind = _check_kind(kind)
    try:
        text = templates.parse(kind, body)
    except templates.TemplateProblem as exc:
        raise InvalidInput("body", str(exc)) from None
    with ctx.unit(write=False) as session:
        today = business_date(session)
        lender = _lender(session)
        if loan_number and loan_number.strip():
            loans = [load_loan(session, loan_number.strip())]
        else:
            query = select(Loan).join(LoanState, LoanState.loan_id == Loan.id)
            if kind == "paid-in-full":
                query = query.where(LoanState.status == "paid_off").order_by(Loan.id.desc())
            elif kind in COLLECTION_KINDS:
                query = query.where(Loan.status == "active", LoanState.status == "active",
                                    LoanState.days_past_due > 0, Loan.hardship.is_(False), Loan.dispute.is_(False))
                if kind == "validation-notice" and not _reg_f_everywhere(session):
                    query = query.where(Loan.reg_f_applies.is_(True))
                query = query.order_by(LoanState.days_past_due.desc(), Loan.id)
            else:
                query = query.where(Loan.status == "active", LoanState.status == "active").order_by(Loan.id)
            loans = list(session.scalars(query.limit(PREVIEW_CANDIDATES)))
        prepared: _Prepared | None = None
        reason = ""
        for loan in loans:
            try:
                prepared = _prepare(session, kind, loan, today, None, lender, text, {})
                break
            except _Drop as drop:
                reason = drop.reason
        if prepared is None:
            if loan_number and loans:
                raise InvalidInput("loan_number", f"no {kind} for {loans[0].loan_number}: {reason}")
            raise InvalidInput("loan_number", f"no loan on file would get a {kind} today; type a loan number "
                                              "to preview the letter for it")
    rendered = documents.render_one(prepared.spec)
    return RenderedLetter(kind, prepared.loan_number, prepared.spec.letter_date, rendered.pdf,
                          dict(prepared.figures), rendered.pages[0], None, _sha(rendered.pdf))


def _reg_f_everywhere(session: Session) -> bool:
    return (get_setting(session, SETTING_REGF_ALL_LOANS) or "").strip().lower() in ("true", "1", "yes", "on")


# ---------------------------------------------------------------- building one letter


@dataclass
class _Prepared:
    loan_id: int
    loan_number: str
    kind: str
    spec: documents.LetterSpec
    figures: dict[str, Any]
    template_version: int | None


def _letter_date(lo: _Loan, letter_date: _dt.date | None) -> _dt.date:
    day = lo.today if letter_date is None else letter_date
    if day > lo.today:
        raise InvalidInput("letter_date", f"{day} is after the open business date {lo.today}")
    if day < lo.first_day:
        raise InvalidInput("letter_date", f"{day} is before the loan's first day on Keel {lo.first_day}")
    return day


def _prepare(
    session: Session,
    kind: str,
    loan: Loan,
    today: _dt.date,
    letter_date: _dt.date | None,
    lender: Lender,
    text: templates.LetterText,
    opts: dict[str, Any],
    *,
    trigger_check: bool = False,
    triggers: dict[tuple[int, str], int] | None = None,
) -> _Prepared:
    """The figures and the spec of one letter; raises _Drop if it must not be sent."""
    lo = _Loan(session, loan, open_book(session, loan), today)
    day = _letter_date(lo, letter_date)
    person = _borrower(session, loan)
    recipient = _recipient(person)
    state, _ = lo.state(day)
    snap = lo.snap(day)
    if trigger_check and kind in COLLECTION_KINDS and loan.status == "active":
        # A queued letter is re-checked at print time: a loan cured since is dropped.
        trigger = _trigger_days(loan, kind, triggers)
        if snap.days_past_due < trigger:
            if snap.days_past_due == 0:
                raise _Drop("cured: the loan is current")
            raise _Drop(f"cured: {snap.days_past_due} days past due now, below the {trigger}-day trigger")
    _check_allowed(session, lo, kind, person, snap)
    if trigger_check:
        _cycle_check(session, lo, kind, day, opts.get("cycle_due"), person)
    figures, values, reference = _FIGURES[kind](lo, day, {**opts, "lender": lender})
    all_values = {**_common_values(lender, recipient, loan, day, state, snap), **values}
    spec = documents.LetterSpec(
        kind=kind,
        letter_date=day,
        loan_number=loan.loan_number,
        lender=lender,
        recipient=recipient,
        subject=templates.fill(text.section("subject"), all_values).strip(),
        text={name: templates.to_markup(text.section(name), all_values) for name in ("opening", "middle", "closing")},
        figures=figures,
        reference=tuple(reference),
        debt_collector=kind in ("late-notice", "default-notice", "statement", "payment-reminder")
        and _reg_f(session, loan),
    )
    recorded = {"letter_date": day, "loan_number": loan.loan_number, "borrower": recipient.name,
                "address": list(recipient.address_lines), **figures}
    return _Prepared(loan.id, loan.loan_number, kind, spec, recorded, text.version)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render_letter(
    ctx: ServiceContext,
    kind: str,
    loan_number: str,
    letter_date: _dt.date | None = None,
    *,
    good_through: _dt.date | None = None,
    cure_days: int | None = None,
    template_body: str | None = None,
) -> RenderedLetter:
    """Render one letter as PDF bytes without recording it (a preview for the desktop's print dialog).

    ``template_body`` previews an unsaved template edit.  Raises InvalidInput
    (field ``kind``) when the letter must not be sent for this loan, with the reason.
    """
    permissions.require(ctx.actor, permissions.VIEW)
    kind = _check_kind(kind)
    with ctx.unit(write=False) as session:
        today = business_date(session)
        loan = load_loan(session, loan_number)
        lender = _lender(session)
        if template_body is not None:
            try:
                text = templates.parse(kind, template_body)
            except templates.TemplateProblem as exc:
                raise InvalidInput("body", str(exc)) from None
        else:
            text = _current_template(session, kind)
        try:
            prepared = _prepare(session, kind, loan, today, letter_date, lender, text,
                                {"good_through": good_through, "cure_days": cure_days})
        except _Drop as drop:
            raise InvalidInput("kind", f"no {kind} for {loan.loan_number}: {drop.reason}") from None
    rendered = documents.render_one(prepared.spec)
    figures = {k: v for k, v in prepared.figures.items()}
    return RenderedLetter(kind, prepared.loan_number, prepared.spec.letter_date, rendered.pdf, figures,
                          rendered.pages[0], prepared.template_version, _sha(rendered.pdf))


def _record(session: Session, ctx: ServiceContext, prepared: _Prepared, pdf: bytes, run_id: str | None) -> Letter:
    digest = _sha(pdf)
    row = Letter(
        loan_id=prepared.loan_id,
        kind=prepared.kind,
        letter_date=prepared.spec.letter_date,
        user_id=ctx.actor.user_id,
        figures=prepared.figures,
        template_version=prepared.template_version,
        file_hash=digest,
        pdf=pdf,
        run_id=run_id,
    )
    session.add(row)
    session.flush()
    audit.record(session, ctx.actor, "letter.issued", entity="letter", entity_id=row.id, loan_id=prepared.loan_id,
                 details={"kind": prepared.kind, "letter_date": prepared.spec.letter_date.isoformat(),
                          "file_hash": digest, "run_id": run_id, "template_version": prepared.template_version})
    return row


def _fulfil_queue(session: Session, loan_id: int, kind: str, letter_id: int) -> None:
    """Queued requests for the same letter are met by this one (issued; printed once the printer took it)."""
    for item in session.scalars(
        select(LetterQueueItem).where(LetterQueueItem.loan_id == loan_id, LetterQueueItem.kind == kind,
                                      LetterQueueItem.status == "queued")
    ):
        item.status = "issued"
        item.letter_id = letter_id


def _as_record(row: Letter, loan_number: str, username: str, *, with_pdf: bool = False) -> LetterRecord:
    return LetterRecord(row.id, loan_number, row.kind, row.letter_date, username, _stored(row.figures),
                        row.template_version, row.file_hash, row.run_id, row.created_at, len(row.pdf),
                        bytes(row.pdf) if with_pdf else None)


def _stored(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures as the database keeps them (JSON strings), whether just written or read back."""
    from app.db.types import JSONText

    stored: dict[str, Any] = json.loads(JSONText().process_bind_param(figures, None))  # type: ignore[arg-type]
    return stored


def issue_letter(
    ctx: ServiceContext,
    kind: str,
    loan_number: str,
    letter_date: _dt.date | None = None,
    *,
    good_through: _dt.date | None = None,
    cure_days: int | None = None,
) -> LetterRecord:
    """Render one letter and record it in the account's history (figures, SHA-256, PDF, user, audit)."""
    permissions.require(ctx.actor, permissions.PRINT_LETTERS)
    kind = _check_kind(kind)
    try:
        with ctx.unit() as session:
            today = business_date(session)
            loan = load_loan(session, loan_number, lock=True)
            lender = _lender(session)
            text = _current_template(session, kind)
            try:
                prepared = _prepare(session, kind, loan, today, letter_date, lender, text,
                                    {"good_through": good_through, "cure_days": cure_days})
            except _Drop as drop:
                raise InvalidInput("kind", f"no {kind} for {loan.loan_number}: {drop.reason}") from None
            pdf = documents.render_one(prepared.spec).pdf
            row = _record(session, ctx, prepared, pdf, None)
            _fulfil_queue(session, loan.id, kind, row.id)
            session.flush()
            return _as_record(row, loan.loan_number, ctx.actor.username, with_pdf=True)
    except StaleDataError:
        raise Conflict("The letter queue") from None


# ---------------------------------------------------------------- batches


@dataclass
class _Job:
    loan_id: int
    kind: str
    queue_ids: list[int]
    prepared: _Prepared | None = None
    #: A queued statement's or reminder's cycle: the latest payment due date its queue items are for.
    cycle_due: _dt.date | None = None
    pdf: bytes = b""
    pages: int = 0


def _run(
    ctx: ServiceContext,
    jobs_of: Any,
    letter_date: _dt.date | None,
    progress: Progress | None,
    cancel: CancelToken | None,
    duplex: bool,
    opts: dict[str, Any],
    action: str,
) -> LetterRun:
    report = progress or no_progress
    run_id = uuid.uuid4().hex
    dropped: list[tuple[Dropped, list[int]]] = []
    ready: list[_Job] = []
    # 1. Read and prepare every letter (read-only unit: no lock held while rendering).
    with ctx.unit(write=False) as session:
        today = business_date(session)
        day = today if letter_date is None else letter_date
        if day > today:
            raise InvalidInput("letter_date", f"{day} is after the open business date {today}")
        lender = _lender(session)
        texts: dict[str, templates.LetterText] = {}
        triggers: dict[tuple[int, str], int] = {}
        jobs: list[_Job] = jobs_of(session, dropped)
        total = len(jobs)
        for done, job in enumerate(jobs):
            if cancel is not None and cancel.cancelled:
                raise LettersCancelled()
            loan = session.get(Loan, job.loan_id)
            assert loan is not None
            report(done, total * 2, f"Preparing {job.kind} for {loan.loan_number}")
            if job.kind not in texts:
                texts[job.kind] = _current_template(session, job.kind)
            try:
                job_opts = {**opts, "cycle_due": job.cycle_due} if job.cycle_due is not None else opts
                job.prepared = _prepare(session, job.kind, loan, today, day, lender, texts[job.kind], job_opts,
                                        trigger_check=action == "queued", triggers=triggers)
                ready.append(job)
            except _Drop as drop:
                dropped.append((Dropped(loan.loan_number, job.kind, drop.reason,
                                        job.queue_ids[0] if job.queue_ids else None), job.queue_ids))
            except InvalidInput as exc:
                dropped.append((Dropped(loan.loan_number, job.kind, str(exc),
                                        job.queue_ids[0] if job.queue_ids else None), job.queue_ids))
            session.expunge_all()  # a small identity map keeps every later query fast
    # 2. Render each letter on its own (the record) and all together (the print file).
    total = len(ready) * 2 if ready else 1
    for done, job in enumerate(ready):
        if cancel is not None and cancel.cancelled:
            raise LettersCancelled()
        assert job.prepared is not None
        report(len(ready) + done if ready else 0, total, f"Rendering {job.kind} for {job.prepared.loan_number}")
        rendered = documents.render_one(job.prepared.spec)
        job.pdf, job.pages = rendered.pdf, rendered.pages[0]
    merged = b""
    pages = 0
    if ready:
        if cancel is not None and cancel.cancelled:
            raise LettersCancelled()
        # The stored documents joined, not a second rendering: the printed bytes are the hashed ones.
        merged, pages = _join_pdfs([job.pdf for job in ready], duplex=duplex)
    # 3. Record everything in one short transaction.
    records: list[LetterRecord] = []
    try:
        with ctx.unit() as session:
            for skipped, queue_ids in dropped:
                for queue_id in queue_ids:
                    item = session.get(LetterQueueItem, queue_id)
                    if item is None or item.status != "queued":
                        raise Conflict(f"Letter queue item {queue_id}")
                    item.status = "dropped"
                    item.reason = f"{item.reason + ' | ' if item.reason else ''}dropped {day}: {skipped.reason}"[:200]
                loan_id = session.scalar(select(Loan.id).where(Loan.loan_number == skipped.loan_number))
                audit.record(session, ctx.actor, "letter.dropped", entity="letter_queue",
                             entity_id=skipped.queue_id, loan_id=loan_id,
                             details={"kind": skipped.kind, "reason": skipped.reason, "run_id": run_id})
            for job in ready:
                assert job.prepared is not None
                for queue_id in job.queue_ids:
                    item = session.get(LetterQueueItem, queue_id)
                    if item is None or item.status != "queued":
                        raise Conflict(f"Letter queue item {queue_id}")
                row = _record(session, ctx, job.prepared, job.pdf, run_id)
                for queue_id in job.queue_ids:
                    item = session.get(LetterQueueItem, queue_id)
                    assert item is not None
                    item.status = "issued"
                    item.letter_id = row.id
                _fulfil_queue(session, job.loan_id, job.kind, row.id)
                records.append(_as_record(row, job.prepared.loan_number, ctx.actor.username))
            audit.record(session, ctx.actor, f"letter_run.{action}", entity="letter_run", entity_id=run_id,
                         details={"letter_date": day.isoformat(), "printed": len(records), "dropped": len(dropped),
                                  "pages": pages, "file_hash": _sha(merged) if merged else None})
            session.flush()
    except StaleDataError:
        raise Conflict("The letter queue") from None
    report(1, 1, f"{len(records)} letters ready to print")
    return LetterRun(run_id, day, merged, tuple(records), tuple(d for d, _ in dropped), pages)


_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}


def run_queued(
    ctx: ServiceContext,
    letter_date: _dt.date | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    *,
    duplex: bool = False,
) -> LetterRun:
    """Print every queued letter: re-checked now, figures as of ``letter_date``, one merged PDF.

    Ordered by kind, then loan number.  A cured loan, a loan whose flags stop
    collection letters, or a late notice superseded by a default notice for
    the same loan is dropped with its reason (``LetterRun.dropped``; the queue
    item's status becomes ``dropped``).  ``duplex`` adds a blank page after a
    letter with an odd number of pages so each letter starts on a new sheet.
    """
    permissions.require(ctx.actor, permissions.PRINT_LETTERS)

    def jobs_of(session: Session, dropped: list[tuple[Dropped, list[int]]]) -> list[_Job]:
        rows = session.execute(
            select(LetterQueueItem.id, LetterQueueItem.loan_id, LetterQueueItem.kind, Loan.loan_number,
                   LetterQueueItem.cycle_due)
            .join(Loan, Loan.id == LetterQueueItem.loan_id)
            .where(LetterQueueItem.status == "queued")
            .order_by(Loan.loan_number, LetterQueueItem.id)
        ).all()
        by_key: dict[tuple[int, str], _Job] = {}
        numbers: dict[int, str] = {}
        for queue_id, loan_id, kind, number, cycle_due in rows:
            numbers[loan_id] = number
            job = by_key.setdefault((loan_id, kind), _Job(loan_id, kind, []))
            job.queue_ids.append(queue_id)
            if cycle_due is not None and (job.cycle_due is None or cycle_due > job.cycle_due):
                # Several cycles queued and not yet printed: one statement (or reminder) meets them all.
                job.cycle_due = cycle_due
        jobs: list[_Job] = []
        for (loan_id, kind), job in by_key.items():
            if kind not in _FIGURES:
                # A product trigger may name a letter Keel has no document for.
                dropped.append((Dropped(numbers[loan_id], kind, f"Keel has no letter called {kind!r}",
                                        job.queue_ids[0]), job.queue_ids))
                continue
            if kind == "late-notice" and (loan_id, "default-notice") in by_key:
                dropped.append((Dropped(numbers[loan_id], kind, "superseded by the default notice in the same run",
                                        job.queue_ids[0]), job.queue_ids))
                continue
            jobs.append(job)
        jobs.sort(key=lambda j: (_KIND_ORDER.get(j.kind, 99), numbers[j.loan_id]))
        return jobs

    return _run(ctx, jobs_of, letter_date, progress, cancel, duplex, {}, "queued")


def print_selected(
    ctx: ServiceContext,
    kind: str,
    loan_numbers: Sequence[str],
    letter_date: _dt.date | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    *,
    duplex: bool = False,
    good_through: _dt.date | None = None,
    cure_days: int | None = None,
) -> LetterRun:
    """Print ``kind`` for the loans chosen in the collections view, in the order given.

    A loan that must not get the letter is dropped with its reason; queued
    requests for the same letter are marked printed.
    """
    permissions.require(ctx.actor, permissions.PRINT_LETTERS)
    kind = _check_kind(kind)
    numbers = list(dict.fromkeys(n.strip() for n in loan_numbers if n and n.strip()))
    if not numbers:
        raise InvalidInput("loans", "choose at least one loan")

    def jobs_of(session: Session, dropped: list[tuple[Dropped, list[int]]]) -> list[_Job]:
        found = dict(session.execute(select(Loan.loan_number, Loan.id).where(Loan.loan_number.in_(numbers))).all())
        jobs = []
        for number in numbers:
            if number not in found:
                dropped.append((Dropped(number, kind, f"no loan numbered {number!r}"), []))
            else:
                jobs.append(_Job(found[number], kind, []))
        return jobs

    return _run(ctx, jobs_of, letter_date, progress, cancel, duplex,
                {"good_through": good_through, "cure_days": cure_days}, "selected")


# ---------------------------------------------------------------- printing the stored documents


def _join_pdfs(pdfs: Sequence[bytes], *, duplex: bool = False) -> tuple[bytes, int]:
    """The PDFs joined page for page (pypdf), and the page count.

    ``duplex`` adds a blank page after a document with an odd number of pages
    (not after the last), so each starts on a new sheet when printed two-sided.
    """
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for index, data in enumerate(pdfs):
        reader = PdfReader(io.BytesIO(data))
        for page in reader.pages:
            writer.add_page(page)
        if duplex and len(reader.pages) % 2 and index < len(pdfs) - 1:
            box = reader.pages[-1].mediabox
            writer.add_blank_page(width=box.width, height=box.height)
    if not pdfs:
        return b"", 0
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), len(writer.pages)


@dataclass(frozen=True)
class PrintBatch:
    """Issued letters waiting for the printer: their stored PDFs joined, in print order."""

    pdf_bytes: bytes  # empty when nothing waits
    pages: int
    letter_ids: tuple[int, ...]
    letters: tuple[LetterRecord, ...]


@dataclass(frozen=True)
class LettersPrinted:
    """What :func:`mark_printed` recorded."""

    letter_ids: tuple[int, ...]
    queue_items: int
    contacts: int  # collection letters logged as a contact


def _checked_pdf(row: Letter) -> bytes:
    data = bytes(row.pdf)
    if _sha(data) != row.file_hash:
        raise ServiceError(f"Letter {row.id}'s stored file does not match its recorded hash; do not send it "
                           "and report it to an administrator")
    return data


def queued_batch(ctx: ServiceContext, *, duplex: bool = False) -> PrintBatch:
    """Every issued queued letter's stored PDF (hash checked), joined in kind then loan order; records nothing."""
    permissions.require(ctx.actor, permissions.PRINT_LETTERS)
    with ctx.unit(write=False) as session:
        users = {u.id: u.username for u in session.scalars(select(User))}
        rows = session.execute(
            select(Letter, Loan.loan_number)
            .join(LetterQueueItem, LetterQueueItem.letter_id == Letter.id)
            .join(Loan, Loan.id == Letter.loan_id)
            .where(LetterQueueItem.status == "issued")
            .distinct()
        ).all()
        ordered = sorted(rows, key=lambda r: (_KIND_ORDER.get(r[0].kind, 99), r[1], r[0].id))
        pdfs = [_checked_pdf(row) for row, _ in ordered]
        records = tuple(_as_record(row, number, users.get(row.user_id, "")) for row, number in ordered)
    data, pages = _join_pdfs(pdfs, duplex=duplex)
    return PrintBatch(data, pages, tuple(r.id for r in records), records)


def mark_printed(ctx: ServiceContext, letter_ids: Sequence[int]) -> LettersPrinted:
    """Say these recorded letters went to the printer: one transaction, audited.

    Queue items waiting on them become ``printed``; each collection letter
    (late, default, validation notice) is logged as a contact by letter, so
    the contact history shows the notice beside the calls.
    """
    permissions.require(ctx.actor, permissions.PRINT_LETTERS)
    ids = list(dict.fromkeys(int(i) for i in letter_ids))
    if not ids:
        raise InvalidInput("letters", "choose at least one letter")
    from app.db.models import Contact

    now = _dt.datetime.now(_dt.timezone.utc)
    items = contacts = 0
    try:
        with ctx.unit() as session:
            for letter_id in ids:
                row = session.get(Letter, letter_id)
                if row is None:
                    raise NotFound(f"letter: no letter {letter_id}")
                waiting = list(session.scalars(
                    select(LetterQueueItem).where(LetterQueueItem.letter_id == row.id,
                                                  LetterQueueItem.status == "issued")))
                for item in waiting:
                    item.status = "printed"
                items += len(waiting)
                contact_id = None
                if row.kind in COLLECTION_KINDS:
                    party = session.scalars(
                        select(LoanParty).where(LoanParty.loan_id == row.loan_id, LoanParty.role == "borrower")
                        .order_by(LoanParty.id).limit(1)).first()
                    title = row.kind.replace("-", " ").capitalize()
                    contact = Contact(loan_id=row.loan_id, person_id=party.person_id if party else None, at=now,
                                      channel="letter", outcome="contacted",
                                      note=f"{title} dated {row.letter_date.isoformat()} printed for mailing "
                                           f"(letter {row.id})",
                                      user_id=ctx.actor.user_id)
                    session.add(contact)
                    session.flush()
                    contact_id = contact.id
                    contacts += 1
                audit.record(session, ctx.actor, "letter.printed", entity="letter", entity_id=row.id,
                             loan_id=row.loan_id,
                             details={"kind": row.kind, "file_hash": row.file_hash, "queue_items": len(waiting),
                                      "contact_id": contact_id})
            session.flush()
    except StaleDataError:
        raise Conflict("The letter queue") from None
    return LettersPrinted(tuple(ids), items, contacts)


# ---------------------------------------------------------------- history and reprint


def letter_history(ctx: ServiceContext, loan_number: str) -> list[LetterRecord]:
    """Every letter recorded for a loan, newest first."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        return letters_of(session, load_loan(session, loan_number))


def letters_of(session: Session, loan: Loan) -> list[LetterRecord]:
    """:func:`letter_history` inside the caller's unit of work (the account page): one query."""
    rows = session.execute(
        select(Letter, User.username).outerjoin(User, User.id == Letter.user_id)
        .where(Letter.loan_id == loan.id).order_by(Letter.letter_date.desc(), Letter.id.desc())
    ).all()
    return [_as_record(row, loan.loan_number, username or "") for row, username in rows]


def queued_of(session: Session, loan: Loan) -> list[QueuedLetter]:
    """The loan's letters still waiting for a letter run, oldest first (the account page): one query."""
    rows = session.execute(
        select(LetterQueueItem.id, LetterQueueItem.kind, LetterQueueItem.queued_on, LetterQueueItem.reason,
               LetterQueueItem.cycle_due)
        .where(LetterQueueItem.loan_id == loan.id, LetterQueueItem.status == "queued")
        .order_by(LetterQueueItem.queued_on, LetterQueueItem.id)
    ).all()
    return [QueuedLetter(*row) for row in rows]


def reprint(ctx: ServiceContext, letter_id: int) -> bytes:
    """The letter's stored PDF, byte for byte as sent, after checking its SHA-256."""
    permissions.require(ctx.actor, permissions.PRINT_LETTERS)
    with ctx.unit() as session:
        row = session.get(Letter, letter_id)
        if row is None:
            raise NotFound(f"letter: no letter {letter_id}")
        data = _checked_pdf(row)
        audit.record(session, ctx.actor, "letter.reprinted", entity="letter", entity_id=row.id, loan_id=row.loan_id,
                     details={"kind": row.kind, "file_hash": row.file_hash})
        return data


__all__ = [
    "COLLECTION_KINDS",
    "CURE_DAYS",
    "KINDS",
    "PAYOFF_GOOD_DAYS",
    "Dropped",
    "LetterRecord",
    "LetterRun",
    "LettersPrinted",
    "PrintBatch",
    "QueuedLetter",
    "LettersCancelled",
    "RenderedLetter",
    "TemplateInfo",
    "_business_days_after",
    "issue_letter",
    "_join_pdfs",
    "letter_history",
    "mark_printed",
    "placeholders",
    "preview_template",
    "print_selected",
    "queued_of",
    "queued_batch",
    "render_letter",
    "reprint",
    "run_queued",
    "save_template",
    "shipped_template",
    "template",
    "template_versions",
    "_validation_period_end",
]
