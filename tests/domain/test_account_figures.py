"""Maturity and the running principal balance (app/domain/account_figures.py), worked by hand."""

from datetime import date
from decimal import Decimal as D
from types import SimpleNamespace

from app.domain.account_figures import (
    maturity_date,
    principal_change,
    running_principal,
)
from app.domain.engine import Event, replay
from app.domain.terms import terms_from_dict


def make_terms(**overrides):
    data = {"principal": "10000", "rate": "12", "term": 12, "start": "2026-01-01", "first_due": "2026-02-01"}
    data.update(overrides)
    return terms_from_dict(data)


def test_maturity_is_the_last_installments_due_date():
    # 12 monthly installments from Feb 1, 2026: the 12th is eleven months later, Jan 1, 2027.
    terms = make_terms()
    state, _ = replay(terms, [], date(2026, 3, 1))
    assert maturity_date(state, terms) == date(2027, 1, 1)
    # Month-end anchor: 3 installments from Jan 31 fall Jan 31, Feb 28, Mar 31.
    short = make_terms(term=3, start="2025-12-31", first_due="2026-01-31")
    state, _ = replay(short, [], date(2026, 1, 5))
    assert maturity_date(state, short) == date(2026, 3, 31)


def test_a_terms_change_moves_maturity():
    # After Mar 1, 10 installments remain (Mar..Dec 2026 would end Jan 1, 2027); a new remaining
    # term of 22 from the next due date Apr 1 ends 21 months later: Jan 1, 2028.
    terms = make_terms()
    events = [Event("p1", "payment", date(2026, 2, 1), D("888.49")), Event("p2", "payment", date(2026, 3, 1), D("888.49")),
              Event("t1", "terms_change", date(2026, 3, 15), term=22)]
    state, _ = replay(terms, events, date(2026, 3, 20))
    assert maturity_date(state, terms) == date(2028, 1, 1)


def line(type_, amount=None, principal="0.00"):
    return SimpleNamespace(type=type_, amount=None if amount is None else D(amount), principal=D(principal))


def test_running_principal_follows_the_sign_table():
    lines = [
        (line("boarding", "10000.00"), True),            # +10,000.00            = 10,000.00
        (line("payment", "888.49", "788.49"), True),      # -788.49               =  9,211.51
        (line("fee", "25.00"), True),                     # fees only             =  9,211.51
        (line("adjustment", "-50.00", "-50.00"), True),   # principal column -50  =  9,161.51
        (line("reversal", "-888.49", "-788.49"), True),   # the payment undone    =  9,950.00
        (line("reallocation", "0.00", "12.00"), False),   # books only: no move   =  9,950.00
        (line("waiver", "-25.00", "10.00"), True),        # waiver credits 10.00  =  9,940.00
    ]
    assert running_principal(lines) == [D("10000.00"), D("9211.51"), D("9211.51"), D("9161.51"), D("9950.00"),
                                        D("9950.00"), D("9940.00")]
    assert principal_change(line("terms_change", "0.00")) == D(0)
    assert principal_change(line("unknown_type", "5.00", "5.00")) == D(0)
