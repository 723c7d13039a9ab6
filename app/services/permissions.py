"""Roles and what each may do.  Every service names the permission it needs.

A clerk posts payments; a collector works accounts; a manager may also
reverse, waive, adjust, override allocations and write off small balances; an
admin may do everything, including boarding loans and managing users.
"""

from __future__ import annotations

from app.services.context import Actor
from app.services.errors import PermissionDenied

VIEW = "loan.view"
POST_PAYMENT = "payment.post"
POST_BATCH = "batch.post"
REVERSE = "payment.reverse"
ASSESS_FEE = "fee.assess"
WAIVE_FEE = "fee.waive"
ADJUST = "principal.adjust"
OVERRIDE_ALLOCATION = "allocation.override"
WRITE_OFF = "balance.write_off"
REFUND = "refund.pay"
CHANGE_TERMS = "terms.change"
BOARD = "loan.board"
VERIFY = "ledger.verify"
ADD_NOTE = "note.add"
LOG_CONTACT = "contact.log"
EDIT_BORROWER = "borrower.edit"
MANAGE_USERS = "user.manage"
MANAGE_PRODUCTS = "product.manage"
RUN_EOD = "eod.run"
CHARGE_OFF = "loan.charge_off"
ASSIGN_QUEUE = "queue.assign"
PRINT_LETTERS = "letter.print"
VIEW_REPORTS = "report.view"
MANAGE_SETTINGS = "settings.manage"

_CLERK = {VIEW, POST_PAYMENT, POST_BATCH, ADD_NOTE, EDIT_BORROWER}
_COLLECTOR = {VIEW, ADD_NOTE, LOG_CONTACT, PRINT_LETTERS, EDIT_BORROWER}
_MANAGER = (
    _CLERK
    | _COLLECTOR
    | {REVERSE, ASSESS_FEE, WAIVE_FEE, ADJUST, OVERRIDE_ALLOCATION, WRITE_OFF, REFUND, CHANGE_TERMS, CHARGE_OFF,
       ASSIGN_QUEUE, VIEW_REPORTS, VERIFY}
)
_ADMIN = _MANAGER | {BOARD, MANAGE_USERS, MANAGE_PRODUCTS, RUN_EOD, MANAGE_SETTINGS}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "clerk": frozenset(_CLERK),
    "collector": frozenset(_COLLECTOR),
    "manager": frozenset(_MANAGER),
    "admin": frozenset(_ADMIN),
}


def allowed(actor: Actor, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(actor.role, frozenset())


def require(actor: Actor, permission: str) -> None:
    if not allowed(actor, permission):
        raise PermissionDenied(actor.username, permission)
