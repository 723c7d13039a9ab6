"""A backup before a PostgreSQL upgrade (issue 12, item 8).

A SQLite book is copied before it is upgraded; a shared PostgreSQL database was
upgraded with no backup at all.  Now a database that is behind and holds data is
dumped with ``pg_dump --format=custom`` into a 0600 file first, or the upgrade is
refused unless the user says they have a backup.  The password reaches pg_dump in
its environment, never on its command line.
"""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.cli import main
from app.db import migrate
from app.db.migrate import MigrationError, backup_postgres, head_revision, pg_conninfo, prepare_database
from app.db.session import make_engine

BACKUP_ENV = migrate.ENV_I_HAVE_A_BACKUP


@pytest.fixture
def pg_url(postgres_server_url: str) -> Iterator[str]:
    name = f"keel_b_{uuid.uuid4().hex[:10]}"
    admin = make_engine(make_url(postgres_server_url).set(database="postgres"), isolation_level="AUTOCOMMIT",
                        poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(autouse=True)
def _no_word_of_a_backup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKUP_ENV, raising=False)


def _behind(url: str, *, with_data: bool = True) -> str:
    """Migrate to head, go back one revision (a newer Keel's upgrade is then due), add a user row."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        migrate.upgrade(engine)
        revision = migrate.downgrade(engine, "-1")
        assert revision is not None and revision != head_revision()
        if with_data:
            with engine.begin() as conn:
                conn.execute(text(
                    "INSERT INTO users (username, full_name, role, password_hash, active, is_demo, version, created_at) "
                    "VALUES ('ana', 'Ana', 'admin', 'x', true, false, 1, now())"))
        return revision
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = make_engine(url, poolclass=NullPool)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_an_upgrade_of_a_behind_database_dumps_it_first_to_a_private_file(pg_url: str, tmp_path: Path) -> None:
    previous = _behind(pg_url)
    prepared = prepare_database(pg_url, backup_dir=tmp_path / "backups")
    try:
        assert prepared.previous_revision == previous and prepared.revision == head_revision()
        assert prepared.backup is not None and prepared.backup_skipped is None
    finally:
        prepared.engine.dispose()
    dump = prepared.backup
    database = make_url(pg_url).database
    assert dump.parent == tmp_path / "backups"
    assert dump.name.startswith(f"keel-{database}-") and dump.suffix == ".dump"
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    # pg_restore reads it: the old schema's users table and its one row.
    pg_restore = migrate.pg_dump_candidates()[0].with_name("pg_restore")
    listing = subprocess.run([str(pg_restore), "--list", str(dump)], capture_output=True, text=True, check=True).stdout
    assert "TABLE DATA public users" in listing
    assert _revision(pg_url) == head_revision()


@pytest.mark.postgres
def test_keel_db_upgrade_names_the_dump_in_the_data_folder_s_backups(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --db's file to sit beside, the dump goes where the default SQLite book's backups go."""
    _behind(pg_url)
    monkeypatch.setattr(migrate, "data_dir", lambda: tmp_path / "Keel")
    assert main(["db", "upgrade", "--db", pg_url]) == 0
    out = capsys.readouterr().out
    dumps = list((tmp_path / "Keel" / "backups").glob("keel-*.dump"))
    assert len(dumps) == 1
    assert f"Backed up the database to {dumps[0]}" in out
    assert stat.S_IMODE(dumps[0].stat().st_mode) == 0o600


