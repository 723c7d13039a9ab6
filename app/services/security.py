"""Security settings: sign-in lockout, the desk's idle lock, posting limits and approval thresholds (issue 11).

One JSON document in the ``security`` system setting, read by every sign-in
and every payment, waiver and override; changed only by an administrator
(``settings.manage``), audited with before and after.  Missing keys take the
defaults below, so a database made before the setting existed behaves like a
new one.

* ``lockout_attempts`` wrong passwords in a row lock the account for
  ``lockout_minutes`` (the right password is refused too until then).
* The desktop locks after ``idle_lock_minutes`` without a key or a click
  (0 turns the lock off); the user's password resumes the same session.
* A payment above its role's ``payment_limits`` (no entry: no limit), a waiver
  above ``waiver_approval_above`` and an allocation override of a payment
  above ``override_approval_above`` need a second user's approval
  (:mod:`app.services.approvals`); so does a payment above the payoff by more
  than the loan's own payoff tolerance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from app.db.settings import get_setting, set_setting
from app.domain.money import WHOLE_MAX, WHOLE_MIN, format_money
from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.errors import InvalidInput
from app.services.fields import whole_field
from app.services.ledger import money_field

SETTING_SECURITY = "security"

_DEFAULT_LIMITS = {"clerk": Decimal("10000.00"), "manager": Decimal("250000.00")}


@dataclass(frozen=True)
class SecuritySettings:
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    idle_lock_minutes: int = 15
    #: role -> the largest payment it may post without approval; a role not listed has no limit.
    payment_limits: dict[str, Decimal] = field(default_factory=lambda: dict(_DEFAULT_LIMITS))
    waiver_approval_above: Decimal = Decimal("100.00")
    override_approval_above: Decimal = Decimal("5000.00")

    def payment_limit(self, role: str) -> Decimal | None:
        return self.payment_limits.get(role)

    def as_dict(self) -> dict[str, object]:
        return {
            "lockout_attempts": self.lockout_attempts,
            "lockout_minutes": self.lockout_minutes,
            "idle_lock_minutes": self.idle_lock_minutes,
            "payment_limits": {role: str(value) for role, value in sorted(self.payment_limits.items())},
            "waiver_approval_above": str(self.waiver_approval_above),
            "override_approval_above": str(self.override_approval_above),
        }


def _whole(value: object, name: str, low: int, high: int) -> int:
    # The one reader of whole numbers (issue 12: int() took full-width digits and 1_000).
    number = whole_field(value if isinstance(value, (int, str)) else str(value), name, WHOLE_MIN, WHOLE_MAX)
    if not low <= number <= high:
        raise InvalidInput(name, f"must be from {low} to {high}; got {number}")
    return number


def _amount(value: object, name: str) -> Decimal:
    amount = money_field(value if isinstance(value, (str, Decimal, int)) else str(value), name, maximum=None)
    if amount > Decimal("1000000000.00"):
        raise InvalidInput(name, f"{format_money(amount)} is more than $1,000,000,000.00")
    return amount


def clean(settings: SecuritySettings) -> SecuritySettings:
    """Validate every field (each refusal names it); return the settings with exact amounts."""
    limits: dict[str, Decimal] = {}
    for role, value in settings.payment_limits.items():
        if role not in permissions.ROLES:
            shown = repr(role) if len(repr(role)) <= 42 else repr(role)[:39] + "..."
            raise InvalidInput("payment_limits", f"{shown} is not a role ({', '.join(permissions.ROLES)})")
        limits[role] = _amount(value, f"{role} payment limit")
    return SecuritySettings(
        lockout_attempts=_whole(settings.lockout_attempts, "lockout_attempts", 1, 100),
        lockout_minutes=_whole(settings.lockout_minutes, "lockout_minutes", 1, 24 * 60),
        idle_lock_minutes=_whole(settings.idle_lock_minutes, "idle_lock_minutes", 0, 24 * 60),
        payment_limits=limits,
        waiver_approval_above=_amount(settings.waiver_approval_above, "waiver_approval_above"),
        override_approval_above=_amount(settings.override_approval_above, "override_approval_above"),
    )


def read(session: Session) -> SecuritySettings:
    """The settings in force (defaults for anything not stored)."""
    text = get_setting(session, SETTING_SECURITY)
    stored = json.loads(text) if text else {}
    default = SecuritySettings()
    limits = stored.get("payment_limits")
    return SecuritySettings(
        lockout_attempts=int(stored.get("lockout_attempts", default.lockout_attempts)),
        lockout_minutes=int(stored.get("lockout_minutes", default.lockout_minutes)),
        idle_lock_minutes=int(stored.get("idle_lock_minutes", default.idle_lock_minutes)),
        payment_limits=({r: Decimal(v) for r, v in limits.items()} if isinstance(limits, dict)
                        else dict(default.payment_limits)),
        waiver_approval_above=Decimal(stored.get("waiver_approval_above", default.waiver_approval_above)),
        override_approval_above=Decimal(stored.get("override_approval_above", default.override_approval_above)),
    )


def security_settings(ctx: ServiceContext) -> SecuritySettings:
    """What any signed-in user's desk needs (the idle lock, the limits it will be asked about)."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        return read(session)


def save_security_settings(ctx: ServiceContext, settings: SecuritySettings) -> SecuritySettings:
    permissions.require(ctx.actor, permissions.MANAGE_SETTINGS)
    new = clean(settings)
    with ctx.unit() as session:
        before = read(session)
        set_setting(session, SETTING_SECURITY, json.dumps(new.as_dict(), sort_keys=True))
        audit.record(session, ctx.actor, "settings.security_changed", entity="setting", entity_id=SETTING_SECURITY,
                     details={"before": before.as_dict(), "after": new.as_dict()})
    return new
