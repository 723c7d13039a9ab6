"""Control totals: the general ledger's receivable accounts beside the booked ledger, on any date (issue 13).

The loans-receivable account's balance from the journal since inception must
equal the booked principal (the sum of every loan's entries by the sign table
of :mod:`app.domain.books`, what ``keel verify`` reports), and interest
receivable the booked accrued interest, to the cent.  This service computes
both sides independently — the GL side by mapping the grouped entries through
:func:`app.domain.gl.journal_lines`, the booked side by the verify query's
``CASE`` sums — so a rule in :mod:`app.domain.gl` that moved a control account
differently from the books would show here as a difference.

"As of" a date means every entry booked (``business_date``) on or before it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from app.db.models import LedgerEntry
from app.domain.books import PARTS, conversion_opening
from app.domain.gl import CONTROL_ROLES, Line, balances, booked_from_balances
from app.domain.money import ZERO
from app.services import permissions
from app.services.books import _sum_expression
from app.services.context import ServiceContext
from app.services.gl.accounts import read
from app.services.gl.journal import grouped, lines_of
from app.services.ledger import business_date


@dataclass(frozen=True)
class ControlTotals:
    as_of: date
    charge_off_method: str
    #: Every role's balance from the journal since inception, debit positive.
    balances: dict[str, Decimal]
    #: The control accounts as booked parts (principal, interest, fees, suspense, refund).
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


def booked_totals(session: Session, as_of: date) -> dict[str, Decimal]:
    """The booked principal, interest, fees, suspense and refund due of every entry booked by ``as_of``."""
    where = LedgerEntry.business_date <= as_of
    sums = session.execute(select(*[_sum_expression(part, False).label(part) for part in PARTS]).where(where)).one()
    out = {part: Decimal(int(getattr(sums, part) or 0)).scaleb(-2) for part in PARTS}
    for (payload,) in session.execute(select(type_coerce(LedgerEntry.payload, Text))
                                      .where(where, LedgerEntry.type == "conversion")):
        opened = conversion_opening(json.loads(payload) if payload else None)
        for part in ("interest", "fees", "suspense"):
            out[part] += opened.get(part)
    return out


def control_totals(ctx: ServiceContext, as_of: date | None = None) -> ControlTotals:
    """The control accounts from the journal since inception and the booked ledger, as of ``as_of``
    (default: the open business date, everything booked so far)."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False) as session:
        day = as_of or business_date(session)
        settings = read(session)
        lines: list[Line] = []
        for group in grouped(session, None, day, by_journal=False):
            lines.extend(lines_of(group, settings.charge_off_method))
        booked = booked_totals(session, day)
    by_role = balances(lines)
    full = {role: by_role.get(role, ZERO) for role in settings.accounts}
    gl = booked_from_balances(by_role)
    assert set(gl) == set(CONTROL_ROLES)
    return ControlTotals(day, settings.charge_off_method, full, gl, booked)
