"""The models against a migrated database: append-only history, optimistic locking, fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Connection, delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.db.base import check_version
from app.db.models import (
    AppendOnlyError,
    AuditEvent,
    LedgerEntry,
    Loan,
    LoanState,
    Note,
    PaymentBatch,
    Person,
)
from app.db.settings import (
    get_business_date,
    get_database_kind,
    set_business_date,
    set_database_kind,
)
from tests.db.factories import BUSINESS_DATE, add_entry, make_loan, make_user


# ---------------------------------------------------------------------------
# The ledger is append-only, in the database itself ...
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount = 0",
        "UPDATE ledger_entries SET reference = 'x' WHERE id = :id",
        "DELETE FROM ledger_entries WHERE id = :id",
        "DELETE FROM ledger_entries",
    ],
)
def test_database_refuses_ledger_update_and_delete(
    session: Session, connection: Connection, statement: str
) -> None:
    entry = add_entry(session, make_loan(session))
    with pytest.raises(IntegrityError, match="append-only"):
        with connection.begin_nested():
            connection.execute(text(statement), {"id": entry.id})
    amount = connection.execute(
        text("SELECT amount FROM ledger_entries WHERE id = :id"), {"id": entry.id}
    ).scalar_one()
    assert amount == 10000


@pytest.mark.parametrize("table", ["notes", "audit_events"])
def test_database_refuses_editing_notes_and_audit(
    session: Session, connection: Connection, table: str
) -> None:
    loan = make_loan(session)
    session.add(Note(loan=loan, user_id=loan.boarded_by_id, text="called, left message"))
    session.add(AuditEvent(action="board", entity="loan", entity_id=str(loan.id), loan_id=loan.id))
    session.flush()
    for statement in (f"UPDATE {table} SET loan_id = loan_id", f"DELETE FROM {table}"):
        with pytest.raises(IntegrityError, match="append-only"):
            with connection.begin_nested():
                connection.exec_driver_sql(statement)


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_postgres_refuses_truncate(session: Session, connection: Connection) -> None:
    add_entry(session, make_loan(session))
    with pytest.raises(IntegrityError, match="append-only"):
        with connection.begin_nested():
            connection.exec_driver_sql("TRUNCATE ledger_entries CASCADE")


# ---------------------------------------------------------------------------
# ... and in the ORM
# ---------------------------------------------------------------------------
def test_orm_refuses_editing_an_entry(session: Session) -> None:
    entry = add_entry(session, make_loan(session))
    entry.amount = Decimal("1.00")
    with pytest.raises(AppendOnlyError):
        session.flush()


def test_orm_refuses_deleting_an_entry(session: Session) -> None:
    entry = add_entry(session, make_loan(session))
    session.delete(entry)
    with pytest.raises(AppendOnlyError):
        session.flush()


def test_orm_refuses_bulk_update_and_delete(session: Session) -> None:
    add_entry(session, make_loan(session))
    with pytest.raises(AppendOnlyError):
        session.execute(update(LedgerEntry).values(amount=Decimal("0.00")))
    with pytest.raises(AppendOnlyError):
        session.execute(delete(Note))


def test_reversal_points_at_original_once(session: Session) -> None:
    loan = make_loan(session)
    payment = add_entry(
        session, loan, "250.00", principal=Decimal("200.00"), interest=Decimal("50.00")
    )
    reversal = add_entry(
        session,
        loan,
        "-250.00",
        "reversal",
        reverses=payment,
        reason_code="nsf",
        principal=Decimal("-200.00"),
        interest=Decimal("-50.00"),
    )
    session.commit()  # appending new entries never trips the append-only guard
    assert reversal.reverses_id == payment.id
    assert [e.seq for e in loan.ledger_entries] == [1, 2]
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            add_entry(session, loan, "-250.00", "reversal", reverses_id=payment.id)


def test_sequence_is_unique_per_loan(session: Session) -> None:
    loan = make_loan(session)
    add_entry(session, loan)
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(
                LedgerEntry(
                    loan_id=loan.id,
                    seq=1,
                    type="fee",
                    effective_date=BUSINESS_DATE,
                    business_date=BUSINESS_DATE,
                    amount=Decimal("25.00"),
                    user_id=loan.boarded_by_id,
                )
            )
            session.flush()


def test_ledger_money_columns_come_back_as_decimal(session: Session) -> None:
    entry = add_entry(
        session, make_loan(session), "123.45", principal=Decimal("100"), interest=Decimal("23.45")
    )
    session.expire_all()
    stored = session.get(LedgerEntry, entry.id)
    assert stored is not None
    assert (str(stored.amount), str(stored.principal), str(stored.interest), str(stored.fees)) == (
        "123.45",
        "100.00",
        "23.45",
        "0.00",
    )
    assert stored.posted_at.tzinfo is not None


def test_unknown_ledger_type_and_method_refused() -> None:
    with pytest.raises(ValueError, match="ledger entry type"):
        LedgerEntry(type="gift")
    with pytest.raises(ValueError, match="payment method"):
        LedgerEntry(type="payment", method="bitcoin")


# ---------------------------------------------------------------------------
# Optimistic locking
# ---------------------------------------------------------------------------
def test_stale_edit_in_one_session_raises(session: Session, connection: Connection) -> None:
    loan = make_loan(session)
    session.commit()
    assert loan.version == 1
    # Another desk changes the row behind this session's back.
    connection.execute(
        text("UPDATE loans SET hardship = :t, version = version + 1 WHERE id = :id"),
        {"t": True, "id": loan.id},
    )
    loan.dispute = True
    with pytest.raises(StaleDataError):
        session.flush()


def test_version_counts_edits(session: Session) -> None:
    state = LoanState(loan=make_loan(session), as_of=BUSINESS_DATE, principal=Decimal("10000.00"))
    session.add(state)
    session.flush()
    assert state.version == 1
    state.principal = Decimal("9900.00")
    session.flush()
    assert state.version == 2


def test_check_version_refuses_a_copy_loaded_earlier(session: Session) -> None:
    loan = make_loan(session)
    check_version(loan, 1)
    with pytest.raises(StaleDataError, match="changed by someone else"):
        check_version(loan, 0)


def test_two_desks_editing_the_same_loan(fresh_db_url: str) -> None:
    """Desk B saves a loan it loaded before desk A saved it: refused, not overwritten."""
    from app.db.migrate import upgrade
    from app.db.session import make_engine, session_factory, unit_of_work

    engine = make_engine(fresh_db_url)
    try:
        upgrade(engine)
        factory = session_factory(engine)
        with unit_of_work(factory) as s:
            loan_id = make_loan(s).id
        desk_b = factory()
        loan_b = desk_b.get_one(Loan, loan_id)
        desk_b.commit()  # B shows the loan; its read transaction ends
        with unit_of_work(factory) as desk_a:
            desk_a.get_one(Loan, loan_id).hardship = True
        loan_b.dispute = True
        with pytest.raises(StaleDataError):
            desk_b.commit()
        desk_b.close()
        with unit_of_work(factory, write=False) as s:
            loan = s.get_one(Loan, loan_id)
            assert (loan.hardship, loan.dispute, loan.version) == (True, False, 2)
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------
# People, batches, settings
# ---------------------------------------------------------------------------
def test_tax_id_and_birth_date_are_encrypted_at_rest_and_shown_masked(session: Session, connection: Connection) -> None:
    person = Person(first_name="Ana", last_name="Reyes", tax_id="123-45-6789", date_of_birth=dt.date(1975, 3, 14))
    session.add(person)
    session.flush()
    assert person.tax_id == "123456789"
    assert person.tax_id_masked == "***-**-6789"
    assert person.date_of_birth_masked == "1975-**-**"
    assert person.time_zone == "America/New_York"
    row = connection.execute(
        text("SELECT tax_id, date_of_birth, tax_id_sealed, tax_id_last4, date_of_birth_sealed FROM persons "
             "WHERE id = :id"), {"id": person.id}).one()
    # Nothing in the clear but the last four: the plain columns are empty, the sealed ones hold AES-GCM.
    assert row.tax_id is None and row.date_of_birth is None and row.tax_id_last4 == "6789"
    assert row.tax_id_sealed.startswith("v1:") and "123456789" not in row.tax_id_sealed
    assert "1975" not in row.date_of_birth_sealed
    session.expire(person)
    assert person.tax_id == "123456789" and person.date_of_birth == dt.date(1975, 3, 14)
    # A sealed SSN copied into the birth-date column does not open there (the column is the associated data).
    from app.db import personal

    with pytest.raises(personal.PersonalDataUnreadable):
        personal.open_sealed(session, personal.DATE_OF_BIRTH, row.tax_id_sealed)
    with pytest.raises(ValueError, match="nine digits"):
        person.tax_id = "12345"


def test_person_needs_a_name(session: Session) -> None:
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(Person(first_name="Only"))
            session.flush()
    org = Person(organization_name="Acme Hauling LLC")
    session.add(org)
    session.flush()
    assert org.display_name == "Acme Hauling LLC"


def test_batch_file_hash_is_unique(session: Session) -> None:
    user = make_user(session)
    session.add(PaymentBatch(control_total=Decimal("500.00"), file_hash="ab" * 32, created_by=user))
    session.flush()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(
                PaymentBatch(control_total=Decimal("1.00"), file_hash="ab" * 32, created_by=user)
            )
            session.flush()


def test_settings_business_date_and_kind(session: Session) -> None:
    assert get_business_date(session) is None
    set_business_date(session, dt.date(2026, 11, 27))
    set_database_kind(session, "demo")
    set_business_date(session, dt.date(2026, 11, 30))
    assert get_business_date(session) == dt.date(2026, 11, 30)
    assert get_database_kind(session) == "demo"
    with pytest.raises(ValueError):
        set_database_kind(session, "staging")


def test_every_editable_table_is_versioned() -> None:
    from app.db.models import APPEND_ONLY_MODELS, Base

    for mapper in Base.registry.mappers:
        if mapper.class_ in APPEND_ONLY_MODELS:
            continue
        assert mapper.version_id_col is not None, mapper.class_.__name__


def test_selects_by_loan_state_indexes(session: Session) -> None:
    loan = make_loan(session)
    session.add(
        LoanState(
            loan=loan,
            as_of=BUSINESS_DATE,
            principal=Decimal("5000.00"),
            bucket="30-59",
            days_past_due=31,
            next_due=dt.date(2026, 12, 1),
            accrued_interest=Decimal("1.2345678901"),
        )
    )
    session.flush()
    session.expire_all()
    state = session.scalars(select(LoanState).where(LoanState.bucket == "30-59")).one()
    assert state.accrued_interest == Decimal("1.2345678901")
    assert str(state.payoff) == "0.00"
