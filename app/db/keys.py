"""The book's key, kept outside the database (issue 12).

Every book has an id (system setting ``book_id``) and one 32-byte master key.
The key never enters the database; the book keeps only a check value
(``book_key_check``, an HMAC of a constant) so a wrong key is told apart from
a missing one.  Two keys are derived from it with HKDF: one seals the audit
trail (:mod:`app.db.chain`), one encrypts personal data at rest.

Where the key is kept, first found wins:

1. ``KEEL_BOOK_KEY``: the key itself, as its recovery text -- a shared
   server's desks get it as an environment secret;
2. ``KEEL_KEY_DIR``: a folder of key files, one per book, created 0600
   (machines without a keyring, and the tests);
3. the operating system's keyring (service ``Keel``, user ``book-<id>``):
   Windows Credential Manager, the macOS Keychain, Secret Service on Linux;
4. with no keyring backend, a key file in the user's configuration folder.

The recovery text (52 base32 characters in groups of four) is shown once when
the key is made; ``keel keys restore`` puts it back on a new machine.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
from sqlalchemy.orm import Session

from app.db.models import SystemSetting

ENV_BOOK_KEY = "KEEL_BOOK_KEY"
ENV_KEY_DIR = "KEEL_KEY_DIR"
KEYRING_SERVICE = "Keel"
SETTING_BOOK_ID = "book_id"
SETTING_KEY_CHECK = "book_key_check"
_KEY_BYTES = 32


class BookKeyProblem(Exception):
    """The book's key is missing or wrong on this machine; the message says what to do."""


@dataclass(frozen=True)
class BookKeys:
    """A book's master key and the keys derived from it.  ``repr`` never shows a key."""

    book_id: str
    master: bytes = field(repr=False)

    @property
    def audit_key(self) -> bytes:
        return _derive(self.master, b"keel audit chain v1")

    @property
    def data_key(self) -> bytes:
        return _derive(self.master, b"keel personal data v1")

    @property
    def check(self) -> str:
        return key_check(self.master)


