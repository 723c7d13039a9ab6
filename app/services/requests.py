"""Mortgage borrowers' written requests and their deadlines: the Reg X / Reg Z worklist (issue 11).

A written notice of error (12 CFR 1024.35), a written request for
information (1024.36) or a request for a payoff statement (Reg Z
1026.36(c)(3)) is logged with the day it was received; its acknowledgment and
response due dates are worked out then by
:func:`app.domain.servicing_requests.due_dates` and kept.  The worklist lists
every request with what it still needs and by when, the earliest first, and
says which are overdue on the open business date.  Marking a request
acknowledged or answered is one audited transaction.

Only loans secured by real estate (collateral kind ``real_estate``) take these
requests: Regulation X covers federally related mortgage loans and 1026.36(c)
credit secured by a dwelling.  Oral requests are not notices under 1024.35 and
1024.36 (they must be written), so they are logged as contacts instead.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError

from app.db.models import (
    SERVICING_REQUEST_KINDS,
    SERVICING_REQUEST_SUBJECTS,
    Collateral,
    Loan,
    ServicingRequest,
    User,
)
from app.domain.servicing_requests import (
    DueDates,
    RequestRuleError,
    due_dates,
    next_step,
)
from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.errors import Conflict, InvalidInput
from app.services.fields import LONG_TEXT, text_field
from app.services.ledger import business_date, load_loan

KINDS = SERVICING_REQUEST_KINDS
SUBJECTS = SERVICING_REQUEST_SUBJECTS
STEPS = ("acknowledged", "responded")
#: How far back a received date may be typed (a notice found late in the mail is still logged).
MAX_DAYS_BACK = 366


@dataclass(frozen=True)
class RequestInfo:
    id: int
    loan_number: str
    borrower: str | None
    kind: str
    subject: str | None
    received_on: _dt.date
    description: str
    acknowledge_by: _dt.date | None
    respond_by: _dt.date
    acknowledged_on: _dt.date | None
    acknowledged_by: str | None
    responded_on: _dt.date | None
    responded_by: str | None
    response_note: str | None
    logged_by: str | None
    #: On the open business date: "acknowledge", "respond", or None once answered; by when; overdue or not.
    next_step: str | None
    next_due: _dt.date | None
    overdue: bool
    version: int


def _key(text: str | None) -> str:
    return (text or "").strip().lower().replace("-", "_").replace(" ", "_")


def _kind(kind: str) -> str:
    chosen = _key(kind)
    aliases = {"noe": "notice_of_error", "error": "notice_of_error", "rfi": "information_request",
               "information": "information_request", "payoff": "payoff_request"}
    chosen = aliases.get(chosen, chosen)
    if chosen not in KINDS:
        raise InvalidInput("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    return chosen


def _subject(subject: str | None) -> str | None:
    chosen = _key(subject) or None
    if chosen is not None and chosen not in SUBJECTS:
        raise InvalidInput("subject", f"{subject!r} is not one of {', '.join(SUBJECTS)}")
    return chosen


def _dates(kind: str, subject: str | None, received_on: _dt.date) -> DueDates:
    try:
        return due_dates(kind, subject, received_on)
    except RequestRuleError as exc:
        raise InvalidInput(exc.field, exc.problem) from None


def request_due_dates(ctx: ServiceContext, kind: str, subject: str | None, received_on: _dt.date) -> DueDates:
    """The due dates a request would get (the desk shows them while it is typed; nothing is written)."""
    permissions.require(ctx.actor, permissions.VIEW)
    return _dates(_kind(kind), _subject(subject), received_on)


def _borrower_names(session: Session, loan_ids: set[int]) -> dict[int, str]:
    from app.db.models import LoanParty, Person

    names: dict[int, str] = {}
    if not loan_ids:
        return names
    for loan_id, person in session.execute(
        select(LoanParty.loan_id, Person).join(Person, Person.id == LoanParty.person_id)
        .where(LoanParty.loan_id.in_(loan_ids), LoanParty.role == "borrower").order_by(Person.id)
    ):
        names.setdefault(loan_id, person.display_name)
    return names


def _info(row: ServicingRequest, loan_number: str, borrower: str | None, users: dict[int, str],
          today: _dt.date) -> RequestInfo:
    step = next_step(row.acknowledge_by, row.respond_by, row.acknowledged_on, row.responded_on, today)
    return RequestInfo(
        row.id, loan_number, borrower, row.kind, row.subject, row.received_on, row.description, row.acknowledge_by,
        row.respond_by, row.acknowledged_on, users.get(row.acknowledged_by_id or 0), row.responded_on,
        users.get(row.responded_by_id or 0), row.response_note, users.get(row.user_id), step.step, step.due,
        step.overdue, row.version)


def _users(session: Session) -> dict[int, str]:
    return {u.id: u.username for u in session.scalars(select(User))}


def log_request(
    ctx: ServiceContext,
    loan_number: str,
    kind: str,
    *,
    description: str,
    received_on: _dt.date | None = None,
    subject: str | None = None,
) -> RequestInfo:
    """Log a written request received on ``received_on`` (default: the open business date), with its due dates."""
    permissions.require(ctx.actor, permissions.LOG_REQUEST)
    chosen = _kind(kind)
    about = _subject(subject)
    text = text_field(description, "description", max_len=LONG_TEXT, multiline=True)
    if not text:
        raise InvalidInput("description", "say what the borrower wrote (the error asserted or the information asked "
                                          "for)")
    with ctx.unit() as session:
        today = business_date(session)
        day = today if received_on is None else received_on
        if day > today:
            raise InvalidInput("received_on", f"{day} is after the open business date {today}")
        if day < today - _dt.timedelta(days=MAX_DAYS_BACK):
            raise InvalidInput("received_on", f"{day} is more than a year before the open business date {today}")
        loan = load_loan(session, loan_number)
        secured = session.scalar(select(exists().where(Collateral.loan_id == loan.id,
                                                       Collateral.kind == "real_estate")))
        if not secured:
            raise InvalidInput("loan_number", f"{loan.loan_number} is not secured by real estate; Regulation X "
                                              "requests are for mortgage loans")
        due = _dates(chosen, about, day)
        row = ServicingRequest(loan_id=loan.id, kind=chosen, subject=about, received_on=day, description=text,
                               acknowledge_by=due.acknowledge_by, respond_by=due.respond_by,
                               user_id=ctx.actor.user_id)
        session.add(row)
        session.flush()
        audit.record(session, ctx.actor, "servicing_request.logged", entity="servicing_request", entity_id=row.id,
                     loan_id=loan.id, details={
                         "kind": chosen, "subject": about, "received_on": day.isoformat(),
                         "acknowledge_by": due.acknowledge_by.isoformat() if due.acknowledge_by else None,
                         "respond_by": due.respond_by.isoformat(), "description": text})
        borrower = _borrower_names(session, {loan.id}).get(loan.id)
        return _info(row, loan.loan_number, borrower, _users(session), today)


def mark_request(
    ctx: ServiceContext, request_id: int, step: str, *, on: _dt.date | None = None, note: str | None = None,
) -> RequestInfo:
    """Record that a request was ``acknowledged`` or ``responded`` to on ``on`` (default: the business date)."""
    permissions.require(ctx.actor, permissions.LOG_REQUEST)
    chosen = _key(step)
    chosen = {"acknowledge": "acknowledged", "ack": "acknowledged", "respond": "responded", "answered": "responded",
              "answer": "responded", "response": "responded"}.get(chosen, chosen)
    if chosen not in STEPS:
        raise InvalidInput("step", f"{step!r} is not one of {', '.join(STEPS)}")
    text = text_field(note, "note", max_len=LONG_TEXT, multiline=True)
    try:
        with ctx.unit() as session:
            today = business_date(session)
            row = session.get(ServicingRequest, int(request_id), with_for_update=True)
            if row is None:
                raise InvalidInput("request", f"there is no request {request_id}")
            day = today if on is None else on
            if day > today:
                raise InvalidInput("on", f"{day} is after the open business date {today}")
            if day < row.received_on:
                raise InvalidInput("on", f"{day} is before the request was received, {row.received_on}")
            if row.responded_on is not None:
                raise InvalidInput("request", f"request {row.id} was already answered on {row.responded_on}")
            if chosen == "acknowledged":
                if row.acknowledge_by is None:
                    raise InvalidInput("step", "a payoff statement request needs no acknowledgment; mark it "
                                               "responded when the statement is sent")
                if row.acknowledged_on is not None:
                    raise InvalidInput("request", f"request {row.id} was already acknowledged on "
                                                  f"{row.acknowledged_on}")
                row.acknowledged_on, row.acknowledged_by_id = day, ctx.actor.user_id
            else:
                if text is None:
                    raise InvalidInput("note", "say how it was answered (corrected, no error found, "
                                               "information sent, statement sent)")
                if row.acknowledged_on is not None and day < row.acknowledged_on:
                    raise InvalidInput("on", f"{day} is before it was acknowledged, {row.acknowledged_on}")
                row.responded_on, row.responded_by_id, row.response_note = day, ctx.actor.user_id, text
            session.flush()
            loan = session.get(Loan, row.loan_id)
            assert loan is not None
            due = row.acknowledge_by if chosen == "acknowledged" else row.respond_by
            audit.record(session, ctx.actor, f"servicing_request.{chosen}", entity="servicing_request",
                         entity_id=row.id, loan_id=loan.id, details={
                             "on": day.isoformat(), "due": due.isoformat() if due else None,
                             "late": bool(due and day > due), "note": text})
            return _info(row, loan.loan_number, _borrower_names(session, {loan.id}).get(loan.id), _users(session),
                         today)
    except StaleDataError:
        raise Conflict("This request") from None


def requests(ctx: ServiceContext, *, open_only: bool = False, loan_number: str | None = None) -> list[RequestInfo]:
    """The worklist: open requests by the date their next step is due (earliest first), then answered ones."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        today = business_date(session)
        loan = aliased(Loan)
        query = select(ServicingRequest, loan.loan_number).join(loan, loan.id == ServicingRequest.loan_id)
        if loan_number:
            query = query.where(ServicingRequest.loan_id == load_loan(session, loan_number).id)
        if open_only:
            query = query.where(ServicingRequest.responded_on.is_(None))
        rows = session.execute(query).all()
        names = _borrower_names(session, {r.loan_id for r, _ in rows})
        users = _users(session)
        found = [_info(r, number, names.get(r.loan_id), users, today) for r, number in rows]
    far = _dt.date.max
    return sorted(found, key=lambda i: (i.next_due is None, i.next_due or far,
                                        -(i.responded_on or _dt.date.min).toordinal(), i.id))


__all__ = [
    "KINDS",
    "STEPS",
    "SUBJECTS",
    "RequestInfo",
    "log_request",
    "mark_request",
    "request_due_dates",
    "requests",
]
