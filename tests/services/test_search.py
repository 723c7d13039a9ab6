"""The global search box (app/services/search.py)."""

from __future__ import annotations

from sqlalchemy import select

from app.db.models import Loan, LoanParty, Person
from app.services import search

from .loans import make_loan


def _set_person(ctx, number: str, **values: object) -> None:
    with ctx.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        person = session.scalars(
            select(Person).join(LoanParty, LoanParty.person_id == Person.id).where(LoanParty.loan_id == loan.id)
        ).one()
        for key, value in values.items():
            setattr(person, key, value)


def test_search_by_number_name_phone_and_ssn(contexts):
    admin, clerk = contexts["admin"], contexts["clerk"]
    first, second = make_loan(admin), make_loan(admin)
    _set_person(admin, first, last_name="McAllister", first_name="Jo", mobile_phone="217-555-0142", tax_id="987654320")
    _set_person(admin, second, last_name="Mcbride", first_name="Sam", home_phone="303-555-0117")

    assert [h.loan_number for h in search.search_loans(clerk, first)] == [first]
    assert [h.loan_number for h in search.search_loans(clerk, first.lower())] == [first]
    assert {h.loan_number for h in search.search_loans(clerk, first[:3])} >= {first, second}

    by_name = search.search_loans(clerk, "mcallister")
    assert [h.loan_number for h in by_name] == [first] and by_name[0].borrower == "Jo McAllister"
    assert by_name[0].matched == "name"
    assert {h.loan_number for h in search.search_loans(clerk, "Mc")} == {first, second}
    assert [h.loan_number for h in search.search_loans(clerk, "mcbride, s")] == [second]
    assert [h.loan_number for h in search.search_loans(clerk, "Sam Mcbride")] == [second]
    assert search.search_loans(clerk, "mcbride, x") == []

    assert [h.loan_number for h in search.search_loans(clerk, "(217) 555-0142")] == [first]
    assert [h.loan_number for h in search.search_loans(clerk, "555 0117")] == [second]

    hits = search.search_loans(clerk, "4320")
    assert [h.loan_number for h in hits] == [first] and hits[0].matched == "SSN last four"
    assert hits[0].tax_id_last4 == "4320"
    assert all("987654320" not in repr(h) for h in hits)

    assert search.search_loans(clerk, "   ") == []
    assert len(search.search_loans(clerk, "T-", limit=1)) == 1


def test_account_extras(contexts):
    admin = contexts["admin"]
    number = make_loan(admin)
    _set_person(admin, number, tax_id="987-65-4320")
    parties = search.loan_parties(contexts["clerk"], number)
    assert parties[0].role == "borrower" and parties[0].tax_id_masked == "***-**-4320"
    assert "Springfield, IL 62701" in parties[0].address
    from app.services.account_page import account_page

    page = account_page(contexts["clerk"], number)
    assert page.notes == () and isinstance(page.audit, tuple)


def test_wildcards_typed_in_the_search_box_are_literal(contexts):
    """Issue 12: searching ``%``, ``_`` or ``\\`` returned unrelated borrowers (LIKE's wildcards)."""
    admin, clerk = contexts["admin"], contexts["clerk"]
    plain, odd = make_loan(admin), make_loan(admin)
    _set_person(admin, plain, last_name="Smith", first_name="Ann")
    _set_person(admin, odd, last_name="o_hara", first_name="Kim")  # stored in lower case, so the scan finds it
    for typed in ("%", "_", "\\", "%%", "s%h", "1%"):
        assert search.search_loans(clerk, typed) == [], typed
    assert [h.loan_number for h in search.search_loans(clerk, "o_h")] == [odd]  # "_" is an underscore here
    assert search.search_loans(clerk, "o%h") == []


def test_a_name_with_a_direction_override_is_refused_at_the_desk(contexts):
    """Issue 12: NUL and right-to-left override characters were stored in names."""
    import pytest

    from app.services import accounts
    from app.services.errors import InvalidInput

    admin = contexts["admin"]
    number = make_loan(admin)
    [party] = search.loan_parties(admin, number)
    with pytest.raises(InvalidInput) as info:
        accounts.update_party(admin, party.person_id, {"last_name": "\u202ehtimS"}, expected_version=party.version)
    assert info.value.field == "last_name" and "U+202E" in info.value.problem
    with pytest.raises(InvalidInput):
        accounts.add_note(admin, number, "called\x00")
