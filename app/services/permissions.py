"""Roles and what each may do: the one permission matrix (issue 11, item 7).

Every service names the permission it needs and checks it against the
actor's *current* role (``ServiceContext.unit`` re-reads the user in the
action's own transaction, so a demoted or deactivated user is refused).
:data:`ACTIONS` lists every permission with what it lets a person do, in the
words the administration view, ``docs/permissions.md`` and the README use;
:data:`MATRIX` says which role holds it.  ``tests/services/test_permissions.py``
checks the documents against this module.

Decided for flags (issue 11): any desk role may *set* a dispute, cease-contact
or attorney-represented flag, because each only restricts what Keel does;
*clearing* one, and setting hardship (end of day then waives late fees), is a
manager's.  Editing a borrower's contact details is for clerks and collectors
(and managers), audited with before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

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
LOG_REQUEST = "request.log"
EDIT_BORROWER = "borrower.edit"
SET_RESTRICTION = "flag.restrict"
SET_HARDSHIP = "flag.hardship"
CLEAR_FLAG = "flag.clear"
APPROVE = "approval.grant"
MANAGE_USERS = "user.manage"
MANAGE_PRODUCTS = "product.manage"
RUN_EOD = "eod.run"
CHARGE_OFF = "loan.charge_off"
ASSIGN_QUEUE = "queue.assign"
PRINT_LETTERS = "letter.print"
VIEW_REPORTS = "report.view"
MANAGE_SETTINGS = "settings.manage"
REVEAL_PERSONAL = "person.reveal"

ROLES = ("clerk", "collector", "manager", "admin")


@dataclass(frozen=True)
class Action:
    permission: str
    description: str


#: Every permission, in the order the matrix is shown, with what it allows.
ACTIONS: tuple[Action, ...] = (
    Action(VIEW, "Look up loans, accounts, payoff quotes and previews"),
    Action(ADD_NOTE, "Add a note to a loan"),
    Action(EDIT_BORROWER, "Edit a borrower's address, telephone and e-mail (audited with before and after)"),
    Action(SET_RESTRICTION, "Set a dispute, cease-contact or attorney-represented flag"),
    Action(POST_PAYMENT, "Post a payment (above the role's limit or the payoff it needs approval)"),
    Action(POST_BATCH, "Post a batch or a lockbox file"),
    Action(LOG_CONTACT, "Log a contact or a promise to pay; correct a mis-logged one"),
    Action(LOG_REQUEST, "Log a mortgage borrower's written notice of error, information or payoff request; "
                        "mark it acknowledged or answered"),
    Action(PRINT_LETTERS, "Issue and print letters and notices"),
    Action(REVERSE, "Reverse a payment (NSF, mis-post)"),
    Action(ASSESS_FEE, "Assess a fee"),
    Action(WAIVE_FEE, "Waive a fee (above the waiver threshold it needs approval)"),
    Action(ADJUST, "Adjust principal"),
    Action(OVERRIDE_ALLOCATION, "Override a payment's allocation (above the threshold it needs approval)"),
    Action(WRITE_OFF, "Write off a small balance"),
    Action(REFUND, "Pay a refund"),
    Action(CHANGE_TERMS, "Change terms; set Regulation F applicability on a loan"),
    Action(CHARGE_OFF, "Charge off a loan"),
    Action(SET_HARDSHIP, "Set the hardship flag (end of day then waives late fees)"),
    Action(CLEAR_FLAG, "Clear a hardship, dispute, cease-contact or attorney-represented flag"),
    Action(APPROVE, "Approve another user's payment, waiver or override above a limit"),
    Action(ASSIGN_QUEUE, "Assign collection queues"),
    Action(REVEAL_PERSONAL, "See a borrower's full SSN/TIN and date of birth (each look is audited)"),
    Action(VIEW_REPORTS, "See reports, the dashboard's figures and the audit search"),
    Action(VERIFY, "Verify the ledger against the engine"),
    Action(BOARD, "Board loans from a file; resolve boarding exceptions"),
    Action(RUN_EOD, "Run end of day"),
    Action(MANAGE_PRODUCTS, "Create and change loan products"),
    Action(MANAGE_USERS, "Create users, change roles, reset passwords, deactivate"),
    Action(MANAGE_SETTINGS, "Change the lender's details, letter templates and security settings"),
)

_CLERK = {VIEW, ADD_NOTE, EDIT_BORROWER, SET_RESTRICTION, POST_PAYMENT, POST_BATCH, LOG_REQUEST}
_COLLECTOR = {VIEW, ADD_NOTE, EDIT_BORROWER, SET_RESTRICTION, LOG_CONTACT, PRINT_LETTERS, LOG_REQUEST}
_MANAGER = (
    _CLERK
    | _COLLECTOR
    | {REVERSE, ASSESS_FEE, WAIVE_FEE, ADJUST, OVERRIDE_ALLOCATION, WRITE_OFF, REFUND, CHANGE_TERMS, CHARGE_OFF,
       SET_HARDSHIP, CLEAR_FLAG, APPROVE, ASSIGN_QUEUE, VIEW_REPORTS, VERIFY, REVEAL_PERSONAL}
)
_ADMIN = _MANAGER | {BOARD, MANAGE_USERS, MANAGE_PRODUCTS, RUN_EOD, MANAGE_SETTINGS}

#: role -> the permissions it holds.
MATRIX: dict[str, frozenset[str]] = {
    "clerk": frozenset(_CLERK),
    "collector": frozenset(_COLLECTOR),
    "manager": frozenset(_MANAGER),
    "admin": frozenset(_ADMIN),
}
ROLE_PERMISSIONS = MATRIX  # the name older callers use


def role_allows(role: str, permission: str) -> bool:
    return permission in MATRIX.get(role, frozenset())


def allowed(actor: Actor, permission: str) -> bool:
    return role_allows(actor.role, permission)


def require(actor: Actor, permission: str) -> None:
    if not allowed(actor, permission):
        raise PermissionDenied(actor.username, permission, describe(permission))


def describe(permission: str) -> str:
    for action in ACTIONS:
        if action.permission == permission:
            return action.description
    return permission


def matrix_rows() -> list[tuple[str, str, tuple[bool, ...]]]:
    """(permission, description, held by each of :data:`ROLES`) for every action, in order."""
    return [(a.permission, a.description, tuple(a.permission in MATRIX[r] for r in ROLES)) for a in ACTIONS]


def markdown_table() -> str:
    """The matrix as the Markdown table ``docs/permissions.md`` holds (a test keeps them equal)."""
    lines = ["| Action | Permission | " + " | ".join(r.capitalize() for r in ROLES) + " |",
             "|---|---|" + "|".join(":-:" for _ in ROLES) + "|"]
    for permission, description, held in matrix_rows():
        marks = " | ".join("yes" if h else "—" for h in held)
        lines.append(f"| {description} | `{permission}` | {marks} |")
    return "\n".join(lines) + "\n"
