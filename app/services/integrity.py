"""The book's integrity: the sealed audit chain's proof and the book's key (issue 12).

* :func:`verify_audit_chain` proves the chain (``keel audit verify``; ``keel
  verify`` runs it too) -- for whoever may verify the ledger;
* :func:`key_status` says where this machine keeps the book's key, never the key;
* the recovery key is handed over once: shown at set-up (``keel init``, the
  desk's first admin sign-in; :func:`recovery_key_to_show`,
  :func:`recovery_key_shown`), or written by an admin to a 0600 file
  (:func:`save_recovery_key`, ``keel keys recovery --file``);
* :func:`restore_key` puts a book's key back on a new machine from its
  recovery key.  Holding the recovery key is the authority (it is checked
  against the book); the restore is audited.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.db import chain, keys
from app.db.base import utc_now

from app.db.settings import get_setting, set_setting
from app.services import audit, permissions
from app.services.context import Actor, ServiceContext, unit_of_work
from app.services.errors import InvalidInput, ServiceError


def verify_audit_chain(ctx: ServiceContext) -> chain.ChainReport:
    """Prove the audit chain: numbering, links, seals and the ledger entries each record covers."""
    permissions.require(ctx.actor, permissions.VERIFY)
    with ctx.unit(write=False) as session:
        return chain.verify_chain(session)


@dataclass(frozen=True)
class KeyStatus:
    book_id: str | None
    kept_in: str
    present: bool
    problem: str | None
    recovery_handed_over: bool = False


def key_status(factory: sessionmaker[Session]) -> KeyStatus:
    """Whether this machine holds the book's key, and where it keeps keys; never the key itself."""
    with unit_of_work(factory, write=False) as session:
        book_id = get_setting(session, keys.SETTING_BOOK_ID)
        if book_id is None:
            return KeyStatus(None, keys.where_kept(), False, "this book has no key yet")
        handed = get_setting(session, SETTING_RECOVERY_HANDED_OVER) is not None
        try:
            keys.book_keys(session)
        except keys.BookKeyProblem as exc:
            return KeyStatus(book_id, keys.where_kept(), False, str(exc), handed)
    return KeyStatus(book_id, keys.where_kept(), True, None, handed)


#: Set once the book's recovery key has been shown at set-up (or saved to a file by an admin).
SETTING_RECOVERY_HANDED_OVER = "book_key_recovery_handed_over"


def recovery_key_to_show(factory: sessionmaker[Session]) -> str | None:
    """The recovery key while it has never been handed over (set-up shows it once), else None."""
    with unit_of_work(factory, write=False) as session:
        if get_setting(session, SETTING_RECOVERY_HANDED_OVER) is not None:
            return None
        try:
            return keys.recovery_text(keys.book_keys(session)[0].master)
        except keys.BookKeyProblem:
            return None


def recovery_key_shown(factory: sessionmaker[Session], actor: Actor | None, how: str) -> None:
    """Record that the recovery key was handed over (``how``: shown at set-up, on the desk, to a file)."""
    with unit_of_work(factory) as session:
        set_setting(session, SETTING_RECOVERY_HANDED_OVER, utc_now().isoformat())
        audit.record(session, actor, "keys.recovery_handed_over", entity="book",
                     entity_id=get_setting(session, keys.SETTING_BOOK_ID), details={"how": how})


def save_recovery_key(ctx: ServiceContext, path: Path) -> Path:
    """Write the book's recovery key to a new file only its owner can read (0600); admins; audited.

    For a book that got its key without a set-up screen (one upgraded by this
    Keel), or whose recovery key was lost while the key is still on this
    machine.  The key never goes to the screen or the log.
    """
    permissions.require(ctx.actor, permissions.MANAGE_SETTINGS)
    if path.exists():
        raise InvalidInput("file", f"{path} already exists; name a new file")
    if not path.parent.is_dir():
        raise InvalidInput("file", f"no folder {path.parent}")
    with ctx.unit() as session:
        try:
            text = keys.recovery_text(keys.book_keys(session)[0].master)
        except keys.BookKeyProblem as exc:
            raise ServiceError(str(exc)) from None
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise InvalidInput("file", f"cannot create {path}: {exc.strerror or exc}") from None
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(text + "\n")
        set_setting(session, SETTING_RECOVERY_HANDED_OVER, utc_now().isoformat())
        audit.record(session, ctx.actor, "keys.recovery_handed_over", entity="book",
                     entity_id=get_setting(session, keys.SETTING_BOOK_ID), details={"how": "file"})
    return path


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


__all__ = ["KeyStatus", "key_status", "recovery_key_shown",
           "recovery_key_to_show", "restore_key", "save_recovery_key", "verify_audit_chain"]
