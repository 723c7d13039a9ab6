"""Bringing a database to this Keel's schema: upgrade, version check, backup.

The workstation and the CLI call :func:`prepare_database` on start: a local
SQLite file that is behind is backed up (SQLite's online backup API, which
includes what is still in the write-ahead log; a file copy would miss it) and
upgraded; a PostgreSQL database that is behind and holds data is dumped with
``pg_dump`` first, or not upgraded at all unless the user says they have a
backup (issue 12); a database written by a newer Keel is refused with
:class:`DatabaseTooNew` rather than being misread.
"""

from __future__ import annotations

import datetime as _dt
import glob
import os
import re
import shutil
import sqlite3
import subprocess
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
from sqlalchemy.engine import URL, make_url

from app.db.session import data_dir, display_url, make_engine, sqlite_path

# pg_advisory_xact_lock key ("keel" in ASCII): two desks starting a new Keel at
# the same moment upgrade one after the other, not on top of each other.
_PG_MIGRATION_LOCK = 0x6B65656C

#: Set to 1 to upgrade a PostgreSQL database Keel could not back up itself (``--i-have-a-backup``).
ENV_I_HAVE_A_BACKUP = "KEEL_I_HAVE_A_BACKUP"


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
        # PostgreSQL with least-privilege roles: a table this upgrade created got the desk's
        # ordinary grants by default; an append-only one loses UPDATE and DELETE again here.
        from app.db.roles import reapply_desk_grants

        reapply_desk_grants(conn)
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
    # Created empty and private (0600) first: the copy holds what the book holds.
    os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
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


# ---------------------------------------------------------------------------
# PostgreSQL: pg_dump before an upgrade
# ---------------------------------------------------------------------------
# Where PostgreSQL's programs live when they are not on PATH: Debian and Ubuntu,
# the PGDG RPMs, Homebrew, Postgres.app and the EDB installer for Windows.
_PG_BIN_PATTERNS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/usr/local/opt/postgresql*/bin",
    "/opt/homebrew/opt/postgresql*/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
    "C:/Program Files/PostgreSQL/*/bin",
)


def _version_key(folder: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", folder))


def pg_dump_candidates() -> list[Path]:
    """The pg_dump programs to try, best first: the one on PATH, then those beside
    PostgreSQL's server programs, newest version first (a pg_dump older than the
    server refuses to dump it)."""
    exe = "pg_dump.exe" if os.name == "nt" else "pg_dump"
    found: list[Path] = []
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append(Path(on_path))
    folders = [folder for pattern in _PG_BIN_PATTERNS for folder in glob.glob(pattern)]
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            bindir = ""
        if bindir:
            folders.append(bindir)
    for folder in sorted(folders, key=_version_key, reverse=True):
        candidate = Path(folder) / exe
        if candidate.is_file():
            found.append(candidate)
    unique: list[Path] = []
    seen: set[Path] = set()
    for candidate in found:
        real = candidate.resolve()
        if real not in seen:
            seen.add(real)
            unique.append(candidate)
    return unique


def _conninfo_value(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def pg_conninfo(url: str | URL) -> tuple[str, str | None]:
    """A libpq connection string for ``url`` without its password, and the password.

    The password goes to pg_dump in PGPASSWORD, never on its command line (any
    local user can read a process's arguments).
    """
    parsed = make_url(url)
    params: dict[str, str] = {}
    if parsed.host:
        params["host"] = parsed.host
    if parsed.port:
        params["port"] = str(parsed.port)
    if parsed.username:
        params["user"] = parsed.username
    if parsed.database:
        params["dbname"] = parsed.database
    password = parsed.password
    for key, value in parsed.query.items():
        text = ",".join(value) if isinstance(value, tuple) else str(value)
        if key == "password":
            password = password if password is not None else text
        else:
            params[key] = text
    conninfo = " ".join(f"{key}={_conninfo_value(value)}" for key, value in params.items())
    return conninfo, None if password is None else str(password)


def _first_line(text: str, secret: str | None) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else "no message"
    return line.replace(secret, "***") if secret else line


def backup_postgres(url: str | URL, dest_dir: str | Path) -> Path:
    """Dump a PostgreSQL database to ``dest_dir/keel-DATABASE-YYYYMMDD-HHMMSS.dump`` (pg_dump's
    custom format: ``pg_restore -d NEWDB FILE`` reads it back).

    The file is created 0600 before pg_dump writes to it, so the books are never
    readable by other local users, not even for a moment.  A MigrationError says
    why there is no backup: pg_dump missing or failing (a partial file is removed).
    """
    candidates = pg_dump_candidates()
    if not candidates:
        raise MigrationError("pg_dump was not found (on PATH or beside PostgreSQL's server programs)")
    parsed = make_url(url)
    conninfo, password = pg_conninfo(parsed)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    env.setdefault("PGCONNECT_TIMEOUT", "30")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", parsed.database or "postgres")
    stem = f"keel-{name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    reason = ""
    for pg_dump in candidates:
        dest = dest_dir / f"{stem}.dump"
        n = 1
        while dest.exists():
            dest = dest_dir / f"{stem}-{n}.dump"
            n += 1
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            result = subprocess.run(
                [str(pg_dump), "--format=custom", "--no-password", "--dbname", conninfo],
                stdout=fd, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
            )
            failed = result.returncode != 0
            message = result.stderr.decode(errors="replace")
        except OSError as exc:
            failed, message = True, str(exc)
        finally:
            os.close(fd)
        if not failed:
            return dest
        dest.unlink(missing_ok=True)
        reason = f"{pg_dump.name} failed: {_first_line(message, password)}"
        if "version mismatch" not in message:
            break  # another pg_dump would fail the same way; only an older one is worth passing over
    raise MigrationError(reason)


def _pg_has_data(engine: Engine) -> bool:
    """Whether any table in the current schema (Alembic's aside) holds a row; one Keel cannot read counts."""
    with engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), has_table_privilege(c.oid, 'SELECT') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'"
        ).all()
        for table, readable in tables:
            if not readable or conn.exec_driver_sql(f"SELECT EXISTS (SELECT FROM {table})").scalar():
                return True
    return False


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _backup_postgres_before_upgrade(
    engine: Engine, previous: str | None, head: str, backup_dir: str | Path | None, i_have_a_backup: bool
) -> tuple[Path | None, str | None]:
    """The dump made before upgrading a PostgreSQL database, or why there is none (with the
    user's word that they have a backup); a MigrationError refuses the upgrade."""
    from app.db.roles import owner_privilege

    shown = display_url(engine.url)
    if previous is not None:
        with engine.connect() as conn:
            desk = owner_privilege(conn) is None
            user = conn.exec_driver_sql("SELECT current_user").scalar_one()
        if desk:
            # A least-privilege desk role cannot run migrations: say so before dumping anything.
            raise MigrationError(
                f"The database at {shown} is at revision {previous}, behind this Keel ({head}), and {user} "
                "cannot upgrade it: the owner role runs keel db upgrade (see docs/security.md)")
    if not _pg_has_data(engine):
        return None, None
    try:
        return backup_postgres(engine.url, backup_dir or data_dir() / "backups"), None
    except MigrationError as exc:
        if i_have_a_backup or _env_flag(ENV_I_HAVE_A_BACKUP):
            return None, str(exc)
        raise MigrationError(
            f"Keel will not upgrade the database at {shown} without a backup, and could not make one: {exc}; "
            f"back it up yourself (pg_dump --format=custom), then run keel db upgrade --i-have-a-backup "
            f"or set {ENV_I_HAVE_A_BACKUP}=1") from None


