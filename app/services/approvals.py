"""A second user's approval for an action above a limit (issue 11, item 7).

A payment above the poster's role limit or above the payoff by more than the
loan's payoff tolerance, a waiver above the waiver threshold and an override
of a payment above the override threshold are refused with
:class:`~app.services.errors.NeedsApproval` until an :class:`Approval` comes
with them: the name and password of a *different* active user whose role
holds both ``approval.grant`` and the action's own permission.  The
approver's password is checked like a sign-in (a wrong one counts towards
their lockout, :func:`app.services.users.verify_approver`); the approval is
kept on the ledger entry (``payload.approval``) and audited
(``approval.granted``) in the action's own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from app.domain.money import format_money
from app.services import audit, permissions
from app.services.context import Actor, ServiceContext, check_actor
from app.services.errors import InvalidInput, NeedsApproval


@dataclass(frozen=True)
class Approval:
    """Who approves: their username and password (never stored, never printed)."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Approver:
    """An approval whose password has been checked (:func:`app.services.users.verify_approver`)."""

    actor: Actor


def verified(ctx: ServiceContext, approval: Approval | Approver | None) -> Approver | None:
    """Check the approver's password now, in its own transaction (so a wrong one is counted even though
    the action itself is then refused).  A batch checks it once, before its own transaction, and passes
    the Approver to each payment."""
    if approval is None or isinstance(approval, Approver):
        return approval
    from app.services import users

    return Approver(users.verify_approver(ctx.factory, approval.username, approval.password))


def payment_limits_crossed(role: str, amount: Decimal, limit: Decimal | None, payoff: Decimal | None,
                           tolerance: Decimal) -> tuple[str, ...]:
    """The limits a payment of ``amount`` crosses, in words (empty: none)."""
    reasons = []
    if limit is not None and amount > limit:
        reasons.append(f"{format_money(amount)} is above the {role}'s posting limit of {format_money(limit)}")
    if payoff is not None and amount > payoff + tolerance:
        reasons.append(f"{format_money(amount)} is {format_money(amount - payoff)} more than the payoff of "
                       f"{format_money(payoff)} (tolerance {format_money(tolerance)})")
    return tuple(reasons)


def require(session: Session, ctx: ServiceContext, approver: Approver | None, permission: str,
            reasons: tuple[str, ...], *, what: str, loan_id: int | None = None) -> dict[str, object] | None:
    """Refuse without an approval when ``reasons`` is not empty; check and audit the approval when given.

    Returns what to keep on the entry (``{"by": ..., "reasons": [...]}``) or None when none was needed.
    """
    if not reasons:
        return None
    if approver is None:
        raise NeedsApproval(f"{what} needs a manager's approval: " + "; ".join(reasons), permission, reasons)
    person = approver.actor
    if person.user_id == ctx.actor.user_id:
        raise InvalidInput("approver", "a different user must approve: you cannot approve your own entry")
    check_actor(session, person)  # still active, same role, in this transaction
    for needed in (permissions.APPROVE, permission):
        if not permissions.allowed(person, needed):
            raise InvalidInput("approver", f"{person.username} ({person.role}) may not approve this: "
                                           f"{permissions.describe(needed).lower()} is not part of the role")
    record = {"by": person.username, "by_user_id": person.user_id, "reasons": list(reasons)}
    audit.record(session, person, "approval.granted", entity="approval", loan_id=loan_id,
                 details={"for_user": ctx.actor.username, "what": what, "permission": permission,
                          "reasons": list(reasons)})
    return record
