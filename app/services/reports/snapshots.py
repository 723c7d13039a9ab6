"""Month-end snapshots: every loan as the close of a month's last day left it (issue 13, item 1).

End of day calls :func:`record_close` in the transaction that closes a day
(which also writes the day's totals, :mod:`.day_totals`); when the day is
the last of its month it writes one row per loan with
one ``INSERT ... SELECT`` from ``loan_states`` and ``loans`` (no query per
loan):

* status (the loan's), delinquency state, bucket, days past due, principal,
  accrued interest, fees, suspense and amount due: the loan's cache as that
  close left it -- the figures the desk sees on the morning of the 1st, so
  days past due are counted that morning (a payment due on the 31st and not
  made is 1 day past due);
* the product and the collector the loan was assigned to then;
* the booked ledger through the month end by ``business_date`` (the sign
  table of :mod:`app.domain.books`): the previous snapshot's booked figures
  plus the entries booked since it, so a month end reads only its own
  month's entries.  Conversion openings are not included (as in
  :func:`app.services.books.booked_sums`); the trial balance adds them.

The table is append-only (revision 0015): a past month never changes, and
work booked later -- a back-dated reversal included -- shows in the month it
was booked.

A month end that passed without a snapshot (a book older than revision 0015,
or one restored from before it) reads as *not available* in the reports until
an administrator writes one with :func:`write_snapshot` (``keel snapshot
--month-end D``):

* if nothing has been booked since that month end closed (the open business
  date is the 1st and no entry is dated after the close), the cache is still
  that close: it is copied exactly as end of day would have (``on_demand``);
* otherwise each loan is **replayed** from the entries booked on or before
  the month end (``replayed``): what the book knew then, under today's
  servicing rules.  Its delinquency state (a day-by-day history) is not
  derived and is left empty; its collector is the one assigned now.  The
  booked figures are exact either way: entries booked by a closed day never
  change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Date, Select, Table, and_, case, exists, func, insert, literal, or_, select
from sqlalchemy.orm import Session, aliased

from app.db.base import utc_now
from app.db.models import (
    CollectionAssignment,
    LedgerEntry,
    Loan,
    LoanState,
    MonthEndSnapshot,
    ProductVersion,
)
from app.db.types import UTCDateTime
from app.domain.books import PARTS
from app.domain.engine import advance, snapshot
from app.domain.terms import terms_from_stored
from app.services import audit, permissions
from app.services.books import booked_sums, part_sum
from app.services.context import CancelToken, Progress, ServiceContext, no_progress
from app.services.errors import InvalidInput, ServiceError
from app.services.ledger import ENGINE_TYPES, Book, business_date, origin_state
from app.services.reports.common import is_month_end, raw
from app.services.reports.day_totals import write_day_totals
from app.services.servicing import OVERRIDE_REASONS

#: booked part -> snapshot column
BOOKED_COLUMNS = {part: f"booked_{part}" for part in PARTS}
_CACHE_COLUMNS = ("principal", "accrued_interest", "fees", "suspense", "amount_due")
_REPLAYED = tuple(sorted(ENGINE_TYPES | {"conversion"}))
CHUNK = 500


def _exists_for(session: Session, day: date) -> bool:
    return bool(session.scalar(select(exists().where(MonthEndSnapshot.month_end == day))))


def record_close(session: Session, day: date) -> int:
    """End of day's one call, in the transaction that closes ``day``: the day's totals
    (:mod:`app.services.reports.day_totals`) and, when ``day`` ends a month, its snapshot.

    Returns the snapshot rows written (0 on any other day).
    """
    write_day_totals(session, day)
    return _record_month_end(session, day)


def _record_month_end(session: Session, day: date) -> int:
    """The snapshot when ``day`` ends a month (:func:`record_close` calls it).

    Returns the rows written (0 on any other day, or when the month end already has its snapshot).
    """
    if not is_month_end(day) or _exists_for(session, day):
        return 0
    return _copy_cache(session, day, "end_of_day")


def _copy_cache(session: Session, day: date, source: str) -> int:
    """One INSERT ... SELECT: every loan's cache, product, collector and booked ledger through ``day``."""
    names, stmt = snapshot_select(session, day, source)
    table = cast(Table, MonthEndSnapshot.__table__)
    session.execute(insert(table).from_select(names, stmt))
    # Counted, not the statement's rowcount: some drivers report -1 for an INSERT ... SELECT.
    return int(session.scalar(select(func.count()).select_from(MonthEndSnapshot)
                              .where(MonthEndSnapshot.month_end == day)) or 0)


