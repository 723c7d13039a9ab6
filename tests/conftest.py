"""Database fixtures shared by every DB and service test.

* ``postgres_server_url`` (session): a throw-away PostgreSQL server on
  127.0.0.1, or ``KEEL_TEST_POSTGRES_URL``; skips with instructions when
  neither is available.
* ``db_url`` (session, parametrized ``sqlite`` / ``postgresql``): a database
  migrated to head once per test session.  PostgreSQL tests carry the
  ``postgres`` marker, so ``-m "not postgres"`` runs the SQLite half alone.
* ``engine`` (session): an Engine for ``db_url`` (app.db.session.make_engine).
* ``connection`` / ``session`` (function): a connection inside a transaction
  that is rolled back after the test; the Session joins it with
  ``join_transaction_mode="create_savepoint"``, so the code under test may
  commit and roll back freely and still leave nothing behind.
* ``fresh_db_url`` (function, parametrized): a new, empty database per test,
  for migration tests and for tests that need real commits (concurrency).

Schemas are built by running the Alembic migrations, never ``create_all``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

# Book keys (app.db.keys) go to a throw-away folder, never to this machine's keyring or its
# configuration folder; CLI subprocesses inherit it.
os.environ.setdefault("KEEL_KEY_DIR", tempfile.mkdtemp(prefix="keel-test-keys-"))

from app.db.migrate import upgrade  # noqa: E402
from app.db.session import make_engine

ENV_TEST_POSTGRES_URL = "KEEL_TEST_POSTGRES_URL"

# The tests connect to PostgreSQL as the server's superuser, which owns every table: a
# desk refuses to work as that (issue 12) unless told to.  Set for the whole session and
# for the ``keel`` subprocesses it starts; tests/db/test_pg_roles.py clears it to see
# the refusal.
os.environ.setdefault("KEEL_ALLOW_OWNER", "1")
_SKIP_NO_POSTGRES = (
    "PostgreSQL server binaries not found: install the 'postgresql' package (Debian) "
    f"or set {ENV_TEST_POSTGRES_URL} to run these tests"
)


# ---------------------------------------------------------------------------
# A private PostgreSQL server
# ---------------------------------------------------------------------------
def _version_key(path: str) -> tuple[int, ...]:
    name = Path(path).parent.name  # /usr/lib/postgresql/<version>/bin
    return tuple(int(p) for p in name.split(".") if p.isdigit()) or (0,)


def _find_pg_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key)
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            bindir = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            bindir = ""
        if bindir and (Path(bindir) / "initdb").is_file():
            return Path(bindir)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class _PostgresServer:
    """initdb + pg_ctl in a temporary PGDATA; as the postgres user when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = _running_as_root()
        self.pgdata = Path(tempfile.mkdtemp(prefix="keel-pg-"))
        if self.as_root:
            # initdb and pg_ctl refuse to run as root (ENVIRONMENT.md).
            shutil.chown(self.pgdata, "postgres", "postgres")
        self.port = _free_port()

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        # cd / first: the postgres user may not be able to read our cwd.
        return subprocess.run(command, cwd="/", capture_output=True, text=True, timeout=120)

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{what} failed:\n{result.stdout}\n{result.stderr}\n{tail}", pytrace=False)

    def start(self) -> None:
        self._check(
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ),
            "initdb",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.pgdata} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._check(
            self._run(
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.pgdata / "log"),
                "-w",
                "-o",
                options,
                "start",
            ),
            "pg_ctl start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.pgdata, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


def _admin_engine(url: str) -> Engine:
    """An autocommit engine on the server's ``postgres`` database, for CREATE/DROP DATABASE."""
    return make_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )


def _create_database(server_url: str, name: str) -> str:
    admin = _admin_engine(server_url)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(server_url: str, name: str) -> None:
    admin = _admin_engine(server_url)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of the ``keel_test`` database on a PostgreSQL server for this test session."""
    external = os.environ.get(ENV_TEST_POSTGRES_URL, "").strip()
    if external:
        yield external
        return
    bindir = _find_pg_bindir()
    if bindir is None:
        pytest.skip(_SKIP_NO_POSTGRES)
    server = _PostgresServer(bindir)
    try:
        server.start()
        yield _create_database(server.url("postgres"), "keel_test")
    finally:
        server.stop()


# ---------------------------------------------------------------------------
# Migrated databases
# ---------------------------------------------------------------------------
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _new_database(
    kind: str, request: pytest.FixtureRequest, folder: Path
) -> tuple[str, Callable[[], None]]:
    """A new empty database of ``kind``; returns its URL and a cleanup callable."""
    if kind == "sqlite":
        path = folder / f"keel-{uuid.uuid4().hex[:8]}.sqlite3"
        return f"sqlite:///{path}", lambda: None
    server_url = request.getfixturevalue("postgres_server_url")
    name = f"keel_t_{uuid.uuid4().hex[:10]}"
    url = _create_database(server_url, name)
    return url, lambda: _drop_database(server_url, name)


@pytest.fixture(scope="session", params=DATABASES)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database migrated to head, shared by the whole session (one per kind)."""
    url, cleanup = _new_database(request.param, request, tmp_path_factory.mktemp("db"))
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    yield url
    cleanup()


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                outer.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """An ORM Session whose commits are savepoints in the test's rolled-back transaction."""
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as sess:
        yield sess


@pytest.fixture(params=DATABASES)
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new, empty database (no schema) for this test only."""
    url, cleanup = _new_database(request.param, request, tmp_path)
    yield url
    cleanup()
