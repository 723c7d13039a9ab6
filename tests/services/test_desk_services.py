"""Notes, borrower edits, lender settings, terms-change previews and connection tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from app.db.models import AuditEvent, LoanParty, Note, Person
from app.services import accounts, lender, servicing, setup
from app.services.errors import Conflict, InvalidInput, PermissionDenied, ServiceError

from .loans import make_loan


def borrower(ctx, number):
    with ctx.unit(write=False) as session:
        from app.db.models import Loan

        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        party = session.scalars(select(LoanParty).where(LoanParty.loan_id == loan.id)).one()
        return party.person_id, party.person.version


def test_notes_are_added_and_audited(contexts):
    clerk = contexts["clerk"]
    number = make_loan(clerk)
    with pytest.raises(InvalidInput) as info:
        accounts.add_note(clerk, number, "   ")
    assert info.value.field == "note"
    note_id = accounts.add_note(clerk, number, "Borrower called about the payoff.")
    with clerk.unit(write=False) as session:
        assert session.get(Note, note_id).text == "Borrower called about the payoff."
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "note.added")).one()


def test_borrower_edits_are_validated_versioned_and_audited(contexts):
    clerk = contexts["clerk"]
    number = make_loan(clerk)
    person_id, version = borrower(clerk, number)
    with pytest.raises(InvalidInput) as info:
        accounts.update_party(clerk, person_id, {"postal_code": "1234"}, expected_version=version)
    assert info.value.field == "postal_code"
    with pytest.raises(InvalidInput) as info:
        accounts.update_party(clerk, person_id, {"tax_id": "123456789"}, expected_version=version)
    assert info.value.field == "tax_id"
    new_version = accounts.update_party(clerk, person_id, {"mobile_phone": "(207) 555 0142", "state": "me"},
                                        expected_version=version)
    with clerk.unit(write=False) as session:
        person = session.get(Person, person_id)
        assert (person.mobile_phone, person.state) == ("207-555-0142", "ME")
    with pytest.raises(Conflict):
        accounts.update_party(clerk, person_id, {"city": "Bangor"}, expected_version=version)  # stale
    accounts.update_party(clerk, person_id, {"city": "Bangor"}, expected_version=new_version)


def test_lender_settings(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    settings = lender.LenderSettings("Harbor Point Lending", "200 Harbor Street\nPortland ME 04101", "207-555-0100")
    with pytest.raises(PermissionDenied):
        lender.save_lender_settings(clerk, settings)
    with pytest.raises(InvalidInput) as info:
        lender.save_lender_settings(admin, lender.LenderSettings("", "x", "207-555-0100"))
    assert info.value.field == "name"
    with pytest.raises(InvalidInput) as info:
        lender.save_lender_settings(admin, lender.LenderSettings("A", "1 Main St", "555-0100"))
    assert info.value.field == "phone"
    lender.save_lender_settings(admin, settings)
    assert lender.lender_settings(clerk) == settings


def test_terms_change_preview_shows_the_new_payment(contexts):
    manager = contexts["manager"]
    number = make_loan(manager, start="2026-05-15", first_due="2026-06-15")  # nothing billed yet
    preview = servicing.preview_terms_change(manager, number, rate="6")
    changes = {field: (before, after) for field, before, after in preview.changes}
    # 10,000 at 6% over 12 months: 860.66 instead of 888.49.
    assert changes["next_payment"] == ("888.49", "860.66")


def test_connection_test_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    assert "empty database" in setup.test_connection(url)
    with pytest.raises(ServiceError):
        setup.test_connection("postgresql+psycopg://nobody@127.0.0.1:1/none")
