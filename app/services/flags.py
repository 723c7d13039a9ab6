"""Hardship, dispute and Regulation F on one loan: set or cleared with a date and a reason (issue 11).

The loan's flag columns are what end of day (late fees pause), letters
(collection letters stop) and the contact guardrails read; each change also
appends a :class:`~app.db.models.LoanFlagEvent` saying since when, why and
who, in the same transaction as the audit record.

Regulation F (12 CFR 1006) binds a *debt collector* (1006.2(i), FDCPA 803(6)):
a lender servicing a consumer debt for another creditor that was in default
when it was received, a debt bought in default, or a creditor collecting its
own debt under another name.  A creditor collecting its own debt in its own
name is not one, charged off or not.  So applicability is set per loan, with
its ground; a lender may also choose to apply the guardrails to every
consumer loan (the ``regf_all_loans`` setting, :func:`set_reg_f_policy`).

A dispute records whether it was written or oral and whether it came inside
the validation period (1006.34(b)(5), 1006.38): a written dispute inside the
period obliges the collector to stop until it sends verification.

Permissions (issue 11, item 7; the matrix is owned by permissions.py): any
desk role may set a dispute, which only restricts; setting hardship (end of
day then waives late fees) and clearing either is a manager's.  Regulation F
per loan is a terms-level decision (``terms.change``), the lender-wide policy
a setting (``settings.manage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app.db.models import DISPUTE_FORMS, LOAN_FLAGS, REG_F_BASES, Letter, LoanFlagEvent, User
from app.db.settings import get_setting, set_setting
from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.errors import Conflict, InvalidInput
from app.services.fields import text_field
from app.services.ledger import business_date, load_loan

SETTING_REGF_ALL_LOANS = "regf_all_loans"  # the key collections and letters read

#: The permission to *set* each flag (the desk shows the action to those who hold it).
FLAG_PERMISSIONS = {
    "hardship": permissions.SET_HARDSHIP,
    "dispute": permissions.SET_RESTRICTION,
    "reg_f": permissions.CHANGE_TERMS,
}


def flag_permission(flag: str, on: bool) -> str:
    """The permission to set (``on``) or clear ``flag``: clearing a restriction is a manager's."""
    if not on and flag in ("hardship", "dispute"):
        return permissions.CLEAR_FLAG
    return FLAG_PERMISSIONS[flag]
_COLUMNS = {"hardship": "hardship", "dispute": "dispute", "reg_f": "reg_f_applies"}

REG_F_BASIS_TEXT = {
    "serviced_in_default": "Serviced for another creditor; in default when we received it",
    "bought_in_default": "Bought in default",
    "other_name": "Collected under a name other than the creditor's own",
    "policy": "Lender applies Regulation F to this loan by choice",
}


@dataclass(frozen=True)
class FlagEvent:
    flag: str
    on: bool
    effective_date: date
    reason: str
    dispute_form: str | None
    within_validation_period: bool | None
    reg_f_basis: str | None
    user: str


@dataclass(frozen=True)
class LoanFlags:
    """One loan's flags now, the lender's Regulation F policy, and every change, newest first."""

    loan_number: str
    business_date: date
    hardship: bool
    dispute: bool
    reg_f: bool
    reg_f_all_loans: bool
    history: tuple[FlagEvent, ...]
    #: The newest validation notice Keel sent on the loan: its date and the last day of its validation period
    #: (1006.34(b)(5)), so a dispute's date can be put inside or after it; None when none was sent.
    validation_notice_date: date | None = None
    validation_period_ends: date | None = None

    def within_validation_period(self, day: date) -> bool | None:
        """Whether a dispute dated ``day`` came inside the period of the newest validation notice (None: no notice)."""
        if self.validation_period_ends is None or self.validation_notice_date is None:
            return None
        return self.validation_notice_date <= day <= self.validation_period_ends

    @property
    def reg_f_in_force(self) -> bool:
        return self.reg_f or self.reg_f_all_loans


@dataclass(frozen=True)
class FlagSet:
    loan_number: str
    flag: str
    on: bool
    changed: bool
    effective_date: date


def _policy(session: object) -> bool:
    return (get_setting(session, SETTING_REGF_ALL_LOANS) or "").strip().lower() in ("true", "1", "yes", "on")  # type: ignore[arg-type]


