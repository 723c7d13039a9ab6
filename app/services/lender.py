"""The lender's own details: name, address, telephone and logo printed on every letter."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from app.db.models import (
    SETTING_LENDER_ADDRESS,
    SETTING_LENDER_EMAIL,
    SETTING_LENDER_LOGO,
    SETTING_LENDER_NAME,
    SETTING_LENDER_PHONE,
    SETTING_LENDER_WEBSITE,
)
from app.db.settings import get_setting, set_setting
from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.errors import InvalidInput
from app.services.fields import text_field

MAX_LOGO_BYTES = 512 * 1024


@dataclass(frozen=True)
class LenderSettings:
    name: str
    address: str  # one line per line of the address
    phone: str
    website: str = ""
    email: str = ""
    logo_png: bytes | None = None


_KEYS = {
    "name": SETTING_LENDER_NAME,
    "address": SETTING_LENDER_ADDRESS,
    "phone": SETTING_LENDER_PHONE,
    "website": SETTING_LENDER_WEBSITE,
    "email": SETTING_LENDER_EMAIL,
}


def lender_settings(ctx: ServiceContext) -> LenderSettings:
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        values = {field: get_setting(session, key) or "" for field, key in _KEYS.items()}
        logo = get_setting(session, SETTING_LENDER_LOGO)
    return LenderSettings(**values, logo_png=base64.b64decode(logo) if logo else None)


def save_lender_settings(ctx: ServiceContext, settings: LenderSettings) -> LenderSettings:
    """Validate and save; the change is audited with before and after."""
    permissions.require(ctx.actor, permissions.MANAGE_SETTINGS)
    name, address, phone = settings.name.strip(), settings.address.strip(), settings.phone.strip()
    # Printed at the head of every letter: no NUL, direction override or invisible character (issue 12).
    for field, value, multiline in (("name", name, False), ("address", address, True), ("phone", phone, False),
                                    ("website", settings.website, False), ("email", settings.email, False)):
        text_field(value, field, max_len=500, multiline=multiline)
    if not name:
        raise InvalidInput("name", "the lender's name is required (it heads every letter)")
    if len(name) > 120:
        raise InvalidInput("name", "is longer than 120 characters")
    lines = [line.strip() for line in address.splitlines() if line.strip()]
    if not 1 <= len(lines) <= 4:
        raise InvalidInput("address", "give one to four lines (street, then city, state and ZIP)")
    if sum(ch.isdigit() for ch in phone) != 10:
        raise InvalidInput("phone", f"{phone!r} is not a 10-digit US telephone number")
    email = settings.email.strip()
    if email and ("@" not in email or " " in email):
        raise InvalidInput("email", f"{email!r} is not an email address")
    logo = settings.logo_png
    if logo is not None:
        if not logo.startswith(b"\x89PNG\r\n\x1a\n"):
            raise InvalidInput("logo", "must be a PNG image")
        if len(logo) > MAX_LOGO_BYTES:
            raise InvalidInput("logo", f"is {len(logo) // 1024} KB; keep it under {MAX_LOGO_BYTES // 1024} KB")
    clean = LenderSettings(name, "\n".join(lines), phone, settings.website.strip(), email, logo)
    with ctx.unit() as session:
        before = {field: get_setting(session, key) for field, key in _KEYS.items()}
        for field, key in _KEYS.items():
            set_setting(session, key, getattr(clean, field) or None)
        try:
            set_setting(session, SETTING_LENDER_LOGO, base64.b64encode(logo).decode("ascii") if logo else None)
        except binascii.Error:  # pragma: no cover - b64encode does not fail
            raise InvalidInput("logo", "cannot be stored") from None
        audit.record(session, ctx.actor, "settings.lender_changed", entity="settings", entity_id="lender",
                     details={"before": before, "after": {f: getattr(clean, f) for f in _KEYS},
                              "logo": "set" if logo else "none"})
    return clean
