"""The book's integrity: the sealed audit chain's proof and the book's key (issue 12).

* :func:`verify_audit_chain` proves the chain (``keel audit verify``; ``keel
  verify`` runs it too) -- for whoever may verify the ledger;
* :func:`chain_head` is the head printed on each end-of-day report: keep the
  reports, and removing the newest records is caught by comparing heads;
* :func:`key_status` says where this machine keeps the book's key, never the key;
* :func:`restore_key` puts a book's key back on a new machine from its
  recovery key.  Holding the recovery key is the authority (it is checked
  against the book); the restore is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.db import chain, keys
from app.db.session import unit_of_work
from app.db.settings import get_setting
from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.errors import ServiceError


def verify_audit_chain(ctx: ServiceContext) -> chain.ChainReport:
    """Prove the audit chain: numbering, links, seals and the ledger entries each record covers."""
    permissions.require(ctx.actor, permissions.VERIFY)
    with ctx.unit(write=False) as session:
        return chain.verify_chain(session)


def chain_head(session: Session) -> str:
    """The chain's head as printed on reports (``#1234 0123456789abcdef``)."""
    return chain.chain_head(session)


@dataclass(frozen=True)
class KeyStatus:
    book_id: str | None
    kept_in: str
    present: bool
    problem: str | None


def key_status(factory: sessionmaker[Session]) -> KeyStatus:
    """Whether this machine holds the book's key, and where it keeps keys; never the key itself."""
    with unit_of_work(factory, write=False) as session:
        book_id = get_setting(session, keys.SETTING_BOOK_ID)
        if book_id is None:
            return KeyStatus(None, keys.where_kept(), False, "this book has no key yet")
        try:
            keys.book_keys(session)
        except keys.BookKeyProblem as exc:
            return KeyStatus(book_id, keys.where_kept(), False, str(exc))
    return KeyStatus(book_id, keys.where_kept(), True, None)


def restore_key(factory: sessionmaker[Session], recovery_text: str) -> KeyStatus:
    """Keep the book's key on this machine from its recovery key (checked against the book), audited."""
    try:
        with unit_of_work(factory) as session:
            restored = keys.restore(session, recovery_text)
            audit.record(session, None, "keys.restored", entity="book", entity_id=restored.book_id,
                         details={"kept_in": keys.where_kept()})
    except keys.BookKeyProblem as exc:
        raise ServiceError(str(exc)) from None
    return KeyStatus(restored.book_id, keys.where_kept(), True, None)


__all__ = ["KeyStatus", "chain_head", "key_status", "restore_key", "verify_audit_chain"]
