"""Figures the account page shows beside the balances: maturity and the running principal (issue 11).

Pure rules, no SQL, no Qt.

* **Maturity** is the due date of the last installment under the terms in
  force (a terms change moves it): installment ``n`` falls ``n - anchor_n``
  steps after the anchor due date, the same arithmetic that bills each
  installment.
* **Running principal balance**: the principal owed after each ledger line,
  moved by each type's principal column times its sign in the booked-ledger
  sign table (:data:`app.domain.books.SIGNS`), so the column adds up exactly
  as the ledger's own Principal column reads.  Lines that exist only for the
  books (adjusting entries: a payment re-applied, interest recognised) do not
  move it: the replayed lines already show the principal as it stands.  A
  reversed payment moves it on its date and its reversal moves it back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Protocol

from app.domain.books import SIGNS
from app.domain.engine import LoanState
from app.domain.money import ZERO
from app.domain.terms import Terms, due_date


def maturity_date(state: LoanState, terms: Terms) -> date:
    """The due date of the loan's last installment under the terms in force."""
    return due_date(terms.frequency, state.anchor_due, state.term - state.anchor_n)


class _Line(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def principal(self) -> Decimal: ...


def principal_change(line: _Line) -> Decimal:
    """How much one replayed ledger line adds to the principal owed (negative: paid down)."""
    rule = SIGNS.get(line.type)
    if rule is None or "principal" not in rule.booked:
        return ZERO
    column, sign = rule.booked["principal"]
    value = line.amount if column == "amount" else line.principal
    return (value or ZERO) * sign


def running_principal(lines: Iterable[tuple[_Line, bool]]) -> list[Decimal]:
    """The principal after each line, in order; ``(line, replayed)``: only replayed lines move it."""
    balance = ZERO
    out: list[Decimal] = []
    for line, replayed in lines:
        if replayed:
            balance += principal_change(line)
        out.append(balance)
    return out


__all__ = ["maturity_date", "principal_change", "running_principal"]
