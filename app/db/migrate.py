"""Bringing a database to this Keel's schema: upgrade, version check, backup.

The workstation and the CLI call :func:`prepare_database` on start: a local
SQLite file that is behind is backed up (SQLite's online backup API, which
includes what is still in the write-ahead log; a file copy would miss it) and
upgraded; a database written by a newer Keel is refused with
:class:`DatabaseTooNew` rather than being misread.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from app.db.session import display_url, make_engine, sqlite_path

# pg_advisory_xact_lock key ("keel" in ASCII): two desks starting a new Keel at
# the same moment upgrade one after the other, not on top of each other.
_PG_MIGRATION_LOCK = 0x6B65656C


class MigrationError(Exception):
    """The database cannot be brought to this Keel's schema."""


class DatabaseTooNew(MigrationError):
    """The database carries a revision this Keel does not know: a newer Keel wrote it."""

    def __init__(self, revision: str) -> None:
        self.revision = revision
        super().__init__(
            f"This database was upgraded by a newer Keel (revision {revision}); "
            "install the newer Keel"
        )


def script_location() -> Path:
    """The ``migrations`` folder shipped with this Keel.

    Looked for next to the ``app`` package (the repository, an editable
    install, or a bundle that puts ``migrations/`` beside ``app/``), inside the
    package, then in a PyInstaller bundle's data folder.
    """
    import app

    package_dir = Path(app.__file__).resolve().parent
    candidates = [package_dir.parent / "migrations", package_dir / "migrations"]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "migrations")
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise MigrationError(f"Keel's migrations folder is missing (looked in {searched})")


def alembic_config(
    location: str | Path | None = None, connection: Connection | None = None
) -> Config:
    """An Alembic Config built in code (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(location or script_location()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script(location: str | Path | None = None) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(location))


def head_revision(location: str | Path | None = None) -> str:
    head = _script(location).get_current_head()
    if head is None:
        raise MigrationError("Keel's migrations folder has no revisions")
    return head


def _current_heads(bind: Engine | Connection) -> tuple[str, ...]:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return _current_heads(conn)
    return tuple(MigrationContext.configure(bind).get_current_heads())


def current_revision(bind: Engine | Connection) -> str | None:
    """The database's Alembic revision, or None for a database with no Keel schema."""
    heads = _current_heads(bind)
    if len(heads) > 1:
        raise MigrationError(f"the database has several revisions at once: {', '.join(heads)}")
    return heads[0] if heads else None


def check_compatible(bind: Engine | Connection, location: str | Path | None = None) -> str | None:
    """Raise DatabaseTooNew if a newer Keel wrote this database; return its revision."""
    known = {script.revision for script in _script(location).walk_revisions()}
    for revision in _current_heads(bind):
        if revision not in known:
            raise DatabaseTooNew(revision)
    return current_revision(bind)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for running migrations.

    SQLite: foreign keys are switched off for the duration (a batch-mode table
    rebuild would otherwise trip them or cascade) and checked with
    ``PRAGMA foreign_key_check`` before commit -- the procedure in the SQLite
    manual, "Making Other Kinds Of Table Schema Changes".  PostgreSQL: an
    advisory lock serialises desks that upgrade at the same moment.
    """
    with engine.connect() as conn:
        is_sqlite = conn.dialect.name == "sqlite"
        raw = conn.connection.driver_connection if is_sqlite else None
        if raw is not None:
            # Must run outside a transaction, where the pragma is not a no-op.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
                yield conn
                if is_sqlite:
                    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if problems:
                        raise MigrationError(f"migration left broken foreign keys: {problems[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def upgrade(
    engine: Engine, revision: str = "head", location: str | Path | None = None
) -> str | None:
    """Run the migrations up to ``revision`` in one transaction; return the new revision."""
    check_compatible(engine, location)
    with migration_connection(engine) as conn:
        command.upgrade(alembic_config(location, conn), revision)
    return current_revision(engine)


def downgrade(engine: Engine, revision: str, location: str | Path | None = None) -> str | None:
    """For tests and developers; the app never downgrades."""
    with migration_connection(engine) as conn:
        command.downgrade(alembic_config(location, conn), revision)
    return current_revision(engine)


def stamp(engine: Engine, revision: str, location: str | Path | None = None) -> None:
    """Record ``revision`` without running anything (tests, repairs)."""
    with migration_connection(engine) as conn:
        command.stamp(alembic_config(location, conn), revision, purge=True)


def _sqlite_file(engine_or_path: Engine | str | Path) -> Path:
    if isinstance(engine_or_path, Engine):
        path = sqlite_path(engine_or_path.url)
        if path is None:
            raise MigrationError(f"{display_url(engine_or_path.url)} is not a SQLite file")
        return path
    return Path(engine_or_path)


def backup_sqlite(engine_or_path: Engine | str | Path, dest_dir: str | Path) -> Path:
    """Copy a live SQLite database to ``dest_dir/keel-YYYYMMDD-HHMMSS.sqlite3``.

    Uses ``sqlite3.Connection.backup`` (SQLite's online backup API): the copy
    is consistent and includes committed pages still in the WAL file.  The
    stamp is local time, for the person looking in the folder.
    """
    source = _sqlite_file(engine_or_path)
    if not source.is_file():
        raise MigrationError(f"no SQLite database at {source}")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    stem = f"keel-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    dest = dest_dir / f"{stem}.sqlite3"
    n = 1
    while dest.exists():
        dest = dest_dir / f"{stem}-{n}.sqlite3"
        n += 1
    src = sqlite3.connect(str(source), timeout=30)
    try:
        dst = sqlite3.connect(str(dest))
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return dest


@dataclass(frozen=True)
class PreparedDatabase:
    engine: Engine
    url: str
    revision: str
    previous_revision: str | None
    backup: Path | None

    @property
    def upgraded(self) -> bool:
        return self.previous_revision != self.revision


def prepare_database(
    url: str,
    *,
    backup_dir: str | Path | None = None,
    location: str | Path | None = None,
) -> PreparedDatabase:
    """Open ``url`` and bring it to this Keel's schema; the start-up path.

    * a database a newer Keel wrote: DatabaseTooNew (nothing touched);
    * an existing SQLite file behind this Keel: backed up to ``backup_dir``
      (default: a ``backups`` folder beside the file), then upgraded;
    * a new database: the schema is created;
    * PostgreSQL behind: upgraded in one transaction (the server's own backups
      are the DBA's business).

    Returns the engine, ready for :func:`app.db.session.session_factory`.
    """
    path = sqlite_path(url)
    existed = path is not None and path.is_file() and path.stat().st_size > 0
    engine = make_engine(url)
    try:
        previous = check_compatible(engine, location)
        head = head_revision(location)
        backup = None
        if previous != head:
            if existed and path is not None:
                backup = backup_sqlite(engine, backup_dir or path.parent / "backups")
            upgrade(engine, "head", location)
    except BaseException:
        engine.dispose()
        raise
    return PreparedDatabase(engine, url, head, previous, backup)


@dataclass(frozen=True)
class DatabaseStatus:
    revision: str | None
    head: str
    state: str  # "empty", "behind", "current" or "too_new"


def database_status(engine: Engine, location: str | Path | None = None) -> DatabaseStatus:
    """Where a database stands against this Keel, without changing it."""
    head = head_revision(location)
    try:
        revision = check_compatible(engine, location)
    except DatabaseTooNew as exc:
        return DatabaseStatus(exc.revision, head, "too_new")
    if revision is None:
        state = "empty"
    elif revision == head:
        state = "current"
    else:
        state = "behind"
    return DatabaseStatus(revision, head, state)