def _derive(master: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def key_check(master: bytes) -> str:
    return hmac.new(master, b"keel book key check", hashlib.sha256).hexdigest()[:32]


# -- recovery text ---------------------------------------------------------------------------------------------------
def recovery_text(master: bytes) -> str:
    """The key as 52 base32 characters in groups of four, e.g. ``ABCD-EFGH-...``."""
    letters = base64.b32encode(master).decode("ascii").rstrip("=")
    return "-".join(letters[i:i + 4] for i in range(0, len(letters), 4))


def parse_recovery(text: str) -> bytes:
    """The key from its recovery text (spaces, dashes and case are ignored)."""
    letters = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(letters) != 52:
        raise BookKeyProblem("recovery key: expected 52 letters and digits (13 groups of four)")
    try:
        master = base64.b32decode(letters + "====")
    except (binascii.Error, ValueError):
        raise BookKeyProblem("recovery key: not a Keel recovery key (letters A-Z and digits 2-7 only)") from None
    if len(master) != _KEY_BYTES:
        raise BookKeyProblem("recovery key: not a Keel recovery key")
    return master


# -- where keys are kept -------------------------------------------------------------------------------------------
def _key_dir() -> Path | None:
    explicit = os.environ.get(ENV_KEY_DIR, "").strip()
    return Path(explicit) if explicit else None


def _fallback_dir() -> Path:
    return Path(platformdirs.user_config_dir("Keel", "Keel")) / "keys"


def _keyring_usable() -> bool:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:  # pragma: no cover - a declared dependency
        return False
    return not isinstance(keyring.get_keyring(), fail.Keyring)


def where_kept() -> str:
    """Where this machine keeps book keys, for messages and the README's promise."""
    if os.environ.get(ENV_BOOK_KEY, "").strip():
        return f"the {ENV_BOOK_KEY} environment secret"
    folder = _key_dir()
    if folder is not None:
        return f"key files in {ENV_KEY_DIR}"
    if _keyring_usable():
        return "the operating system's keyring"
    return "a key file in Keel's configuration folder (this machine has no keyring)"


def _read_file(folder: Path, book_id: str) -> bytes | None:
    path = folder / f"book-{book_id}.key"
    try:
        return parse_recovery(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeError, BookKeyProblem):
        raise BookKeyProblem(f"the key file for this book ({path.name}) is damaged; "
                             "restore it with `keel keys restore`") from None


def _write_file(folder: Path, book_id: str, master: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"book-{book_id}.key"
    temporary = folder / f".book-{book_id}.{secrets.token_hex(4)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(recovery_text(master) + "\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_key(book_id: str) -> bytes | None:
    """The master key of ``book_id`` from wherever this machine keeps it, or None."""
    secret = os.environ.get(ENV_BOOK_KEY, "").strip()
    if secret:
        return parse_recovery(secret)
    folder = _key_dir()
    if folder is not None:
        return _read_file(folder, book_id)
    if _keyring_usable():
        import keyring

        stored = keyring.get_password(KEYRING_SERVICE, f"book-{book_id}")
        return None if stored is None else parse_recovery(stored)
    return _read_file(_fallback_dir(), book_id)


def store_key(book_id: str, master: bytes) -> None:
    """Keep ``master`` for ``book_id`` on this machine (never in the database)."""
    if os.environ.get(ENV_BOOK_KEY, "").strip():
        return  # the environment secret is the store; nothing to write
    folder = _key_dir()
    if folder is not None:
        _write_file(folder, book_id, master)
        return
    if _keyring_usable():
        import keyring

        keyring.set_password(KEYRING_SERVICE, f"book-{book_id}", recovery_text(master))
        return
    _write_file(_fallback_dir(), book_id, master)


# -- the book's key ------------------------------------------------------------------------------------------------
_cache: dict[tuple[str, str], BookKeys] = {}


def _setting(session: Session, key: str) -> str | None:
    for pending in session.new:  # added in this flush's before_flush, not written yet
        if isinstance(pending, SystemSetting) and pending.key == key:
            return pending.value
    row = session.get(SystemSetting, key)
    return None if row is None else row.value


def book_keys(session: Session) -> tuple[BookKeys, str | None]:
    """The book's keys, made on first use; with the recovery text only when they were made just now.

    A book that has a key check but whose key is not on this machine, or is
    not the right one, raises :class:`BookKeyProblem`.  Making a key writes
    two settings in the caller's (write) transaction.
    """
    bind_key = str(session.get_bind().engine.url)
    book_id = _setting(session, SETTING_BOOK_ID)
    if book_id is not None and (bind_key, book_id) in _cache:
        return _cache[(bind_key, book_id)], None
    check = _setting(session, SETTING_KEY_CHECK)
    made: str | None = None
    if book_id is None or check is None:
        book_id = book_id or uuid.uuid4().hex
        master = load_key(book_id)
        if master is None:
            master = secrets.token_bytes(_KEY_BYTES)
            store_key(book_id, master)
            made = recovery_text(master)
        if _setting(session, SETTING_BOOK_ID) is None:
            session.add(SystemSetting(key=SETTING_BOOK_ID, value=book_id))
        session.add(SystemSetting(key=SETTING_KEY_CHECK, value=key_check(master)))  # written with the next flush
    else:
        master_or_none = load_key(book_id)
        if master_or_none is None:
            raise BookKeyProblem(
                f"this book's key is not on this machine (looked in {where_kept()}); "
                "run `keel keys restore` with the book's recovery key")
        master = master_or_none
        if not hmac.compare_digest(key_check(master), check):
            raise BookKeyProblem(
                f"the key in {where_kept()} is not this book's key; "
                "run `keel keys restore` with the book's recovery key")
    keys = BookKeys(book_id, master)
    _cache[(bind_key, book_id)] = keys
    return keys, made


def restore(session: Session, text: str) -> BookKeys:
    """Put a book's key back on this machine from its recovery text (checked against the book first)."""
    master = parse_recovery(text)
    book_id = _setting(session, SETTING_BOOK_ID)
    check = _setting(session, SETTING_KEY_CHECK)
    if book_id is None or check is None:
        raise BookKeyProblem("this book has no key yet; it gets one the first time it is opened")
    if not hmac.compare_digest(key_check(master), check):
        raise BookKeyProblem("recovery key: this is not the key of this book")
    store_key(book_id, master)
    keys = BookKeys(book_id, master)
    _cache[(str(session.get_bind().engine.url), book_id)] = keys
    return keys


def forget_cached() -> None:
    """Drop the keys held in memory (tests; a desk signing out of a book)."""
    _cache.clear()
