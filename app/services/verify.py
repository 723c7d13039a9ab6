"""Prove the cache: replay every loan's ledger and compare it with ``loan_states``.

Loans are read in chunks with set-based queries (one query for the loans and
their cached rows, one for all their ledger entries), never a query per loan.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from datetime import date, timedelta

from sqlalchemy import Engine, and_, case, or_, select
from sqlalchemy.orm import Session, selectinload

from app.db.models import LedgerEntry, Loan
from app.domain.engine import advance, snapshot, state_to_dict
from app.domain.terms import terms_from_stored
from app.services import permissions
from app.services.context import CancelToken, Progress, ServiceContext, no_progress
from app.services.servicing import OVERRIDE_REASONS
from app.services.ledger import ENGINE_TYPES, Book, business_date, origin_state, snapshot_dict

REPLAYED = tuple(sorted(ENGINE_TYPES | {"conversion"}))

CHUNK = 500


@dataclass(frozen=True)
class Difference:
    loan_number: str
    field: str
    cached: object
    derived: object


@dataclass
class VerifyReport:
    loans_checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.differences and not self.cancelled


def _cached_dict(loan: Loan) -> dict[str, object]:
    row = loan.state
    assert row is not None
    return {
        "principal": str(row.principal),
        "accrued_interest": str(row.accrued_interest.quantize(row.principal)),
        "fees": str(row.fees),
        "suspense": str(row.suspense),
        "refund_due": str(row.refund_due),
        "amount_due": str(row.amount_due),
        "payoff": str(row.payoff),
        "paid_through": row.paid_through.isoformat() if row.paid_through else None,
        "next_due": row.next_due.isoformat() if row.next_due else None,
        "days_past_due": row.days_past_due,
        "bucket": row.bucket,
        "status": row.status,
    }


def check_loan(loan: Loan, rows: list[Any], today_date: date) -> list[Difference]:
    """Differences between one loan's cache and a replay of its ledger."""
    terms = terms_from_stored(loan.terms)
    book = Book(loan, terms, rows, origin_state(terms, rows))
    found: list[Difference] = []
    if loan.state is None:
        return [Difference(loan.loan_number, "cache", "missing", "present")]
    closed = today_date - timedelta(days=1)
    derived_closed, _ = book.derive(closed)
    if state_to_dict(derived_closed) != loan.state.engine_state:
        cached = loan.state.engine_state or {}
        derived = state_to_dict(derived_closed)
        for key in sorted(set(cached) | set(derived)):
            if cached.get(key) != derived.get(key):
                found.append(Difference(loan.loan_number, f"engine_state.{key}", cached.get(key), derived.get(key)))
    events = book.events
    if any(event.type == "reversal" and event.date >= today_date for event in events):
        current, _ = book.derive(today_date)
    else:
        current, _ = advance(derived_closed, terms, [e for e in events if e.date == today_date], today_date)
    derived_figures = snapshot_dict(snapshot(current, terms))
    cached_figures = _cached_dict(loan)
    for key, value in derived_figures.items():
        if cached_figures.get(key) != value:
            found.append(Difference(loan.loan_number, key, cached_figures.get(key), value))
    return found


#: Below this many loans one process is quicker than starting others.
PARALLEL_FROM = 5_000


def verify(
    ctx: ServiceContext,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Replay every loan and compare it with its cached state; report every difference, loan by loan.

    A large book is checked by ``workers`` processes (default: one per CPU),
    started with the ``spawn`` method so it works the same on Windows and
    macOS; each reads its own chunks of loans on its own connection.
    """
    permissions.require(ctx.actor, permissions.VERIFY)
    report = VerifyReport()
    with ctx.unit(write=False) as session:
        today = business_date(session)
        ids = list(session.scalars(select(Loan.id).order_by(Loan.id)))
    total = len(ids)
    chunks = [ids[start : start + CHUNK] for start in range(0, total, CHUNK)]
    url = _database_url(ctx)
    count = workers if workers is not None else (os.cpu_count() or 1)
    if url is not None and count > 1 and total >= PARALLEL_FROM:
        import concurrent.futures
        import multiprocessing

        with concurrent.futures.ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_check_chunk_in_process, url, chunk, today) for chunk in chunks]
            for future, chunk in zip(futures, chunks):
                if cancel is not None and cancel.cancelled:
                    report.cancelled = True
                    for pending in futures:
                        pending.cancel()
                    break
                report.differences.extend(future.result())
                report.loans_checked += len(chunk)
                progress(report.loans_checked, total, "loans verified")
        return report
    with ctx.unit(write=False) as session:
        for chunk in chunks:
            if cancel is not None and cancel.cancelled:
                report.cancelled = True
                break
            report.differences.extend(_check_chunk(session, chunk, today))
            report.loans_checked += len(chunk)
            progress(report.loans_checked, total, "loans verified")
    return report


def _database_url(ctx: ServiceContext) -> str | None:
    """The URL other processes can open, or None (a test's single shared connection)."""
    bind = ctx.factory.kw.get("bind")
    if not isinstance(bind, Engine):
        return None
    if bind.url.get_backend_name() == "sqlite" and bind.url.database in (None, "", ":memory:"):
        return None
    return bind.url.render_as_string(hide_password=False)


_ENGINES: dict[str, Engine] = {}


def _check_chunk_in_process(url: str, ids: list[int], today: date) -> list[Difference]:
    """One chunk in a worker process (its own engine, kept for its next chunks)."""
    from app.db.session import make_engine

    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = make_engine(url)
    with Session(engine) as session:
        return _check_chunk(session, ids, today)


def _check_chunk(session: Session, ids: list[int], today: date) -> list[Difference]:
    loans = session.scalars(select(Loan).where(Loan.id.in_(ids)).options(selectinload(Loan.state))).all()
    # Only what replay reads, as plain rows (not ORM objects), and only the
    # entries the engine replays: accruals and posted late fees are for the books.
    rows_by_loan: dict[int, list[Any]] = defaultdict(list)
    # Payloads are read only where replay needs them (waivers, terms changes, conversions,
    # overridden payments): decoding every history payment's payload was a third of the time.
    needs_payload = or_(
        LedgerEntry.type.in_(("waiver", "terms_change", "conversion")),
        and_(LedgerEntry.type == "payment", LedgerEntry.reason_code.in_(OVERRIDE_REASONS)),
    )
    stmt = (
        select(LedgerEntry.id, LedgerEntry.loan_id, LedgerEntry.type, LedgerEntry.effective_date,
               LedgerEntry.amount, LedgerEntry.reverses_id, LedgerEntry.fee_kind,
               case((needs_payload, LedgerEntry.payload), else_=None).label("payload"))
        # ``type || ''`` keeps SQLite on the (loan_id, effective_date) index rather than the
        # reporting index on type, which would scan every loan's entries of those types.
        .where(LedgerEntry.loan_id.in_(ids), (LedgerEntry.type + "").in_(REPLAYED))
        .order_by(LedgerEntry.loan_id, LedgerEntry.effective_date, LedgerEntry.seq)
    )
    for row in session.execute(stmt):
        rows_by_loan[row.loan_id].append(row)
    found: list[Difference] = []
    for loan in loans:
        found.extend(check_loan(loan, rows_by_loan[loan.id], today))
    return found

