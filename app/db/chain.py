"""The sealed audit trail: numbered, chained, keyed audit rows (issue 12).

Every transaction that records an audit event or writes a ledger entry is
sealed as it commits.  Its audit rows are inserted then, not when the service
records them, so each can cover the whole transaction:

* every ledger entry the transaction writes carries the transaction's token
  (``tx``; ORM inserts get it from a mapper event, bulk writers ask
  :func:`tx_token`), and so does each of its audit rows;
* under a lock (PostgreSQL: a transaction-scoped advisory lock; SQLite: the
  write lock a write unit already holds) each audit row gets the next
  ``number`` -- 1, 2, 3 with no gap, since a rolled-back transaction takes its
  numbers with it -- and a ``mac``: HMAC-SHA256, under the book's audit key
  (:mod:`app.db.keys`, kept outside the database), of its content, the digest
  of the transaction's ledger entries and the previous row's ``mac``.

Nobody without the key can forge, reorder or remove a row without
:func:`verify_chain` finding the first broken link; removing the newest rows
is caught by comparing with the head printed on each end-of-day report.  A
transaction that writes ledger entries without recording an audit event gets
an ``ledger.written`` row, so no money moves outside the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, event, func, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session, object_session

from app.db.base import utc_now
from app.db.keys import book_keys
from app.db.models import AuditEvent, LedgerEntry
from app.db.types import JSONText

GENESIS = "0" * 64
_ADVISORY_LOCK = 0x4B45454C  # "KEEL"
_PENDING = "keel_audit_pending"
_TOKEN = "keel_tx"
_USED = "keel_tx_used"

#: The ledger columns a seal covers, in this order.
LEDGER_COLUMNS = ("id", "loan_id", "seq", "type", "effective_date", "business_date", "posted_at", "amount",
                  "interest", "principal", "fees", "escrow", "suspense", "refund", "reverses_id", "fee_kind",
                  "method", "reference", "reason_code", "payload", "batch_id", "user_id")


def tx_token(session: Session) -> str:
    """This transaction's token, for a bulk writer to put in each ledger row's ``tx``."""
    token = session.info.get(_TOKEN)
    if token is None:
        token = session.info[_TOKEN] = secrets.token_hex(16)
    session.info[_USED] = True
    return str(token)


def pend(session: Session, row: AuditEvent) -> None:
    """Hold an audit row until the transaction commits, when it is numbered and sealed.

    A row recorded inside a savepoint that is rolled back goes with it.
    """
    session.info.setdefault(_PENDING, []).append((session.get_nested_transaction(), row))


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:
        return
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [(owner, row) for owner, row in pending
                                  if not _within(owner, previous_transaction)]


def _within(owner: Any, transaction: Any) -> bool:
    while owner is not None:
        if owner is transaction:
            return True
        owner = owner.parent
    return False


@event.listens_for(LedgerEntry, "before_insert")
def _stamp_ledger_entry(mapper: Mapper[Any], connection: Connection, target: LedgerEntry) -> None:
    session = object_session(target)
    if target.tx is None and session is not None:
        target.tx = tx_token(session)


@event.listens_for(Session, "before_commit")
def _seal_on_commit(session: Session) -> None:
    if session.get_nested_transaction() is None:  # the outermost commit, not a savepoint's release
        seal(session)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        for key in (_PENDING, _TOKEN, _USED):
            session.info.pop(key, None)


def seal(session: Session) -> None:
    """Number and seal the transaction's audit rows (called as it commits)."""
    pending: list[AuditEvent] = [row for _, row in session.info.pop(_PENDING, [])]
    if not pending and not session.info.get(_USED):
        session.flush()
        if not session.info.get(_USED):
            return
    session.flush()  # every ledger entry of the transaction is in, with its token
    token = session.info.get(_TOKEN) if session.info.get(_USED) else None
    if not pending:
        pending = [AuditEvent(user_id=None, action="ledger.written", entity="ledger", details={})]
    keys, _ = book_keys(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_ADVISORY_LOCK)))
    number, previous = _head(session)
    digest = ledger_digest(_ledger_rows(session, token)) if token is not None else ledger_digest(())
    for row in pending:
        number += 1
        row.number = number
        row.tx = token
        if row.at is None:
            row.at = utc_now()
        row.mac = previous = mac(keys.audit_key, _content(row, digest, previous))
        session.add(row)
    session.flush()