def loan_flags(ctx: ServiceContext, loan_number: str) -> LoanFlags:
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        loan = load_loan(session, loan_number)
        rows = session.execute(
            select(LoanFlagEvent, User.username).join(User, User.id == LoanFlagEvent.user_id)
            .where(LoanFlagEvent.loan_id == loan.id).order_by(LoanFlagEvent.id.desc())
        ).all()
        history = tuple(FlagEvent(e.flag, e.on, e.effective_date, e.reason, e.dispute_form,
                                  e.within_validation_period, e.reg_f_basis, name) for e, name in rows)
        notice = session.execute(
            select(Letter.letter_date, Letter.figures).where(Letter.loan_id == loan.id,
                                                             Letter.kind == "validation-notice")
            .order_by(Letter.letter_date.desc(), Letter.id.desc()).limit(1)
        ).first()
        notice_date, ends = None, None
        if notice is not None:
            notice_date = notice[0]
            end = (notice[1] or {}).get("validation_end_date")
            ends = date.fromisoformat(end) if isinstance(end, str) else end if isinstance(end, date) else None
        return LoanFlags(loan.loan_number, business_date(session), loan.hardship, loan.dispute, loan.reg_f_applies,
                         _policy(session), history, notice_date, ends)


def set_flag(
    ctx: ServiceContext,
    loan_number: str,
    flag: str,
    on: bool,
    *,
    reason: str,
    effective_date: date | None = None,
    dispute_form: str | None = None,
    within_validation_period: bool | None = None,
    reg_f_basis: str | None = None,
) -> FlagSet:
    """Set (``on``) or clear one flag, dated and explained; one transaction with its event and audit record."""
    chosen = (flag or "").strip().lower().replace("-", "_")
    if chosen not in LOAN_FLAGS:
        shown = repr(flag) if len(repr(flag)) <= 42 else repr(flag)[:39] + "..."
        raise InvalidInput("flag", f"{shown} is not one of {', '.join(LOAN_FLAGS)}")
    permissions.require(ctx.actor, flag_permission(chosen, bool(on)))
    why = text_field(reason, "reason") or ""
    if not why:
        raise InvalidInput("reason", "a reason is required to set or clear a flag")
    form = basis = None
    within = None
    if chosen == "dispute" and on:
        form = (dispute_form or "").strip().lower() or None
        if form not in DISPUTE_FORMS:
            raise InvalidInput("dispute_form", "say whether the dispute was written or oral")
        if within_validation_period is None:
            raise InvalidInput("within_validation_period", "say whether the dispute came inside the validation period")
        within = bool(within_validation_period)
    if chosen == "reg_f" and on:
        basis = (reg_f_basis or "").strip().lower() or None
        if basis not in REG_F_BASES:
            raise InvalidInput("reg_f_basis", "choose why Regulation F applies to this loan (a creditor collecting "
                                              "its own debt in its own name is not a debt collector)")
    try:
        with ctx.unit() as session:
            today = business_date(session)
            day = today if effective_date is None else effective_date
            if day > today:
                raise InvalidInput("effective_date", f"{day} is after the open business date {today}")
            loan = load_loan(session, loan_number, lock=True)
            # An earlier date than boarding is allowed: a hardship or dispute can come with a transferred loan.
            column = _COLUMNS[chosen]
            before = bool(getattr(loan, column))
            setattr(loan, column, bool(on))
            session.add(LoanFlagEvent(loan_id=loan.id, flag=chosen, on=bool(on), effective_date=day, reason=why,
                                      dispute_form=form, within_validation_period=within, reg_f_basis=basis,
                                      user_id=ctx.actor.user_id))
            session.flush()
            audit.record(session, ctx.actor, "loan.flag_set" if on else "loan.flag_cleared", entity="loan",
                         entity_id=loan.id, loan_id=loan.id,
                         details={"flag": chosen, "before": before, "after": bool(on), "effective_date": day.isoformat(),
                                  "reason": why, "dispute_form": form, "within_validation_period": within,
                                  "reg_f_basis": basis})
            return FlagSet(loan.loan_number, chosen, bool(on), before != bool(on), day)
    except StaleDataError:
        raise Conflict() from None


def set_reg_f_policy(ctx: ServiceContext, all_consumer_loans: bool, *, reason: str) -> bool:
    """The lender's choice to apply Regulation F's guardrails to every consumer loan (audited)."""
    permissions.require(ctx.actor, permissions.MANAGE_SETTINGS)
    why = text_field(reason, "reason") or ""
    if not why:
        raise InvalidInput("reason", "a reason is required to change the Regulation F policy")
    with ctx.unit() as session:
        before = _policy(session)
        set_setting(session, SETTING_REGF_ALL_LOANS, "true" if all_consumer_loans else "false")
        audit.record(session, ctx.actor, "settings.reg_f_policy", entity="setting", entity_id=SETTING_REGF_ALL_LOANS,
                     details={"before": before, "after": bool(all_consumer_loans), "reason": why})
    return bool(all_consumer_loans)


def reg_f_policy(ctx: ServiceContext) -> bool:
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        return _policy(session)
