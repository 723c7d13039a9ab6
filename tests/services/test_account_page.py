"""The account page in one read (app/services/account_page.py), on SQLite and PostgreSQL.

The loan: 10,000.00 at 12 % for 12 months (30/360, 1 % a month), funded
2025-10-01, first due 2025-11-01, payment 888.49.  Worked by hand:

    due          interest                        principal   balance after
    2025-11-01   10,000.00 x 1 % = 100.00        788.49      9,211.51
    2025-12-01    9,211.51 x 1 % =  92.1151 ->  92.12   796.37   8,415.14
    2026-01-01    8,415.14 x 1 % =  84.1514 ->  84.15   804.34   7,610.80
    2026-02-01    7,610.80 x 1 % =  76.1080 ->  76.11   812.38   6,798.42
    2026-03-01    6,798.42 x 1 % =  67.9842 ->  67.98   820.51   5,977.91  (then reversed)

Interest paid in 2025 (last year): 100.00 + 92.12 = 192.12.
Interest paid in 2026 to the business date 2026-06-01: 84.15 + 76.11 + 67.98
(Mar 1, received) - 67.98 (its reversal, dated Jun 1) = 160.26.
Maturity: installment 12, eleven months after 2025-11-01 = 2026-10-01.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from app.db.models import Collateral, Loan, LoanParty, Person
from app.services import accounts, permissions, servicing
from app.services.account_page import account_page
from app.services.errors import InvalidInput, NotFound

from .loans import make_loan


def _loan(ctx) -> tuple[str, int]:
    number = make_loan(ctx, start="2025-10-01", first_due="2025-11-01")
    for day in (date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)):
        posted = servicing.post_payment(ctx, number, "888.49", day, reference=f"chk-{day}", confirm_backdated=True)
    servicing.reverse_payment(ctx, posted.entry_id, "nsf")
    with ctx.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        co = Person(first_name="Robin", last_name="Cosigner", address_line1="2 Elm St", city="Springfield",
                    state="IL", postal_code="62701")
        session.add(co)
        session.flush()
        session.add(LoanParty(loan_id=loan.id, person_id=co.id, role="co_borrower"))
        session.add(Collateral(loan_id=loan.id, kind="vehicle", year=2021, make="Toyota", model="Camry",
                               vin="4T1BF1FK5CU123456", value=D("18500.00")))
        session.add(Collateral(loan_id=loan.id, kind="real_estate", address_line1="9 Oak Ave", city="Peoria",
                               state="IL", postal_code="61602"))
    return number, posted.entry_id


def test_the_account_page_reads_everything_the_tabs_show(contexts):
    number, reversed_id = _loan(contexts["admin"])
    page = account_page(contexts["clerk"], number)

    assert page.account.loan_number == number
    assert page.year == 2026
    assert page.interest_paid_last_year == D("192.12")
    assert page.interest_paid_ytd == D("160.26")
    assert page.maturity == date(2026, 10, 1)
    # The reversed Mar 1 payment is not the last payment; Feb 1's is.
    assert page.last_payment is not None
    assert (page.last_payment.effective_date, page.last_payment.amount, page.last_payment.method) == (
        date(2026, 2, 1), D("888.49"), "check")

    assert [(p.role, p.name) for p in page.co_borrowers] == [("co_borrower", "Robin Cosigner")]
    vehicle, house = page.collateral
    assert (vehicle.kind, vehicle.title, vehicle.vin, vehicle.value) == (
        "vehicle", "2021 Toyota Camry", "4T1BF1FK5CU123456", D("18500.00"))
    assert (house.kind, house.title, house.address) == ("real_estate", "9 Oak Ave", "9 Oak Ave\nPeoria, IL 61602")

    # The running principal: 10,000.00 boarded, each payment's principal off, the reversal's back on.
    by_entry = {line.entry_id: line for line in page.account.lines if line.entry_id is not None}
    lines = page.account.lines
    assert lines[0].type == "boarding" and lines[0].principal_balance == D("10000.00")
    payments = [line for line in lines if line.type == "payment"]
    assert [p.principal_balance for p in payments] == [
        D("9211.51"), D("8415.14"), D("7610.80"), D("6798.42"), D("5977.91")]
    assert by_entry[reversed_id].reversed
    reversal = next(line for line in lines if line.type == "reversal")
    assert reversal.principal_balance == D("6798.42")
    assert lines[-1].principal_balance == page.account.snapshot.principal == D("6798.42")

    # The audit history in words, newest first: the reversal, then the Mar 1 payment.
    sentences = [line.sentence for line in page.audit]
    assert sentences[0] == f"Ada Admin reversed payment #{reversed_id} of $888.49 (insufficient funds)."
    assert "Ada Admin posted an $888.49 check payment effective Mar 1, 2026, back-dated (confirmed) (reference chk-2026-03-01)." in sentences
    assert all("{" not in s for s in sentences)


def test_the_page_as_of_a_past_date_counts_that_year(contexts):
    number, _ = _loan(contexts["admin"])
    page = account_page(contexts["clerk"], number, date(2025, 12, 15))
    # As of 2025-12-15 the year is 2025: Nov 1 and Dec 1 paid (100.00 + 92.12); nothing in 2024.
    assert (page.year, page.interest_paid_ytd, page.interest_paid_last_year) == (2025, D("192.12"), D("0.00"))
    assert page.last_payment is not None and page.last_payment.effective_date == date(2025, 12, 1)
    assert page.account.lines[-1].principal_balance == D("8415.14")


def test_the_page_is_the_same_as_the_account_service(contexts):
    number, _ = _loan(contexts["admin"])
    page = account_page(contexts["collector"], number)
    assert page.account == accounts.account(contexts["collector"], number)


def test_refusals(contexts):
    number, _ = _loan(contexts["admin"])
    with pytest.raises(NotFound):
        account_page(contexts["clerk"], "T-999999")
    with pytest.raises(InvalidInput) as refused:
        account_page(contexts["clerk"], number, date(2025, 9, 1))
    assert refused.value.field == "as_of"
    assert permissions.VIEW in permissions.ROLE_PERMISSIONS["collector"]


def test_one_read_on_a_real_engine(fresh_db_url):
    """On its own engine (as the desk runs), PostgreSQL reads the whole page in one REPEATABLE READ snapshot."""
    from app.services import setup

    from .conftest import seed

    factory = setup.open_database(fresh_db_url)
    try:
        contexts = seed(factory)
        number, _ = _loan(contexts["admin"])
        page = account_page(contexts["clerk"], number)
        assert (page.interest_paid_ytd, page.interest_paid_last_year) == (D("160.26"), D("192.12"))
        # The engine's connections go back to the pool at READ COMMITTED (the option is per transaction).
        with factory() as session:
            level = session.connection().get_isolation_level()
        assert level in ("READ COMMITTED", "SERIALIZABLE")  # SQLite reports SERIALIZABLE
    finally:
        setup.close_database(factory)


def test_every_tab_shows_the_same_moment(fresh_db_url, monkeypatch):
    """A payment posted at another desk while the page is being read shows on every tab or on none."""
    from app.services import search, setup

    from .conftest import seed

    factory = setup.open_database(fresh_db_url)
    try:
        contexts = seed(factory)
        number, _ = _loan(contexts["admin"])
        real_audit_of = search.audit_of
        posted: list[int] = []

        def audit_of_after_another_desk_posts(session, loan, limit=1000):
            if not posted:  # between the ledger read and the audit read: another connection commits
                posted.append(servicing.post_payment(contexts["clerk"], number, "100.00", reference="OTHER").entry_id)
            return real_audit_of(session, loan, limit)

        monkeypatch.setattr(search, "audit_of", audit_of_after_another_desk_posts)
        page = account_page(contexts["manager"], number)
        assert posted  # the other desk did post, and committed
        assert posted[0] not in {line.entry_id for line in page.account.lines}
        assert not any("reference OTHER" in line.sentence for line in page.audit)  # the same moment on both tabs

        monkeypatch.setattr(search, "audit_of", real_audit_of)
        later = account_page(contexts["manager"], number)
        assert posted[0] in {line.entry_id for line in later.account.lines}
        assert any("reference OTHER" in line.sentence for line in later.audit)
    finally:
        setup.close_database(factory)
