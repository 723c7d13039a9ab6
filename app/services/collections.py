"""Collections: the work queue, the contact log, promises to pay, Regulation F guardrails.

Issue 4, item 2 (all but charge-off).  Every public function taking a
``ServiceContext`` is one unit of work: permission, validation, the change and
its audit record in one transaction, frozen values out (never ORM rows).
:func:`settle_promises` and :func:`apply_assignment_rules` take an open
session instead: end of day runs them inside its own transaction.

The queue
---------
Every open loan past due (``loans.status = 'active'`` and
``loan_states.days_past_due > 0``), read from the cached figures in
``loan_states`` (as of the open business date) with one query, whatever the
size of the portfolio.  Its order is :func:`_priority_score`::

    score = days_past_due
          + min(amount_due // 10, 100)        one point per whole $10 due, at most 100
          + 25 x promises broken in the last 90 days (settled_on within 90 days)
          + min(days since the last contact, 30)   30 when never contacted

Ties go to the larger days past due, then the larger amount, then the loan
number.  An account with a *live* promise -- an open promise none of whose
sibling promises (the same contact's plan) has been broken or only partly
kept -- is left out unless ``include_promised``: the collector has been told
when the money comes, and the account returns the day the promise breaks.
Accounts flagged cease-contact or attorney-represented stay in the queue,
flagged, because the debt still needs working (by letter to the attorney, by
a manager), but :func:`log_contact` blocks contact with the borrower.

Regulation F guardrails
-----------------------
12 CFR 1006 binds debt collectors; for a lender that is typically a loan
bought or boarded in default, so it applies to loans with ``reg_f_applies``,
or to every loan when the setting ``regf_all_loans`` is ``true``.  On those
loans :func:`check_contact` warns (the collector must confirm with a reason,
which is kept on the contact row and in the audit trail) before:

* an 8th call attempt about the debt within 7 days (1006.14(b)(2)(i)); the
  window is the 7 x 24 hours before the contact, which contains every
  "seven consecutive days" window ending that day;
* a call within 7 days after a telephone conversation about the debt
  (1006.14(b)(2)(ii)); a conversation is a call whose outcome is one of
  :data:`CONVERSATION_OUTCOMES`;
* any contact before 8:00 or after 21:00 in the borrower's time zone
  (1006.6(b)(1)(i)), ``persons.time_zone``; letters are exempt (a letter is
  not received at the moment it is logged).

Cease-contact (1006.6(c)) and attorney-represented (1006.6(b)(2)) block
contact outright on *every* loan, Regulation F or not: the flag is set on the
person because someone asked us to stop, and a desk should not have to know
which loans the regulation covers to honour it.

Promises
--------
A ``promise_to_pay`` contact carries one or several dated amounts (after the
business date, at most 60 days out).  A new promise replaces the loan's open
ones (they become ``cancelled``): the borrower's latest word is the plan.
End of day settles each promise when its due date plus the grace
(``_promise_grace_days``, default 3) is the day being closed; see
:func:`settle_promises`.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import exists, func, insert, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError

from app.db.models import (
    BUCKETS,
    CONTACT_CHANNELS,
    CONTACT_OUTCOMES,
    PARTY_ROLES,
    CollectionAssignment,
    Contact,
    LedgerEntry,
    Loan,
    LoanParty,
    LoanState,
    Person,
    Product,
    ProductVersion,
    Promise,
    User,
)
from app.db.settings import get_setting, set_setting
from app.domain.money import ZERO
from app.services import audit, permissions
from app.services.context import Actor, ServiceContext
from app.services.errors import Conflict, InvalidInput, NeedsConfirmation
from app.services.fields import LONG_TEXT, search_text, text_field
from app.services.ledger import business_date, load_loan, money_field

# ---------------------------------------------------------------------------
# Settings and constants
# ---------------------------------------------------------------------------
#: system_settings key: 'true' applies the Regulation F guardrails to every loan.
SETTING_REGF_ALL_LOANS = "regf_all_loans"
#: system_settings key: days after a promise's due date before it is settled.
SETTING_PROMISE_GRACE_DAYS = "_promise_grace_days"
#: system_settings key: the saved assignment rules (JSON list), see :func:`save_assignment_rules`.
SETTING_ASSIGNMENT_RULES = "collection_assignment_rules"
DEFAULT_PROMISE_GRACE_DAYS = 3
#: A promise further out than this is a payment plan, not a promise to pay.
MAX_PROMISE_DAYS = 60

SCORE_AMOUNT_DOLLARS_PER_POINT = 10
SCORE_AMOUNT_CAP = 100
SCORE_PER_BROKEN_PROMISE = 25
BROKEN_PROMISE_WINDOW_DAYS = 90
SCORE_CONTACT_CAP = 30

#: Outcome codes and channels a contact may have.
OUTCOMES = CONTACT_OUTCOMES
CHANNELS = CONTACT_CHANNELS
#: Queue buckets: every bucket but 'current'.
PAST_DUE_BUCKETS = tuple(b for b in BUCKETS if b != "current")

#: Call outcomes that mean someone spoke with the borrower (12 CFR 1006.14(b)(2)(ii)).
CONVERSATION_OUTCOMES = ("contacted", "promise_to_pay", "refused", "dispute", "hardship", "payment_arranged")
CALL_LIMIT = 7  # the 8th attempt within 7 days is presumed harassing
CALL_WINDOW = _dt.timedelta(days=7)
EARLIEST_HOUR = _dt.time(8, 0)
LATEST_HOUR = _dt.time(21, 0)
#: A contact may be logged a little ahead of the server's clock (desk clocks drift), not more.
FUTURE_TOLERANCE = _dt.timedelta(minutes=5)

OUTCOME_ALIASES: dict[str, str] = {
    "promise": "promise_to_pay",
    "ptp": "promise_to_pay",
    "promised": "promise_to_pay",
    "message": "left_message",
    "voicemail": "left_message",
    "lm": "left_message",
    "noanswer": "no_answer",
    "na": "no_answer",
    "wrong": "wrong_number",
    "wrongnumber": "wrong_number",
    "contact": "contacted",
    "spoke": "contacted",
    "arranged": "payment_arranged",
}
CHANNEL_ALIASES: dict[str, str] = {
    "phone": "call",
    "telephone": "call",
    "sms": "text",
    "mail": "letter",
    "e_mail": "email",
    "in_person": "visit",
}

# Guardrail codes.
CEASE_CONTACT = "cease_contact"
ATTORNEY = "attorney_represented"
CALL_FREQUENCY = "call_frequency"
AFTER_CONVERSATION = "after_conversation"
INCONVENIENT_TIME = "inconvenient_time"
UNKNOWN_TIME_ZONE = "unknown_time_zone"


# ---------------------------------------------------------------------------
# What comes out
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Flags:
    hardship: bool
    dispute: bool
    cease_contact: bool
    attorney: bool
    reg_f: bool

    @property
    def contact_blocked(self) -> bool:
        return self.cease_contact or self.attorney


@dataclass(frozen=True)
class QueueItem:
    loan_number: str
    borrower: str
    phone: str | None
    days_past_due: int
    bucket: str
    amount_due: Decimal
    principal: Decimal
    next_due: _dt.date | None
    score: int
    collector: str | None
    product: str
    last_contact: _dt.datetime | None
    last_outcome: str | None
    broken_promises: int
    promise_due: _dt.date | None
    flags: Flags


@dataclass(frozen=True)
class Guardrail:
    code: str
    message: str
    blocking: bool


@dataclass(frozen=True)
class PromiseInfo:
    id: int
    loan_number: str
    contact_id: int | None
    due_date: _dt.date
    amount: Decimal
    status: str
    paid_amount: Decimal
    settled_on: _dt.date | None
    created_by: str | None
    created_at: _dt.datetime
    corrects_id: int | None = None
    correction_reason: str | None = None
    corrected_by_id: int | None = None


@dataclass(frozen=True)
class ContactInfo:
    id: int
    loan_number: str
    at: _dt.datetime
    channel: str
    outcome: str
    party: str | None  # the person contacted, by name
    note: str | None
    override_reason: str | None
    user: str | None
    #: A correction: the contact it corrects and why; a corrected contact: the contact correcting it.
    corrects_id: int | None = None
    correction_reason: str | None = None
    corrected_by_id: int | None = None


@dataclass(frozen=True)
class ContactLogged:
    contact_id: int
    loan_number: str
    at: _dt.datetime
    channel: str
    outcome: str
    promises: tuple[PromiseInfo, ...]
    cancelled_promises: tuple[int, ...]  # open promises the new promise replaced
    overridden: tuple[Guardrail, ...]
    override_reason: str | None


@dataclass(frozen=True)
class Assigned:
    loan_number: str
    collector: str | None
    previous: str | None


@dataclass(frozen=True)
class AssignmentRule:
    """Loans in ``bucket`` (any when None) of ``product`` (any when None) go to ``team``, round-robin."""

    team: tuple[str, ...]
    bucket: str | None = None
    product: str | None = None

    @property
    def name(self) -> str:
        parts = [f"bucket:{self.bucket}" if self.bucket else "", f"product:{self.product}" if self.product else ""]
        return ",".join(p for p in parts if p) or "all"

    def matches(self, bucket: str, product: str) -> bool:
        return (self.bucket is None or self.bucket == bucket) and (self.product is None or self.product == product)

    def as_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "product": self.product, "team": list(self.team)}


@dataclass(frozen=True)
class PromiseSettlement:
    """What one day's settlement did (end of day keeps the counts in its run summary)."""

    kept: int
    partly_kept: int
    broken: int

    @property
    def total(self) -> int:
        return self.kept + self.partly_kept + self.broken


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------
def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _key(text: str) -> str:
    return (text or "").strip().lower().replace("-", "_").replace(" ", "_")


