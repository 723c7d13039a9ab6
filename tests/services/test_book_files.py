"""A book file that is damaged, empty, not a book, or missing; and a full disk (issue 12, findings 6 and 7).

The review wrote random bytes over 20 pages of a book and it still accepted payments; a
0-byte book was silently rebuilt as a new, empty database; a full disk was a traceback.
SQLite only: these are a local book file's failures (a PostgreSQL server checks its own pages).
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import cli, cli_support
from app.db import integrity
from app.db import session as db_session
from app.db.migrate import backup_sqlite
from app.services import boarding, lender, products, servicing, setup, users
from app.services.errors import ServiceError, storage_problem
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
PAGE = 4096


@pytest.fixture(scope="module")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real book: users, the sample products, five boarded loans and a payment, all in the main file."""
    path = tmp_path_factory.mktemp("books") / "book.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "HASHER", FAST_HASHER)
        factory = setup.open_database(f"sqlite:///{path}", initialize=False)
        try:
            contexts = seed(factory)
            products.load_products_file(contexts["admin"], SAMPLES / "products.json")
            boarding.board_file(contexts["admin"], SAMPLES / "boarding-new.csv")
            boarding.board_file(contexts["admin"], SAMPLES / "boarding-seasoned.json")
            servicing.post_payment(contexts["clerk"], "KL-000001", "150.00", reference="CHK 1")
            lender.save_lender_settings(contexts["admin"], lender.LenderSettings(
                "Keel Community Lending", "100 Main St\nSpringfield, IL 62701", "217-555-0100"))
        finally:
            setup.close_database(factory)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path


@pytest.fixture
def book(built_book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the book, in a folder of its own; the CLI acting as the clerk, without a terminal."""
    path = tmp_path / "desk" / "book.sqlite3"
    path.parent.mkdir()
    shutil.copy(built_book, path)
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    monkeypatch.setattr(cli_support, "interactive", lambda: False)
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("KEEL_USER", "clerk")
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["clerk"])
    real_open = setup.open_database

    def tracking_open(*args: object, **kwargs: object) -> object:
        factory = real_open(*args, **kwargs)  # type: ignore[arg-type]
        _OPENED.append(factory)
        return factory

    monkeypatch.setattr(setup, "open_database", tracking_open)
    yield path
    _close()


_OPENED: list[object] = []


def _close() -> None:
    while _OPENED:
        setup.close_database(_OPENED.pop())  # type: ignore[arg-type]


def keel(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    finally:
        _close()
    out, err = capsys.readouterr()
    return code, out, err


def ledger_rows(path: Path) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT * FROM ledger_entries ORDER BY id").fetchall()
    finally:
        connection.close()


def overwrite_pages(path: Path, first: int, count: int, seed: int) -> None:
    """Random bytes over ``count`` pages from page ``first`` (0-based), as the review's damaged book had."""
    rng = random.Random(seed)
    with path.open("r+b") as handle:
        handle.seek(first * PAGE)
        handle.write(rng.randbytes(count * PAGE))


# ---------------------------------------------------------------------------- damaged


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bytes_over_20_pages_refuse_the_book_and_name_the_backup(book, capsys, seed):
    # A backup, as the last upgrade made: the refusal names it (the newest, if there are several).
    older = backup_sqlite(book, book.parent / "backups")
    time.sleep(0.01)
    newest = book.parent / "backups" / "keel-20991231-235959.sqlite3"
    shutil.copy(older, newest)
    pages = book.stat().st_size // PAGE
    first = random.Random(seed).randrange(1, pages - 20)  # page 0 is the header: see the test below
    overwrite_pages(book, first, 20, seed)
    damaged = book.read_bytes()

    code, _, err = keel(capsys, "pay", "KL-000002", "100.00", "--reference", "CHK 9", "--db", f"sqlite:///{book}")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"keel: error: The book at {book} is damaged (")
    assert err.endswith(f"Keel will not open it: restore the latest backup, {newest}\n")
    assert book.read_bytes() == damaged  # not written to, not "upgraded"

    with pytest.raises(ServiceError, match="is damaged"):
        setup.open_database(f"sqlite:///{book}")


