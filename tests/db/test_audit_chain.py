"""The sealed audit chain (issue 12, item 1): forgery, deletion and renumbering are found, with the first broken link.

The review deleted every audit row on PostgreSQL (as the table owner, after
``DISABLE TRIGGER``) and nothing noticed.  Here a person with full SQL access
-- the SQLite file's holder dropping and re-making the triggers, PostgreSQL's
owner disabling them -- edits, deletes, renumbers and inserts rows, and edits a
ledger amount; :func:`app.db.chain.verify_chain` (``keel audit verify``, and
``keel verify``) names the first broken link each time.  They hold no key:
the key is kept outside the database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text

from app.db import chain, keys
from app.db.migrate import upgrade
from app.db.models import AuditEvent, LedgerEntry, SystemSetting
from app.db.session import make_engine, session_factory, unit_of_work
from app.services import audit, integrity, servicing, verify
from app.services.context import ServiceContext
from app.services.errors import ServiceError
from tests.services.conftest import seed
from tests.services.loans import make_loan


@pytest.fixture
def book(fresh_db_url: str) -> Iterator[tuple[Engine, dict[str, ServiceContext], str]]:
    engine = make_engine(fresh_db_url)
    upgrade(engine)
    contexts = seed(session_factory(engine))
    number = make_loan(contexts["admin"])
    clerk = contexts["clerk"]
    servicing.post_payment(clerk, number, "633.96", reference="CHK 1")
    servicing.post_payment(clerk, number, "250.00", reference="CHK 2")
    yield engine, contexts, number
    engine.dispose()


def _report(engine: Engine) -> chain.ChainReport:
    with unit_of_work(session_factory(engine), write=False) as session:
        return chain.verify_chain(session)


def _numbers(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.scalars(select(AuditEvent.number).where(AuditEvent.number.is_not(None))
                                       .order_by(AuditEvent.number)))


def _as_the_attacker(engine: Engine, *statements: str) -> None:
    """Run SQL past the append-only protections, as someone holding the file or owning the tables would."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            saved = list(connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name IN ('audit_events', 'ledger_entries')"))
            for name, _ in saved:
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
            for statement in statements:
                connection.exec_driver_sql(statement)
            for _, sql in saved:  # put the triggers back, so the book still opens
                connection.exec_driver_sql(sql)
        else:
            for table in ("audit_events", "ledger_entries"):
                connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            for statement in statements:
                connection.exec_driver_sql(statement)
            for table in ("audit_events", "ledger_entries"):
                connection.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _number_of(engine: Engine, action: str, nth: int = 0) -> int:
    with engine.connect() as connection:
        return list(connection.scalars(select(AuditEvent.number).where(AuditEvent.action == action)
                                       .order_by(AuditEvent.number)))[nth]


def test_an_untouched_book_proves_its_chain(book) -> None:
    engine, contexts, _ = book
    report = _report(engine)
    # seed: database.initialized, admin created, admin signed in, 3 users created, 4 sign-ins (8 before the
    # loan); each row numbered in order with no gap.
    assert report.ok, report.problems
    assert _numbers(engine) == list(range(1, report.sealed + 1))
    assert report.head_number == report.sealed
    # Every ledger entry (the boarding's opening entries and the two payments) is covered by a seal.
    with engine.connect() as connection:
        entries = connection.scalar(select(func.count()).select_from(LedgerEntry))
        loose = connection.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.tx.is_(None)))
    assert loose == 0
    assert report.ledger_checked == entries
    full = verify.verify(contexts["admin"])
    assert full.ok and full.chain is not None and full.chain.ok


def test_editing_an_audit_record_breaks_its_link(book) -> None:
    engine, _, _ = book
    target = _number_of(engine, "payment.posted")
    _as_the_attacker(engine, f"UPDATE audit_events SET details = REPLACE(details, '633.96', '0.01') "
                             f"WHERE number = {target}")
    report = _report(engine)
    assert not report.ok
    assert report.first_broken == target
    assert f"audit row #{target} (payment.posted" in report.problems[0]


def test_deleting_a_middle_record_is_a_gap(book) -> None:
    engine, _, _ = book
    target = _number_of(engine, "user.created", 1)
    _as_the_attacker(engine, f"DELETE FROM audit_events WHERE number = {target}")
    report = _report(engine)
    assert report.first_broken == target
    assert report.problems[0] == f"audit row #{target} is missing (the next is #{target + 1})"


def test_renumbering_after_a_deletion_breaks_the_seals(book) -> None:
    engine, _, _ = book
    target = _number_of(engine, "user.created", 1)
    _as_the_attacker(engine, f"DELETE FROM audit_events WHERE number = {target}",
                     f"UPDATE audit_events SET number = number - 1 WHERE number > {target}")
    report = _report(engine)
    # The numbers run 1, 2, 3... again, but each moved row's seal covers its old number and its old neighbour.
    assert report.first_broken == target
    assert f"audit row #{target} " in report.problems[0] and "does not match its seal" in report.problems[0]


