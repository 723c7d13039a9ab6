"""Prove the cache and the books: replay every loan's ledger and compare.

Two checks per loan (DESIGN.md, "The ledger is the truth"; issue 9):

* the cache (``loan_states``) equals the replay;
* the booked ledger — the sums of the loan's entries by the sign table of
  :mod:`app.domain.books` — equals the replay less the memo amounts kept off
  the books (interest not recognised on non-accrual, the charged-off
  deficiency by part), and the memo is what the loan's status says it is.

Loans are read in chunks with set-based queries (one query for the loans and
their cached rows, one for their replayed ledger entries, one ``GROUP BY``
for the booked sums by part), never a query per loan.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Engine, and_, case, or_, select
from sqlalchemy.orm import Session, selectinload

from app.db.chain import ChainReport, verify_chain
from app.db.integrity import integrity_check
from app.db.models import LedgerEntry, Loan
from app.domain.books import PARTS, Balances, conversion_opening, memo_target, replay_books
from app.domain.engine import advance, snapshot, state_to_dict
from app.domain.terms import terms_from_stored
from app.services import permissions
from app.services.books import booked_sums
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


@dataclass(frozen=True)
class BookDifference:
    """A booked balance (or memo amount) that is not what the replay says it should be.

    ``figure`` is a part (principal, interest, fees, suspense, refund) or
    ``memo.<part>``; ``replayed`` is the replay's figure and ``expected`` what
    the books should hold (the replay less the memo); ``cached`` is the cached
    figure for the part (None for memo figures).
    """

    loan_number: str
    figure: str
    booked: Decimal
    expected: Decimal
    replayed: Decimal
    cached: Decimal | None

    def as_dict(self) -> dict[str, object]:
        return {"loan_number": self.loan_number, "figure": self.figure, "booked": str(self.booked),
                "expected": str(self.expected), "replayed": str(self.replayed),
                "cached": str(self.cached) if self.cached is not None else None}


@dataclass
class VerifyReport:
    loans_checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    book_differences: list[BookDifference] = field(default_factory=list)
    cancelled: bool = False
    #: Portfolio figures from the books: booked balances, memo amounts off the books
    #: (non-accrual interest and charged-off deficiency by part), recoveries received.
    booked: Balances = field(default_factory=Balances)
    memo_non_accrual: Balances = field(default_factory=Balances)
    deficiency: Balances = field(default_factory=Balances)
    recovered: Decimal = Decimal("0.00")
    #: The sealed audit trail's proof (app.db.chain): numbering, links, seals, ledger coverage.
    chain: ChainReport | None = None
    #: What SQLite's ``PRAGMA integrity_check`` found wrong with the book's file (issue 12); [] when whole
    #: (and on PostgreSQL, whose server checks its own pages).
    storage_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (not self.differences and not self.book_differences and not self.cancelled
                and (self.chain is None or self.chain.ok) and not self.storage_problems)

    def add(self, result: ChunkResult) -> None:
        self.differences.extend(result.differences)
        self.book_differences.extend(result.book_differences)
        self.booked = self.booked + result.booked
        self.memo_non_accrual = self.memo_non_accrual + result.memo_non_accrual
        self.deficiency = self.deficiency + result.deficiency
        self.recovered += result.recovered


@dataclass
class ChunkResult:
    differences: list[Difference] = field(default_factory=list)
    book_differences: list[BookDifference] = field(default_factory=list)
    booked: Balances = field(default_factory=Balances)
    memo_non_accrual: Balances = field(default_factory=Balances)
    deficiency: Balances = field(default_factory=Balances)
    recovered: Decimal = Decimal("0.00")


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


def _check_loan(
    loan: Loan, rows: list[Any], today_date: date, sums: tuple[Balances, Balances] | None = None,
    result: ChunkResult | None = None,
) -> list[Difference]:
    """Differences between one loan's cache and a replay of its ledger.

    With ``sums`` (the loan's booked and memo sums from :func:`booked_sums`)
    the books are checked too, into ``result``.
    """
    terms = terms_from_stored(loan.terms)
    book = Book(loan, terms, rows, origin_state(terms, rows))
    found: list[Difference] = []
    if loan.state is None:
        return [Difference(loan.loan_number, "cache", "missing", "present")]
    closed = today_date - timedelta(days=1)
    derived_closed, closed_entries = book.derive(closed)
    if state_to_dict(derived_closed) != loan.state.engine_state:
        cached = loan.state.engine_state or {}
        derived = state_to_dict(derived_closed)
        for key in sorted(set(cached) | set(derived)):
            if cached.get(key) != derived.get(key):
                found.append(Difference(loan.loan_number, f"engine_state.{key}", cached.get(key), derived.get(key)))
    events = book.events
    if any(event.type == "reversal" and event.date >= today_date for event in events):
        current, entries = book.derive(today_date)
    else:
        current, todays = advance(derived_closed, terms, [e for e in events if e.date == today_date], today_date)
        entries = [*closed_entries, *todays]
    derived_figures = snapshot_dict(snapshot(current, terms))
    cached_figures = _cached_dict(loan)
    for key, value in derived_figures.items():
        if cached_figures.get(key) != value:
            found.append(Difference(loan.loan_number, key, cached_figures.get(key), value))
    if sums is not None and result is not None:
        _check_books(loan, rows, book, current, entries, sums, result)
    return found


_CACHED_PART = {"principal": "principal", "interest": "accrued_interest", "fees": "fees", "suspense": "suspense",
                "refund": "refund_due"}


def _check_books(loan: Loan, rows: list[Any], book: Book, current: Any, entries: list[Any],
                 sums: tuple[Balances, Balances], result: ChunkResult) -> None:
    """The rule for the ledger: booked = replay less memo, and memo = what the status says."""
    booked, memo = sums
    for row in rows:
        if row.type == "conversion":
            booked = booked + conversion_opening(row.payload)
    replay = replay_books(current, book.terms, entries, pending_from=current.date)
    non_accrual = loan.delinquency == "non_accrual"
    target = memo_target(replay, memo, non_accrual=non_accrual)
    expected = replay.total - target
    state_row = loan.state
    for part in PARTS:
        if booked.get(part) != expected.get(part):
            cached = getattr(state_row, _CACHED_PART[part]) if state_row is not None else None
            result.book_differences.append(BookDifference(
                loan.loan_number, part, booked.get(part), expected.get(part), replay.total.get(part),
                cached.quantize(Decimal("0.01")) if cached is not None else None))
        if memo.get(part) != target.get(part):
            result.book_differences.append(BookDifference(
                loan.loan_number, f"memo.{part}", memo.get(part), target.get(part), target.get(part), None))
    result.booked = result.booked + booked
    if replay.status == "charged_off":
        result.deficiency = result.deficiency + memo
        result.recovered += current.recovered
    else:
        result.memo_non_accrual = result.memo_non_accrual + memo


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
    bind = ctx.factory.kw.get("bind")
    if isinstance(bind, Engine):  # (a test's single shared connection is its own business)
        report.storage_problems = integrity_check(bind)
    with ctx.unit(write=False) as session:
        today = business_date(session)
        ids = list(session.scalars(select(Loan.id).order_by(Loan.id)))
        report.chain = verify_chain(session)
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
                report.add(future.result())
                report.loans_checked += len(chunk)
                progress(report.loans_checked, total, "loans verified")
        return report
    with ctx.unit(write=False) as session:
        for chunk in chunks:
            if cancel is not None and cancel.cancelled:
                report.cancelled = True
                break
            report.add(_check_chunk(session, chunk, today))
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


def _check_chunk_in_process(url: str, ids: list[int], today: date) -> ChunkResult:
    """One chunk in a worker process (its own engine, kept for its next chunks)."""
    from app.db.session import make_engine

    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = make_engine(url)
    with Session(engine) as session:
        return _check_chunk(session, ids, today)


def _check_chunk(session: Session, ids: list[int], today: date) -> ChunkResult:
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
    sums = booked_sums(session, ids)
    result = ChunkResult()
    empty = (Balances(), Balances())
    for loan in loans:
        result.differences.extend(_check_loan(loan, rows_by_loan[loan.id], today, sums.get(loan.id, empty), result))
    return result