def snapshot_select(session: Session, day: date, source: str) -> tuple[list[str], Select[Any]]:
    """The snapshot's columns and the SELECT that makes its rows (the benchmark times it on its own)."""
    prior_end = session.scalar(select(func.max(MonthEndSnapshot.month_end)).where(MonthEndSnapshot.month_end < day))
    booked_by = [LedgerEntry.business_date <= day]
    if prior_end is not None:
        booked_by.append(LedgerEntry.business_date > prior_end)
    window = (
        select(LedgerEntry.loan_id.label("loan_id"), *[part_sum(part).label(part) for part in PARTS])
        .where(*booked_by)
        .group_by(LedgerEntry.loan_id)
        .subquery("booked_window")
    )
    prior = aliased(MonthEndSnapshot, name="prior")

    def booked(part: str) -> Any:
        value: Any = func.coalesce(window.c[part], 0)
        if prior_end is not None:
            value = value + func.coalesce(raw(getattr(prior, BOOKED_COLUMNS[part])), 0)
        return value

    stmt = (
        select(
            literal(day, Date()),
            LoanState.loan_id,
            ProductVersion.product_id,
            CollectionAssignment.collector_id,
            Loan.status,
            Loan.delinquency,
            LoanState.bucket,
            LoanState.days_past_due,
            *[raw(getattr(LoanState, name)) for name in _CACHE_COLUMNS],
            *[booked(part) for part in PARTS],
            LoanState.as_of,
            literal(source),
            literal(utc_now(), UTCDateTime()),
        )
        .select_from(LoanState)
        .join(Loan, Loan.id == LoanState.loan_id)
        .join(ProductVersion, ProductVersion.id == Loan.product_version_id)
        .outerjoin(CollectionAssignment, CollectionAssignment.loan_id == LoanState.loan_id)
        .outerjoin(window, window.c.loan_id == LoanState.loan_id)
    )
    if prior_end is not None:
        stmt = stmt.outerjoin(prior, and_(prior.loan_id == LoanState.loan_id, prior.month_end == prior_end))
    names = ["month_end", "loan_id", "product_id", "collector_id", "status", "delinquency", "bucket",
             "days_past_due", *_CACHE_COLUMNS, *BOOKED_COLUMNS.values(), "state_as_of", "source", "created_at"]
    return names, stmt


# ---------------------------------------------------------------- on demand


@dataclass(frozen=True)
class SnapshotWritten:
    month_end: date
    loans: int
    source: str  # "on_demand" or "replayed"
    skipped: tuple[tuple[str, str], ...] = ()  # (loan number, why) for loans that could not be replayed


@dataclass(frozen=True)
class SnapshotMonth:
    month_end: date
    loans: int
    source: str
    written_at: datetime


