"""Migrations: they match the models, run both ways, back up old files and refuse newer ones."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from app.db import migrate
from app.db.migrate import (
    DatabaseTooNew,
    backup_sqlite,
    check_compatible,
    current_revision,
    database_status,
    head_revision,
    prepare_database,
    upgrade,
)
from app.db.models import APPEND_ONLY_TABLES, Base, Loan, Product, ProductVersion, User
from app.db.session import make_engine
from app.domain.engine import Event, replay
from app.domain.terms import terms_from_dict, terms_from_stored, terms_to_dict
from app.services.products import ProductRules, rules_of


def test_script_location_is_the_repository_migrations_folder() -> None:
    location = migrate.script_location()
    assert (location / "env.py").is_file()
    assert location == Path(__file__).resolve().parents[2] / "migrations"


def test_models_and_migrations_agree(fresh_db_url: str) -> None:
    """The `alembic check` equivalent: a model change without a migration fails here."""
    engine = make_engine(fresh_db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_upgrade_creates_tables_and_triggers_then_downgrade_removes_them(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        assert current_revision(engine) is None
        assert upgrade(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                triggers = (
                    conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                    .scalars()
                    .all()
                )
            else:
                triggers = (
                    conn.exec_driver_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
                    .scalars()
                    .all()
                )
        for table in APPEND_ONLY_TABLES:
            assert any(name.startswith(table) for name in triggers), table

        assert migrate.downgrade(engine, "base") is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert upgrade(engine) == head_revision()  # and up again, cleanly
    finally:
        engine.dispose()


def test_sqlite_connection_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    try:
        with engine.connect() as conn:
            values = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
        assert values == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 5000,
            "synchronous": 1,
        }
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        upgrade(engine)
        assert upgrade(engine) == head_revision()
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------
# Older and newer databases
# ---------------------------------------------------------------------------
_NEXT_REVISION = textwrap.dedent(
    '''
    """A later Keel adds a column (test fixture).

    Revision ID: 9999
    Revises: {down}
    """
    from alembic import op
    import sqlalchemy as sa

    revision = "9999"
    down_revision = "{down}"
    branch_labels = None
    depends_on = None


    def upgrade() -> None:
        with op.batch_alter_table("users") as batch_op:
            batch_op.add_column(sa.Column("nickname", sa.String(40), nullable=True))


    def downgrade() -> None:
        with op.batch_alter_table("users") as batch_op:
            batch_op.drop_column("nickname")
    '''
)


@pytest.fixture
def newer_migrations(tmp_path: Path) -> Path:
    """A copy of Keel's migrations plus one revision after head: a newer Keel."""
    location = tmp_path / "newer_migrations"
    shutil.copytree(
        migrate.script_location(), location, ignore=shutil.ignore_patterns("__pycache__")
    )
    (location / "versions" / "9999_later.py").write_text(
        _NEXT_REVISION.format(down=head_revision())
    )
    return location


def _row_count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def _columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def test_prepare_database_backs_up_an_older_sqlite_file_then_upgrades(
    tmp_path: Path, newer_migrations: Path
) -> None:
    db = tmp_path / "desk" / "keel.sqlite3"
    url = f"sqlite:///{db}"
    # Today's Keel creates the file and writes a row that stays in the WAL
    # (the engine is still open: no checkpoint has copied it into the file).
    today = prepare_database(url)
    assert today.backup is None and today.previous_revision is None
    with today.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, full_name, role, password_hash, version, created_at) "
                "VALUES ('ana', 'Ana', 'admin', 'x', 1, '2026-11-27 12:00:00')"
            )
        )
    assert Path(f"{db}-wal").exists()

    # A newer Keel (one more revision) starts on the same file.
    newer = prepare_database(url, location=newer_migrations)
    try:
        assert newer.previous_revision == head_revision()
        assert newer.revision == "9999" and newer.upgraded
        assert newer.backup is not None
        assert newer.backup.parent == db.parent / "backups"
        assert newer.backup.name.startswith("keel-") and newer.backup.suffix == ".sqlite3"
        # The backup is the old schema, with the row that was only in the WAL.
        assert _row_count(newer.backup, "users") == 1
        assert "nickname" not in _columns(newer.backup, "users")
        assert current_revision(newer.engine) == "9999"
        assert "nickname" in {c["name"] for c in inspect(newer.engine).get_columns("users")}
    finally:
        newer.engine.dispose()
        today.engine.dispose()


