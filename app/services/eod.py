"""End of day: close the business date, one day at a time.

For each day D being closed and each loan whose cached state is still at D-1:

* the cached engine state is advanced one day with the engine's own
  ``advance`` over that day's entries (no second copy of any rule; a loan with
  a reversal that day, or a cache that is behind, is replayed in full);
* day D's interest accrual is booked as ``round(earned through D+1) -
  round(earned through D)`` (:func:`app.domain.engine.interest_earned`, both on
  the state at the end of D: what D's own entries changed was booked when they
  were posted), so the daily entries add up exactly; accrual entries are for
  the books and are not inputs to the replay; at non-accrual the day's
  interest is a memo entry (``nonaccrual_interest``), none after charge-off;
* money the engine applied from suspense is booked (``suspense_applied``);
* a loan replayed in full, moving on or off non-accrual, or charged off gets
  the full books check (:func:`app.domain.books.plan_adjustments`): a
  charge-off takes the booked balances, unpaid interest is reversed from
  income at non-accrual and recognised again when the loan returns to accrual
  after the product's ``accrual_after_months`` current;
* the late fees the engine derived that day are posted (``late_fee`` rows,
  one per loan and installment); a loan flagged hardship or dispute gets the
  fee waived at once (fees pause while the flag is set);
* status and delinquency are updated from the product's thresholds, and a
  loan reaching the charge-off threshold is charged off;
* the letters the product's triggers call for are queued, and the statement
  cycle's billing statements and payment reminders
  (:mod:`app.domain.statement_cycle`, once per loan per cycle);
* promises to pay that fell due are settled (kept, partly kept, broken).

Then the business date moves to D+1.  Only one end of day runs per database
(a lock the second run reports).  Progress is per loan — ``loan_states.as_of``
is D once a loan is done — and each chunk of loans commits on its own, so a
run killed at any point is finished by the next with nothing posted twice
and nothing skipped.  Loans are read and written in set-based chunks, never
one ORM object per loan.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import BigInteger, Table, Text, and_, bindparam, func, insert, select, text, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.db import chain
from app.db.base import utc_now
from app.db.models import (
    EodRun,
    LedgerEntry,
    LetterQueueItem,
    Loan,
    LoanState,
    ProductVersion,
    SystemSetting,
)
from app.db.settings import get_setting, set_business_date
from app.db.types import BIGINT_MAX, BIGINT_MIN
from app.domain.engine import (
    CHARGED_OFF,
    RULES_REVISION,
    PAID_OFF,
    Event,
    advance,
    interest_earned,
    snapshot,
    state_from_dict,
    state_to_dict,
)
from app.domain.books import Row, back_on_accrual, plan_adjustments, replay_books
from app.domain.money import ZERO, round_money
from app.domain.terms import terms_from_stored
from app.services import audit, books, permissions
from app.services.context import CancelToken, Progress, ServiceContext, no_progress
from app.services.errors import ServiceError
from app.services.products import ProductRules, rules_or_defaults
from app.services.reports import snapshots
from app.services.ledger import ENGINE_TYPES, business_date, open_book, to_event

LOCK_KEY = "eod_lock"
STALE_AFTER = timedelta(minutes=2)
CHUNK = 1000


class EodBusy(ServiceError):
    pass


@dataclass(frozen=True)
class DaySummary:
    business_date: date
    loans_processed: int
    interest_accrued: Decimal
    fees_assessed: Decimal
    late_fees: int
    status_changes: int
    charge_offs: int
    letters_queued: int
    promises: dict[str, int]
    errors: tuple[tuple[str, str], ...]
    seconds: float
    cancelled: bool = False


@dataclass(frozen=True)
class EodSummary:
    days: tuple[DaySummary, ...]
    business_date: date  # the open day after the run
    cancelled: bool = False
    #: Loans and adjusting entries re-derived first because the book was derived under
    #: older servicing rules (:data:`app.domain.engine.RULES_REVISION`).
    rederived: tuple[int, int] = (0, 0)
    #: The sealed audit chain's head after the run (app.db.chain), printed on the report: kept
    #: reports catch the removal of the newest audit records.
    audit_head: str = ""

    @property
    def loans_processed(self) -> int:
        return sum(day.loans_processed for day in self.days)


# ---------------------------------------------------------------- the lock


def _lock_value(session: Session) -> dict[str, Any] | None:
    raw = get_setting(session, LOCK_KEY)
    return json.loads(raw) if raw else None


def _lock_is_live(lock: dict[str, Any]) -> bool:
    heartbeat = datetime.fromisoformat(lock["heartbeat"])
    if utc_now() - heartbeat > STALE_AFTER:
        return False
    if lock.get("host") == socket.gethostname():
        try:
            os.kill(int(lock["pid"]), 0)
        except ProcessLookupError:
            return False  # killed: the next run finishes the day
        except (PermissionError, ValueError):
            return True
    return True


def eod_running(session: Session) -> dict[str, Any] | None:
    """The live end-of-day lock, if a run holds one (desks refuse to post meanwhile)."""
    lock = _lock_value(session)
    return lock if lock is not None and _lock_is_live(lock) else None


def _acquire(ctx: ServiceContext) -> str:
    token = uuid.uuid4().hex
    now = utc_now().isoformat()
    value = json.dumps({"token": token, "host": socket.gethostname(), "pid": os.getpid(),
                        "user": ctx.actor.username, "started": now, "heartbeat": now})
    try:
        with ctx.unit() as session:
            row = session.get(SystemSetting, LOCK_KEY)
            if row is not None and row.value:
                lock = json.loads(row.value)
                if _lock_is_live(lock):
                    raise EodBusy(
                        f"End of day is already running: started by {lock.get('user')} on {lock.get('host')} "
                        f"at {lock.get('started', '')[:19].replace('T', ' ')} UTC"
                    )
            if row is None:
                session.add(SystemSetting(key=LOCK_KEY, value=value))
            else:
                row.value = value
            session.flush()
    except StaleDataError:
        raise EodBusy("End of day was started from another desk at the same moment") from None
    except EodBusy:
        raise
    except Exception as exc:  # a concurrent insert of the lock row
        if "unique" in str(exc).lower() or "duplicate" in str(exc).lower():
            raise EodBusy("End of day was started from another desk at the same moment") from None
        raise
    return token


def _heartbeat(session: Session, token: str) -> None:
    row = session.get(SystemSetting, LOCK_KEY)
    if row is None or not row.value:
        return
    lock = json.loads(row.value)
    if lock.get("token") != token:
        raise EodBusy("Another end of day took over this run's lock")
    lock["heartbeat"] = utc_now().isoformat()
    row.value = json.dumps(lock)


def _release(ctx: ServiceContext, token: str) -> None:
    with ctx.unit() as session:
        row = session.get(SystemSetting, LOCK_KEY)
        if row is not None and row.value and json.loads(row.value).get("token") == token:
            row.value = None


# ---------------------------------------------------------------- the run


def run_eod(
    ctx: ServiceContext,
    through: date | None = None,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    chunk: int = CHUNK,
) -> EodSummary:
    """Close every business day up to and including ``through`` (default: yesterday)."""
    permissions.require(ctx.actor, permissions.RUN_EOD)
    with ctx.unit(write=False) as session:
        first = business_date(session)
    last = through if through is not None else date.today() - timedelta(days=1)
    if last < first:
        return EodSummary((), first)
    rederived = (0, 0)
    if books.rules_revision(ctx) != RULES_REVISION:
        # A book derived under older servicing rules is re-derived before any day closes,
        # or end of day would roll caches the replay no longer agrees with (issue 9).
        progress(0, 0, "re-deriving the book under the current servicing rules")
        rederived = books.reconcile_books(ctx)
    token = _acquire(ctx)
    days: list[DaySummary] = []
    try:
        day = first
        while day <= last:
            summary = _close_day(ctx, day, token, progress, cancel, chunk)
            days.append(summary)
            if summary.cancelled:
                return EodSummary(tuple(days), day, cancelled=True, rederived=rederived, audit_head=_head(ctx))
            day += timedelta(days=1)
    finally:
        _release(ctx, token)
    return EodSummary(tuple(days), last + timedelta(days=1), rederived=rederived, audit_head=_head(ctx))


def _head(ctx: ServiceContext) -> str:
    with ctx.unit(write=False) as session:
        return chain.chain_head(session)


@dataclass
class _Tally:
    processed: int = 0
    interest: Decimal = ZERO
    fees: Decimal = ZERO
    late_fees: int = 0
    status_changes: int = 0
    charge_offs: int = 0
    letters: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


def _close_day(
    ctx: ServiceContext, day: date, token: str, progress: Progress, cancel: CancelToken | None, chunk: int
) -> DaySummary:
    began = time.perf_counter()
    with ctx.unit() as session:
        run = session.scalars(
            select(EodRun).where(EodRun.business_date == day, EodRun.status == "running").order_by(EodRun.id)
        ).first()
        remaining = session.scalar(select(func.count()).select_from(LoanState).where(LoanState.as_of < day)) or 0
        if run is None:
            run = EodRun(business_date=day, status="running", user_id=ctx.actor.user_id, host=socket.gethostname(),
                         pid=os.getpid(), loans_total=remaining, summary={})
            session.add(run)
            session.flush()
        run_id, total = run.id, run.loans_processed + remaining
    tally = _Tally()
    last_id = 0
    url = _server_url(ctx)
    if url is not None and remaining >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
        if not _close_in_workers(ctx, url, day, token, run_id, total, tally, progress, cancel, chunk):
            return _summary(day, tally, began, {}, cancelled=True)
    while True:
        if cancel is not None and cancel.cancelled:
            with ctx.unit() as session:
                run = session.get(EodRun, run_id)
                assert run is not None
                run.status = "cancelled"
                run.finished_at = utc_now()
            return _summary(day, tally, began, {}, cancelled=True)
        with ctx.unit() as session:
            ids = list(session.scalars(
                select(LoanState.loan_id).where(LoanState.as_of < day, LoanState.loan_id > last_id)
                .order_by(LoanState.loan_id).limit(chunk)
            ))
            if not ids:
                break
            _heartbeat(session, token)
            changes_before = tally.status_changes
            _process_chunk(session, ctx, ids, day, tally)
            run = session.get(EodRun, run_id)
            assert run is not None
            run.loans_processed += len(ids)
            # Not in the ledger, so counted with the chunk, in its transaction: a killed run's
            # committed chunks keep their part (the day record, below).
            run.status_changes += tally.status_changes - changes_before
            run.heartbeat_at = utc_now()
            last_id = ids[-1]
            done = run.loans_processed
        progress(done, total, f"loans closed for {day.isoformat()}")
    with ctx.unit() as session:
        promises = _settle_promises(session, day)
        assigned = _assign_queue(session, ctx)
        set_business_date(session, day + timedelta(days=1))
        run = session.get(EodRun, run_id)
        assert run is not None
        run.status = "completed"
        run.finished_at = utc_now()
        # The day's record is what the books hold for the day, however many runs closed it: a run
        # resumed after a kill knows only its own chunks (issue 12).
        record = _day_record(session, day)
        snapshots.record_close(session, day)  # for the reports: the day's totals; at a month end, every loan
        run.loans_processed = record.loans
        run.interest_accrued = record.interest_accrued
        run.fees_assessed = record.fees_assessed
        run.late_fees = record.late_fees
        summary = {
            "charge_offs": record.charge_offs,
            "letters_queued": record.letters_queued,
            "promises": promises,
            "assigned": assigned,
            "errors": [{"loan": loan, "message": message} for loan, message in tally.errors],
        }
        run.summary = summary
        audit.record(session, ctx.actor, "eod.closed", entity="eod_run", entity_id=run_id,
                     details={"business_date": day.isoformat(), "loans": run.loans_processed,
                              "interest_accrued": str(run.interest_accrued), "fees": str(run.fees_assessed),
                              **summary})
        status_changes = run.status_changes
    return DaySummary(day, record.loans, record.interest_accrued, record.fees_assessed, record.late_fees,
                      status_changes, record.charge_offs, record.letters_queued, promises, tuple(tally.errors),
                      time.perf_counter() - began)


@dataclass(frozen=True)
class DayRecord:
    """What the books hold for one closed business day (:func:`_day_record`)."""

    loans: int
    interest_accrued: Decimal
    fees_assessed: Decimal
    late_fees: int
    charge_offs: int
    letters_queued: int


def _day_record(session: Session, day: date) -> DayRecord:
    """Day ``day``'s totals from what end of day wrote for it, not from one run's tally (issue 12).

    * interest accrued: the ``accrual`` entries of business day ``day`` (only end of day books
      them; the books pass's corrections are ``accrual_adjustment``);
    * late fees and fees assessed: its own ``late_fee`` entries (no reason code; a fee the books
      pass or a desk's re-derivation books carries ``books``);
    * charge-offs: the ``charge_off`` entries of the threshold (a manager's carry ``manager``);
    * loans: those whose cached state has closed the day (a loan skipped as unprocessable has not);
    * letters: the queue items for the morning after (only end of day queues letters).

    Read as the closing transaction sees them, so they count every chunk of every run of the day.
    """
    own = and_(LedgerEntry.business_date == day, LedgerEntry.effective_date == day)
    cents = type_coerce(LedgerEntry.amount, BigInteger)
    accrued = session.scalar(select(func.sum(cents)).where(own, LedgerEntry.type == "accrual")) or 0
    fees, late_fees = session.execute(
        select(func.sum(cents), func.count())
        .where(own, LedgerEntry.type == "late_fee", LedgerEntry.reason_code.is_(None))
    ).one()
    charge_offs = session.scalar(select(func.count()).select_from(LedgerEntry).where(
        own, LedgerEntry.type == "charge_off", LedgerEntry.reason_code == "threshold")) or 0
    loans = session.scalar(select(func.count()).select_from(LoanState).where(LoanState.as_of == day)) or 0
    letters = session.scalar(select(func.count()).select_from(LetterQueueItem).where(
        LetterQueueItem.queued_on == day + timedelta(days=1))) or 0
    return DayRecord(int(loans), _from_cents(accrued), _from_cents(fees or 0), int(late_fees or 0),
                     int(charge_offs), int(letters))


def _from_cents(value: int) -> Decimal:
    return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))


#: On a database server, a day with at least this many loans is closed by worker processes.
PARALLEL_FROM = 5_000


def _server_url(ctx: ServiceContext) -> str | None:
    """PostgreSQL's URL for worker processes; None for SQLite (one writer at a time anyway)."""
    from sqlalchemy import Engine

    bind = ctx.factory.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        return bind.url.render_as_string(hide_password=False)
    return None


def _close_in_workers(
    ctx: ServiceContext, url: str, day: date, token: str, run_id: int, total: int, tally: _Tally,
    progress: Progress, cancel: CancelToken | None, chunk: int,
) -> bool:
    """Close the day's loans in chunks on worker processes (``spawn``, as on Windows and macOS).

    Each chunk commits on its own in its worker, exactly as in one process, so
    a killed run resumes the same way.  Returns False if cancelled.
    """
    import concurrent.futures
    import multiprocessing

    with ctx.unit(write=False) as session:
        ids = list(session.scalars(select(LoanState.loan_id).where(LoanState.as_of < day).order_by(LoanState.loan_id)))
    chunks = [ids[start : start + chunk] for start in range(0, len(ids), chunk)]
    workers = min(os.cpu_count() or 1, 4)
    done = total - len(ids)
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: list[tuple[concurrent.futures.Future[dict[str, Any]], list[int]]] = []
        queue = list(chunks)
        while queue or pending:
            while queue and len(pending) < workers * 2 and not (cancel is not None and cancel.cancelled):
                part = queue.pop(0)
                pending.append((pool.submit(_chunk_in_process, url, ctx.actor, part, day, run_id), part))
            if not pending:
                break
            future, part = pending.pop(0)
            result = future.result()
            tally.processed += result["processed"]
            tally.interest += Decimal(result["interest"])
            tally.fees += Decimal(result["fees"])
            tally.late_fees += result["late_fees"]
            tally.status_changes += result["status_changes"]  # already on the run's row (_chunk_in_process)
            tally.charge_offs += result["charge_offs"]
            tally.letters += result["letters"]
            tally.errors.extend(tuple(error) for error in result["errors"])
            done += len(part)
            with ctx.unit() as session:
                _heartbeat(session, token)
                run = session.get(EodRun, run_id)
                assert run is not None
                run.loans_processed += len(part)
                run.heartbeat_at = utc_now()
            progress(done, total, f"loans closed for {day.isoformat()}")
    if cancel is not None and cancel.cancelled:
        with ctx.unit() as session:
            run = session.get(EodRun, run_id)
            assert run is not None
            run.status = "cancelled"
            run.finished_at = utc_now()
        return False
    return True


_WORKER_ENGINES: dict[str, Any] = {}


def _chunk_in_process(url: str, actor: Any, ids: list[int], day: date, run_id: int) -> dict[str, Any]:
    """One chunk of loans closed in a worker process, in its own transaction.

    The chunk's status changes are added to the run's row in that transaction, so a killed run's
    committed chunks keep their part.  An increment in SQL, not a versioned ORM edit: workers commit
    in any order, and the run's own process edits other columns of the row (a sum commutes).
    """
    from app.db.session import make_engine, session_factory

    factory = _WORKER_ENGINES.get(url)
    if factory is None:
        factory = _WORKER_ENGINES[url] = session_factory(make_engine(url))
    worker_ctx = ServiceContext(factory, actor)
    tally = _Tally()
    with worker_ctx.unit() as session:
        _process_chunk(session, worker_ctx, ids, day, tally)
        if tally.status_changes:
            session.execute(update(EodRun).where(EodRun.id == run_id)
                            .values(status_changes=EodRun.status_changes + tally.status_changes)
                            .execution_options(synchronize_session=False))
    return {"processed": tally.processed, "interest": str(tally.interest), "fees": str(tally.fees),
            "late_fees": tally.late_fees, "status_changes": tally.status_changes,
            "charge_offs": tally.charge_offs, "letters": tally.letters, "errors": tally.errors}


def _summary(day: date, tally: _Tally, began: float, promises: dict[str, int], cancelled: bool = False) -> DaySummary:
    return DaySummary(day, tally.processed, tally.interest, tally.fees, tally.late_fees, tally.status_changes,
                      tally.charge_offs, tally.letters, promises, tuple(tally.errors), time.perf_counter() - began,
                      cancelled)


def _assign_queue(session: Session, ctx: ServiceContext) -> int:
    """The morning's queue: past-due loans assigned to collectors by the saved rules, if any."""
    from app.services.collections import apply_assignment_rules, assignment_rules

    rules = assignment_rules(session)
    return apply_assignment_rules(session, rules, ctx.actor) if rules else 0


def _settle_promises(session: Session, day: date) -> dict[str, int]:
    try:
        from app.services.collections import settle_promises
    except ImportError:  # collections not installed in this build
        return {}
    result = settle_promises(session, day)
    if dataclasses.is_dataclass(result):
        return {key: int(value) for key, value in dataclasses.asdict(result).items()}
    return {key: int(value) for key, value in dict(result).items()}


# ---------------------------------------------------------------- one chunk


def _delinquency(days_past_due: int, rules: ProductRules) -> str:
    if days_past_due >= rules.non_accrual_days:
        return "non_accrual"
    if days_past_due >= rules.default_days:
        return "default"
    if days_past_due >= rules.delinquent_days:
        return "delinquent"
    return "current"


def _next_delinquency(
    days_past_due: int, rules: ProductRules, delinquency: str, current_since: date | None, tomorrow: date
) -> tuple[str, date | None]:
    """Tomorrow's delinquency state, and (on non-accrual) since when the loan has been current.

    Once on non-accrual a loan stays there, whatever its days past due, until it
    has been current (0 days past due, unbroken) for the product's
    ``accrual_after_months`` (issue 9; default 6).
    """
    plain = _delinquency(days_past_due, rules)
    if delinquency != "non_accrual" or days_past_due >= rules.non_accrual_days:
        return plain, None
    since = (current_since or tomorrow) if days_past_due == 0 else None
    if since is not None and back_on_accrual(since, tomorrow, rules.accrual_after_months):
        return plain, None
    return "non_accrual", since


def _book_loan(
    session: Session, loan_id: int, day: date, extra: list[Event], delinquency: str,
    charge_row: dict[str, Any] | None, tonight: list[dict[str, Any]], entry: Any,
) -> None:
    """The booked ledger made equal to the replay for one loan (issue 9), tonight's rows included.

    A charge-off row takes the booked balances as its parts (after any missing
    accrual is booked); the other differences are booked as explained entries.
    """
    loan = session.get(Loan, loan_id)
    assert loan is not None
    book = open_book(session, loan)
    rows = [Row.of(row) for row in book.rows] + [
        Row(None, r["type"], r["amount"], r["interest"], r["principal"], r["fees"], r["suspense"], r["refund"],
            r["reverses_id"], r["payload"]) for r in tonight
    ]
    state, entries = book.derive(day, extra)
    replay = replay_books(state, book.terms, entries, on=day + timedelta(days=1))
    rules = rules_or_defaults(loan.product_version.rules if loan.product_version is not None else None)
    planned = plan_adjustments(rows, replay, non_accrual=delinquency == "non_accrual",
                               cost_recovery=rules.non_accrual_cash == "cost_recovery", cause=None)
    for item in planned:
        if charge_row is not None and item.type == "charge_off_adjustment":
            charge_row.update(amount=item.amount, interest=item.interest, principal=item.principal, fees=item.fees)
            continue
        entry(loan_id, item.type, item.amount, interest=item.interest, principal=item.principal, fees=item.fees,
              suspense=item.suspense, refund=item.refund, reverses_id=item.reverses_id, fee_kind=item.fee_kind,
              payload=item.payload, reason_code="books")


def _process_chunk(session: Session, ctx: ServiceContext, ids: list[int], day: date, tally: _Tally) -> None:
    loans = session.execute(
        select(Loan.id, Loan.loan_number, Loan.terms, Loan.status, Loan.delinquency, Loan.hardship, Loan.dispute,
               Loan.version, Loan.product_version_id, LoanState.engine_state, LoanState.version,
               LoanState.days_past_due, Loan.current_since, Loan.boarded_on)
        .join(LoanState, LoanState.loan_id == Loan.id)
        .where(Loan.id.in_(ids))
        .order_by(Loan.id)
    ).all()
    versions = {row[8] for row in loans}
    rules_of = {
        version_id: rules_or_defaults(document)
        for version_id, document in session.execute(
            select(ProductVersion.id, ProductVersion.rules).where(ProductVersion.id.in_(versions))
        )
    }
    todays: dict[int, list[LedgerEntry]] = defaultdict(list)
    for row in session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.loan_id.in_(ids), LedgerEntry.effective_date == day, LedgerEntry.type.in_(ENGINE_TYPES))
        .order_by(LedgerEntry.loan_id, LedgerEntry.seq)
    ):
        todays[row.loan_id].append(row)
    seqs = dict(session.execute(
        select(LedgerEntry.loan_id, func.max(LedgerEntry.seq)).where(LedgerEntry.loan_id.in_(ids))
        .group_by(LedgerEntry.loan_id)
    ).all())
    tomorrow = day + timedelta(days=1)
    state_updates: list[dict[str, Any]] = []
    loan_updates: list[dict[str, Any]] = []
    new_entries: list[dict[str, Any]] = []
    letters: list[dict[str, Any]] = []
    now = utc_now()

    def entry(loan_id: int, kind: str, amount: Decimal, **extra: Any) -> None:
        seqs[loan_id] = (seqs.get(loan_id) or 0) + 1
        row = {"loan_id": loan_id, "seq": seqs[loan_id], "type": kind, "effective_date": day, "business_date": day,
               "posted_at": now, "amount": amount, "interest": ZERO, "principal": ZERO, "fees": ZERO, "escrow": ZERO,
               "suspense": ZERO, "refund": ZERO, "reverses_id": None, "fee_kind": None, "method": None,
               "reference": None, "reason_code": None, "payload": None, "batch_id": None,
               "user_id": ctx.actor.user_id}
        row.update(extra)
        new_entries.append(row)

    # Loans whose books need the full check tonight (issue 9): replayed in full, moving on or off
    # non-accrual, or charged off.  loan id -> (extra events, new delinquency, charge-off row or None).
    to_books: dict[int, tuple[list[Event], str, dict[str, Any] | None]] = {}
    # Active loans closed tonight, for the statement cycle after the loop (_cycle_letters).
    cycle: list[_CycleLoan] = []
    for (loan_id, number, terms_doc, status, delinquency, hardship, dispute, loan_version, version_id, cached,
         state_version, old_dpd, current_since, boarded_on) in loans:
        rules = rules_of.get(version_id) or ProductRules()
        # What this loan adds to the chunk, so a loan that fails half way leaves nothing behind (issue 12).
        marks = (len(new_entries), len(loan_updates), len(letters), len(state_updates), seqs.get(loan_id),
                 loan_id in to_books, _counters(tally))
        try:
            terms = terms_from_stored(terms_doc)
            state = state_from_dict(cached) if cached else None
            events = [e for e in (to_event(r) for r in todays.get(loan_id, [])) if e is not None]
            replayed = state is None or state.date != day - timedelta(days=1) or any(
                e.type == "reversal" for e in events
            )

            def roll(extra: list[Event]) -> tuple[Any, list[Any]]:
                if replayed:
                    loan = session.get(Loan, loan_id)
                    assert loan is not None
                    book = open_book(session, loan)
                    return book.derive(day, extra)
                assert state is not None
                return advance(state, terms, [*events, *extra], day)

            extra: list[Event] = []
            new_state, produced = roll(extra)
            late = [e for e in produced if e.type == "late_fee" and e.date == day]
            if late and (hardship or dispute):
                # Fees pause while a hardship or dispute flag is set: waive at once.
                for fee in late:
                    extra.append(Event(f"eod-waiver-{fee.id}", "waiver", day, of=fee.id))
                    entry(loan_id, "waiver", fee.amount or ZERO, fees=-(fee.amount or ZERO), reason_code="waiver",
                          payload={"of": fee.id, "whole": True, "reason": "hardship or dispute flag"})
                new_state, produced = roll(extra)
            snap_next = snapshot(advance(new_state, terms, [], tomorrow)[0], terms)
            charge_row: dict[str, Any] | None = None
            if (status == "active" and snap_next.days_past_due >= rules.charge_off_days
                    and new_state.status not in (CHARGED_OFF, PAID_OFF)):
                extra.append(Event(f"eod-chargeoff-{loan_id}", "charge_off", day))
                new_state, produced = roll(extra)
                # The parts are what is *booked* (filled in by the books pass below): interest kept
                # off the books on non-accrual stays in the memo as part of the deficiency.
                entry(loan_id, "charge_off", ZERO, reason_code="threshold",
                      payload={"reason": f"{rules.charge_off_days} days past due"})
                charge_row = new_entries[-1]
                tally.charge_offs += 1
                snap_next = snapshot(advance(new_state, terms, [], tomorrow)[0], terms)
            for fee in late:
                entry(loan_id, "late_fee", fee.amount or ZERO, fees=fee.amount or ZERO, fee_kind="late",
                      payload={"engine_id": fee.id})
                tally.late_fees += 1
                tally.fees += fee.amount or ZERO
            for applied in produced:
                # Money held in suspense that the engine applied today: booked as the engine applied it.
                if applied.type == "suspense_applied" and applied.date == day:
                    entry(loan_id, "suspense_applied", applied.amount or ZERO, interest=applied.interest,
                          principal=applied.principal, fees=applied.fees, suspense=applied.suspense,
                          refund=applied.refund, payload={"engine_id": applied.id})
            if status == "active":
                # Day D's interest on the state at the end of D.  What the day's entries changed in
                # interest earned before D (a payment billing an installment early, say) was booked
                # when they were posted (services.books.reconcile), so it is not counted again.
                accrual = round_money(interest_earned(new_state, terms, tomorrow)) - round_money(
                    interest_earned(new_state, terms, day)
                )
                if new_state.status == CHARGED_OFF:
                    accrual = ZERO
                if accrual != 0 and delinquency == "non_accrual":
                    # Earned, not recognised: kept off the books (memo) while on non-accrual.
                    entry(loan_id, "nonaccrual_interest", accrual, interest=accrual)
                elif accrual != 0:
                    entry(loan_id, "accrual", accrual, interest=accrual)
                    tally.interest += accrual
            new_status = status
            if status in ("active", "paid_off"):
                new_status = {CHARGED_OFF: "charged_off", PAID_OFF: "paid_off"}.get(snap_next.status, "active")
            new_delinquency, new_since = "current", None
            if new_status == "active":
                new_delinquency, new_since = _next_delinquency(snap_next.days_past_due, rules, delinquency,
                                                               current_since, tomorrow)
            if new_status != status or new_delinquency != delinquency or new_since != current_since:
                loan_updates.append({"b_id": loan_id, "b_version": loan_version, "status": new_status,
                                     "delinquency": new_delinquency, "current_since": new_since})
                if new_status != status or new_delinquency != delinquency:
                    tally.status_changes += 1
            if replayed or charge_row is not None or (
                (new_delinquency == "non_accrual") != (delinquency == "non_accrual")
            ):
                to_books[loan_id] = (list(extra), new_delinquency, charge_row)
            if new_status == "active" and not (hardship or dispute):
                for trigger in rules.letter_triggers:
                    threshold = trigger.days_past_due
                    if old_dpd < threshold <= snap_next.days_past_due:
                        letters.append({"loan_id": loan_id, "kind": trigger.letter, "queued_on": tomorrow,
                                        "reason": f"{threshold} days past due", "status": "queued",
                                        "created_at": now, "version": 1, "cycle_due": None})
            state_updates.append({
                "b_id": loan_id, "b_version": state_version, "as_of": day,
                "engine_state": _json_text(state_to_dict(new_state)),
                "principal": _cents(snap_next.principal),
                "accrued_interest": _cents(snap_next.accrued_interest) * INTEREST_PER_CENT,
                "fees": _cents(snap_next.fees), "suspense": _cents(snap_next.suspense),
                "refund_due": _cents(snap_next.refund_due),
                "paid_through": snap_next.paid_through, "next_due": snap_next.next_due,
                "amount_due": _cents(snap_next.amount_due), "days_past_due": snap_next.days_past_due,
                "bucket": snap_next.bucket, "status": snap_next.status, "per_diem": _cents(snap_next.per_diem),
                "payoff": _cents(snap_next.payoff),
            })
            _check_storable(state_updates[-1], new_entries[marks[0]:])
            if new_status == "active":
                cycle.append(_CycleLoan(loan_id, terms, new_state, rules, boarded_on, bool(hardship), bool(dispute),
                                        snap_next.days_past_due))
            tally.processed += 1
        except Exception as exc:  # a loan whose figures cannot be computed or stored is reported and skipped
            del new_entries[marks[0]:], loan_updates[marks[1]:], letters[marks[2]:], state_updates[marks[3]:]
            if marks[4] is None:
                seqs.pop(loan_id, None)
            else:
                seqs[loan_id] = marks[4]
            if not marks[5]:
                to_books.pop(loan_id, None)
            _restore_counters(tally, marks[6])
            tally.errors.append((number, f"{type(exc).__name__}: {exc}"))
    for loan_id, (extra_events, new_delinquency, charge_row) in to_books.items():
        _book_loan(session, loan_id, day, extra_events, new_delinquency, charge_row,
                   [row for row in new_entries if row["loan_id"] == loan_id], entry)
    letters.extend(_cycle_letters(session, day, cycle, now))
    _write_chunk(session, state_updates, loan_updates, new_entries, letters)
    tally.letters += len(letters)
    # The chunk's own audit row: its seal covers the chunk's ledger entries (app.db.chain).
    audit.record(session, ctx.actor, "eod.chunk", entity="eod_chunk", entity_id=f"{ids[0]}-{ids[-1]}",
                 details={"business_date": day.isoformat(), "loans": len(ids), "entries": len(new_entries)})


@dataclass(frozen=True, slots=True)
class _CycleLoan:
    loan_id: int
    terms: Any
    state: Any
    rules: ProductRules
    boarded_on: date
    hardship: bool
    dispute: bool
    days_past_due: int  # the morning after


def _cycle_letters(session: Session, day: date, loans: list[_CycleLoan], now: datetime) -> list[dict[str, Any]]:
    """The billing statements and payment reminders due at the close of ``day`` (issue 13, item 4).

    The rules are :func:`app.domain.statement_cycle.notices_due`, on each loan's state at the end of the
    day, already in memory.  A cheap first pass (:func:`~app.domain.statement_cycle.may_notice`) keeps the
    few loans that could be due something tonight; only those are looked up -- mortgage or not, borrower
    flags -- in one query each for the chunk, never one per loan.  The
    queue keeps one letter per loan, kind and cycle (``cycle_due``), so however end of day is resumed or
    re-run nothing is queued twice (:func:`_write_chunk`).
    """
    from app.domain.statement_cycle import LoanFacts, may_notice, notices_due
    from app.services import statements

    due = [item for item in loans
           if may_notice(day, item.terms, item.state, item.boarded_on,
                         statement_days=item.rules.statement_days_before_due,
                         reminder_days=item.rules.reminder_days_before_due)]
    if not due:
        return []
    ids = [item.loan_id for item in due]
    mortgages = statements.mortgage_ids(session, ids)
    blocks = statements.contact_blocks(session, ids)
    exemptions = statements.read(session).exemptions()
    tomorrow = day + timedelta(days=1)
    rows: list[dict[str, Any]] = []
    for item in due:
        cease, attorney = blocks.get(item.loan_id, (False, False))
        facts = LoanFacts(item.boarded_on, item.loan_id in mortgages, item.hardship, item.dispute, cease, attorney,
                          item.days_past_due)
        for notice in notices_due(day, item.terms, item.state, facts, exemptions=exemptions,
                                  statement_days=item.rules.statement_days_before_due,
                                  reminder_days=item.rules.reminder_days_before_due):
            rows.append({"loan_id": item.loan_id, "kind": notice.kind, "queued_on": tomorrow,
                         "reason": notice.reason[:200], "status": "queued", "created_at": now, "version": 1,
                         "cycle_due": notice.cycle_due})
    return rows


_COUNTERS = ("interest", "fees", "late_fees", "status_changes", "charge_offs")


def _counters(tally: _Tally) -> tuple[Any, ...]:
    return tuple(getattr(tally, name) for name in _COUNTERS)


def _restore_counters(tally: _Tally, values: tuple[Any, ...]) -> None:
    for name, value in zip(_COUNTERS, values, strict=True):
        setattr(tally, name, value)


def _check_storable(state_row: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    """Refuse (ValueError) a loan's night whose figures do not fit the stored columns (64-bit cents, interest
    in 1e-10): it is then reported and skipped, and every other loan still closes (issue 12)."""
    for name, value in state_row.items():
        if name in _RAW_STATE_COLUMNS and isinstance(value, int) and not BIGINT_MIN <= value <= BIGINT_MAX:
            raise ValueError(f"{name.replace('_', ' ')} is too large to store; the loan needs review")
    for row in entries:
        for name in _ENTRY_MONEY:
            value = row.get(name)
            if isinstance(value, Decimal) and not BIGINT_MIN <= value * 100 <= BIGINT_MAX:
                raise ValueError(f"the {row['type'].replace('_', ' ')} entry's {name} {value} is too large to store; "
                                 "the loan needs review")


# The cached-state update is the hot write of end of day: its values are bound
# as the storage types (integer cents, JSON text) instead of going through the
# Money and JSONText decorators once per column per loan.  The encodings are
# the decorators' own: cents as integers, interest in units of 1e-10, JSON with
# sorted keys and compact separators.
INTEREST_PER_CENT = 10**8
_RAW_STATE_COLUMNS: dict[str, Any] = {
    "engine_state": Text(),
    "principal": BigInteger(),
    "accrued_interest": BigInteger(),
    "fees": BigInteger(),
    "suspense": BigInteger(),
    "refund_due": BigInteger(),
    "amount_due": BigInteger(),
    "per_diem": BigInteger(),
    "payoff": BigInteger(),
}


_ENTRY_MONEY = ("amount", "interest", "principal", "fees", "escrow", "suspense", "refund")


def _cents(value: Decimal) -> int:
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{value} is not a whole number of cents")
    return int(cents)


def _json_text(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_PG_TYPES = {
    "b_id": "integer", "b_version": "integer", "as_of": "date", "engine_state": "text", "principal": "bigint",
    "accrued_interest": "bigint", "fees": "bigint", "suspense": "bigint", "refund_due": "bigint",
    "paid_through": "date", "next_due": "date", "amount_due": "bigint", "days_past_due": "integer",
    "bucket": "text", "status": "text", "per_diem": "bigint", "payoff": "bigint",
}


def _update_states_in_one_statement(session: Session, state_updates: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY the chunk into a temporary table, then one ``UPDATE ... FROM`` it.

    A statement per loan costs a round trip each; COPY streams the whole chunk.
    """
    names = list(state_updates[0])
    assert set(names) == set(_PG_TYPES), names
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS keel_eod_chunk ("
            + ", ".join(f"{name} {_PG_TYPES[name]}" for name in names)
            + ") ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE keel_eod_chunk")
        with cursor.copy(f"COPY keel_eod_chunk ({', '.join(names)}) FROM STDIN") as copy:
            for row in state_updates:
                copy.write_row(tuple(row[name] for name in names))
        sets = ", ".join(f"{name} = v.{name}" for name in names if not name.startswith("b_"))
        cursor.execute(
            f"UPDATE loan_states AS s SET {sets}, version = s.version + 1 FROM keel_eod_chunk AS v "
            "WHERE s.loan_id = v.b_id AND s.version = v.b_version"
        )
        if cursor.rowcount != len(state_updates):
            raise StaleDataError("a loan's cached state changed during end of day")


def _copy_entries(session: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: stream the day's ledger rows with COPY (accruals are one row per loan per day)."""
    names = [name for name in rows[0] if name != "id"]
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        with cursor.copy(f"COPY ledger_entries ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(
                    _json_text(row[name]) if name == "payload" and row[name] is not None else row[name]
                    for name in names
                ))


def _write_chunk(
    session: Session,
    state_updates: list[dict[str, Any]],
    loan_updates: list[dict[str, Any]],
    new_entries: list[dict[str, Any]],
    letters: list[dict[str, Any]],
) -> None:
    states = cast(Table, LoanState.__table__)
    loans = cast(Table, Loan.__table__)
    sane = session.get_bind().dialect.supports_sane_multi_rowcount
    if state_updates and session.get_bind().dialect.name == "postgresql":
        _update_states_in_one_statement(session, state_updates)
    elif state_updates:
        stmt = (
            update(states)
            .where(and_(states.c.loan_id == bindparam("b_id"), states.c.version == bindparam("b_version")))
            .values({name: bindparam(name, type_=_RAW_STATE_COLUMNS.get(name) or states.c[name].type)
                     for name in state_updates[0] if not name.startswith("b_")}
                    | {"version": states.c.version + 1})
        )
        result = session.connection().execute(stmt, state_updates)
        if sane and result.rowcount != len(state_updates):
            raise StaleDataError("a loan's cached state changed during end of day")
    if loan_updates:
        stmt = (
            update(loans)
            .where(and_(loans.c.id == bindparam("b_id"), loans.c.version == bindparam("b_version")))
            .values(status=bindparam("status"), delinquency=bindparam("delinquency"),
                    current_since=bindparam("current_since"), version=loans.c.version + 1)
        )
        result = session.connection().execute(stmt, loan_updates)
        if sane and result.rowcount != len(loan_updates):
            raise StaleDataError("a loan changed during end of day")
    if new_entries:
        token = chain.tx_token(session)  # bulk rows skip the ORM's stamp; the chunk's seal covers them
        for row in new_entries:
            row["tx"] = token
        entries = cast(Table, LedgerEntry.__table__)
        raw = {name: bindparam(name, type_=BigInteger()) for name in _ENTRY_MONEY}
        insert_stmt = insert(entries).values(
            {name: raw.get(name, bindparam(name, type_=entries.c[name].type)) for name in new_entries[0]}
        )
        for row in new_entries:
            for name in _ENTRY_MONEY:
                row[name] = _cents(row[name])
        if session.get_bind().dialect.name == "postgresql":
            _copy_entries(session, new_entries)
        else:
            session.connection().execute(insert_stmt, new_entries)
    if letters:
        # A statement or reminder already queued for its cycle is not queued again (revision 0014's unique
        # index on loan, kind and cycle; other letters have no cycle, and NULLs never conflict).
        from sqlalchemy.dialects import postgresql, sqlite

        queue = cast(Table, LetterQueueItem.__table__)
        cycle = ["loan_id", "kind", "cycle_due"]
        once = (postgresql.insert(queue).on_conflict_do_nothing(index_elements=cycle)
                if session.get_bind().dialect.name == "postgresql"
                else sqlite.insert(queue).on_conflict_do_nothing(index_elements=cycle))
        session.connection().execute(once, letters)
