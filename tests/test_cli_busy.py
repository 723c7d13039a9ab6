"""SQLite with several desks (issue 12, item 5): another desk holds the write lock.

A second connection holds ``BEGIN IMMEDIATE`` on the book file (as a desk in the middle of a
long write would) and the busy timeout is 0.2 s (``KEEL_BUSY_TIMEOUT``):

* read commands (``keel account``, ``keel verify``) answer at once: their units are read
  transactions, which in WAL mode never wait for the writer, and their sign-in does not wait
  to be recorded;
* a write (``keel pay``, ``post_payment``) retries its BEGIN three times, each retry said on
  stderr, then fails with one line -- "The database is busy: another desk has held it for N s;
  try again", never "changed by someone else" -- and the database is unchanged, byte for byte;
* the lock released while a write is retrying: the write goes through, once.

These are SQLite behaviours (PostgreSQL has row locks, not one write lock), so SQLite only.
The loan is tests/services/test_account_page.py's (10,000.00 at 12 % for 12 months).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from app.cli import main
from app.db.session import ENV_BUSY_TIMEOUT, BadBusyTimeout, busy_timeout
from app.services import servicing, setup, users
from app.services.context import ServiceContext, unit_of_work
from app.services.errors import Conflict, DatabaseBusy, busy_notices
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed
from tests.services.test_account_page import _loan

BUSY_LINE = re.compile(r"^The database is busy: another desk has held it for \d+(\.\d)? s; try again$")
RETRY_LINE = re.compile(r"^keel: the database is busy \(another desk is writing\) — retrying, attempt [23] of 3$")


@pytest.fixture
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str, str]]:
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "0.2")
    path = tmp_path / "desks.sqlite3"
    url = f"sqlite:///{path}"
    factory = setup.open_database(url)
    number, _ = _loan(seed(factory)["admin"])
    setup.close_database(factory)
    yield path, url, number


@contextmanager
def another_desk_writing(path: Path) -> Iterator[sqlite3.Connection]:
    """A raw connection holding SQLite's write lock (BEGIN IMMEDIATE) until the block ends."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield holder
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()


