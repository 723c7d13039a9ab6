"""Personal data encrypted at rest (issue 12, item 4): SSN/TIN and date of birth.

Each value is sealed with AES-256-GCM under the book's data key
(:mod:`app.db.keys`, kept outside the database), with a fresh 96-bit nonce and
the column's name as associated data, so a value copied into another column
does not open.  Stored as ``v1:`` and the URL-safe base64 of nonce and
ciphertext.  The last four digits of the SSN/TIN are kept in the clear in
their own column, so search by the last four still works and the masked form
(``***-**-6789``) needs no key.

:class:`app.db.models.Person` encrypts on flush (a mapper event) and decrypts
when read, both with the key of the session's book.  Who may see a full value
is the services' business (:mod:`app.services.personal`).
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db.keys import book_keys

PREFIX = "v1:"
TAX_ID = b"persons.tax_id"
DATE_OF_BIRTH = b"persons.date_of_birth"


class PersonalDataUnreadable(Exception):
    """A sealed value that does not open under this book's key (damaged, or moved from another book)."""


def _aead(session: Session):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(book_keys(session)[0].data_key)


def seal(session: Session, field: bytes, value: str) -> str:
    nonce = os.urandom(12)
    sealed = _aead(session).encrypt(nonce, value.encode("utf-8"), field)
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_sealed(session: Session, field: bytes, stored: str) -> str:
    from cryptography.exceptions import InvalidTag

    if not stored.startswith(PREFIX):
        raise PersonalDataUnreadable(f"{field.decode()}: not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX):].encode("ascii"))
        return str(_aead(session).decrypt(raw[:12], raw[12:], field).decode("utf-8"))
    except (InvalidTag, binascii.Error, ValueError, UnicodeError):
        raise PersonalDataUnreadable(f"{field.decode()}: does not open under this book's key") from None


@event.listens_for(Session, "before_flush")
def _seal_people(session: Session, flush_context: Any, instances: Any) -> None:
    """Seal the SSN/TIN and date of birth set on any person about to be written."""
    from app.db.models import Person

    with session.no_autoflush:
        for person in list(session.new) + list(session.dirty):
            if not isinstance(person, Person):
                continue
            pending = person.__dict__.get("_unsealed")
            if not pending:
                continue
            if "tax_id" in pending:
                value = pending["tax_id"]
                person._tax_id_sealed = None if value is None else seal(session, TAX_ID, value)
            if "date_of_birth" in pending:
                value = pending["date_of_birth"]
                person._date_of_birth_sealed = None if value is None else seal(session, DATE_OF_BIRTH, value)
            pending.clear()


def has_legacy(session: Session) -> bool:
    """True while some person's SSN/TIN or date of birth is still in the clear (a book from before 0013)."""
    from sqlalchemy import Table, or_, select

    from app.db.models import Person

    table = cast(Table, Person.__table__)
    return session.execute(select(table.c.id).where(
        or_(table.c.tax_id.is_not(None), table.c.date_of_birth.is_not(None))).limit(1)).first() is not None


def seal_legacy(session: Session, batch: int = 2000) -> int:
    """Seal the plain SSN/TINs and dates of birth a book kept before revision 0013; returns how many people.

    Runs as a book is opened (a write unit).  One UPDATE statement per batch.
    """
    from sqlalchemy import Table, bindparam, or_, select, update

    from app.db.models import Person

    table = cast(Table, Person.__table__)
    done = 0
    while True:
        rows = session.execute(
            select(table.c.id, table.c.tax_id, table.c.date_of_birth)
            .where(or_(table.c.tax_id.is_not(None), table.c.date_of_birth.is_not(None)))
            .order_by(table.c.id).limit(batch)).all()
        if not rows:
            return done
        values = [{"b_id": row.id,
                   "tax_id_sealed": None if row.tax_id is None else seal(session, TAX_ID, row.tax_id),
                   "tax_id_last4": None if row.tax_id is None else row.tax_id[-4:],
                   "date_of_birth_sealed": None if row.date_of_birth is None
                   else seal(session, DATE_OF_BIRTH, row.date_of_birth.isoformat())}
                  for row in rows]
        session.connection().execute(
            update(table).where(table.c.id == bindparam("b_id"))
            .values(tax_id=None, date_of_birth=None, tax_id_sealed=bindparam("tax_id_sealed"),
                    tax_id_last4=bindparam("tax_id_last4"), date_of_birth_sealed=bindparam("date_of_birth_sealed"),
                    version=table.c.version + 1), values)
        done += len(rows)


def masked_tax_id(last4: str | None) -> str | None:
    return None if not last4 else f"***-**-{last4}"


__all__ = ["DATE_OF_BIRTH", "TAX_ID", "PersonalDataUnreadable", "masked_tax_id", "open_sealed", "seal", "seal_legacy"]
