"""Where the database is and how a unit of work behaves."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import platformdirs
import pytest
from sqlalchemy import select

from app.db import session as db_session
from app.db.migrate import upgrade
from app.db.models import User
from app.db.session import (
    display_url,
    make_engine,
    resolve_url,
    session_factory,
    sqlite_path,
    unit_of_work,
)


def test_default_url_is_a_file_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data" / "Keel"
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(folder))
    url = db_session.default_database_url()
    assert sqlite_path(url) == folder / "keel.sqlite3"
    assert folder.is_dir()


def test_resolve_url_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path))
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'keel.sqlite3'}"
    monkeypatch.setenv("KEEL_DATABASE_URL", "postgresql+psycopg://u@h/keel")
    assert resolve_url(None) == "postgresql+psycopg://u@h/keel"
    assert resolve_url("sqlite:///x.sqlite3") == "sqlite:///x.sqlite3"


def test_display_url_hides_password() -> None:
    assert (
        display_url("postgresql+psycopg://ana:s3cret@db/keel")
        == "postgresql+psycopg://ana:***@db/keel"
    )


def test_sqlite_path() -> None:
    assert sqlite_path("sqlite:////tmp/a.sqlite3") == Path("/tmp/a.sqlite3")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql+psycopg://u@h/keel") is None


def _user(name: str) -> User:
    return User(username=name, full_name=name.title(), role="clerk", password_hash="x")


def test_unit_of_work_commits_or_rolls_back(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        upgrade(engine)
        factory = session_factory(engine)
        with unit_of_work(factory) as s:
            s.add(_user("kept"))
        with pytest.raises(RuntimeError):
            with unit_of_work(factory) as s:
                s.add(_user("lost"))
                s.flush()
                raise RuntimeError("boom")
        with unit_of_work(factory, write=False) as s:
            names = s.scalars(select(User.username)).all()
        assert names == ["kept"]
    finally:
        engine.dispose()


def test_objects_stay_readable_after_commit(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        upgrade(engine)
        with unit_of_work(session_factory(engine)) as s:
            user = _user("ana")
            s.add(user)
        assert user.username == "ana" and user.version == 1  # expire_on_commit=False
    finally:
        engine.dispose()


def test_sqlite_write_units_queue_instead_of_colliding(tmp_path: Path) -> None:
    """Two SQLite writers: the second waits for the first (BEGIN IMMEDIATE), none fails."""
    import threading

    engine = make_engine(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    try:
        upgrade(engine)
        factory = session_factory(engine)
        first_has_lock = threading.Event()
        release = threading.Event()
        errors: list[BaseException] = []

        def first() -> None:
            try:
                with unit_of_work(factory) as s:
                    s.add(_user("first"))
                    s.flush()
                    first_has_lock.set()
                    release.wait(5)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=first)
        thread.start()
        assert first_has_lock.wait(5)
        threading.Timer(0.3, release.set).start()
        with unit_of_work(factory) as s:  # blocks until "first" commits
            count = len(s.scalars(select(User)).all())
            s.add(_user("second"))
        thread.join(5)
        assert not errors
        assert count == 1  # it saw the first writer's row: it really waited
    finally:
        engine.dispose()


def test_money_from_a_unit_of_work_is_decimal(fresh_db_url: str) -> None:
    from app.db.models import PaymentBatch

    engine = make_engine(fresh_db_url)
    try:
        upgrade(engine)
        factory = session_factory(engine)
        with unit_of_work(factory) as s:
            user = _user("clerk")
            s.add(user)
            s.flush()
            s.add(PaymentBatch(control_total=Decimal("1234.5"), created_by_id=user.id))
        with unit_of_work(factory, write=False) as s:
            total = s.scalars(select(PaymentBatch.control_total)).one()
        assert isinstance(total, Decimal) and str(total) == "1234.50"
    finally:
        engine.dispose()


def test_display_url_hides_a_password_given_as_a_query_parameter_too() -> None:
    shown = display_url("postgresql+psycopg://ana:s3cret@db/keel?password=t0p&sslmode=require")
    assert "s3cret" not in shown and "t0p" not in shown
    assert shown == "postgresql+psycopg://ana:***@db/keel?password=***&sslmode=require"