def test_a_damaged_header_and_no_backup(book, capsys):
    overwrite_pages(book, 0, 20, 7)
    code, _, err = keel(capsys, "account", "KL-000001", "--db", f"sqlite:///{book}")
    assert (code, err) == (2, f"keel: error: The book at {book} is not a Keel book: it is not a SQLite database "
                              f"file. Keel will not open it: restore a backup (Keel found none in "
                              f"{book.parent / 'backups'})\n")


def test_verify_runs_the_full_integrity_check(book, capsys, monkeypatch):
    # An index that no longer matches its table passes quick_check (which reads every page but does not
    # compare indexes with their tables) and fails integrity_check: here the ledger's (loan_id, seq) index
    # loses its entries when SQLite is told the table's rows are somewhere else.
    connection = sqlite3.connect(book)
    index = connection.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger_entries' "
                               "AND sql IS NOT NULL ORDER BY name").fetchone()[0]
    connection.execute("PRAGMA writable_schema = ON")
    # Point the index's definition at a column expression that differs from what its pages hold.
    sql = connection.execute("SELECT sql FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
    connection.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?",
                       (sql.replace("(loan_id", "(user_id", 1) if "(loan_id" in sql else sql + " WHERE 0", index))
    connection.commit()
    connection.close()
    assert integrity.quick_check(book) == []
    problems = integrity.integrity_check(db_session.make_engine(f"sqlite:///{book}"))
    assert problems and all("\n" not in p for p in problems)

    monkeypatch.setenv("KEEL_USER", "manager")
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["manager"])
    code, out, _ = keel(capsys, "verify", "--db", f"sqlite:///{book}")
    assert code == 1
    assert f"the book's file: {problems[0]}" in out
    assert "The book's file is damaged (PRAGMA integrity_check): stop work on it and restore the latest backup" in out


def test_verify_of_a_whole_book_finds_nothing(book, capsys, monkeypatch):
    monkeypatch.setenv("KEEL_USER", "manager")
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["manager"])
    code, out, err = keel(capsys, "verify", "--json", "--db", f"sqlite:///{book}")
    assert code == 0, err
    assert '"storage_problems": []' in out


# ---------------------------------------------------------------------------- empty, foreign, missing


def test_a_0_byte_book_is_reported_not_rebuilt(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_support, "interactive", lambda: False)
    monkeypatch.setenv("KEEL_ADMIN_PASSWORD", "first-admin-pw")
    path = tmp_path / "book.sqlite3"
    path.write_bytes(b"")
    for argv in (["user", "list", "--user", "root"], ["init", "--user", "root"], ["db", "upgrade"]):
        code, _, err = keel(capsys, *argv, "--db", f"sqlite:///{path}")
        assert (code, err) == (2, f"keel: error: The book at {path} is an empty file (0 bytes), not a Keel book. "
                                  f"Keel will not open it: restore a backup (Keel found none in "
                                  f"{tmp_path / 'backups'})\n"), argv
        assert path.stat().st_size == 0


