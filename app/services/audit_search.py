"""The global audit search: who did what, across every loan and setting (issue 11, item 5).

Managers and administrators (``permissions.VIEW_REPORTS``) filter the audit
trail by user, date range, action and loan, a page at a time, newest first.
One set-based query per page (the ``audit_events.at`` and ``loan_id`` indexes
serve the common filters) plus one count; each record comes back with its
sentence in words (``app/domain/audit_words.py``).  The desktop's Audit view
and ``keel audit`` call :func:`search_audit`; :func:`audit_choices` fills the
view's user and action lists.

Dates are the desk's calendar days: ``start`` and ``end`` are both included,
from local midnight to local midnight, compared with the stored UTC times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, or_, select

from app.db.models import AuditEvent, Loan, User
from app.services import permissions
from app.services.context import ServiceContext
from app.services.errors import InvalidInput
from app.services.fields import search_text
from app.services.search import AuditLine, audit_line, loan_typed

#: The highest page asked for (its offset must fit a 64-bit integer on every database).
MAX_PAGES = 1_000_000_000
#: The most rows one page may hold.
MAX_PAGE = 500


@dataclass(frozen=True)
class AuditPage:
    lines: tuple[AuditLine, ...]
    total: int  # records matching, over all pages
    page: int  # 1-based
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class AuditChoices:
    """What the filters can be: every user (username, full name) and every action code recorded."""

    users: tuple[tuple[str, str], ...]
    actions: tuple[str, ...]


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min).astimezone().astimezone(UTC)


def search_audit(
    ctx: ServiceContext,
    *,
    user: str | None = None,
    start: date | None = None,
    end: date | None = None,
    action: str | None = None,
    loan: str | None = None,
    page: int = 1,
    page_size: int = 100,
) -> AuditPage:
    """One page of audit records matching every filter given, newest first.

    ``action`` is a code (``payment.posted``) or its first part (``payment``:
    every payment action).  ``user`` is a username; ``loan`` a loan number,
    or its digits alone when exactly one loan has them (as payment entry reads it).
    """
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    if start is not None and end is not None and end < start:
        raise InvalidInput("to", f"{end.isoformat()} is before the from date {start.isoformat()}")
    if not 1 <= page_size <= MAX_PAGE:
        raise InvalidInput("page size", f"must be 1 to {MAX_PAGE} records")
    if not 1 <= page <= MAX_PAGES:
        raise InvalidInput("page", f"must be 1 to {MAX_PAGES:,}")
    wanted_user = search_text(user, "user", max_len=64)
    wanted_loan = search_text(loan, "loan", max_len=64)
    wanted_action = search_text(action, "action", max_len=64).lower()
    with ctx.unit(write=False) as session:
        where: list[ColumnElement[bool]] = []
        if wanted_user:
            user_id = session.scalars(select(User.id).where(func.lower(User.username) == wanted_user.lower())).first()
            if user_id is None:
                raise InvalidInput("user", f"{wanted_user!r} is not a user of this database")
            where.append(AuditEvent.user_id == user_id)
        if wanted_loan:
            # As payment entry reads it: exactly, or by its digits when one loan has them ("100118").
            hit = loan_typed(session, wanted_loan)
            loan_id = session.scalars(select(Loan.id).where(Loan.loan_number == hit.loan_number)).first() \
                if hit is not None else None
            if loan_id is None:
                raise InvalidInput("loan", f"{wanted_loan!r} is not a loan number on file")
            where.append(AuditEvent.loan_id == loan_id)
        if wanted_action:
            if "." in wanted_action:
                where.append(AuditEvent.action == wanted_action)
            else:
                where.append(or_(AuditEvent.action == wanted_action, AuditEvent.action.startswith(wanted_action + ".")))
        if start is not None:
            where.append(AuditEvent.at >= _local_midnight(start))
        if end is not None:
            where.append(AuditEvent.at < _local_midnight(end + timedelta(days=1)))
        total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
        rows = session.execute(
            select(AuditEvent, User.username, User.full_name, Loan.loan_number)
            .outerjoin(User, User.id == AuditEvent.user_id)
            .outerjoin(Loan, Loan.id == AuditEvent.loan_id)
            .where(*where)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        lines = tuple(audit_line(event, username, full_name, number) for event, username, full_name, number in rows)
        return AuditPage(lines, int(total), page, page_size)


def audit_choices(ctx: ServiceContext) -> AuditChoices:
    """The users and action codes the audit search can filter by."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False) as session:
        users = tuple((name, full) for name, full in session.execute(
            select(User.username, User.full_name).order_by(User.username)))
        actions = tuple(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
        return AuditChoices(users, actions)


__all__ = ["MAX_PAGE", "AuditChoices", "AuditPage", "audit_choices", "search_audit"]
