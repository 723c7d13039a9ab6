"""Control totals: the general ledger's receivable accounts beside the booked ledger, on any date (issue 13).

The loans-receivable account's balance from the journal since inception must
equal the booked principal (the sum of every loan's entries by the sign table
of :mod:`app.domain.books`, what ``keel verify`` reports), and interest
receivable the booked accrued interest, to the cent.  Both sides are worked
out here from one grouped read of every entry booked by the date: the GL side
through :func:`app.domain.gl.journal_lines`, the booked side through the sign
table (:func:`app.domain.books.row_effect`) — so a rule in
:mod:`app.domain.gl` that moved a control account differently from the books
would show as a difference.  (The tests also compare with verify's own SQL.)

"As of" a date means every entry booked (``business_date``) on or before it.
Only the control accounts are reported: the entries are grouped by type
alone, and which cash or income account takes the other side (the method,
an opening balance) never moves a receivable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.domain.books import PARTS, Balances, Row, row_effect
from app.domain.gl import CONTROL_ROLES, Line, balances, booked_from_balances
from app.services import permissions
from app.services.context import ServiceContext
from app.services.gl.accounts import read
from app.services.gl.journal import Group, grouped, lines_of
from app.services.ledger import business_date


@dataclass(frozen=True)
class ControlTotals:
    as_of: date
    charge_off_method: str
    #: The control accounts as booked parts (principal, interest, fees, suspense, refund): assets as debit
    #: balances, suspense and refunds payable as credit balances.
    gl: dict[str, Decimal]
    #: The booked ledger's figures for the same entries.
    booked: dict[str, Decimal]

    @property
    def loans_receivable(self) -> Decimal:
        return self.gl["principal"]

    @property
    def interest_receivable(self) -> Decimal:
        return self.gl["interest"]

    @property
    def differences(self) -> dict[str, Decimal]:
        """part -> GL less booked, for each part that differs (empty: the books tie out)."""
        return {part: self.gl[part] - self.booked[part] for part in PARTS if self.gl[part] != self.booked[part]}

    @property
    def ok(self) -> bool:
        return not self.differences


def _booked(group: Group) -> Balances:
    f = group.facts
    if f.type == "conversion":  # the payload's opening interest, fees and suspense are in the facts already
        return Balances(f.amount, f.interest, f.fees, f.suspense)
    return row_effect(Row(None, f.type, f.amount, f.interest, f.principal, f.fees, f.suspense, f.refund))[0]


def control_totals(ctx: ServiceContext, as_of: date | None = None) -> ControlTotals:
    """The control accounts from the journal since inception and the booked ledger, as of ``as_of``
    (default: the open business date, everything booked so far)."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False) as session:
        day = as_of or business_date(session)
        settings = read(session)
        groups = grouped(session, None, day, by_journal=False, control=True)
    lines: list[Line] = []
    booked = Balances()
    for group in groups:
        lines.extend(lines_of(group, settings.charge_off_method))
        booked = booked + _booked(group)
    gl = booked_from_balances(balances(lines))
    assert set(gl) == set(CONTROL_ROLES)
    return ControlTotals(day, settings.charge_off_method, gl, {part: booked.get(part) for part in PARTS})