def test_prepare_database_refuses_a_database_from_a_newer_keel(
    tmp_path: Path, newer_migrations: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'keel.sqlite3'}"
    prepare_database(url, location=newer_migrations).engine.dispose()
    with pytest.raises(DatabaseTooNew) as caught:
        prepare_database(url)
    assert str(caught.value) == (
        "This database was upgraded by a newer Keel (revision 9999); install the newer Keel"
    )
    assert not (tmp_path / "backups").exists()  # refused before touching anything


def test_prepare_database_refuses_an_unknown_stamped_revision(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed1234'"))
        with pytest.raises(DatabaseTooNew, match="revision f00dfeed1234"):
            check_compatible(engine)
        assert database_status(engine).state == "too_new"
    finally:
        engine.dispose()
    with pytest.raises(DatabaseTooNew):
        prepare_database(fresh_db_url)


def test_prepare_database_creates_a_new_database_without_backup(fresh_db_url: str) -> None:
    prepared = prepare_database(fresh_db_url)
    try:
        assert prepared.backup is None
        assert current_revision(prepared.engine) == head_revision()
        assert database_status(prepared.engine).state == "current"
    finally:
        prepared.engine.dispose()


def test_prepare_database_backs_up_a_file_at_base(tmp_path: Path) -> None:
    """A file whose schema was never created (revision base) is backed up before upgrade."""
    db = tmp_path / "keel.sqlite3"
    engine = make_engine(f"sqlite:///{db}")
    try:
        upgrade(engine)
        migrate.downgrade(engine, "base")
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE marker (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO marker VALUES (42)")
        assert database_status(engine).state == "empty"
    finally:
        engine.dispose()
    prepared = prepare_database(f"sqlite:///{db}", backup_dir=tmp_path / "bk")
    try:
        assert prepared.backup is not None and prepared.backup.parent == tmp_path / "bk"
        assert _row_count(prepared.backup, "marker") == 1
        assert current_revision(prepared.engine) == head_revision()
    finally:
        prepared.engine.dispose()


def test_backup_names_do_not_collide(tmp_path: Path) -> None:
    db = tmp_path / "keel.sqlite3"
    sqlite3.connect(db).close()
    first = backup_sqlite(db, tmp_path / "bk")
    second = backup_sqlite(db, tmp_path / "bk")
    assert first != second and first.exists() and second.exists()


# ---------------------------------------------------------------------------
# 0004: loans boarded before the 30/360 period rule keep calendar counting
# ---------------------------------------------------------------------------
def _month_end_loan() -> tuple[dict[str, object], list[Event]]:
    """The issue 9 loan due on the 31st, in the form Keel stored before 0004 (no thirty360 key)."""
    data = terms_to_dict(
        terms_from_dict(
            {"principal": "10000.00", "rate": "12", "term": 4, "start": "2025-12-31", "first_due": "2026-01-31"}
        )
    )
    del data["thirty360"]
    events = [
        Event("p1", "payment", dt.date(2026, 1, 31), Decimal("2562.81")),
        Event("p2", "payment", dt.date(2026, 2, 28), Decimal("2562.81")),
    ]
    return data, events


def _insert_old_loan(session: Session, number: str, version_id: int, terms: dict, user_id: int) -> None:
    """A loan row as revision 0003 had it: only the columns that existed then (later
    revisions add columns the ORM model already knows)."""
    columns = {"loan_number": number, "product_version_id": version_id, "terms": terms,
               "boarded_on": dt.date(2025, 12, 31), "boarded_by_id": user_id, "version": 1}
    table = Loan.__table__
    session.execute(table.insert().values(**columns))


def _insert_old_user(session: Session, username: str) -> int:
    """A user row with only the columns revision 0003 had (0009 adds the lockout columns;
    the model's Python-side defaults would name them, so this is plain SQL)."""
    session.execute(
        text("INSERT INTO users (username, full_name, role, password_hash, active, is_demo, version, created_at) "
             "VALUES (:u, :n, 'admin', 'x', :t, :f, 1, :at)"),
        {"u": username, "n": username.title(), "t": True, "f": False,
         "at": dt.datetime(2025, 12, 31, tzinfo=dt.UTC)},
    )
    return int(session.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username}).scalar_one())


