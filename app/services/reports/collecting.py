"""Collections activity and the promise-kept rate by collector (issue 13, item 1).

For each user who worked accounts in the period:

* contacts logged (``contacts.at`` in the period, by its UTC date; a contact
  replaced by a correction does not count, its correction does) and the
  loans they were about;
* promises to pay made (in the period, dated by the contact they were made
  in; a promise replaced by a correction, or cancelled, does not count) and
  the amount promised;
* promises that fell due in the period and that end of day has settled:
  kept in full, partly kept, broken; the **promise-kept rate** is kept as a
  percentage of those settled (partly kept counts as not kept) -- the
  dashboard's promise-kept rate is the same query over every collector;
* the money paid on them (what end of day counted for each promise).

A promise belongs to the user who recorded it.  The collector filter picks
that user; product and status filters pick the loans (as they are now).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session, aliased

from app.db.models import Contact, Promise, User
from app.domain.money import ZERO
from app.reports.tabular import Column, Table
from app.services import permissions
from app.services.context import ServiceContext
from app.services.reports.common import (
    Field,
    Filters,
    add,
    money_field,
    money_sum,
    percent,
    period_header,
    resolve_filters,
    resolve_period,
    tabulate,
)

SETTLED = ("kept", "partly_kept", "broken")
NOT_PROMISES = ("corrected", "cancelled")


def _instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _standing() -> ColumnElement[bool]:
    correction = aliased(Contact)
    return ~exists().where(correction.corrects_id == Contact.id)


def promise_outcomes(session: Session, first: date, last: date,
                     filters: Filters | None = None) -> dict[int, dict[str, tuple[int, Decimal]]]:
    """Settled promises due from ``first`` to ``last``: user -> status -> (promises, paid on them).

    The dashboard's promise-kept rate adds these up over every user.
    """
    filters = filters or Filters()
    conditions = [Promise.due_date >= first, Promise.due_date <= last, Promise.status.in_(SETTLED),
                  *filters.on_loan(Promise.loan_id)]
    if filters.collector_id is not None:
        conditions.append(Promise.created_by_id == filters.collector_id)
    out: dict[int, dict[str, tuple[int, Decimal]]] = defaultdict(dict)
    for user_id, status, count, paid in session.execute(
        select(Promise.created_by_id, Promise.status, func.count(), money_sum(Promise.paid_amount))
        .where(*conditions).group_by(Promise.created_by_id, Promise.status)
    ):
        out[int(user_id)][status] = (int(count), paid)
    return dict(out)


@dataclass(frozen=True)
class CollectorRow:
    user: str
    name: str
    contacts: int
    loans_contacted: int
    promises_made: int
    promised: Decimal
    promises_settled: int
    kept: int
    partly_kept: int
    broken: int
    kept_percent: Decimal | None  # None: nothing settled
    paid_on_promises: Decimal


@dataclass(frozen=True)
class CollectorTotals:
    contacts: int
    loans_contacted: int  # distinct loans over every collector
    promises_made: int
    promised: Decimal
    promises_settled: int
    kept: int
    partly_kept: int
    broken: int
    kept_percent: Decimal | None
    paid_on_promises: Decimal


FIELDS = (
    Field("user", Column("Collector")),
    Field("name", Column("Name")),
    Field("contacts", Column("Contacts", "int")),
    Field("loans_contacted", Column("Loans contacted", "int")),
    Field("promises_made", Column("Promises made", "int")),
    money_field("promised", "Promised"),
    Field("promises_settled", Column("Promises due", "int")),
    Field("kept", Column("Kept", "int")),
    Field("partly_kept", Column("Partly kept", "int")),
    Field("broken", Column("Broken", "int")),
    Field("kept_percent", Column("Kept %", "percent"), percent=True),
    money_field("paid_on_promises", "Paid on promises"),
)


@dataclass(frozen=True)
class CollectionsActivity:
    start: date
    end: date
    rows: tuple[CollectorRow, ...]
    totals: CollectorTotals
    notes: tuple[str, ...]
    header: tuple[tuple[str, str], ...]

    def table(self) -> Table:
        return tabulate(f"Collections activity {self.start} to {self.end}", self.header, self.notes, FIELDS,
                        self.rows, self.totals)


def collections_activity(ctx: ServiceContext, start: date | None = None, end: date | None = None, *,
                         product: str | None = None, collector: str | None = None,
                         status: str | None = None) -> CollectionsActivity:
    """Contacts, promises made and the promise-kept rate, by collector, for the period."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False, snapshot=True) as session:
        first, last = resolve_period(session, start, end)
        filters = resolve_filters(session, product, collector, status)
        begin, finish = _instant(first), _instant(last + timedelta(days=1))
        contact_where: list[Any] = [Contact.at >= begin, Contact.at < finish, _standing(),
                                    *filters.on_loan(Contact.loan_id)]
        made_at = func.coalesce(Contact.at, Promise.created_at)  # when the borrower promised
        promise_where: list[Any] = [made_at >= begin, made_at < finish,
                                    Promise.status.not_in(NOT_PROMISES), *filters.on_loan(Promise.loan_id)]
        if filters.collector_id is not None:
            contact_where.append(Contact.user_id == filters.collector_id)
            promise_where.append(Promise.created_by_id == filters.collector_id)
        contacts = {int(u): (int(n), int(loans)) for u, n, loans in session.execute(
            select(Contact.user_id, func.count(), func.count(func.distinct(Contact.loan_id)))
            .where(*contact_where).group_by(Contact.user_id))}
        all_loans = int(session.scalar(select(func.count(func.distinct(Contact.loan_id))).where(*contact_where)) or 0)
        made = {int(u): (int(n), amount) for u, n, amount in session.execute(
            select(Promise.created_by_id, func.count(), money_sum(Promise.amount))
            .outerjoin(Contact, Contact.id == Promise.contact_id)
            .where(*promise_where).group_by(Promise.created_by_id))}
        settled = promise_outcomes(session, first, last, filters)
        users = set(contacts) | set(made) | set(settled)
        names = {int(i): (u, n) for i, u, n in session.execute(
            select(User.id, User.username, User.full_name).where(User.id.in_(users)))} if users else {}
    rows = []
    for user_id in sorted(users, key=lambda i: names.get(i, ("", ""))[0]):
        outcome = settled.get(user_id, {})
        kept, partly, broken = (outcome.get(s, (0, ZERO))[0] for s in SETTLED)
        done = kept + partly + broken
        username, full = names.get(user_id, (str(user_id), ""))
        rows.append(CollectorRow(
            username, full, *contacts.get(user_id, (0, 0)), *made.get(user_id, (0, ZERO)), done, kept, partly,
            broken, percent(kept, done) if done else None, add(v[1] for v in outcome.values())))
    done = sum(r.promises_settled for r in rows)
    kept_total = sum(r.kept for r in rows)
    totals = CollectorTotals(
        sum(r.contacts for r in rows), all_loans, sum(r.promises_made for r in rows), add(r.promised for r in rows),
        done, kept_total, sum(r.partly_kept for r in rows), sum(r.broken for r in rows),
        percent(kept_total, done) if done else None, add(r.paid_on_promises for r in rows))
    notes = ("Contacts by the UTC date they were logged; promises made by the day they were recorded; promises due "
             "by their due date, once end of day has settled them. Kept % is kept in full of those settled.",)
    return CollectionsActivity(first, last, tuple(rows), totals, notes, period_header(first, last, filters))


__all__ = ["CollectionsActivity", "CollectorRow", "CollectorTotals", "collections_activity", "promise_outcomes"]