def test_a_text_file_is_not_a_book(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("Call the Kims back on Monday.\n" * 200)
    before = path.read_bytes()
    code, _, err = keel(capsys, "verify", "--user", "x", "--db", f"sqlite:///{path}")
    assert code == 2 and err.count("\n") == 1
    assert "is not a Keel book: it is not a SQLite database file" in err
    assert path.read_bytes() == before
    with pytest.raises(ServiceError, match="not a SQLite database file"):
        setup.open_database(f"sqlite:///{path}")


def test_only_init_creates_a_book(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_support, "interactive", lambda: False)
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    monkeypatch.setenv("KEEL_ADMIN_PASSWORD", "first-admin-pw")
    path = tmp_path / "typo.sqlite3"
    for argv in (["pay", "KL-000001", "10.00", "--user", "root"], ["verify", "--user", "root"],
                 ["search", "Kim", "--user", "root"]):
        code, _, err = keel(capsys, *argv, "--db", f"sqlite:///{path}")
        assert (code, err) == (2, f"keel: error: There is no Keel book at {path}; check the path, or create a new "
                                  "book there with 'keel init'\n")
        assert not path.exists()
    assert keel(capsys, "init", "--user", "root", "--db", f"sqlite:///{path}")[0] == 0
    assert path.stat().st_size > 0


# ---------------------------------------------------------------------------- a full disk


class Disk:
    full = True


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    """While ``full``, no SQLite connection Keel opens may grow its file (PRAGMA max_page_count): a full disk."""
    make_listener = db_session._sqlite_connect_listener
    disk = Disk()

    def limited_listener(timeout_ms: int) -> object:
        real = make_listener(timeout_ms)

        def limited(dbapi_connection: object, record: object) -> None:
            real(dbapi_connection, record)
            if disk.full:
                cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
                pages = cursor.execute("PRAGMA page_count").fetchone()[0]
                cursor.execute(f"PRAGMA max_page_count = {pages}")
                cursor.close()

        return limited

    monkeypatch.setattr(db_session, "_sqlite_connect_listener", limited_listener)
    return disk


DISK_FULL = ("keel: error: the disk is full: the database could not grow (database or disk is full); nothing was "
             "saved. Free some space and try again\n")


def test_a_full_disk_is_one_line_and_writes_nothing(book, capsys, monkeypatch, full_disk):
    monkeypatch.setenv("KEEL_USER", "admin")
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["admin"])
    before = ledger_rows(book)
    history = SAMPLES / "boarding-new.json"  # three loans with people and collateral: more than the free pages
    code, _, err = keel(capsys, "board", str(history), "--db", f"sqlite:///{book}")
    assert (code, err) == (2, DISK_FULL)
    assert ledger_rows(book) == before
    # End of day commits a chunk of loans at a time (so a run resumes): the chunk the disk refused rolled back,
    # and once there is room again the run completes and the books verify.
    code, _, err = keel(capsys, "eod", "--db", f"sqlite:///{book}")
    assert (code, err) == (2, DISK_FULL)
    full_disk.full = False
    assert keel(capsys, "eod", "--db", f"sqlite:///{book}")[0] == 0
    code, out, err = keel(capsys, "verify", "--db", f"sqlite:///{book}")
    assert code == 0, out + err


def test_the_desk_says_the_disk_is_full():
    from sqlalchemy.exc import OperationalError

    exc = OperationalError("INSERT INTO ledger_entries ...", {}, sqlite3.OperationalError("database or disk is full"))
    assert storage_problem(exc) == ("the disk is full: the database could not grow (database or disk is full); "
                                    "nothing was saved. Free some space and try again")
    nospace = OSError(28, "No space left on device", "/home/pat/letters/late-notice.pdf")
    assert storage_problem(nospace) == ("the disk is full: No space left on device (/home/pat/letters/late-notice.pdf);"
                                        " nothing was saved. Free some space and try again")
    assert storage_problem(ValueError("not this")) is None
    assert storage_problem(OSError(13, "Permission denied")) is None


@pytest.mark.qt
def test_the_desks_message_for_a_full_disk(qapp):
    from sqlalchemy.exc import OperationalError

    from app.ui.messages import error_text

    exc = OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
    assert error_text(exc) == ("The disk is full: the database could not grow (database or disk is full); nothing "
                               "was saved. Free some space and try again.")
    assert error_text(OSError(28, "No space left on device")).startswith("The disk is full: No space left on device")


def test_a_full_disk_writing_a_file_is_one_line(book, capsys, monkeypatch):
    # A statement's PDF written to a disk with no room left (ENOSPC from the file system, not SQLite).
    monkeypatch.setenv("KEEL_USER", "admin")
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["admin"])
    out = book.parent / "statement.pdf"
    real = Path.write_bytes

    def no_room(self: Path, data: bytes) -> int:
        if self == out:
            raise OSError(28, "No space left on device", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", no_room)
    before = ledger_rows(book)
    code, _, err = keel(capsys, "letter", "statement", "KL-000001", "--preview", "--out", str(out),
                        "--db", f"sqlite:///{book}")
    assert (code, err) == (2, f"keel: error: the disk is full: cannot write {out} (No space left on device)\n")
    assert not out.exists() and ledger_rows(book) == before


def test_quick_check_of_a_whole_book(built_book):
    assert integrity.file_problem(built_book) is None
    assert integrity.quick_check(built_book) == []
    assert integrity.latest_backup(built_book) is None
    assert os.path.getsize(built_book) > 20 * PAGE