@pytest.mark.postgres
def test_without_pg_dump_the_upgrade_is_refused_unless_the_user_has_a_backup(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = _behind(pg_url)
    monkeypatch.setattr(migrate, "pg_dump_candidates", lambda: [])
    with pytest.raises(MigrationError) as refused:
        prepare_database(pg_url, backup_dir=tmp_path)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("Keel will not upgrade the database at postgresql+psycopg://")
    assert "pg_dump was not found" in message
    assert "--i-have-a-backup" in message and f"{BACKUP_ENV}=1" in message
    assert _revision(pg_url) == previous  # nothing was upgraded
    assert list(tmp_path.iterdir()) == []

    assert main(["db", "upgrade", "--db", pg_url]) == 2
    err = capsys.readouterr().err
    assert "keel: error: Keel will not upgrade" in err and len(err.strip().splitlines()) == 1
    assert _revision(pg_url) == previous

    assert main(["db", "upgrade", "--db", pg_url, "--i-have-a-backup"]) == 0
    out = capsys.readouterr().out
    assert "Not backed up by Keel (pg_dump was not found" in out
    assert _revision(pg_url) == head_revision()


@pytest.mark.postgres
def test_the_environment_says_so_too(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _behind(pg_url)
    monkeypatch.setattr(migrate, "pg_dump_candidates", lambda: [])
    monkeypatch.setenv(BACKUP_ENV, "1")
    prepared = prepare_database(pg_url, backup_dir=tmp_path)
    prepared.engine.dispose()
    assert prepared.backup is None and "pg_dump was not found" in (prepared.backup_skipped or "")
    assert _revision(pg_url) == head_revision()


@pytest.mark.postgres
def test_a_failing_pg_dump_refuses_the_upgrade_and_leaves_no_partial_file(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = _behind(pg_url)
    fake = tmp_path / "bin" / "pg_dump"
    fake.parent.mkdir()
    # Writes half a dump, then fails, repeating its password (as no real pg_dump does) to
    # prove Keel's message would not.
    fake.write_text('#!/bin/sh\nprintf PGDMP-half\necho "pg_dump: error: no route; PGPASSWORD=$PGPASSWORD" >&2\n'
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(migrate, "pg_dump_candidates", lambda: [fake])
    url = make_url(pg_url).set(password="s3cret").render_as_string(hide_password=False)
    with pytest.raises(MigrationError, match=r"pg_dump failed: pg_dump: error: no route; PGPASSWORD=\*\*\*") as refused:
        prepare_database(url, backup_dir=tmp_path / "backups")
    assert "s3cret" not in str(refused.value)
    assert list((tmp_path / "backups").iterdir()) == []
    assert _revision(pg_url) == previous


@pytest.mark.postgres
def test_a_behind_database_without_data_needs_no_backup(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _behind(pg_url, with_data=False)
    monkeypatch.setattr(migrate, "pg_dump_candidates", lambda: [])
    prepared = prepare_database(pg_url, backup_dir=tmp_path)
    prepared.engine.dispose()
    assert prepared.backup is None and prepared.backup_skipped is None
    assert _revision(pg_url) == head_revision()


@pytest.mark.postgres
def test_a_new_or_current_database_is_not_dumped(pg_url: str, tmp_path: Path) -> None:
    for _ in range(2):  # created, then already at head
        prepared = prepare_database(pg_url, backup_dir=tmp_path)
        prepared.engine.dispose()
        assert prepared.backup is None
    assert list(tmp_path.iterdir()) == []


def test_the_password_goes_to_pg_dump_in_its_environment_never_its_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        calls.append((args, dict(kwargs["env"])))  # type: ignore[arg-type]
        os.write(kwargs["stdout"], b"PGDMP")  # type: ignore[arg-type]
        return subprocess.CompletedProcess(args, 0, None, b"")

    monkeypatch.setattr(migrate, "pg_dump_candidates", lambda: [Path("/opt/pg/bin/pg_dump")])
    monkeypatch.setattr(migrate.subprocess, "run", fake_run)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = "postgresql+psycopg://ana:s3cr%27et@db.example.com:5433/keel?sslmode=require"
    dump = backup_postgres(url, tmp_path)
    (args, env), = calls
    assert "s3cr'et" not in " ".join(args) and "s3cr" not in " ".join(args)
    assert env["PGPASSWORD"] == "s3cr'et"
    assert args[:3] == ["/opt/pg/bin/pg_dump", "--format=custom", "--no-password"]
    assert args[3:] == ["--dbname", "host='db.example.com' port='5433' user='ana' dbname='keel' sslmode='require'"]
    assert dump.read_bytes() == b"PGDMP" and stat.S_IMODE(dump.stat().st_mode) == 0o600


def test_a_password_given_as_a_query_parameter_is_taken_out_too() -> None:
    conninfo, password = pg_conninfo("postgresql+psycopg://ana@db/keel?password=pa%20ss&application_name=it's")
    assert password == "pa ss"
    assert conninfo == "host='db' user='ana' dbname='keel' application_name='it\\'s'"