def fingerprint(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, read through a separate connection (a WAL reader never waits)."""
    with closing(sqlite3.connect(path)) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {table: sorted(db.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr) for table in tables}


def run(argv: list[str], url: str, user: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str], float]:
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS[user])
    began = time.monotonic()
    code = main([*argv, "--db", url, "--user", user])
    took = time.monotonic() - began
    out, err = capsys.readouterr()
    return code, out, err.splitlines(), took


# ---------------------------------------------------------------- the CLI


def test_read_commands_answer_while_another_desk_holds_the_write_lock(book, monkeypatch, capsys) -> None:
    path, url, number = book
    code, quiet_page, _, _ = run(["account", number], url, "clerk", monkeypatch, capsys)
    assert code == 0
    before = fingerprint(path)
    # A long busy timeout here: a command that waited for the lock even once would take 3 s.
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "3")
    with another_desk_writing(path):
        code, page, err, took = run(["account", number], url, "clerk", monkeypatch, capsys)
        assert (code, err) == (0, [])  # no retry: not one notice on stderr
        assert took < 3
        assert page == quiet_page  # the same account page as with nobody writing
        assert "  Interest paid     2026 to date $160.26; 2025 $192.12" in page.splitlines()
        code, report, err, took = run(["verify"], url, "manager", monkeypatch, capsys)
        assert (code, err) == (0, []) and took < 3
        assert report.splitlines()[0] == "1 loans checked, 0 cache differences, 0 booked-ledger differences"
        # Nothing was written, not even the sign-ins: a read command does not wait to record one.
        assert fingerprint(path) == before


def test_a_read_command_still_records_its_sign_in_when_nobody_is_writing(book, monkeypatch, capsys) -> None:
    path, url, number = book
    with closing(sqlite3.connect(path)) as db:
        (before,) = db.execute("SELECT COUNT(*) FROM audit_events WHERE action = 'user.signed_in'").fetchone()
    assert run(["account", number], url, "clerk", monkeypatch, capsys)[0] == 0
    with closing(sqlite3.connect(path)) as db:
        (after,) = db.execute("SELECT COUNT(*) FROM audit_events WHERE action = 'user.signed_in'").fetchone()
    assert after == before + 1


def test_a_payment_while_another_desk_holds_the_lock_fails_in_one_line_and_changes_nothing(
    book, monkeypatch, capsys
) -> None:
    path, url, number = book
    before = fingerprint(path)
    with another_desk_writing(path):
        code, out, err, took = run(["pay", number, "100.00", "--reference", "busy-1"], url, "clerk", monkeypatch,
                                   capsys)
        after = fingerprint(path)
    assert code == 2 and out == ""
    # Two retries said as they happen, then the one-line failure: busy, not "changed by someone else".
    assert len(err) == 3, err
    assert all(RETRY_LINE.match(line) for line in err[:2]), err
    assert err[2].startswith("keel: error: ") and BUSY_LINE.match(err[2].removeprefix("keel: error: ")), err[2]
    assert "someone else" not in "\n".join(err)
    # Three attempts of 0.2 s each (the sign-in's, a write) and the pauses of 0.25 and 0.5 s between them.
    assert took >= 3 * 0.2 + 0.25 + 0.5
    assert after == before
    # The desk that held the lock has gone: the same command posts.
    code, out, err, _ = run(["pay", number, "100.00", "--reference", "busy-1"], url, "clerk", monkeypatch, capsys)
    assert code == 0 and err == []
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM ledger_entries WHERE reference = 'busy-1'").fetchone() == (1,)


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", "5s", "nan", "inf", "0x10", "99999", "1,5", "٥"])
def test_a_busy_timeout_that_is_not_seconds_is_refused_naming_the_variable(book, monkeypatch, capsys, value) -> None:
    _, url, number = book
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, value)
    code, out, err, _ = run(["account", number], url, "clerk", monkeypatch, capsys)
    assert code == 2 and out == ""
    assert len(err) == 1 and err[0].startswith(f"keel: error: {ENV_BUSY_TIMEOUT}: must be a number of seconds"), err


@pytest.mark.parametrize(("value", "seconds"), [(None, 5.0), ("", 5.0), (" 0.2 ", 0.2), ("0", 0.0), ("12", 12.0),
                                                (".5", 0.5), ("3600", 3600.0)])
def test_busy_timeout_reads_plain_seconds(monkeypatch, value, seconds) -> None:
    if value is None:
        monkeypatch.delenv(ENV_BUSY_TIMEOUT, raising=False)
    else:
        monkeypatch.setenv(ENV_BUSY_TIMEOUT, value)
    assert busy_timeout() == seconds


def test_busy_timeout_refuses_more_than_an_hour(monkeypatch) -> None:
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "3600.5")
    with pytest.raises(BadBusyTimeout, match=f"^{ENV_BUSY_TIMEOUT}: "):
        busy_timeout()


# ---------------------------------------------------------------- the services (what the desktop calls)


@pytest.fixture
def clerk(book) -> Iterator[tuple[Path, str, ServiceContext]]:
    path, url, number = book
    factory = setup.open_database(url)
    actor = users.authenticate(factory, "clerk", PASSWORDS["clerk"])
    yield path, number, ServiceContext(factory, actor)
    setup.close_database(factory)


def test_post_payment_on_a_busy_database_is_database_busy_not_a_conflict(clerk) -> None:
    path, number, ctx = clerk
    heard: list[str] = []
    before = fingerprint(path)
    with another_desk_writing(path), busy_notices(heard.append):
        with pytest.raises(DatabaseBusy) as raised:
            servicing.post_payment(ctx, number, "100.00", reference="busy-2")
    assert not isinstance(raised.value, Conflict)
    assert BUSY_LINE.match(str(raised.value))
    # Measured from the first attempt: 3 x 0.2 s waiting for the lock + 0.25 + 0.5 s of pauses = 1.35 s at least.
    assert raised.value.seconds >= 1.35
    assert heard == ["The database is busy (another desk is writing) — retrying, attempt 2 of 3",
                     "The database is busy (another desk is writing) — retrying, attempt 3 of 3"]
    assert fingerprint(path) == before


def test_a_write_retrying_when_the_lock_is_released_posts_once(clerk) -> None:
    path, number, ctx = clerk
    heard: list[str] = []
    with another_desk_writing(path) as holder:
        # The other desk finishes 0.3 s in: after the first attempt (0.2 s) failed, during the pause.
        release = threading.Timer(0.3, lambda: holder.execute("ROLLBACK"))
        release.start()
        with busy_notices(heard.append):
            posted = servicing.post_payment(ctx, number, "100.00", reference="busy-3")
        release.join()
    assert heard and heard[0].endswith("attempt 2 of 3")
    assert posted.allocation.interest + posted.allocation.principal + posted.allocation.fees \
        + posted.allocation.suspense + posted.allocation.refund == Decimal("100.00")
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM ledger_entries WHERE reference = 'busy-3'").fetchone() == (1,)


def test_a_lock_refused_inside_a_unit_rolls_back_and_is_database_busy(clerk) -> None:
    path, _, ctx = clerk
    before = fingerprint(path)
    with another_desk_writing(path):
        with pytest.raises(DatabaseBusy):
            # A read unit (plain BEGIN) that writes: SQLite refuses the write lock at the UPDATE, after
            # waiting 0.2 s; the unit has begun, so it is rolled back and not retried.
            with unit_of_work(ctx.factory, write=False) as session:
                session.execute(text("UPDATE users SET full_name = 'Changed' WHERE username = 'clerk'"))
    assert fingerprint(path) == before
