"""The statement cycle: on which closed day a loan's billing statement and payment reminder are queued (issue 13).

End of day asks :func:`notices_due` once per active loan for the day it
closes, on the loan's state at the end of that day; the function reads the
loan's due-date grid and answers with the letters to queue for the morning
after, each tagged with the payment due date of its cycle (the letters queue
keeps one per loan, kind and cycle: ``letter_queue.cycle_due``).

**Consumer loans** (not secured by a dwelling): the statement for the
installment due on X is queued at the close of ``X - N``, N being the
product's ``statement_days_before_due`` (default 15; 0: none).  Due the 20th
with 15 days: queued at the close of the 5th.  Every installment gets its
own, so a loan paid every two weeks with N = 15 gets each statement about two
installments ahead.

**Mortgages** (closed-end consumer credit secured by a dwelling: Keel's loans
with ``real_estate`` collateral) follow Regulation Z, 12 CFR 1026.41(b): "The
periodic statement must be delivered or placed in the mail within a
reasonably prompt time after the payment due date or the end of any courtesy
period provided for the previous billing cycle."  Official interpretation
41(b)-1: "Delivering, emailing or placing the periodic statement in the mail
within four days of the close of the courtesy period of the previous billing
cycle generally would be considered reasonably prompt."  The courtesy period
(comment 41(b)-2, by way of comment 7(b)(11)-1) is the time after the due
date during which no late fee is imposed: for Keel, the product's late-fee
grace days, moved past a weekend or bank holiday as the late-fee rule moves
them (:func:`app.domain.business_days.late_fee_day`); no late fee, no
courtesy period.  So the statement for the cycle after previous due date P is
queued at the close of the courtesy period's last day, ready the next
morning, and must be in the mail by that day plus four (:data:`MAIL_WITHIN_DAYS`).
Due the 1st with a 15-day courtesy period: queued at the close of the 16th,
mailed by the 20th (1 + 15 + 4).  The first statement of a loan, which has no
previous billing cycle, goes N days before the first due date as for a
consumer loan (15 when the product says 0).

Exemptions a lender may claim for its mortgages (settings, not guesses; each
suppresses the periodic statement only -- reminders are not periodic
statements):

* small servicer, 1026.41(e)(4): a servicer that (A) services, with its
  affiliates, 5,000 or fewer mortgage loans, for all of which it or an
  affiliate is the creditor or assignee (owns the loan or originated it), or
  (B) is a Housing Finance Agency (24 CFR 266.5), or (C) is a 501(c)(3)
  nonprofit servicing 5,000 or fewer mortgage loans, all originated by it or
  an associated nonprofit; counted as of January 1 for the rest of the year,
  leaving out loans serviced for free for a non-affiliate, reverse mortgages,
  timeshares and certain seller-financed loans (1026.41(e)(4)(iii)).  No
  statements are queued for mortgages.
* coupon book, 1026.41(e)(3): fixed-rate loans (Keel has no adjustable-rate
  loans) where the servicer gives the borrower a coupon book with the (d)(1)
  amount-due information on each coupon and the (d)(7) account information,
  the (d)(6) contact information and how to get the rest somewhere in the
  book, makes the (d)(2)-(d)(5) information available on request, and sends
  the (d)(8) delinquency information in writing for any billing cycle during
  which the consumer is more than 45 days delinquent.  No statements are
  queued, except that last case: a mortgage more than 45 days past due still
  gets its statement, whose delinquency notice is the (d)(8) information.

**Payment reminders** (the product's ``reminder_days_before_due``, off by
default): queued at the close of ``X - R`` while the installment due on X is
not paid (short of its amount by more than the product's tolerance; an
installment paid ahead in full gets none).

**Catching up.**  A loan boarded after its cycle's trigger day but before the
due date gets that cycle's statement at the close of its boarding day, so a
newly boarded book is billed at once; a reminder is not caught up.

Who gets none (the caller passes the flags): a loan that is not active; for
reminders, a loan flagged hardship or dispute, or a borrower who asked us to
cease contact (FDCPA 805(c)) or is represented by an attorney (805(a)(2)), as
for collection letters; for a consumer loan's statement, the same two
borrower flags.  A mortgage's periodic statement is still sent to a borrower
who asked us to cease contact: Regulation Z requires it (CFPB Bulletin
2013-12).  A hardship or dispute flag stops no statement (the statement says
the account is under a hardship review).  Keel does not record bankruptcy, so
the 1026.41(e)(5) bankruptcy exemption is not applied here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from app.domain.business_days import next_business_day
from app.domain.engine import LoanState
from app.domain.terms import Terms, due_date

STATEMENT = "statement"
REMINDER = "payment-reminder"
#: Default days before the due date a consumer loan's statement is queued (and a mortgage's first one).
DEFAULT_STATEMENT_DAYS = 15
#: Comment 41(b)-1: in the mail within four days of the close of the previous cycle's courtesy period.
MAIL_WITHIN_DAYS = 4
#: 1026.41(e)(3)(iv): a coupon-book borrower more than this many days delinquent gets the (d)(8) information.
COUPON_BOOK_DELINQUENT_DAYS = 45
#: Small-servicer bases of 1026.41(e)(4)(ii): (A) own loans, (B) housing finance agency, (C) nonprofit.
SMALL_SERVICER_BASES = ("own_loans", "housing_finance_agency", "nonprofit")
#: 1026.41(e)(4)(ii)(A) and (C): at most this many mortgage loans.
SMALL_SERVICER_LOANS = 5000


@dataclass(frozen=True)
class Notice:
    """A letter to queue for the morning after the closed day."""

    kind: str  # STATEMENT or REMINDER
    cycle_due: date  # the payment due date of the cycle it is for
    reason: str
    mail_by: date | None = None  # a mortgage statement: 1026.41(b)'s reasonably prompt time


@dataclass(frozen=True)
class Exemptions:
    """The lender's claimed exemptions from 1026.41's periodic statements (its mortgages only)."""

    small_servicer: str | None = None  # one of SMALL_SERVICER_BASES, or None
    coupon_books: bool = False


@dataclass(frozen=True)
class LoanFacts:
    """What the rules need about one loan besides its terms and state."""

    boarded_on: date
    mortgage: bool = False
    hardship: bool = False
    dispute: bool = False
    cease_contact: bool = False
    attorney_represented: bool = False
    days_past_due: int = 0  # the morning after the closed day


def installment_due(terms: Terms, state: LoanState, n: int) -> date:
    """Installment ``n``'s due date: on the state's grid from its anchor, on the note's before it."""
    if n >= state.anchor_n:
        return due_date(terms.frequency, state.anchor_due, n - state.anchor_n)
    return due_date(terms.frequency, terms.first_due, n - 1)


