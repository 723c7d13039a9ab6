"""``keel db upgrade`` and ``keel db current`` from a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.db.migrate import head_revision

from app.cli import main


def _keel(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).resolve().parents[2],
    )


def test_keel_db_upgrade_creates_the_database(tmp_path: Path) -> None:
    db = tmp_path / "new" / "keel.sqlite3"
    result = _keel("db", "upgrade", "--db", f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"is at revision {head_revision()} (head)")
    assert db.is_file()

    again = _keel("db", "current", "--db", f"sqlite:///{db}")
    assert again.returncode == 0, again.stderr
    assert f"Database at sqlite:///{db} is at revision {head_revision()} (head)" in again.stdout


def test_keel_db_upgrade_reads_keel_database_url(tmp_path: Path) -> None:
    db = tmp_path / "env.sqlite3"
    result = _keel("db", "upgrade", env={"KEEL_DATABASE_URL": f"sqlite:///{db}"})
    assert result.returncode == 0, result.stderr
    assert db.is_file()


def test_keel_db_upgrade_hides_the_password_in_errors(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["db", "upgrade", "--db", "postgresql+psycopg://ana:s3cret@127.0.0.1:1/keel"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(
        "keel: error: cannot upgrade the database at postgresql+psycopg://ana:***@"
    )
    assert "s3cret" not in err
    assert len(err.strip().splitlines()) == 1


def test_keel_db_current_without_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["db", "current", "--db", f"sqlite:///{tmp_path / 'missing.sqlite3'}"])
    assert status == 2
    assert "keel db upgrade" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite3").exists()


def test_keel_db_upgrade_on_postgres(fresh_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--db", fresh_db_url]) == 0
    assert "(head)" in capsys.readouterr().out