def snapshot_months(ctx: ServiceContext) -> list[SnapshotMonth]:
    """Every month end that has a snapshot: how many loans, how it was written, when."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False) as session:
        rows = session.execute(
            select(MonthEndSnapshot.month_end, func.count(), func.min(MonthEndSnapshot.source),
                   func.min(MonthEndSnapshot.created_at))
            .group_by(MonthEndSnapshot.month_end).order_by(MonthEndSnapshot.month_end)
        ).all()
    return [SnapshotMonth(day, int(count), source, written) for day, count, source, written in rows]


def write_snapshot(
    ctx: ServiceContext, month_end: date, *, progress: Progress = no_progress, cancel: CancelToken | None = None,
) -> SnapshotWritten:
    """Write the snapshot of a closed month end that has none (see the module docstring)."""
    permissions.require(ctx.actor, permissions.RUN_EOD)
    if not is_month_end(month_end):
        raise InvalidInput("month_end", f"{month_end} is not the last day of its month")
    with ctx.unit(write=False, snapshot=True) as session:
        today = business_date(session)
        if month_end >= today:
            raise InvalidInput("month_end", f"{month_end} is not closed yet (the open business date is {today}); "
                                            "end of day writes its snapshot when it closes it")
        if _exists_for(session, month_end):
            raise InvalidInput("month_end", f"{month_end} already has its snapshot; a past month never changes")
        booked_since = session.scalar(select(exists().where(LedgerEntry.business_date > month_end)))
        ids = list(session.scalars(select(Loan.id).where(Loan.boarded_on <= month_end).order_by(Loan.id)))
    if today == month_end + timedelta(days=1) and not booked_since:
        with ctx.unit() as session:
            if _exists_for(session, month_end):
                raise InvalidInput("month_end", f"{month_end} already has its snapshot")
            loans = _copy_cache(session, month_end, "on_demand")
            audit.record(session, ctx.actor, "snapshot.written", entity="month_end_snapshot",
                         entity_id=month_end.isoformat(),
                         details={"month_end": month_end.isoformat(), "loans": loans, "source": "on_demand"})
        return SnapshotWritten(month_end, loans, "on_demand")
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for start in range(0, len(ids), CHUNK):
        if cancel is not None and cancel.cancelled:
            raise ServiceError(f"Writing the snapshot of {month_end} was cancelled; nothing was written")
        with ctx.unit(write=False, snapshot=True) as session:
            _replay_chunk(session, ids[start : start + CHUNK], month_end, rows, skipped)
        progress(min(start + CHUNK, len(ids)), len(ids), f"loans replayed to {month_end.isoformat()}")
    with ctx.unit() as session:
        if _exists_for(session, month_end):
            raise InvalidInput("month_end", f"{month_end} already has its snapshot")
        now = utc_now()
        for item in rows:
            item["created_at"] = now
        if rows:
            session.execute(insert(MonthEndSnapshot), rows)
        audit.record(session, ctx.actor, "snapshot.written", entity="month_end_snapshot",
                     entity_id=month_end.isoformat(),
                     details={"month_end": month_end.isoformat(), "loans": len(rows), "source": "replayed",
                              "skipped": [{"loan": number, "why": why} for number, why in skipped]})
    return SnapshotWritten(month_end, len(rows), "replayed", tuple(skipped))


def _replay_chunk(session: Session, ids: Sequence[int], day: date, out: list[dict[str, Any]],
                  skipped: list[tuple[str, str]]) -> None:
    """Each loan replayed from the entries booked by ``day``, as the close of ``day`` would have cached it."""
    loans = session.execute(
        select(Loan, ProductVersion.product_id, CollectionAssignment.collector_id)
        .join(ProductVersion, ProductVersion.id == Loan.product_version_id)
        .outerjoin(CollectionAssignment, CollectionAssignment.loan_id == Loan.id)
        .where(Loan.id.in_(list(ids)))
        .order_by(Loan.id)
    ).all()
    needs_payload = or_(
        LedgerEntry.type.in_(("waiver", "terms_change", "conversion")),
        and_(LedgerEntry.type == "payment", LedgerEntry.reason_code.in_(OVERRIDE_REASONS)),
    )
    rows_by_loan: dict[int, list[Any]] = defaultdict(list)
    for entry in session.execute(
        select(LedgerEntry.id, LedgerEntry.loan_id, LedgerEntry.type, LedgerEntry.effective_date,
               LedgerEntry.amount, LedgerEntry.reverses_id, LedgerEntry.fee_kind,
               case((needs_payload, LedgerEntry.payload), else_=None).label("payload"))
        .where(LedgerEntry.loan_id.in_(list(ids)), (LedgerEntry.type + "").in_(_REPLAYED),
               LedgerEntry.business_date <= day)
        .order_by(LedgerEntry.loan_id, LedgerEntry.effective_date, LedgerEntry.seq)
    ):
        rows_by_loan[entry.loan_id].append(entry)
    sums = booked_sums(session, ids, through=day)
    tomorrow = day + timedelta(days=1)
    for loan, product_id, collector_id in loans:
        try:
            terms = terms_from_stored(loan.terms)
            rows = rows_by_loan[loan.id]
            book = Book(loan, terms, rows, origin_state(terms, rows))
            state, _ = book.derive(day)
            snap = snapshot(advance(state, terms, [], tomorrow)[0], terms)
        except Exception as exc:  # a loan that cannot be replayed is reported, and the others still written
            skipped.append((loan.loan_number, f"{type(exc).__name__}: {exc}"))
            continue
        booked = sums.get(loan.id)
        status = loan.status if loan.status == "transferred" else snap.status
        row: dict[str, Any] = {
            "month_end": day, "loan_id": loan.id, "product_id": product_id, "collector_id": collector_id,
            "status": status, "delinquency": None, "bucket": snap.bucket, "days_past_due": snap.days_past_due,
            "principal": snap.principal, "accrued_interest": snap.accrued_interest, "fees": snap.fees,
            "suspense": snap.suspense, "amount_due": snap.amount_due, "state_as_of": None, "source": "replayed",
        }
        for part, column in BOOKED_COLUMNS.items():
            row[column] = booked[0].get(part) if booked is not None else Decimal("0.00")
        out.append(row)


__all__ = ["SnapshotMonth", "SnapshotWritten", "record_close", "snapshot_months", "write_snapshot"]
