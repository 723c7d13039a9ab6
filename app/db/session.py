"""Where the database is, how to connect to it, and the unit of work.

The caller owns the session (one per user action, never shared between
threads).  Services use :func:`unit_of_work`; the UI never opens a session.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

ENV_DATABASE_URL = "KEEL_DATABASE_URL"
SQLITE_FILE_NAME = "keel.sqlite3"
#: How long (seconds) a SQLite unit waits for another desk's write lock before SQLite says "busy".
ENV_BUSY_TIMEOUT = "KEEL_BUSY_TIMEOUT"
DEFAULT_BUSY_TIMEOUT = 5.0
MAX_BUSY_TIMEOUT = 3600.0
#: ASCII digits only: ``\\d`` would take other scripts' digits too (issue 12, full-width digits).
_SECONDS = re.compile(r"[0-9]{1,7}(\.[0-9]{1,6})?|\.[0-9]{1,6}")


class BadBusyTimeout(ValueError):
    """``KEEL_BUSY_TIMEOUT`` is not a number of seconds; the message names the variable."""


def busy_timeout() -> float:
    """Seconds from ``KEEL_BUSY_TIMEOUT`` (default 5): plain digits, such as ``5`` or ``0.2``.

    Anything else (a unit, an exponent, a sign, ``nan``) is refused with a one-line
    :class:`BadBusyTimeout` naming the variable, rather than silently using a default.
    """
    raw = os.environ.get(ENV_BUSY_TIMEOUT)
    if raw is None or not raw.strip():
        return DEFAULT_BUSY_TIMEOUT
    text = raw.strip()
    if not _SECONDS.fullmatch(text) or float(text) > MAX_BUSY_TIMEOUT:
        shown = text if len(text) <= 20 else text[:20] + "..."
        raise BadBusyTimeout(
            f"{ENV_BUSY_TIMEOUT}: must be a number of seconds from 0 to {MAX_BUSY_TIMEOUT:.0f}, "
            f"such as 5 or 0.5; got {shown!r}")
    return float(text)


def is_busy(exc: BaseException) -> bool:
    """True when ``exc`` is SQLite saying another connection holds the lock it needs
    (SQLITE_BUSY or SQLITE_LOCKED: "database is locked", "database is busy")."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def data_dir() -> Path:
    """The user's Keel data folder (created if missing)."""
    path = Path(platformdirs.user_data_dir("Keel", "Keel"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    """A SQLite file ``keel.sqlite3`` in the user's data folder."""
    return URL.create("sqlite", database=str(data_dir() / SQLITE_FILE_NAME)).render_as_string(
        hide_password=False
    )


def resolve_url(cli_value: str | None = None) -> str:
    """``--db`` if given, else ``KEEL_DATABASE_URL``, else the default SQLite file."""
    if cli_value:
        return cli_value
    from_env = os.environ.get(ENV_DATABASE_URL, "").strip()
    if from_env:
        return from_env
    return default_database_url()


def display_url(url: str | URL) -> str:
    """The URL with any password replaced by ``***``, for messages and logs: the one in the
    URL's user part and one given as ``?password=`` (libpq accepts both)."""
    parsed = make_url(url)
    if "password" not in parsed.query:
        return parsed.render_as_string(hide_password=True)
    hidden = parsed.update_query_dict({"password": "***"}).render_as_string(hide_password=True)
    return hidden.replace("password=%2A%2A%2A", "password=***")


def sqlite_path(url: str | URL) -> Path | None:
    """The file behind a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _sqlite_connect_listener(timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins
        # (see _sqlite_begin_listener); sqlite3's legacy mode skips BEGIN before SELECT,
        # DDL and SAVEPOINT, which breaks savepoints and transactional DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets readers run alongside the one writer; the write-ahead log is
            # why backups use the online backup API rather than a file copy.
            _make_private(cursor)
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
            # NORMAL is durable across application crashes in WAL mode; a power
            # cut can lose the last transactions but never corrupts the file.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    return on_connect


def _make_private(cursor: Any) -> None:
    """A book file readable by its owner only (0600): it holds borrowers' names, addresses and the
    sealed SSNs.  Done before WAL mode is set, so the -wal and -shm files SQLite makes take the
    same mode.  POSIX only: on Windows the file sits in the user's profile, private by its ACL."""
    if os.name != "posix":
        return
    for row in cursor.execute("PRAGMA database_list").fetchall():
        path = row[2]
        if not path:
            continue  # in-memory or temporary
        for name in (path, f"{path}-wal", f"{path}-shm"):
            try:
                info = os.stat(name)
                if info.st_mode & 0o077 and info.st_uid == os.getuid():
                    os.chmod(name, 0o600)
            except OSError:
                continue


SQLITE_BEGIN_OPTION = "keel_sqlite_begin"
#: Execution option: the busy timeout (ms) for this BEGIN only; 0 asks for the lock without waiting.
SQLITE_BEGIN_WAIT_OPTION = "keel_sqlite_begin_wait_ms"


def _sqlite_begin_listener(timeout_ms: int) -> Any:
    def on_begin(conn: Any) -> None:
        # A write unit of work asks for BEGIN IMMEDIATE: it takes SQLite's write
        # lock up front (waiting up to busy_timeout for another writer) instead of
        # reading a snapshot first and failing with "database is locked" when it
        # later tries to write after someone else committed.  A read unit's plain
        # BEGIN takes no lock at all: in WAL mode it never waits for the writer.
        options = conn.get_execution_options()
        mode = options.get(SQLITE_BEGIN_OPTION, "")
        wait_ms = options.get(SQLITE_BEGIN_WAIT_OPTION)
        if wait_ms is None:
            conn.exec_driver_sql(f"BEGIN {mode}".strip())
            return
        raw = conn.connection.driver_connection
        raw.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            conn.exec_driver_sql(f"BEGIN {mode}".strip())
        finally:
            raw.execute(f"PRAGMA busy_timeout={timeout_ms}")

    return on_begin


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An Engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout
    (``KEEL_BUSY_TIMEOUT`` seconds, default 5; a bad value is :class:`BadBusyTimeout`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        timeout_ms = round(busy_timeout() * 1000)
        path = sqlite_path(parsed)
        if path is not None and path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_connect_listener(timeout_ms))
        event.listen(engine, "begin", _sqlite_begin_listener(timeout_ms))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``.  Objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(
    factory: sessionmaker[Session], *, write: bool = True, snapshot: bool = False, wait: bool = True
) -> Iterator[Session]:
    """One transaction: commit if the block finishes, roll back if it raises.

    ::

        with unit_of_work(factory) as session:
            session.add(entry)
            # committed here; any exception rolls everything back and propagates

    ``write=True`` (the default) starts SQLite's transaction with BEGIN
    IMMEDIATE so two writers queue rather than collide; pass ``write=False``
    for a read-only unit (in WAL mode it never waits for another desk's
    writer).  PostgreSQL is unaffected.  If another connection holds the write
    lock for longer than the busy timeout, the BEGIN raises SQLite's "database
    is locked" before the block runs (:func:`is_busy`); ``wait=False`` asks
    for the lock without waiting at all.  The services retry such a unit
    (``app.services.context.unit_of_work``).

    ``snapshot=True``: every statement of the unit sees the same moment (a
    screen read in several queries, issue 11).  PostgreSQL runs it at
    REPEATABLE READ (READ COMMITTED takes a new snapshot per statement);
    SQLite's transaction (an explicit BEGIN, in WAL mode) already reads one
    snapshot.  A session joined to a connection already in a transaction (the
    tests) keeps that transaction's level.
    """
    with factory() as session, session.begin():
        bind = session.get_bind()
        if write and bind.dialect.name == "sqlite":
            options: dict[str, Any] = {SQLITE_BEGIN_OPTION: "IMMEDIATE"}
            if not wait:
                options[SQLITE_BEGIN_WAIT_OPTION] = 0
            session.connection(execution_options=options)
        elif snapshot and bind.dialect.name == "postgresql" and isinstance(bind, Engine):
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield session


# Every transaction a unit of work commits is sealed into the audit chain, and personal data is
# sealed as it is flushed; importing the modules registers their session and mapper events.
import app.db.chain  # noqa: E402,F401
import app.db.personal  # noqa: E402,F401
