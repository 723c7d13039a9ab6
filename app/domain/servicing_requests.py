"""Due dates of a mortgage borrower's written requests (Regulation X and Regulation Z).

Pure rules, counted with :func:`app.domain.business_days.regulation_days_after`
(days excluding legal public holidays, Saturdays and Sundays, the day of
receipt not counted):

==========================  ===============  =========================================
request                     acknowledge      respond
==========================  ===============  =========================================
notice of error             5 days           30 days; 7 days for a payoff-balance error
(12 CFR 1024.35)            (1024.35(d))     (1024.35(e)(3)(i)(A) for (b)(6); (C) others)
request for information     5 days           30 days; 10 days for the owner's identity
(12 CFR 1024.36)            (1024.36(c))     (1024.36(d)(2)(i)(A); (B) others)
payoff statement request    none             7 business days (12 CFR 1026.36(c)(3))
==========================  ===============  =========================================

Not modelled: the 15-day extension a servicer may take on a 30-day response
by telling the borrower in time (1024.35(e)(3)(ii), 1024.36(d)(2)(ii)), and
the foreclosure-sale deadline of 1024.35(e)(3)(i)(B); the worklist shows the
30-day date, which is the earliest the rule allows.  An acknowledgment is not
needed when the response is sent within the acknowledgment period; marking a
request answered therefore also ends its acknowledgment deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.domain.business_days import regulation_days_after

KINDS = ("notice_of_error", "information_request", "payoff_request")
SUBJECTS = ("payoff_balance", "owner_identity")

ACKNOWLEDGE_DAYS = 5
RESPOND_DAYS = 30
PAYOFF_ERROR_DAYS = 7
OWNER_IDENTITY_DAYS = 10
PAYOFF_STATEMENT_DAYS = 7


@dataclass(frozen=True)
class DueDates:
    acknowledge_by: date | None  # None: no acknowledgment is required
    respond_by: date


class RequestRuleError(ValueError):
    """A request that cannot be dated: ``field`` and a sentence."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def due_dates(kind: str, subject: str | None, received_on: date) -> DueDates:
    """When a request received on ``received_on`` must be acknowledged and answered."""
    if kind not in KINDS:
        raise RequestRuleError("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    if subject is not None and subject not in SUBJECTS:
        raise RequestRuleError("subject", f"{subject!r} is not one of {', '.join(SUBJECTS)}")
    if kind == "payoff_request":
        if subject is not None:
            raise RequestRuleError("subject", "a payoff statement request has no subject")
        return DueDates(None, regulation_days_after(received_on, PAYOFF_STATEMENT_DAYS))
    if kind == "notice_of_error":
        if subject not in (None, "payoff_balance"):
            raise RequestRuleError("subject", "a notice of error may be about the payoff balance, or nothing named")
        days = PAYOFF_ERROR_DAYS if subject == "payoff_balance" else RESPOND_DAYS
    else:
        if subject not in (None, "owner_identity"):
            raise RequestRuleError("subject", "a request for information may be about the owner, or nothing named")
        days = OWNER_IDENTITY_DAYS if subject == "owner_identity" else RESPOND_DAYS
    return DueDates(regulation_days_after(received_on, ACKNOWLEDGE_DAYS), regulation_days_after(received_on, days))


@dataclass(frozen=True)
class NextStep:
    step: str | None  # "acknowledge", "respond", or None when answered
    due: date | None
    overdue: bool


def next_step(acknowledge_by: date | None, respond_by: date, acknowledged_on: date | None,
              responded_on: date | None, today: date) -> NextStep:
    """What a request still needs on ``today`` and by when; overdue once ``today`` is after that date.

    The due date is the last day allowed ("within five days"), so a request
    due today is not yet overdue.  A response ends both deadlines (the
    acknowledgment is not needed once the borrower has the answer).
    """
    if responded_on is not None:
        return NextStep(None, None, False)
    if acknowledge_by is not None and acknowledged_on is None:
        return NextStep("acknowledge", acknowledge_by, today > acknowledge_by)
    return NextStep("respond", respond_by, today > respond_by)
