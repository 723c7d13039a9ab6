"""The general-ledger account mapping: which account each role posts to (issue 13, item 2).

One JSON document in the ``general_ledger`` system setting (no table, no
migration)::

    {"charge_off_method": "allowance", "xero_tax_rate": "Tax Exempt",
     "accounts": {"cash": {"number": "1000", "name": "Cash"}, ...}}

A role not stored takes its default from :data:`app.domain.gl.ROLES`, so a
book made before the setting existed, or a role added later, still maps.
Anyone with ``report.view`` sees the mapping; changing it needs
``settings.manage`` and is audited with before and after.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.db.settings import get_setting, set_setting
from app.domain.gl import CHARGE_OFF_METHODS, ROLE_BY_CODE, ROLES
from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.errors import InvalidInput

SETTING_GENERAL_LEDGER = "general_ledger"
DEFAULT_XERO_TAX_RATE = "Tax Exempt"
_MAX_NUMBER = 20
_MAX_NAME = 100


@dataclass(frozen=True)
class Account:
    role: str
    number: str
    name: str
    description: str = ""
    reserved: bool = False


@dataclass(frozen=True)
class GLSettings:
    #: role -> account, for every role in chart order.
    accounts: dict[str, Account] = field(default_factory=dict)
    charge_off_method: str = "allowance"
    #: The Xero tax rate name every journal line carries (Xero requires one; loans are not taxed).
    xero_tax_rate: str = DEFAULT_XERO_TAX_RATE

    def account(self, role: str) -> Account:
        return self.accounts[role]

    def as_dict(self) -> dict[str, Any]:
        return {"charge_off_method": self.charge_off_method, "xero_tax_rate": self.xero_tax_rate,
                "accounts": {role: {"number": a.number, "name": a.name} for role, a in self.accounts.items()}}


def _default_accounts() -> dict[str, Account]:
    return {r.code: Account(r.code, r.number, r.name, r.description, r.reserved) for r in ROLES}


def read(session: Session) -> GLSettings:
    """The mapping in force (defaults for whatever is not stored)."""
    text = get_setting(session, SETTING_GENERAL_LEDGER)
    stored = json.loads(text) if text else {}
    accounts = _default_accounts()
    for role, value in (stored.get("accounts") or {}).items():
        if role in accounts and isinstance(value, dict):
            base = accounts[role]
            accounts[role] = Account(role, str(value.get("number") or base.number), str(value.get("name") or base.name),
                                     base.description, base.reserved)
    method = stored.get("charge_off_method") or "allowance"
    return GLSettings(accounts, method if method in CHARGE_OFF_METHODS else "allowance",
                      str(stored.get("xero_tax_rate") or DEFAULT_XERO_TAX_RATE))


def gl_settings(ctx: ServiceContext) -> GLSettings:
    """The account mapping, the charge-off method and the Xero tax rate (for anyone who sees reports)."""
    permissions.require(ctx.actor, permissions.VIEW_REPORTS)
    with ctx.unit(write=False) as session:
        return read(session)


def _clean_text(value: object, name: str, limit: int) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise InvalidInput(name, "is required")
    if len(text) > limit:
        raise InvalidInput(name, f"is longer than {limit} characters")
    if text[0] in "=+-@":
        raise InvalidInput(name, f"{text!r} must not start with {text[0]!r} (a spreadsheet would read a formula)")
    return text


def parse_assignment(text: str) -> tuple[str, str, str | None]:
    """``ROLE=NUMBER:NAME`` (or ``ROLE=NUMBER`` to keep the name) as typed on the command line."""
    role, sep, rest = (text or "").partition("=")
    role = role.strip().lower()
    if not sep or not role:
        raise InvalidInput("set", f"{text!r} is not ROLE=NUMBER:NAME (for example cash=1000:Operating cash)")
    number, colon, name = rest.partition(":")
    return role, number.strip(), name.strip() if colon else None


def save_gl_settings(
    ctx: ServiceContext, *, accounts: Mapping[str, tuple[str, str | None]] | None = None,
    charge_off_method: str | None = None, xero_tax_rate: str | None = None,
) -> GLSettings:
    """Change some roles' accounts (role -> (number, name or None to keep it)), the charge-off method or the
    Xero tax rate; everything else stays.  Audited with before and after."""
    permissions.require(ctx.actor, permissions.MANAGE_SETTINGS)
    changes = dict(accounts or {})
    for role in changes:
        if role not in ROLE_BY_CODE:
            raise InvalidInput("role", f"{role!r} is not a general-ledger role ({', '.join(ROLE_BY_CODE)})")
    if charge_off_method is not None and charge_off_method not in CHARGE_OFF_METHODS:
        raise InvalidInput("charge_off_method", f"{charge_off_method!r} is not one of {', '.join(CHARGE_OFF_METHODS)}")
    with ctx.unit() as session:
        before = read(session)
        new_accounts = dict(before.accounts)
        for role, (number, name) in changes.items():
            old = new_accounts[role]
            new_accounts[role] = Account(role, _clean_text(number, f"{role} account number", _MAX_NUMBER),
                                         old.name if name is None else _clean_text(name, f"{role} account name",
                                                                                   _MAX_NAME),
                                         old.description, old.reserved)
        after = GLSettings(new_accounts, charge_off_method or before.charge_off_method,
                           before.xero_tax_rate if xero_tax_rate is None
                           else _clean_text(xero_tax_rate, "xero_tax_rate", _MAX_NAME))
        if after.as_dict() != before.as_dict():
            set_setting(session, SETTING_GENERAL_LEDGER, json.dumps(after.as_dict(), sort_keys=True))
            audit.record(session, ctx.actor, "settings.gl_changed", entity="setting", entity_id=SETTING_GENERAL_LEDGER,
                         details={"before": before.as_dict(), "after": after.as_dict()})
    return after