def first_due_after(terms: Terms, state: LoanState, day: date) -> int:
    """The number of the first installment due after ``day`` (``state.term + 1`` when none is left).

    The next installment to bill is usually it; a loan paid ahead has billed
    later ones already, so the count steps back from there.
    """
    n = max(1, min(state.next_n, state.term + 1))
    while n > 1 and installment_due(terms, state, n - 1) > day:
        n -= 1
    while n <= state.term and installment_due(terms, state, n) <= day:
        n += 1
    return n


def courtesy_end(terms: Terms, due: date) -> date:
    """The last day of the courtesy period after ``due``: the last day a payment is on time for late fees."""
    if terms.late_fee is None:
        return due
    return next_business_day(due + timedelta(days=terms.late_fee.grace_days))


def unpaid(terms: Terms, state: LoanState, n: int) -> bool:
    """Installment ``n`` is not paid: not billed yet, or billed and short by more than the tolerance.

    A paid installment leaves the engine's list, except one paid ahead of its
    due date, which stays (paid in full) until then.
    """
    if n >= state.next_n:
        return True
    for inst in state.installments:
        if inst.n == n:
            paid = inst.paid_interest + inst.paid_principal if terms.interest == "scheduled" else inst.paid
            return inst.amount - paid > terms.tolerance
    return False


def notices_due(
    day: date,
    terms: Terms,
    state: LoanState,
    facts: LoanFacts,
    *,
    statement_days: int = DEFAULT_STATEMENT_DAYS,
    reminder_days: int | None = None,
    exemptions: Exemptions = Exemptions(),
) -> list[Notice]:
    """The statements and reminders to queue at the close of ``day`` for one active loan (see the module)."""
    if state.status != "active":
        return []
    first = first_due_after(terms, state, day)
    if first > state.term:
        return []  # every installment has fallen due: the collection letters take over
    out: list[Notice] = []
    blocked_contact = facts.cease_contact or facts.attorney_represented
    statement = _statement(day, terms, state, facts, first, statement_days)
    if statement is not None:
        if facts.mortgage:
            statement = _exempt(statement, facts, exemptions)
        elif blocked_contact:
            statement = None
    if statement is not None:
        out.append(statement)
    if reminder_days and not (blocked_contact or facts.hardship or facts.dispute):
        out.extend(_reminders(day, terms, state, first, reminder_days))
    return out