def test_editing_a_ledger_amount_breaks_the_record_of_its_transaction(book) -> None:
    engine, _, _ = book
    target = _number_of(engine, "payment.posted")  # the 633.96 payment, stored as 63396 cents
    _as_the_attacker(engine, "UPDATE ledger_entries SET amount = 1 WHERE amount = 63396")
    report = _report(engine)
    assert report.first_broken == target
    assert "payment.posted" in report.problems[0]


def test_a_forged_or_unsealed_record_is_found(book) -> None:
    engine, _, _ = book
    head = _report(engine).head_number
    now = "2026-12-04 12:00:00"
    _as_the_attacker(
        engine,
        f"INSERT INTO audit_events (at, action, entity, details, number, mac) VALUES "
        f"('{now}', 'payment.reversed', 'ledger_entry', '{{}}', {head + 1}, '{'ab' * 32}')",
        f"INSERT INTO audit_events (at, action, entity, details) VALUES ('{now}', 'note.added', 'note', '{{}}')")
    report = _report(engine)
    assert report.first_broken == head + 1
    assert any("carry no seal" in problem for problem in report.problems)


def test_deleting_every_record_is_noticed(book) -> None:
    engine, _, _ = book
    _as_the_attacker(engine, "DELETE FROM audit_events")
    report = _report(engine)
    # No audit row is left to fail its seal, but the ledger's transactions have no record any more.
    assert not report.ok
    assert any("have no audit row" in problem for problem in report.problems)


def test_a_rolled_back_transaction_leaves_no_gap(book) -> None:
    engine, contexts, number = book
    clerk = contexts["clerk"]
    before = _report(engine).head_number
    with pytest.raises(RuntimeError):
        with clerk.unit() as session:
            audit.record(session, clerk.actor, "note.added", entity="note", details={"text": "undone"})
            raise RuntimeError("the desk's work failed")
    with clerk.unit() as session:  # a savepoint's record goes when the savepoint is rolled back
        try:
            with session.begin_nested():
                audit.record(session, clerk.actor, "note.added", entity="note", details={"text": "undone too"})
                raise RuntimeError
        except RuntimeError:
            pass
        audit.record(session, clerk.actor, "note.added", entity="note", details={"text": "kept"})
    servicing.post_payment(clerk, number, "10.00", reference="CHK 3")
    report = _report(engine)
    assert report.ok, report.problems
    # Two records after the rolled-back work: the kept note and the payment -- numbered on from the old head.
    assert report.head_number == before + 2
    assert _numbers(engine) == list(range(1, before + 3))
    with engine.connect() as connection:
        texts = [d for d in connection.scalars(select(AuditEvent.details).where(AuditEvent.action == "note.added"))]
    assert texts == [{"text": "kept"}]


def test_a_missing_or_wrong_key_is_a_message_and_the_recovery_key_restores_it(book, tmp_path, monkeypatch) -> None:
    engine, _, _ = book
    factory = session_factory(engine)
    with unit_of_work(factory, write=False) as session:
        book_id = session.get(SystemSetting, keys.SETTING_BOOK_ID).value
        master = keys.book_keys(session)[0].master
    recovery = keys.recovery_text(master)
    # A new machine: an empty key folder.
    monkeypatch.setenv(keys.ENV_KEY_DIR, str(tmp_path / "new-machine"))
    keys.forget_cached()
    status = integrity.key_status(factory)
    assert not status.present and "not on this machine" in (status.problem or "")
    with pytest.raises(ServiceError, match="recovery key: this is not the key of this book"):
        integrity.restore_key(factory, keys.recovery_text(os.urandom(32)))
    assert integrity.restore_key(factory, recovery.lower().replace("-", " ")).present
    assert (tmp_path / "new-machine" / f"book-{book_id}.key").stat().st_mode & 0o777 == 0o600
    keys.forget_cached()
    report = _report(engine)
    assert report.ok, report.problems
    with engine.connect() as connection:
        assert connection.scalar(select(AuditEvent.action).order_by(AuditEvent.number.desc()).limit(1)) \
            == "keys.restored"
    # The wrong key in the folder: refused by its check value, never used to seal.
    (tmp_path / "new-machine" / f"book-{book_id}.key").write_text(keys.recovery_text(os.urandom(32)))
    keys.forget_cached()
    assert "not this book's key" in (integrity.key_status(factory).problem or "")


def test_the_database_holds_no_key(book) -> None:
    engine, _, _ = book
    factory = session_factory(engine)
    with unit_of_work(factory, write=False) as session:
        keys_now = keys.book_keys(session)[0]
    secrets_as_text = {keys_now.master.hex(), keys.recovery_text(keys_now.master),
                       keys_now.audit_key.hex(), keys_now.data_key.hex()}
    with engine.connect() as connection:
        settings = [str(v) for v in connection.scalars(text("SELECT value FROM system_settings"))]
    assert not any(secret in value for value in settings for secret in secrets_as_text)
