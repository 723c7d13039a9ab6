"""Opening a database, its first run, and the CLI acting as a user (issue 3, items 6 and 8).

The ``fresh_db_url`` tests get a new, empty database (SQLite file or
PostgreSQL database) and commit for real, as the desktop and the CLI do.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import cli, cli_support
from app.db.migrate import stamp
from app.db.models import AuditEvent, User
from app.db.session import make_engine
from app.services import setup, users
from app.services.context import Actor, ServiceContext
from app.services.errors import InvalidInput, ServiceError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def opened(fresh_db_url: str) -> Iterator[sessionmaker[Session]]:
    factory = setup.open_database(fresh_db_url)
    yield factory
    setup.close_database(factory)


# ---------------------------------------------------------------------------
# setup
# ---------------------------------------------------------------------------
def test_open_database_creates_the_schema_and_first_settings(opened):
    info = setup.database_info(opened)
    assert info == setup.DatabaseInfo("production", dt.date.today())
    assert setup.database_is_empty(opened)
    with opened() as session:
        events = session.scalars(select(AuditEvent)).all()
        assert [(e.action, e.user_id, e.details["kind"]) for e in events] == [
            ("database.initialized", None, "production")]


def test_open_database_without_initialize_leaves_settings_alone(fresh_db_url):
    factory = setup.open_database(fresh_db_url, initialize=False)
    try:
        assert setup.database_info(factory) is None
        info = setup.initialize_database(factory, kind="demo", business_date=dt.date(2026, 6, 1))
        assert info == setup.DatabaseInfo("demo", dt.date(2026, 6, 1))
    finally:
        setup.close_database(factory)
    # Opening it again keeps what is there.
    again = setup.open_database(fresh_db_url)
    try:
        assert setup.database_info(again) == setup.DatabaseInfo("demo", dt.date(2026, 6, 1))
    finally:
        setup.close_database(again)


def test_settings_change_only_while_the_database_has_no_users(opened):
    # Still empty: `keel init --business-date` after a first `keel user list` is fine.
    assert setup.initialize_database(opened, kind="demo", business_date=dt.date(2026, 6, 1)).kind == "demo"
    assert setup.initialize_database(opened, kind="production").kind == "production"
    users.bootstrap_admin(opened, "root", "Root", "first-admin-pw")
    # Unchanged values are fine; changes are refused once someone could have posted.
    assert setup.initialize_database(opened) == setup.DatabaseInfo("production", dt.date(2026, 6, 1))
    with pytest.raises(ServiceError, match="only end of day moves it"):
        setup.initialize_database(opened, business_date=dt.date(2026, 7, 1))
    with pytest.raises(ServiceError, match="cannot become a demo database"):
        setup.initialize_database(opened, kind="demo")
    with pytest.raises(InvalidInput):
        setup.initialize_database(opened, kind="staging")
    assert setup.database_info(opened) == setup.DatabaseInfo("production", dt.date(2026, 6, 1))


def test_a_database_from_a_newer_keel_is_refused_in_one_line(fresh_db_url):
    engine = make_engine(fresh_db_url)
    try:
        stamp(engine, "head")
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    finally:
        engine.dispose()
    with pytest.raises(ServiceError, match="newer Keel") as refused:
        setup.open_database(fresh_db_url)
    assert "\n" not in str(refused.value)


def test_an_unreachable_server_is_a_one_line_service_error():
    url = "postgresql+psycopg://nobody@127.0.0.1:1/keel?connect_timeout=2"
    with pytest.raises(ServiceError, match=r"^cannot open the database at postgresql\+psycopg://nobody@127\.0\.0\.1:1/keel"):
        setup.open_database(url)


# ---------------------------------------------------------------------------
# cli_support, in process
# ---------------------------------------------------------------------------
@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, fresh_db_url: str) -> Iterator[str]:
    """``keel`` in this process on a fresh database, as a script (no terminal) runs it."""
    for name in ("KEEL_USER", "KEEL_PASSWORD", "KEEL_ADMIN_PASSWORD", "KEEL_NEW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEEL_DATABASE_URL", fresh_db_url)
    monkeypatch.setattr(cli_support, "interactive", lambda: False)
    # A command's process exit closes its connections; here, close them ourselves.
    opened: list[sessionmaker[Session]] = []
    real_open = setup.open_database

    def tracking_open(*args: object, **kwargs: object) -> sessionmaker[Session]:
        factory = real_open(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(factory)
        return factory

    monkeypatch.setattr(setup, "open_database", tracking_open)
    # A database that exists and has no users yet, on both kinds: a PostgreSQL database is created
    # empty, and only 'keel init' (or 'keel db upgrade') makes a new SQLite file (issue 12).
    if fresh_db_url.startswith("sqlite"):
        setup.close_database(real_open(fresh_db_url, initialize=False))
    yield fresh_db_url
    for factory in opened:
        setup.close_database(factory)


@pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)
def test_cli_refuses_a_book_that_does_not_exist(fresh_db_url, monkeypatch, capsys):
    # Issue 12: a mistyped path was made into a new, empty book; only 'keel init' creates one.
    monkeypatch.setattr(cli_support, "interactive", lambda: False)
    monkeypatch.setenv("KEEL_ADMIN_PASSWORD", "first-admin-pw")
    path = Path(fresh_db_url.removeprefix("sqlite:///"))
    code, _, err = run_cli(capsys, "user", "list", "--user", "root", "--db", fresh_db_url)
    assert code == 2
    assert err == f"keel: error: There is no Keel book at {path}; check the path, or create a new book there with " \
                  "'keel init'\n"
    assert not path.exists()
    code, _, err = run_cli(capsys, "init", "--user", "root", "--db", fresh_db_url)
    assert code == 0, err
    assert path.exists()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_first_run_needs_an_admin_password_or_init(cli_env, capsys):
    code, _, err = run_cli(capsys, "user", "list", "--user", "root")
    assert code == 2
    assert err.strip() == (
        "keel: error: this database has no users yet: run 'keel init' "
        "(or set KEEL_ADMIN_PASSWORD and --user NAME) to create its first admin")


def test_cli_first_run_creates_the_admin_from_the_environment(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("KEEL_ADMIN_PASSWORD", "first-admin-pw")
    code, out, err = run_cli(capsys, "user", "list", "--json", "--user", "Root")
    assert code == 0, err
    assert "Created the first admin, root." in err
    [row] = json.loads(out)
    assert (row["username"], row["role"], row["active"]) == ("root", "admin", True)
    assert dt.datetime.fromisoformat(row["last_login_at"]).tzinfo is not None


def test_cli_errors_are_one_line(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("KEEL_ADMIN_PASSWORD", "first-admin-pw")
    assert run_cli(capsys, "init", "--user", "root", "--business-date", "2026-06-01")[0] == 0
    monkeypatch.delenv("KEEL_ADMIN_PASSWORD")

    code, _, err = run_cli(capsys, "user", "list", "--user", "root")
    assert (code, err) == (2, "keel: error: set KEEL_PASSWORD or run interactively\n")

    code, _, err = run_cli(capsys, "user", "list")
    assert (code, err) == (2, "keel: error: give --user NAME or set KEEL_USER\n")

    monkeypatch.setenv("KEEL_PASSWORD", "wrong-password")
    code, _, err = run_cli(capsys, "user", "list", "--user", "root")
    assert (code, err) == (2, "keel: error: Unknown user or wrong password\n")

    monkeypatch.setenv("KEEL_PASSWORD", "first-admin-pw")
    monkeypatch.setenv("KEEL_USER", "root")
    code, _, err = run_cli(capsys, "user", "add", "newbie", "--role", "clerk", "--full-name", "New Bie")
    assert (code, err) == (2, "keel: error: set KEEL_NEW_PASSWORD or run interactively to give the new user's password\n")

    monkeypatch.setenv("KEEL_NEW_PASSWORD", "short")
    code, _, err = run_cli(capsys, "user", "add", "newbie", "--role", "clerk", "--full-name", "New Bie")
    assert (code, err) == (2, "keel: error: password: must be at least 8 characters\n")

    code, _, err = run_cli(capsys, "user", "deactivate", "root")
    assert code == 2 and err.startswith("keel: error: username: root is the last active admin")

    code, _, err = run_cli(capsys, "init", "--user", "other")
    assert code == 2 and "already set up" in err


def test_cli_user_commands(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("KEEL_ADMIN_PASSWORD", "first-admin-pw")
    assert run_cli(capsys, "init", "--user", "root")[0] == 0
    monkeypatch.setenv("KEEL_USER", "root")
    monkeypatch.setenv("KEEL_PASSWORD", "first-admin-pw")
    monkeypatch.setenv("KEEL_NEW_PASSWORD", "clerk-password-1")
    assert run_cli(capsys, "user", "add", "pat", "--role", "clerk", "--full-name", "Pat Doe")[1] == "Added pat (clerk)\n"
    assert run_cli(capsys, "user", "role", "pat", "collector")[1] == "pat is now collector\n"
    monkeypatch.setenv("KEEL_NEW_PASSWORD", "changed-password")
    assert run_cli(capsys, "user", "passwd", "pat")[0] == 0
    assert run_cli(capsys, "user", "deactivate", "pat")[1] == "Deactivated pat\n"
    code, out, _ = run_cli(capsys, "user", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["USERNAME", "FULL", "NAME", "ROLE", "ACTIVE", "LAST", "SIGN-IN", "NOTE"]
    # The admin reset pat's password above, so pat must choose a new one at the next sign-in.
    assert lines[1].split()[:4] == ["pat", "Pat", "Doe", "collector"] and lines[1].split()[4:] == [
        "no", "never", "password", "reset:", "must", "change", "it"]

    # The deactivated user cannot act; once active again, with the new password, they can
    # (but a collector may not list users).
    monkeypatch.setenv("KEEL_USER", "pat")
    monkeypatch.setenv("KEEL_PASSWORD", "changed-password")
    code, _, err = run_cli(capsys, "user", "list")
    assert code == 2 and "deactivated" in err
    monkeypatch.setenv("KEEL_USER", "root")
    monkeypatch.setenv("KEEL_PASSWORD", "first-admin-pw")
    assert run_cli(capsys, "user", "activate", "pat")[0] == 0
    monkeypatch.setenv("KEEL_USER", "pat")
    monkeypatch.setenv("KEEL_PASSWORD", "changed-password")
    code, _, err = run_cli(capsys, "user", "list")
    assert (code, err) == (2, "keel: error: an administrator reset pat's password: choose your own first with "
                              "'keel user passwd pat'\n")
    monkeypatch.setenv("KEEL_NEW_PASSWORD", "pats-own-choice")
    assert run_cli(capsys, "user", "passwd", "pat")[0] == 0
    monkeypatch.setenv("KEEL_PASSWORD", "pats-own-choice")
    code, _, err = run_cli(capsys, "user", "list")
    assert (code, err) == (2, "keel: error: pat's role does not allow this (create users, change roles, reset "
                              "passwords, deactivate: permission user.manage); ask a manager or an administrator\n")


def test_print_json_keeps_money_exact_and_dates_iso(capsys):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Quote:
        loan_number: str
        date: dt.date
        payoff: Decimal
        lines: tuple[Decimal, ...]

    cli_support.print_json(Quote("KL-1", dt.date(2026, 6, 1), Decimal("9606.87"), (Decimal("0.10"), Decimal("3.0700"))))
    assert json.loads(capsys.readouterr().out) == {
        "loan_number": "KL-1", "date": "2026-06-01", "payoff": "9606.87", "lines": ["0.10", "3.0700"]}
    with pytest.raises(TypeError, match="float"):
        cli_support.print_json({"amount": 1.5})


# ---------------------------------------------------------------------------
# The real command, in a subprocess, as a script would run it
# ---------------------------------------------------------------------------
def keel(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *argv],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )


def test_keel_init_add_and_list_through_the_command_line(tmp_path):
    db = f"sqlite:///{tmp_path / 'office.sqlite3'}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_") or k == "KEEL_KEY_DIR"}
    base["KEEL_DATABASE_URL"] = db

    init = keel({**base, "KEEL_ADMIN_PASSWORD": "first-admin-pw"},
                "init", "--user", "boss", "--full-name", "Bo Boss", "--business-date", "2026-06-01")
    assert init.returncode == 0, init.stderr
    assert "production, business date 2026-06-01, first admin boss" in init.stdout

    as_boss = {**base, "KEEL_USER": "boss", "KEEL_PASSWORD": "first-admin-pw"}
    add = keel({**as_boss, "KEEL_NEW_PASSWORD": "clerk-password-1"},
               "user", "add", "casey", "--role", "clerk", "--full-name", "Casey Clerk")
    assert (add.returncode, add.stdout, add.stderr) == (0, "Added casey (clerk)\n", "")

    listed = keel(as_boss, "user", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["username"], r["full_name"], r["role"], r["active"]) for r in rows] == [
        ("boss", "Bo Boss", "admin", True), ("casey", "Casey Clerk", "clerk", True)]
    assert rows[1]["last_login_at"] is None

    # The clerk signs in with the password the admin gave; the demo password never works here.
    wrong = keel({**base, "KEEL_USER": "casey", "KEEL_PASSWORD": "demo"}, "user", "list")
    assert (wrong.returncode, wrong.stderr) == (2, "keel: error: Demo passwords only work on the demo database\n")


# ---------------------------------------------------------------------------
# Two desks at the same moment (real commits on a fresh database)
# ---------------------------------------------------------------------------
def _race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls on threads released together; each result or the exception raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_desks_bootstrapping_at_once_make_one_admin(opened):
    results = _race(
        lambda: users.bootstrap_admin(opened, "first", "First", "first-admin-pw"),
        lambda: users.bootstrap_admin(opened, "second", "Second", "second-admin-pw"),
    )
    made = [r for r in results if isinstance(r, Actor)]
    refused = [r for r in results if isinstance(r, ServiceError)]
    assert len(made) == 1 and len(refused) == 1, results
    assert "already has users" in str(refused[0])


def test_two_admins_deactivating_each_other_at_once_leave_one(opened):
    users.bootstrap_admin(opened, "ann", "Ann", "ann-password")
    ann = ServiceContext(opened, users.authenticate(opened, "ann", "ann-password"))
    users.create_user(ann, "bob", "Bob", "admin", "bob-password")
    bob = ServiceContext(opened, users.authenticate(opened, "bob", "bob-password"))
    for _ in range(3):
        results = _race(lambda: users.deactivate_user(ann, "bob"), lambda: users.deactivate_user(bob, "ann"))
        refused = [r for r in results if isinstance(r, ServiceError)]
        assert len(refused) == 1, results
        # The loser is refused as the last admin, as a clash, or (once the winner's change has
        # committed) because its own user is now deactivated (issue 11: every unit re-reads the actor).
        assert any(words in str(refused[0]) for words in ("last active admin", "changed by someone else",
                                                          "has been deactivated")), refused
        with opened() as session:
            active = session.scalars(select(User.username).where(User.active.is_(True))).all()
        assert len(active) == 1, active
        # Put the other one back for the next round.
        survivor = ann if active == ["ann"] else bob
        users.reactivate_user(survivor, "bob" if active == ["ann"] else "ann")


# ---------------------------------------------------------------------------
# At a terminal
# ---------------------------------------------------------------------------
def test_first_run_at_a_terminal_asks_for_the_admin(cli_env, capsys, monkeypatch):
    monkeypatch.setattr(cli_support, "interactive", lambda: True)
    answers = iter(["Root", "Rita Root"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    typed = iter(["first-admin-pw", "first-admin-pw"])
    monkeypatch.setattr(cli_support, "prompt_password", lambda prompt="": next(typed))
    code, out, err = run_cli(capsys, "user", "list", "--json")
    assert code == 0, err
    assert "This is a new database with no users" in err
    assert [(r["username"], r["full_name"]) for r in json.loads(out)] == [("root", "Rita Root")]

    # Next time: the password is asked for, once.
    typed = iter(["first-admin-pw"])
    code, out, err = run_cli(capsys, "user", "list", "--user", "root")
    assert code == 0, err
    assert out.splitlines()[1].split()[:3] == ["root", "Rita", "Root"]


def test_mistyped_second_password_creates_nobody(cli_env, capsys, monkeypatch):
    monkeypatch.setattr(cli_support, "interactive", lambda: True)
    typed = iter(["first-admin-pw", "first-admin-pq"])
    monkeypatch.setattr(cli_support, "prompt_password", lambda prompt="": next(typed))
    code, _, err = run_cli(capsys, "init", "--user", "root", "--full-name", "Rita Root")
    assert (code, err) == (2, "keel: error: the two passwords differ\n")
    factory = setup.open_database(cli_env, initialize=False)
    try:
        assert setup.database_is_empty(factory)
    finally:
        setup.close_database(factory)