def may_notice(day: date, terms: Terms, state: LoanState, boarded_on: date, *,
               statement_days: int = DEFAULT_STATEMENT_DAYS, reminder_days: int | None = None) -> bool:
    """Could :func:`notices_due` queue anything tonight, whatever the loan's flags and collateral?

    A cheap test that never says no when the answer could be yes, so end of day
    looks up collateral and borrower flags only for the few loans that pass it.
    """
    if state.status != "active":
        return False
    if day == boarded_on:
        return True
    first = first_due_after(terms, state, day)
    if first > state.term:
        return False
    upcoming = installment_due(terms, state, first)
    if first > 1:
        previous = installment_due(terms, state, first - 1)
        if day == min(courtesy_end(terms, previous), upcoming - timedelta(days=1)):
            return True
    ahead = {statement_days, DEFAULT_STATEMENT_DAYS, reminder_days or 0} - {0}
    horizon = max(ahead)
    if (upcoming - day).days > horizon:
        return False
    return any((due - day).days in ahead for _, due in _dues_within(terms, state, first, day + timedelta(days=horizon)))


def _dues_within(terms: Terms, state: LoanState, first: int, last_day: date) -> list[tuple[int, date]]:
    """(number, due date) of the installments from ``first`` due on or before ``last_day``."""
    found = []
    n = first
    while n <= state.term:
        due = installment_due(terms, state, n)
        if due > last_day:
            break
        found.append((n, due))
        n += 1
    return found


def _statement(day: date, terms: Terms, state: LoanState, facts: LoanFacts, first: int,
               statement_days: int) -> Notice | None:
    upcoming = installment_due(terms, state, first)
    catch_up = day == facts.boarded_on
    if facts.mortgage and first > 1:
        previous = installment_due(terms, state, first - 1)
        # 1026.41(b): after the previous due date's courtesy period; never later than the day before
        # the cycle's own due date (a courtesy period longer than the billing cycle).
        trigger = min(courtesy_end(terms, previous), upcoming - timedelta(days=1))
        if day == trigger or (catch_up and trigger < day):
            mail_by = trigger + timedelta(days=MAIL_WITHIN_DAYS) if day == trigger else day + timedelta(
                days=MAIL_WITHIN_DAYS)
            return Notice(STATEMENT, upcoming,
                          f"payment due {upcoming.isoformat()}; mail by {mail_by.isoformat()} (12 CFR 1026.41(b))",
                          mail_by)
        return None
    days = statement_days if statement_days or not facts.mortgage else DEFAULT_STATEMENT_DAYS
    if days <= 0:
        return None
    for _, due in _dues_within(terms, state, first, day + timedelta(days=days)):
        if due - timedelta(days=days) == day:
            return Notice(STATEMENT, due, f"payment due {due.isoformat()}, {days} days ahead")
    if catch_up and upcoming - timedelta(days=days) < day:
        return Notice(STATEMENT, upcoming, f"payment due {upcoming.isoformat()}; the loan was boarded after its "
                                           "statement day")
    return None


def _exempt(statement: Notice, facts: LoanFacts, exemptions: Exemptions) -> Notice | None:
    """A mortgage's periodic statement, unless the lender's exemption covers it."""
    if exemptions.small_servicer:
        return None  # 1026.41(e)(4)
    if exemptions.coupon_books:
        if facts.days_past_due > COUPON_BOOK_DELINQUENT_DAYS:
            # 1026.41(e)(3)(iv): the delinquency information in writing; the statement's notice is it.
            return Notice(statement.kind, statement.cycle_due,
                          f"{statement.reason}; coupon book, but {facts.days_past_due} days delinquent "
                          "(12 CFR 1026.41(e)(3)(iv))", statement.mail_by)
        return None  # 1026.41(e)(3)
    return statement


def _reminders(day: date, terms: Terms, state: LoanState, first: int, reminder_days: int) -> Sequence[Notice]:
    for n, due in _dues_within(terms, state, first, day + timedelta(days=reminder_days)):
        if due - timedelta(days=reminder_days) == day and unpaid(terms, state, n):
            return [Notice(REMINDER, due, f"payment due {due.isoformat()} not received, {reminder_days} days ahead")]
    return []


__all__ = [
    "COUPON_BOOK_DELINQUENT_DAYS",
    "DEFAULT_STATEMENT_DAYS",
    "MAIL_WITHIN_DAYS",
    "REMINDER",
    "SMALL_SERVICER_BASES",
    "SMALL_SERVICER_LOANS",
    "STATEMENT",
    "Exemptions",
    "LoanFacts",
    "Notice",
    "courtesy_end",
    "first_due_after",
    "installment_due",
    "may_notice",
    "notices_due",
    "unpaid",
]