def test_0004_sets_calendar_on_boarded_loans_and_products_and_their_replay_is_unchanged(
    fresh_db_url: str,
) -> None:
    engine = make_engine(fresh_db_url)
    stored_terms, events = _month_end_loan()
    as_of = dt.date(2026, 3, 20)
    # What Keel computed for this loan before the rule: calendar 30/360 days.
    before, _ = replay(terms_from_dict({**stored_terms, "thirty360": "calendar"}), events, as_of)
    old_rules = ProductRules().to_dict()
    del old_rules["thirty360"]
    try:
        assert upgrade(engine, "0003") == "0003"
        with Session(engine) as session, session.begin():
            user_id = _insert_old_user(session, "ana")
            version = ProductVersion(
                product=Product(code="OLD", name="Old product"), effective_date=dt.date(2025, 1, 1), rules=old_rules
            )
            session.add(version)
            session.flush()
            _insert_old_loan(session, "KL-000001", version.id, stored_terms, user_id)
        assert upgrade(engine) == head_revision()
        with Session(engine) as session:
            loan = session.scalars(select(Loan)).one()
            assert loan.terms == {**stored_terms, "thirty360": "calendar"}
            terms = terms_from_stored(loan.terms)
            assert terms.thirty360 == "calendar"
            after, _ = replay(terms, events, as_of)
            assert after == before
            # February billed 7,537.19 x 12% x 28/360 = 70.347 -> 70.35, as before the rule;
            # the new rule would have billed 75.37 and left a different balance.
            assert after.principal == Decimal("5044.73")
            period, _ = replay(terms_from_dict({**stored_terms}), events, as_of)
            assert period.principal == Decimal("5049.75")
            version = session.scalars(select(ProductVersion)).one()
            assert version.rules == {**old_rules, "thirty360": "calendar"}
            assert rules_of(version).thirty360 == "calendar"
        # Down again: an older Keel knows no thirty360 key.
        assert migrate.downgrade(engine, "0003") == "0003"
        with engine.connect() as conn:
            text_terms = conn.execute(text("SELECT terms FROM loans")).scalar_one()
            text_rules = conn.execute(text("SELECT rules FROM product_versions")).scalar_one()
        assert "thirty360" not in text_terms and "thirty360" not in text_rules
    finally:
        engine.dispose()


def test_0004_leaves_a_document_that_already_says_period(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    stored_terms, _ = _month_end_loan()
    try:
        upgrade(engine, "0003")
        with Session(engine) as session, session.begin():
            user_id = _insert_old_user(session, "bo")
            version = ProductVersion(
                product=Product(code="NEW", name="New product"),
                effective_date=dt.date(2025, 1, 1),
                rules=ProductRules().to_dict(),
            )
            session.add(version)
            session.flush()
            _insert_old_loan(session, "KL-000002", version.id, {**stored_terms, "thirty360": "period"}, user_id)
        upgrade(engine)
        with Session(engine) as session:
            assert session.scalars(select(Loan)).one().terms["thirty360"] == "period"
            assert session.scalars(select(ProductVersion)).one().rules["thirty360"] == "period"
    finally:
        engine.dispose()