def _normalize_outcome(outcome: str) -> str:
    """An outcome code from what a person types ('promise', 'left message', 'no-answer')."""
    key = _key(outcome)
    key = OUTCOME_ALIASES.get(key, OUTCOME_ALIASES.get(key.replace("_", ""), key))
    if key not in CONTACT_OUTCOMES:
        raise InvalidInput("outcome", f"{outcome!r} is not one of {', '.join(CONTACT_OUTCOMES)}")
    return key


def _normalize_channel(channel: str) -> str:
    key = _key(channel)
    key = CHANNEL_ALIASES.get(key, key)
    if key not in CONTACT_CHANNELS:
        raise InvalidInput("channel", f"{channel!r} is not one of {', '.join(CONTACT_CHANNELS)}")
    return key


def _instant(at: _dt.datetime | None, field: str = "at") -> _dt.datetime:
    if at is None:
        return _now()
    if not isinstance(at, _dt.datetime):
        raise InvalidInput(field, f"{at!r} is not a date and time")
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(field, "needs a time zone (a naive time could be anyone's clock)")
    return at.astimezone(_dt.UTC)


def _regf_for_all_loans(session: Session) -> bool:
    return (get_setting(session, SETTING_REGF_ALL_LOANS) or "").strip().lower() in ("true", "1", "yes", "on")


def _promise_grace_days(session: Session) -> int:
    value = get_setting(session, SETTING_PROMISE_GRACE_DAYS)
    if value is None or not value.strip():
        return DEFAULT_PROMISE_GRACE_DAYS
    try:
        days = int(value)
    except ValueError:
        raise InvalidInput(SETTING_PROMISE_GRACE_DAYS, f"setting {value!r} is not a whole number of days") from None
    if days < 0:
        raise InvalidInput(SETTING_PROMISE_GRACE_DAYS, f"setting {days} is negative")
    return days