@dataclass(frozen=True)
class PreparedDatabase:
    engine: Engine
    url: str
    revision: str
    previous_revision: str | None
    backup: Path | None
    #: Why a PostgreSQL upgrade went ahead without Keel's own dump (the user said they have a backup).
    backup_skipped: str | None = None

    @property
    def upgraded(self) -> bool:
        return self.previous_revision != self.revision


def prepare_database(
    url: str,
    *,
    backup_dir: str | Path | None = None,
    location: str | Path | None = None,
    i_have_a_backup: bool = False,
) -> PreparedDatabase:
    """Open ``url`` and bring it to this Keel's schema; the start-up path.

    * a database a newer Keel wrote: DatabaseTooNew (nothing touched);
    * an existing SQLite file behind this Keel: backed up to ``backup_dir``
      (default: a ``backups`` folder beside the file), then upgraded;
    * a new database: the schema is created;
    * PostgreSQL behind, with data: dumped with pg_dump (custom format, a 0600
      file) to ``backup_dir`` (default: the ``backups`` folder of the data
      folder, where the default SQLite book's backups go), then upgraded in one
      transaction.  Without pg_dump, or when it fails, the upgrade is refused
      unless ``i_have_a_backup`` or ``KEEL_I_HAVE_A_BACKUP=1``; a desk role
      (which cannot migrate) is told to ask the owner.

    Returns the engine, ready for :func:`app.db.session.session_factory`.
    """
    path = sqlite_path(url)
    existed = path is not None and path.is_file() and path.stat().st_size > 0
    engine = make_engine(url)
    try:
        previous = check_compatible(engine, location)
        head = head_revision(location)
        backup = None
        skipped = None
        if previous != head:
            if existed and path is not None:
                backup = backup_sqlite(engine, backup_dir or path.parent / "backups")
            elif engine.dialect.name == "postgresql":
                backup, skipped = _backup_postgres_before_upgrade(engine, previous, head, backup_dir, i_have_a_backup)
            upgrade(engine, "head", location)
    except BaseException:
        engine.dispose()
        raise
    return PreparedDatabase(engine, url, head, previous, backup, skipped)


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