def _ledger_rows(session: Session, token: str) -> Iterable[Sequence[Any]]:
    table = LedgerEntry.__table__
    columns = [type_coerce(table.c.payload, Text) if name == "payload" else table.c[name]
               for name in LEDGER_COLUMNS]
    return session.execute(select(*columns).where(table.c.tx == token).order_by(table.c.id))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def ledger_digest(rows: Iterable[Sequence[Any]]) -> str:
    """SHA-256 over the ledger rows (LEDGER_COLUMNS order), one canonical JSON list each."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps([_text(v) for v in row], separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _details_text(details: Any) -> str:
    """The text the details column stores (JSONText ignores the dialect: the same text on both databases)."""
    return JSONText().process_bind_param(details or {}, None) or "{}"  # type: ignore[arg-type]


def _content(row: AuditEvent, ledger: str, previous: str, details_text: str | None = None) -> list[str | None]:
    at = row.at.astimezone(utc_now().tzinfo).isoformat() if row.at is not None else None
    return [str(row.number), at, _text(row.user_id), row.action, _text(row.loan_id), row.entity, row.entity_id,
            details_text if details_text is not None else _details_text(row.details), row.tx, ledger, previous]


def mac(key: bytes, content: list[str | None]) -> str:
    return hmac.new(key, json.dumps(content, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()


# -- proving it --------------------------------------------------------------------------------------------------
@dataclass
class ChainReport:
    """What :func:`verify_chain` found.  ``ok`` when ``problems`` is empty."""

    sealed: int = 0
    head_number: int = 0
    head_mac: str = GENESIS
    before_chain: int = 0  # audit rows written before the chain began (revision 0012), outside it
    ledger_checked: int = 0
    first_broken: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def head(self) -> str:
        return head_text(self.head_number, self.head_mac)


def head_text(number: int, row_mac: str) -> str:
    """The chain head as printed on reports: its number and the first 16 hex digits of its seal."""
    return f"#{number} {row_mac[:16]}"


def _head(session: Session) -> tuple[int, str]:
    head = session.execute(
        select(AuditEvent.number, AuditEvent.mac).where(AuditEvent.number.is_not(None))
        .order_by(AuditEvent.number.desc()).limit(1)).first()
    return (0, GENESIS) if head is None else (int(head[0] or 0), str(head[1]))


def chain_head(session: Session) -> str:
    return head_text(*_head(session))


def _ledger_digests(session: Session, report: ChainReport) -> dict[str, str]:
    table = LedgerEntry.__table__
    columns = [type_coerce(table.c.payload, Text) if name == "payload" else table.c[name]
               for name in LEDGER_COLUMNS]
    digests: dict[str, Any] = {}
    rows = session.execute(select(table.c.tx, *columns).where(table.c.tx.is_not(None))
                           .order_by(table.c.tx, table.c.id).execution_options(yield_per=5000))
    for tx, *values in rows:
        digest = digests.get(tx)
        if digest is None:
            digest = digests[tx] = hashlib.sha256()
        digest.update(json.dumps([_text(v) for v in values], separators=(",", ":")).encode())
        digest.update(b"\n")
        report.ledger_checked += 1
    return {tx: d.hexdigest() for tx, d in digests.items()}


def verify_chain(session: Session) -> ChainReport:
    """Prove the audit chain: numbering, links, seals and the ledger entries each transaction wrote.

    Reports the first broken link (the lowest number whose seal or link does
    not hold) and every kind of damage found, one line each.
    """
    report = ChainReport()
    keys, _ = book_keys(session)
    digests = _ledger_digests(session, report)
    empty = ledger_digest(())
    seen_tx: set[str] = set()
    previous, expected = GENESIS, 1
    details_column = type_coerce(AuditEvent.__table__.c.details, Text).label("details_text")
    rows = session.execute(
        select(AuditEvent, details_column).where(AuditEvent.number.is_not(None))
        .order_by(AuditEvent.number).execution_options(yield_per=2000))
    for row, details_text in rows:
        number = int(row.number or 0)
        if number != expected:
            _broken(report, expected, f"audit row #{expected} is missing (the next is #{number})"
                    if number > expected else f"audit row #{number} is numbered twice")
            expected = number
        if row.tx is not None:
            seen_tx.add(row.tx)
        wanted = mac(keys.audit_key, _content(row, digests.get(row.tx, empty) if row.tx else empty, previous,
                                              details_text))
        if not hmac.compare_digest(wanted, row.mac or ""):
            _broken(report, number, f"audit row #{number} ({row.action}, id {row.id}) does not match its seal: "
                    "it, the ledger entries of its transaction or the row before it were changed")
        previous = row.mac or ""
        expected = number + 1
        report.sealed += 1
        report.head_number, report.head_mac = number, previous
    _check_outside(session, report, digests, seen_tx)
    return report


def _broken(report: ChainReport, number: int, problem: str) -> None:
    if report.first_broken is None:
        report.first_broken = number
    report.problems.append(problem)


def _check_outside(session: Session, report: ChainReport, digests: dict[str, str], seen_tx: set[str]) -> None:
    """Rows outside the chain: before it began is expected; after it began is forgery."""
    first_sealed = session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.number.is_not(None)))
    unsealed = select(func.count()).select_from(AuditEvent).where(AuditEvent.number.is_(None))
    if first_sealed is None:
        report.before_chain = session.scalar(unsealed) or 0
    else:
        report.before_chain = session.scalar(unsealed.where(AuditEvent.id < first_sealed)) or 0
        late = session.scalar(unsealed.where(AuditEvent.id > first_sealed)) or 0
        if late:
            report.problems.append(f"{late} audit row(s) written after the chain began carry no seal")
    orphans = sorted(set(digests) - seen_tx)
    if orphans:
        report.problems.append(f"ledger entries of {len(orphans)} transaction(s) have no audit row")
    first_ledger = session.scalar(select(func.min(LedgerEntry.id)).where(LedgerEntry.tx.is_not(None)))
    if first_ledger is not None:
        loose = session.scalar(select(func.count()).select_from(LedgerEntry)
                               .where(LedgerEntry.tx.is_(None), LedgerEntry.id > first_ledger)) or 0
        if loose:
            report.problems.append(f"{loose} ledger entr{'y' if loose == 1 else 'ies'} written after the chain "
                                   "began belong to no sealed transaction")