def _priority_score(
    days_past_due: int, amount_due: Decimal, broken_promises: int, days_since_contact: int | None
) -> int:
    """The queue's priority, an integer; the formula is in the module docstring and docs/collections.md."""
    amount_points = min(int(max(amount_due, ZERO)) // SCORE_AMOUNT_DOLLARS_PER_POINT, SCORE_AMOUNT_CAP)
    if days_since_contact is None:
        contact_points = SCORE_CONTACT_CAP
    else:
        contact_points = max(0, min(days_since_contact, SCORE_CONTACT_CAP))
    return days_past_due + amount_points + SCORE_PER_BROKEN_PROMISE * broken_promises + contact_points


def _display_name(first: str | None, middle: str | None, last: str | None, org: str | None) -> str:
    if org:
        return org
    return " ".join(p for p in (first, middle, last) if p)


# ---------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------
# Each per-loan figure is a correlated scalar subquery probing an index
# (contacts(loan_id, at), promises(loan_id, status), loan_parties(loan_id)),
# not a grouped derived table joined in: PostgreSQL plans a derived table from
# its statistics, and on tables not yet analyzed (right after a large boarding)
# it picks a nested loop that re-runs the grouping for every loan -- minutes
# instead of a second for 100,000 loans.  An index probe per loan costs the
# same whatever the statistics say, on both databases.


def _borrower_id() -> Any:
    """The loan's borrower (the first when there are several)."""
    return (
        select(func.min(LoanParty.person_id))
        .where(LoanParty.loan_id == Loan.id, LoanParty.role == "borrower")
        .correlate(Loan)
        .scalar_subquery()
    )


def _standing() -> Any:
    """A contact that no correction replaced (a corrected contact never counts: its correction does)."""
    correction = aliased(Contact)
    return ~exists().where(correction.corrects_id == Contact.id)


def _last_contact(column: Any) -> Any:
    return (
        select(column)
        .where(Contact.loan_id == Loan.id, _standing())
        .order_by(Contact.at.desc(), Contact.id.desc())
        .limit(1)
        .correlate(Loan)
        .scalar_subquery()
    )


def _broken_promises(today: _dt.date) -> Any:
    return (
        select(func.count())
        .select_from(Promise)
        .where(
            Promise.loan_id == Loan.id,
            Promise.status == "broken",
            Promise.settled_on > today - _dt.timedelta(days=BROKEN_PROMISE_WINDOW_DAYS),
        )
        .correlate(Loan)
        .scalar_subquery()
    )


def _live_promise_due() -> Any:
    """The earliest due date of the loan's live promises.

    Live: open, and no promise of the same contact (the same plan) already
    broken or only partly kept -- a plan is broken the day one of its
    payments is missed.  The broken plans are an uncorrelated NOT IN, computed
    once (promises.contact_id has no index to probe).
    """
    sibling = aliased(Promise)
    broken_plans = select(sibling.contact_id).where(
        sibling.contact_id.is_not(None), sibling.status.in_(("broken", "partly_kept"))
    )
    return (
        select(func.min(Promise.due_date))
        .where(
            Promise.loan_id == Loan.id,
            Promise.status == "open",
            or_(Promise.contact_id.is_(None), Promise.contact_id.not_in(broken_plans)),
        )
        .correlate(Loan)
        .scalar_subquery()
    )


def queue(
    ctx: ServiceContext,
    *,
    collector: str | None = None,
    bucket: str | None = None,
    product: str | None = None,
    include_promised: bool = False,
    limit: int | None = None,
) -> list[QueueItem]:
    """The past-due accounts, highest score first (one query for the whole portfolio)."""
    permissions.require(ctx.actor, permissions.VIEW)
    if bucket is not None and bucket not in PAST_DUE_BUCKETS:
        raise InvalidInput("bucket", f"{bucket!r} is not one of {', '.join(PAST_DUE_BUCKETS)}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInput("limit", f"{limit!r} is not a positive whole number")
    # Filters as typed are checked as stored text is (a NUL is a driver error on PostgreSQL; issue 12).
    collector_name = (search_text(collector, "collector", max_len=64)).lower() or None
    product_code = search_text(product, "product", max_len=32) or None

    with ctx.unit(write=False) as session:
        today = business_date(session)
        regf_all = _regf_for_all_loans(session)

        last_at = _last_contact(Contact.at).label("last_at")
        last_outcome = _last_contact(Contact.outcome).label("last_outcome")
        broken = _broken_promises(today).label("broken")
        live_due = _live_promise_due()
        stmt = (
            select(
                Loan.loan_number,
                Loan.hardship,
                Loan.dispute,
                Loan.reg_f_applies,
                LoanState.days_past_due,
                LoanState.amount_due,
                LoanState.principal,
                LoanState.bucket,
                LoanState.next_due,
                Product.code,
                Person.first_name,
                Person.middle_name,
                Person.last_name,
                Person.organization_name,
                Person.mobile_phone,
                Person.home_phone,
                Person.work_phone,
                Person.cease_contact,
                Person.attorney_represented,
                Person.time_zone,
                User.username,
                last_at,
                last_outcome,
                broken,
                live_due.label("promise_due"),
            )
            .select_from(Loan)
            .join(LoanState, LoanState.loan_id == Loan.id)
            .join(ProductVersion, ProductVersion.id == Loan.product_version_id)
            .join(Product, Product.id == ProductVersion.product_id)
            .outerjoin(Person, Person.id == _borrower_id())
            .outerjoin(CollectionAssignment, CollectionAssignment.loan_id == Loan.id)
            .outerjoin(User, User.id == CollectionAssignment.collector_id)
            .where(Loan.status == "active", LoanState.status == "active", LoanState.days_past_due > 0)
        )
        if not include_promised:
            stmt = stmt.where(live_due.is_(None))
        if bucket is not None:
            stmt = stmt.where(LoanState.bucket == bucket)
        if product_code is not None:
            stmt = stmt.where(Product.code == product_code)
        if collector_name is not None:
            stmt = stmt.where(User.username == collector_name)
        rows = session.execute(stmt).all()

    items: list[QueueItem] = []
    for (number, hardship, dispute, reg_f, dpd, amount_due, principal, bucket_, next_due, code,
         first, middle, last, org, mobile, home, work, cease, attorney, zone_name, username,
         contact_at, contact_outcome, broken_n, promise_due) in rows:
        since = None if contact_at is None else (today - _local_date(contact_at, zone_name)).days
        items.append(
            QueueItem(
                loan_number=number,
                borrower=_display_name(first, middle, last, org),
                phone=mobile or home or work,
                days_past_due=dpd,
                bucket=bucket_,
                amount_due=amount_due,
                principal=principal,
                next_due=next_due,
                score=_priority_score(dpd, amount_due, int(broken_n), since),
                collector=username,
                product=code,
                last_contact=contact_at,
                last_outcome=contact_outcome,
                broken_promises=int(broken_n),
                promise_due=promise_due,
                flags=Flags(
                    hardship=bool(hardship),
                    dispute=bool(dispute),
                    cease_contact=bool(cease),
                    attorney=bool(attorney),
                    reg_f=bool(reg_f) or regf_all,
                ),
            )
        )
    items.sort(key=lambda i: (-i.score, -i.days_past_due, -i.amount_due, i.loan_number))
    return items[:limit] if limit is not None else items


# ---------------------------------------------------------------------------
# Assignment
# ---------------------------------------------------------------------------
def _rule(value: AssignmentRule | Mapping[str, Any]) -> AssignmentRule:
    if isinstance(value, AssignmentRule):
        rule = value
    elif isinstance(value, Mapping):
        unknown = set(value) - {"bucket", "product", "team"}
        if unknown:
            raise InvalidInput("rules", f"unknown key {sorted(unknown)[0]!r}; a rule has bucket, product and team")
        team = value.get("team")
        if isinstance(team, (str, Mapping)) or not isinstance(team, Iterable) or not all(
                isinstance(name, str) for name in team):
            raise InvalidInput("rules", "a rule's team is a list of collector usernames")
        for key in ("bucket", "product"):
            if value.get(key) is not None and not isinstance(value.get(key), str):
                raise InvalidInput("rules", f"a rule's {key} is text, not {type(value.get(key)).__name__}")
        rule = AssignmentRule(
            team=tuple(text_field(name, "rules.team", max_len=64) or "" for name in team),
            bucket=value.get("bucket") or None,
            product=text_field(value.get("product"), "rules.product", max_len=32),
        )
    else:
        raise InvalidInput("rules", f"a {type(value).__name__} is not a rule (a rule is an object with bucket, "
                                    "product and team)")
    if not rule.team:
        raise InvalidInput("rules", f"the rule for {rule.name} has an empty team")
    if rule.bucket is not None and rule.bucket not in PAST_DUE_BUCKETS:
        raise InvalidInput("rules", f"bucket {rule.bucket!r} is not one of {', '.join(PAST_DUE_BUCKETS)}")
    team = tuple(name.strip().lower() for name in rule.team)
    if len(set(team)) != len(team):
        raise InvalidInput("rules", f"the rule for {rule.name} names a collector twice")
    return AssignmentRule(team=team, bucket=rule.bucket, product=(rule.product or "").strip() or None)


def _rules(rules: Sequence[AssignmentRule | Mapping[str, Any]]) -> list[AssignmentRule]:
    if isinstance(rules, (str, bytes)) or not isinstance(rules, Sequence):
        raise InvalidInput("rules", "give a list of rules")
    if len(rules) > MAX_RULES:
        raise InvalidInput("rules", f"{len(rules):,} rules are more than {MAX_RULES}")
    return [_rule(r) for r in rules]


#: More assignment rules than buckets times products would never be read.
MAX_RULES = 200


def _collectors(session: Session, names: Iterable[str]) -> dict[str, int]:
    """username -> user id, for active users who may work accounts; refuses any other name."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    found = {u.username: u for u in session.scalars(select(User).where(User.username.in_(wanted)))}
    for name in wanted:
        user = found.get(name)
        if user is None:
            raise InvalidInput("collector", f"no user named {name!r}")
        if not user.active:
            raise InvalidInput("collector", f"{name} is deactivated")
        if permissions.LOG_CONTACT not in permissions.ROLE_PERMISSIONS.get(user.role, frozenset()):
            raise InvalidInput("collector", f"{name} is a {user.role} and cannot work accounts")
    return {name: found[name].id for name in wanted}


def apply_assignment_rules(session: Session, rules: Sequence[AssignmentRule | Mapping[str, Any]],
                           actor: Actor | None) -> int:
    """Assign the past-due loans by ``rules`` in an open session; returns how many changed hands.

    The first rule that matches a loan's bucket and product wins.  A loan
    keeps its collector while that collector is on the matching rule's team,
    and a manager's manual assignment is kept while that collector is active;
    every other loan (unassigned, or its collector left the team) goes to the
    team round-robin in loan-number order, so the same data always gives the
    same assignment.  Loans no rule matches are left as they are.
    """
    checked = _rules(rules)
    ids = _collectors(session, (name for rule in checked for name in rule.team))
    current = aliased(User)
    rows = session.execute(
        select(Loan.id, Loan.loan_number, LoanState.bucket, Product.code, CollectionAssignment,
               current.username, current.active)
        .select_from(Loan)
        .join(LoanState, LoanState.loan_id == Loan.id)
        .join(ProductVersion, ProductVersion.id == Loan.product_version_id)
        .join(Product, Product.id == ProductVersion.product_id)
        .outerjoin(CollectionAssignment, CollectionAssignment.loan_id == Loan.id)
        .outerjoin(current, current.id == CollectionAssignment.collector_id)
        .where(Loan.status == "active", LoanState.status == "active", LoanState.days_past_due > 0)
        .order_by(Loan.loan_number)
    ).all()

    pending: dict[int, list[tuple[int, CollectionAssignment | None]]] = {i: [] for i in range(len(checked))}
    for loan_id, _number, bucket, code, assignment, username, active in rows:
        index = next((i for i, rule in enumerate(checked) if rule.matches(bucket, code)), None)
        if index is None:
            continue
        if username is not None and username in checked[index].team:
            continue
        if assignment is not None and assignment.rule == "manual" and username is not None and active:
            continue
        pending[index].append((loan_id, assignment))

    now = _now()
    user_id = actor.user_id if actor is not None else None
    new_rows: list[dict[str, Any]] = []
    by_collector: dict[str, int] = {}
    for index, loans in pending.items():
        rule = checked[index]
        for n, (loan_id, existing) in enumerate(loans):
            name = rule.team[n % len(rule.team)]
            by_collector[name] = by_collector.get(name, 0) + 1
            if existing is None:
                new_rows.append({"loan_id": loan_id, "collector_id": ids[name], "rule": rule.name[:64],
                                 "assigned_by_id": user_id, "assigned_at": now, "version": 1})
            else:
                existing.collector_id = ids[name]
                existing.rule = rule.name[:64]
                existing.assigned_by_id = user_id
                existing.assigned_at = now
    if new_rows:
        session.execute(insert(CollectionAssignment), new_rows)
    session.flush()
    changed = sum(by_collector.values())
    if changed:
        audit.record(session, actor, "queue.assigned_by_rules", entity="collection_assignment",
                     details={"rules": [r.as_dict() for r in checked], "assigned": str(changed),
                              "by_collector": {k: str(v) for k, v in sorted(by_collector.items())}})
    return changed


def assign_by_rules(ctx: ServiceContext, rules: Sequence[AssignmentRule | Mapping[str, Any]] | None = None) -> int:
    """Assign the past-due loans to collectors by ``rules`` (default: the saved rules)."""
    permissions.require(ctx.actor, permissions.ASSIGN_QUEUE)
    try:
        with ctx.unit() as session:
            chosen = assignment_rules(session) if rules is None else rules
            return apply_assignment_rules(session, chosen, ctx.actor)
    except StaleDataError:
        raise Conflict("An assignment") from None


def assignment_rules(session: Session) -> list[AssignmentRule]:
    """The saved rules (an empty list when none were saved)."""
    text = get_setting(session, SETTING_ASSIGNMENT_RULES)
    if not text:
        return []
    return _rules(json.loads(text))


def save_assignment_rules(ctx: ServiceContext, rules: Sequence[AssignmentRule | Mapping[str, Any]]) -> list[AssignmentRule]:
    """Keep ``rules`` for :func:`assign_by_rules` (and end of day) to use."""
    permissions.require(ctx.actor, permissions.ASSIGN_QUEUE)
    checked = _rules(rules)
    try:
        with ctx.unit() as session:
            _collectors(session, (name for rule in checked for name in rule.team))
            before = get_setting(session, SETTING_ASSIGNMENT_RULES)
            after = json.dumps([r.as_dict() for r in checked])
            set_setting(session, SETTING_ASSIGNMENT_RULES, after)
            audit.record(session, ctx.actor, "queue.rules_saved", entity="system_setting",
                         entity_id=SETTING_ASSIGNMENT_RULES, details={"before": before, "after": after})
    except StaleDataError:
        raise Conflict("The assignment rules") from None
    return checked


def reassign(ctx: ServiceContext, loan_number: str, collector_username: str | None) -> Assigned:
    """A manager gives a loan to a collector (None or '' takes it from whoever has it)."""
    permissions.require(ctx.actor, permissions.ASSIGN_QUEUE)
    name = search_text(collector_username, "collector", max_len=64).lower() or None
    try:
        with ctx.unit() as session:
            loan = load_loan(session, loan_number)
            collector_id = _collectors(session, [name])[name] if name is not None else None
            row = session.get(CollectionAssignment, loan.id)
            previous = None
            if row is not None and row.collector_id is not None:
                previous = session.scalar(select(User.username).where(User.id == row.collector_id))
            if row is None:
                row = CollectionAssignment(loan_id=loan.id)
                session.add(row)
            row.collector_id = collector_id
            row.rule = "manual"
            row.assigned_by_id = ctx.actor.user_id
            row.assigned_at = _now()
            session.flush()
            audit.record(session, ctx.actor, "queue.reassigned", entity="collection_assignment",
                         entity_id=loan.id, loan_id=loan.id, details={"before": previous, "after": name})
            return Assigned(loan.loan_number, name, previous)
    except StaleDataError:
        raise Conflict("This loan's assignment") from None


# ---------------------------------------------------------------------------
# Regulation F guardrails
# ---------------------------------------------------------------------------
def _party(session: Session, loan: Loan, party: str | None) -> Person | None:
    """The person contacted: the loan's borrower unless ``party`` names another role."""
    role = "borrower" if party is None or not party.strip() else _key(party)
    if role not in PARTY_ROLES:
        raise InvalidInput("party", f"{party!r} is not one of {', '.join(PARTY_ROLES)}")
    person = session.scalars(
        select(Person)
        .join(LoanParty, LoanParty.person_id == Person.id)
        .where(LoanParty.loan_id == loan.id, LoanParty.role == role)
        .order_by(Person.id)
        .limit(1)
    ).first()
    if person is None and party is not None:
        raise InvalidInput("party", f"{loan.loan_number} has no {role.replace('_', '-')}")
    return person


def _guardrails(session: Session, loan: Loan, person: Person | None, channel: str, at: _dt.datetime) -> list[Guardrail]:
    found: list[Guardrail] = []
    who = person.display_name if person is not None else "the borrower"
    if person is not None and person.cease_contact:
        found.append(Guardrail(
            CEASE_CONTACT,
            f"{who} asked us to stop contacting them (12 CFR 1006.6(c)); contact is blocked", True))
    if person is not None and person.attorney_represented:
        found.append(Guardrail(
            ATTORNEY,
            f"{who} is represented by an attorney (12 CFR 1006.6(b)(2)); contact the attorney, not the borrower",
            True))
    if not (loan.reg_f_applies or _regf_for_all_loans(session)):
        return found

    if channel == "call":
        since = at - CALL_WINDOW
        calls = session.execute(
            select(Contact.at, Contact.outcome)
            .where(Contact.loan_id == loan.id, Contact.channel == "call", Contact.at > since, Contact.at <= at,
                   _standing())
            .order_by(Contact.at.desc())
        ).all()
        if len(calls) >= CALL_LIMIT:
            found.append(Guardrail(
                CALL_FREQUENCY,
                f"{len(calls)} call attempts about {loan.loan_number} in the 7 days before this one; another is "
                "presumed harassing (12 CFR 1006.14(b)(2)(i))", False))
        talk = next((when for when, outcome in calls if outcome in CONVERSATION_OUTCOMES), None)
        if talk is not None:
            found.append(Guardrail(
                AFTER_CONVERSATION,
                f"we spoke with the borrower by telephone on {talk:%Y-%m-%d %H:%M} UTC, less than 7 days ago "
                "(12 CFR 1006.14(b)(2)(ii))", False))

    if channel != "letter":
        zone_name = person.time_zone if person is not None else None
        try:
            zone = ZoneInfo(zone_name) if zone_name else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            found.append(Guardrail(
                UNKNOWN_TIME_ZONE,
                f"the borrower's time zone {zone_name!r} is unknown, so the hour cannot be checked "
                "(12 CFR 1006.6(b)(1)(i))", False))
        else:
            local = at.astimezone(zone)
            if local.time() < EARLIEST_HOUR or local.time() > LATEST_HOUR:
                found.append(Guardrail(
                    INCONVENIENT_TIME,
                    f"it is {local:%H:%M} ({zone_name}) for the borrower, outside 8 a.m. to 9 p.m. "
                    "(12 CFR 1006.6(b)(1)(i))", False))
    return found


def check_contact(
    ctx: ServiceContext, loan_number: str, channel: str, at: _dt.datetime | None = None, *, party: str | None = None
) -> list[Guardrail]:
    """The guardrails a contact at ``at`` (default now) would meet; blocking ones first."""
    permissions.require(ctx.actor, permissions.VIEW)
    chosen = _normalize_channel(channel)
    when = _instant(at)
    with ctx.unit(write=False) as session:
        loan = load_loan(session, loan_number)
        rails = _guardrails(session, loan, _party(session, loan, party), chosen, when)
    return sorted(rails, key=lambda g: not g.blocking)


# ---------------------------------------------------------------------------
# The contact log and promises
# ---------------------------------------------------------------------------
def _promise_plan(
    promises: Sequence[tuple[object, object]] | None, outcome: str, today: _dt.date
) -> list[tuple[_dt.date, Decimal]]:
    given = list(promises or [])
    if outcome != "promise_to_pay":
        if given:
            raise InvalidInput("promises", f"only a promise_to_pay contact records promises, not {outcome}")
        return []
    if not given:
        raise InvalidInput("promises", "a promise to pay needs at least one date and amount")
    latest = today + _dt.timedelta(days=MAX_PROMISE_DAYS)
    plan: list[tuple[_dt.date, Decimal]] = []
    for item in given:
        try:
            when, amount = item
        except (TypeError, ValueError):
            raise InvalidInput("promises", f"{item!r} is not a (date, amount) pair") from None
        if isinstance(when, str):
            try:
                when = _dt.date.fromisoformat(when.strip())
            except ValueError:
                raise InvalidInput("promises", f"{when!r} is not a date (YYYY-MM-DD)") from None
        if not isinstance(when, _dt.date) or isinstance(when, _dt.datetime):
            raise InvalidInput("promises", f"{when!r} is not a date")
        if when <= today:
            raise InvalidInput("promises", f"{when} is not after the business date {today}")
        if when > latest:
            raise InvalidInput("promises", f"{when} is more than {MAX_PROMISE_DAYS} days after {today}")
        plan.append((when, money_field(amount, "promises")))
    dates = [d for d, _ in plan]
    if len(set(dates)) != len(dates):
        raise InvalidInput("promises", "two promises on one date; give one amount per date")
    return sorted(plan)


def _promise_info(row: Promise, loan_number: str, created_by: str | None,
                  corrected_by_id: int | None = None) -> PromiseInfo:
    return PromiseInfo(row.id, loan_number, row.contact_id, row.due_date, row.amount, row.status,
                       row.paid_amount, row.settled_on, created_by, row.created_at, row.corrects_id,
                       row.correction_reason, corrected_by_id)


def log_contact(
    ctx: ServiceContext,
    loan_number: str,
    *,
    channel: str,
    outcome: str,
    note: str | None = None,
    at: _dt.datetime | None = None,
    party: str | None = None,
    promises: Sequence[tuple[object, object]] | None = None,
    override_reason: str | None = None,
) -> ContactLogged:
    """Log a contact (append-only), with its promises to pay, after the Regulation F guardrails.

    A blocking guardrail (cease contact, attorney) refuses with InvalidInput;
    a warning refuses with NeedsConfirmation (its ``preview`` is the list of
    guardrails) until an ``override_reason`` is given, which is kept on the
    contact and in the audit trail.
    """
    permissions.require(ctx.actor, permissions.LOG_CONTACT)
    chosen_channel = _normalize_channel(channel)
    chosen_outcome = _normalize_outcome(outcome)
    when = _instant(at)
    if when > _now() + FUTURE_TOLERANCE:
        raise InvalidInput("at", f"{when:%Y-%m-%d %H:%M} UTC is in the future; log a contact once it happened")
    text = text_field(note, "note", max_len=LONG_TEXT, multiline=True)
    reason = text_field(override_reason, "override_reason")

    try:
        with ctx.unit() as session:
            today = business_date(session)
            # The lock serialises two desks logging calls on one loan, so the
            # 7-in-7 count cannot be raced past.
            loan = load_loan(session, loan_number, lock=True)
            plan = _promise_plan(promises, chosen_outcome, today)
            if plan and loan.status not in ("active", "charged_off"):
                raise InvalidInput("promises", f"{loan.loan_number} is {loan.status.replace('_', ' ')}")
            person = _party(session, loan, party)
            rails = _guardrails(session, loan, person, chosen_channel, when)
            blocking = [g for g in rails if g.blocking]
            if blocking:
                raise InvalidInput("loan", blocking[0].message)
            if rails and reason is None:
                raise NeedsConfirmation(
                    "; ".join(g.message for g in rails) + ". Give an override reason to log the contact anyway",
                    tuple(rails),
                )
            contact = Contact(
                loan_id=loan.id,
                person_id=person.id if person is not None else None,
                at=when,
                channel=chosen_channel,
                outcome=chosen_outcome,
                note=text,
                override_reason=reason if rails else None,
                user_id=ctx.actor.user_id,
            )
            session.add(contact)
            session.flush()

            cancelled: list[int] = []
            made: list[Promise] = []
            if plan:
                for old in session.scalars(
                    select(Promise).where(Promise.loan_id == loan.id, Promise.status == "open").order_by(Promise.id)
                ):
                    old.status = "cancelled"
                    old.settled_on = today
                    cancelled.append(old.id)
                for due, amount in plan:
                    row = Promise(loan_id=loan.id, contact_id=contact.id, due_date=due, amount=amount,
                                  status="open", paid_amount=ZERO, created_by_id=ctx.actor.user_id)
                    session.add(row)
                    made.append(row)
                session.flush()

            details: dict[str, Any] = {
                "at": when.isoformat(),
                "channel": chosen_channel,
                "outcome": chosen_outcome,
                "person_id": str(person.id) if person is not None else None,
                "note": text,
                "promises": [{"id": str(p.id), "due_date": p.due_date.isoformat(), "amount": str(p.amount)}
                             for p in made],
                "cancelled_promises": [str(i) for i in cancelled],
            }
            if rails:
                details["override_reason"] = reason
                details["overridden"] = [{"code": g.code, "message": g.message} for g in rails]
            audit.record(session, ctx.actor, "contact.logged", entity="contact", entity_id=contact.id,
                         loan_id=loan.id, details=details)
            if rails:
                # Its own action too, so a compliance review finds every override in one query.
                audit.record(session, ctx.actor, "contact.guardrail_overridden", entity="contact",
                             entity_id=contact.id, loan_id=loan.id,
                             details={"reason": reason, "guardrails": [g.code for g in rails]})
            return ContactLogged(
                contact_id=contact.id,
                loan_number=loan.loan_number,
                at=when,
                channel=chosen_channel,
                outcome=chosen_outcome,
                promises=tuple(_promise_info(p, loan.loan_number, ctx.actor.username) for p in made),
                cancelled_promises=tuple(cancelled),
                overridden=tuple(rails),
                override_reason=reason if rails else None,
            )
    except StaleDataError:
        raise Conflict() from None


def contact_history(ctx: ServiceContext, loan_number: str) -> list[ContactInfo]:
    """A loan's contacts, newest first."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        return contacts_of(session, load_loan(session, loan_number))


def contacts_of(session: Session, loan: Loan) -> list[ContactInfo]:
    """:func:`contact_history` inside the caller's unit of work (the account page): one query."""
    correction = aliased(Contact)
    rows = session.execute(
        select(Contact, Person, User.username, correction.id)
        .outerjoin(Person, Person.id == Contact.person_id)
        .outerjoin(User, User.id == Contact.user_id)
        .outerjoin(correction, correction.corrects_id == Contact.id)
        .where(Contact.loan_id == loan.id)
        .order_by(Contact.at.desc(), Contact.id.desc())
    ).all()
    return [
        ContactInfo(c.id, loan.loan_number, c.at, c.channel, c.outcome,
                    p.display_name if p is not None else None, c.note, c.override_reason, username,
                    c.corrects_id, c.correction_reason, corrected_by)
        for c, p, username, corrected_by in rows
    ]


def promises(ctx: ServiceContext, loan_number: str) -> list[PromiseInfo]:
    """A loan's promises to pay, by due date."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        return promises_of(session, load_loan(session, loan_number))


def promises_of(session: Session, loan: Loan) -> list[PromiseInfo]:
    """:func:`promises` inside the caller's unit of work (the account page): one query."""
    correction = aliased(Promise)
    rows = session.execute(
        select(Promise, User.username, correction.id)
        .outerjoin(User, User.id == Promise.created_by_id)
        .outerjoin(correction, correction.corrects_id == Promise.id)
        .where(Promise.loan_id == loan.id)
        .order_by(Promise.due_date, Promise.id)
    ).all()
    return [_promise_info(p, loan.loan_number, username, corrected_by) for p, username, corrected_by in rows]


# ---------------------------------------------------------------------------
# Corrections (issue 11): a mis-logged contact or promise is never changed; a new row points at it
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ContactCorrected:
    loan_number: str
    corrected_id: int
    contact: ContactInfo
    #: Open promises of the corrected contact that are no longer promises (the outcome is not promise_to_pay).
    withdrawn_promises: tuple[int, ...]


@dataclass(frozen=True)
class PromiseCorrected:
    loan_number: str
    corrected_id: int
    promise: PromiseInfo


def _reason(reason: str | None) -> str:
    text = text_field(reason, "reason")
    if not text:
        raise InvalidInput("reason", "say what was logged wrongly (kept with the correction)")
    return text


def correct_contact(
    ctx: ServiceContext,
    contact_id: int,
    *,
    reason: str,
    channel: str | None = None,
    outcome: str | None = None,
    at: _dt.datetime | None = None,
    note: str | None = None,
) -> ContactCorrected:
    """Correct a mis-logged contact with a new contact that points at it; the original stays as it was.

    What is not given is copied from the original.  The corrected contact no
    longer counts (the queue's last contact, the Regulation F call count); its
    correction does.  A correction cannot make a contact a promise to pay (log
    the promise as a new contact, with its dates and amounts); correcting a
    promise-to-pay contact to another outcome withdraws its open promises
    (status ``corrected``).  A contact already corrected is refused: correct
    its correction.  No guardrail is checked: a correction is not a contact.
    """
    permissions.require(ctx.actor, permissions.LOG_CONTACT)
    why = _reason(reason)
    try:
        with ctx.unit() as session:
            original = session.get(Contact, int(contact_id))
            if original is None:
                raise InvalidInput("contact", f"there is no contact {contact_id}")
            loan = session.get(Loan, original.loan_id)
            assert loan is not None
            load_loan(session, loan.loan_number, lock=True)  # one desk at a time on the loan's contacts
            already = session.scalar(select(Contact.id).where(Contact.corrects_id == original.id))
            if already is not None:
                raise InvalidInput("contact", f"contact {original.id} was already corrected by contact {already}; "
                                              "correct that one")
            new_channel = _normalize_channel(channel) if channel else original.channel
            new_outcome = _normalize_outcome(outcome) if outcome else original.outcome
            if new_outcome == "promise_to_pay" and original.outcome != "promise_to_pay":
                raise InvalidInput("outcome", "a promise to pay is logged as a new contact with its dates and "
                                              "amounts, not by a correction")
            when = _instant(at) if at is not None else original.at
            if when > _now() + FUTURE_TOLERANCE:
                raise InvalidInput("at", f"{when:%Y-%m-%d %H:%M} UTC is in the future")
            text = original.note if note is None else text_field(note, "note", max_len=LONG_TEXT, multiline=True)
            if (new_channel, new_outcome, when, text) == (original.channel, original.outcome, original.at,
                                                          original.note):
                raise InvalidInput("contact", "the correction changes nothing; change the channel, outcome, "
                                              "time or note")
            today = business_date(session)
            row = Contact(loan_id=original.loan_id, person_id=original.person_id, at=when, channel=new_channel,
                          outcome=new_outcome, note=text, override_reason=original.override_reason,
                          user_id=ctx.actor.user_id, corrects_id=original.id, correction_reason=why)
            session.add(row)
            session.flush()
            withdrawn: list[int] = []
            if new_outcome != "promise_to_pay":
                for promise in session.scalars(
                    select(Promise).where(Promise.contact_id == original.id, Promise.status == "open")
                    .order_by(Promise.id)
                ):
                    promise.status = "corrected"
                    promise.settled_on = today
                    withdrawn.append(promise.id)
                session.flush()
            changed = {name: {"from": str(old), "to": str(new)} for name, old, new in (
                ("channel", original.channel, new_channel), ("outcome", original.outcome, new_outcome),
                ("at", original.at.isoformat(), when.isoformat()), ("note", original.note, text)) if old != new}
            audit.record(session, ctx.actor, "contact.corrected", entity="contact", entity_id=row.id,
                         loan_id=loan.id, details={"corrects": str(original.id), "reason": why, "changed": changed,
                                                   "withdrawn_promises": [str(i) for i in withdrawn]})
            person = session.get(Person, row.person_id) if row.person_id else None
            info = ContactInfo(row.id, loan.loan_number, row.at, row.channel, row.outcome,
                               person.display_name if person is not None else None, row.note, row.override_reason,
                               ctx.actor.username, original.id, why, None)
            return ContactCorrected(loan.loan_number, original.id, info, tuple(withdrawn))
    except StaleDataError:
        raise Conflict() from None


def correct_promise(
    ctx: ServiceContext, promise_id: int, *, reason: str, due_date: object | None = None, amount: object | None = None,
) -> PromiseCorrected:
    """Correct a mis-logged open promise: a new promise pointing at it; the original becomes ``corrected``.

    The new promise belongs to the same contact (the same plan) and is checked
    like any promise (after the business date, at most 60 days out, one per
    date in its plan).  A promise end of day already settled is refused: its
    outcome is history.
    """
    permissions.require(ctx.actor, permissions.LOG_CONTACT)
    why = _reason(reason)
    try:
        with ctx.unit() as session:
            original = session.get(Promise, int(promise_id))
            if original is None:
                raise InvalidInput("promise", f"there is no promise {promise_id}")
            loan = session.get(Loan, original.loan_id)
            assert loan is not None
            load_loan(session, loan.loan_number, lock=True)
            if original.status != "open":
                settled = f" on {original.settled_on}" if original.settled_on else ""
                raise InvalidInput("promise", f"promise {original.id} is already {original.status.replace('_', ' ')}"
                                              f"{settled}; only an open promise is corrected")
            today = business_date(session)
            [(due, value)] = _promise_plan([(due_date if due_date is not None else original.due_date,
                                            amount if amount is not None else original.amount)],
                                           "promise_to_pay", today)
            if (due, value) == (original.due_date, original.amount):
                raise InvalidInput("promise", "the correction changes nothing; change the date or the amount")
            if original.contact_id is not None:
                clash = session.scalar(select(Promise.id).where(
                    Promise.contact_id == original.contact_id, Promise.id != original.id,
                    Promise.status == "open", Promise.due_date == due))
                if clash is not None:
                    raise InvalidInput("due_date", f"promise {clash} of the same plan is already due on {due}")
            original.status = "corrected"
            original.settled_on = today
            row = Promise(loan_id=original.loan_id, contact_id=original.contact_id, due_date=due, amount=value,
                          status="open", paid_amount=ZERO, created_by_id=ctx.actor.user_id,
                          corrects_id=original.id, correction_reason=why)
            session.add(row)
            session.flush()
            audit.record(session, ctx.actor, "promise.corrected", entity="promise", entity_id=row.id,
                         loan_id=loan.id, details={
                             "corrects": str(original.id), "reason": why,
                             "from": {"due_date": original.due_date.isoformat(), "amount": str(original.amount)},
                             "to": {"due_date": due.isoformat(), "amount": str(value)}})
            return PromiseCorrected(loan.loan_number, original.id,
                                    _promise_info(row, loan.loan_number, ctx.actor.username))
    except StaleDataError:
        raise Conflict() from None


# ---------------------------------------------------------------------------
# Hardship and dispute
# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------
# Promise settlement (end of day)
# ---------------------------------------------------------------------------
def _local_date(moment: _dt.datetime, zone_name: str | None) -> _dt.date:
    """The date of ``moment`` where the borrower is (UTC when the zone is unknown)."""
    try:
        zone: _dt.tzinfo = ZoneInfo(zone_name) if zone_name else _dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = _dt.UTC
    return moment.astimezone(zone).date()


def settle_promises(session: Session, day: _dt.date) -> PromiseSettlement:
    """Settle the open promises whose due date plus the grace is ``day`` (or earlier).

    Run by end of day, in its transaction, for the day being closed; no
    permission check.  Re-running a day settles nothing twice (only open
    promises are read).

    A promise is kept when the payments count for it cover its amount,
    partly kept when they cover some, broken when none.  The payments that
    count are ``payment`` entries on the loan, not reversed, that are

    * dated (effective) from the day the promise was made through its due
      date plus the grace.  The day it was made is the contact's date in the
      borrower's time zone: the promise row holds no business date, and a
      US evening call is already the next day in UTC, while the payment the
      borrower makes that evening is dated the same lender day;
    * and posted at or after the contact's instant: a payment already on the
      books when the borrower promised (posted that morning) is not a new one.

    A contact's promises are one plan, met oldest first: promise k is covered
    by what was paid beyond the amounts of the plan's earlier promises, so
    150.00 paid against 100.00 + 100.00 keeps the first and half keeps the
    second.  A promise without a contact is dated by its creation.
    """
    grace = _dt.timedelta(days=_promise_grace_days(session))
    cutoff = day - grace
    due = list(session.execute(
        select(Promise, Contact.at, Person.time_zone)
        .outerjoin(Contact, Contact.id == Promise.contact_id)
        .outerjoin(Person, Person.id == Contact.person_id)
        .where(Promise.status == "open", Promise.due_date <= cutoff)
        .order_by(Promise.id)
    ).all())
    if not due:
        return PromiseSettlement(0, 0, 0)

    # Every promise of the plans involved, for the amounts promised before each one.
    plans: dict[int, list[tuple[_dt.date, int, Decimal]]] = {}
    plan_promise = aliased(Promise)
    settling = aliased(Promise)
    for contact_id, due_date, pid, amount in session.execute(
        select(plan_promise.contact_id, plan_promise.due_date, plan_promise.id, plan_promise.amount)
        .where(
            plan_promise.status.not_in(("cancelled", "corrected")),
            plan_promise.contact_id.in_(
                select(settling.contact_id).where(settling.status == "open", settling.due_date <= cutoff)
            ),
        )
    ):
        if contact_id is not None:
            plans.setdefault(contact_id, []).append((due_date, pid, amount))

    # The candidate payments, one row per (promise, payment); the window's dates are checked below.
    payment = aliased(LedgerEntry)
    reversal = aliased(LedgerEntry)
    paid: dict[int, list[tuple[_dt.date, Decimal]]] = {}
    for pid, effective, amount in session.execute(
        select(Promise.id, payment.effective_date, payment.amount)
        .join(payment, payment.loan_id == Promise.loan_id)
        .outerjoin(Contact, Contact.id == Promise.contact_id)
        .where(
            Promise.status == "open",
            Promise.due_date <= cutoff,
            payment.type == "payment",
            payment.effective_date <= day,
            payment.posted_at >= func.coalesce(Contact.at, Promise.created_at),
            ~exists().where(reversal.reverses_id == payment.id),
        )
    ):
        paid.setdefault(pid, []).append((effective, amount))

    counts = {"kept": 0, "partly_kept": 0, "broken": 0}
    for promise, contact_at, zone_name in due:
        start = _local_date(contact_at or promise.created_at, zone_name)
        end = promise.due_date + grace
        total = sum(
            (amount for effective, amount in paid.get(promise.id, []) if start <= effective <= end), ZERO
        )
        earlier = ZERO
        if promise.contact_id is not None:
            earlier = sum(
                (amount for d, pid, amount in plans.get(promise.contact_id, [])
                 if (d, pid) < (promise.due_date, promise.id)),
                ZERO,
            )
        covered = min(max(total - earlier, ZERO), promise.amount)
        status = "kept" if covered >= promise.amount else "partly_kept" if covered > 0 else "broken"
        promise.status = status
        promise.paid_amount = covered
        promise.settled_on = day
        counts[status] += 1
    session.flush()
    return PromiseSettlement(counts["kept"], counts["partly_kept"], counts["broken"])


__all__ = [
    "CHANNELS",
    "OUTCOMES",
    "PAST_DUE_BUCKETS",
    "AssignmentRule",
    "Assigned",
    "ContactCorrected",
    "ContactInfo",
    "ContactLogged",
    "Flags",
    "Guardrail",
    "PromiseCorrected",
    "PromiseInfo",
    "PromiseSettlement",
    "QueueItem",
    "apply_assignment_rules",
    "assign_by_rules",
    "assignment_rules",
    "check_contact",
    "contact_history",
    "correct_contact",
    "correct_promise",
    "log_contact",
    "_normalize_channel",
    "_normalize_outcome",
    "_priority_score",
    "_promise_grace_days",
    "promises",
    "reassign",
    "_regf_for_all_loans",
    "save_assignment_rules",
    "settle_promises",
]
