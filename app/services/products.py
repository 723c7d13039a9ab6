"""Loan products: the configurable servicing rules, versioned by effective date.

A product's rules are one JSON document (``ProductVersion.rules``):

* the engine's rules, under the same names and in the same canonical form as
  a loan's terms (:func:`app.domain.terms.terms_to_dict`): ``interest``,
  ``day_count``, ``frequency``, ``amortization``, ``late_fee``, ``tolerance``,
  ``waterfall``, ``excess``, ``partial``, ``payoff_tolerance``, ``waiver_credit``, ``thirty360``.  They are read with the engine's own
  parsers (``parse_choice``, ``parse_late_fee``, ``daycount.normalize``), so a
  rule means the same thing in a product as in a loan;
* servicing thresholds the engine does not use: ``delinquent_days``,
  ``default_days``, ``non_accrual_days``, ``charge_off_days`` (days past due),
  ``small_balance_threshold`` (money) and ``letter_triggers``;
* the statement cycle (issue 13): ``statement_days_before_due`` (a billing
  statement queued that many days before each due date, default 15, 0 for
  none; a mortgage's statements follow Regulation Z 1026.41(b) instead, see
  :mod:`app.domain.statement_cycle`) and ``reminder_days_before_due`` (a
  payment reminder that many days before a due date not yet paid; off unless set).

A loan copies the engine rules into its own ``terms`` when it is boarded
(:func:`engine_terms`), so a new product version changes only loans boarded
on or after its effective date.  For the same reason a new version may not be
dated on or before a day a loan was already boarded under the product: the
version that was in force on a loan's boarding day must stay the one it used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import LETTER_KINDS, Loan, Product, ProductVersion
from app.domain import daycount
from app.domain.errors import InputError
from app.domain.money import ZERO, money_str, to_decimal, to_money
from app.domain.statement_cycle import DEFAULT_STATEMENT_DAYS
from app.domain.terms import (
    AMORTIZATIONS,
    DEFAULT_WATERFALL,
    EXCESS_RULES,
    FREQUENCIES,
    INTEREST_METHODS,
    MAX_PAYOFF_TOLERANCE,
    MAX_PRINCIPAL,
    MAX_RATE,
    PARTIAL_RULES,
    WAIVER_CREDITS,
    THIRTY360_RULES,
    WATERFALL_PARTS,
    LateFeeRule,
    Terms,
    parse_choice,
    parse_date,
    parse_int,
    parse_late_fee,
    terms_from_dict,
    terms_to_dict,
)
from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.errors import FileRejected, InvalidInput, NotFound, Problem
from app.services.fields import text_field
from app.services.json_input import read_json_file

#: A product's description (shown on the products screen).
MAX_DESCRIPTION = 2000

#: Rule names the engine reads; a loan's ``terms`` carries a copy of these.
ENGINE_RULES = ("interest", "day_count", "frequency", "amortization", "late_fee", "tolerance", "waterfall", "excess",
                "partial", "payoff_tolerance", "waiver_credit", "thirty360")
#: Servicing thresholds in days past due, and their defaults.
THRESHOLDS = {"delinquent_days": 1, "default_days": 90, "non_accrual_days": 90, "charge_off_days": 120}
DEFAULT_SMALL_BALANCE = Decimal("5.00")
MAX_DAYS = 3650
#: Non-accrual (issue 9): cash received while on non-accrual is interest income when received ("income")
#: or applied to principal on the books ("cost_recovery"); back on accrual after this many months current.
NON_ACCRUAL_CASH = ("income", "cost_recovery")
DEFAULT_ACCRUAL_AFTER_MONTHS = 6
#: The statement cycle (issue 13): days before a due date for the statement (0: none) and the reminder.
MAX_STATEMENT_DAYS = 60
MAX_REMINDER_DAYS = 30
KNOWN_RULES = frozenset({*ENGINE_RULES, *THRESHOLDS, "small_balance_threshold", "letter_triggers",
                         "non_accrual_cash", "accrual_after_months", "max_principal", "max_rate",
                         "statement_days_before_due", "reminder_days_before_due"})

_CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")


@dataclass(frozen=True, slots=True)
class LetterTrigger:
    """Send ``letter`` when a loan reaches ``days_past_due``."""

    letter: str
    days_past_due: int


DEFAULT_LETTER_TRIGGERS = (LetterTrigger("late-notice", 15), LetterTrigger("default-notice", 30))


@dataclass(frozen=True, slots=True)
class ProductRules:
    """One version of a product's rules, validated."""

    interest: str = "scheduled"
    day_count: str = "30/360"
    frequency: str = "monthly"
    amortization: str = "level"
    late_fee: LateFeeRule | None = None
    tolerance: Decimal = ZERO
    waterfall: tuple[str, ...] = DEFAULT_WATERFALL
    excess: str = "principal"
    partial: str = "apply"
    payoff_tolerance: Decimal = ZERO
    waiver_credit: str = "principal"
    #: 30/360 months (issue 9): ``period`` (each regular period 30 days) for new
    #: products; versions stored before migration 0004 say ``calendar``.
    thirty360: str = "period"
    delinquent_days: int = 1
    default_days: int = 90
    non_accrual_days: int = 90
    charge_off_days: int = 120
    small_balance_threshold: Decimal = DEFAULT_SMALL_BALANCE
    letter_triggers: tuple[LetterTrigger, ...] = field(default=DEFAULT_LETTER_TRIGGERS)
    non_accrual_cash: str = "income"
    accrual_after_months: int = DEFAULT_ACCRUAL_AFTER_MONTHS
    #: The product's limits (issue 12): boarding and terms changes refuse a loan above them.
    #: None: only Keel's own ceilings (terms.MAX_PRINCIPAL, terms.MAX_RATE).
    max_principal: Decimal | None = None
    max_rate: Decimal | None = None
    #: The statement cycle (issue 13): a billing statement this many days before each due date (0: none;
    #: mortgages follow 12 CFR 1026.41(b)), a payment reminder this many before an unpaid one (None: off).
    statement_days_before_due: int = DEFAULT_STATEMENT_DAYS
    reminder_days_before_due: int | None = None

    def engine_dict(self) -> dict[str, Any]:
        """The engine rules in the canonical terms form (what a loan's ``terms`` holds)."""
        return engine_terms(self, _PLACEHOLDER_NOTE)[1]

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON document stored in ``ProductVersion.rules``."""
        out = self.engine_dict()
        out.update(
            {
                "delinquent_days": self.delinquent_days,
                "default_days": self.default_days,
                "non_accrual_days": self.non_accrual_days,
                "charge_off_days": self.charge_off_days,
                "small_balance_threshold": money_str(self.small_balance_threshold),
                "letter_triggers": [
                    {"letter": t.letter, "days_past_due": t.days_past_due} for t in self.letter_triggers
                ],
                "non_accrual_cash": self.non_accrual_cash,
                "accrual_after_months": self.accrual_after_months,
                "statement_days_before_due": self.statement_days_before_due,
            }
        )
        if self.reminder_days_before_due is not None:
            out["reminder_days_before_due"] = self.reminder_days_before_due
        if self.max_principal is not None:
            out["max_principal"] = money_str(self.max_principal)
        if self.max_rate is not None:
            out["max_rate"] = str(self.max_rate)
        return out

    def beyond_limits(self, principal: Decimal | None = None, rate: Decimal | None = None) -> list[tuple[str, str]]:
        """(field, problem) for a principal or rate above this product's maximum."""
        problems = []
        if principal is not None and self.max_principal is not None and principal > self.max_principal:
            problems.append(("principal", f"{money_str(principal)} is above this product's maximum principal of "
                                          f"{money_str(self.max_principal)}"))
        if rate is not None and self.max_rate is not None and rate > self.max_rate:
            problems.append(("rate", f"{rate} % is above this product's maximum rate of {self.max_rate} %"))
        return problems


# A note used only to run the engine's own terms parser over a product's rules.
_PLACEHOLDER_NOTE = {"principal": "1000.00", "rate": "1", "term": 1, "start": "2000-01-01", "first_due": "2000-02-01"}
_NOTE_KEYS = ("principal", "rate", "term", "start", "first_due", "payment")


def engine_terms(rules: ProductRules, note: dict[str, Any]) -> tuple[Terms, dict[str, Any]]:
    """A loan's terms: the note's own figures plus the product's engine rules.

    ``note`` holds ``principal``, ``rate``, ``term``, ``start``, ``first_due``
    and optionally ``payment``.  Returns the parsed :class:`Terms` and, for a
    product's own document, the engine-rule keys of ``terms_to_dict``.  Raises
    :class:`InputError` naming ``terms.<field>``.
    """
    data: dict[str, Any] = {key: note[key] for key in _NOTE_KEYS if note.get(key) is not None}
    data.update(
        {
            "interest": rules.interest,
            "day_count": rules.day_count,
            "frequency": rules.frequency,
            "amortization": rules.amortization,
            "tolerance": money_str(rules.tolerance),
            "waterfall": list(rules.waterfall),
            "excess": rules.excess,
            "partial": rules.partial,
            "payoff_tolerance": money_str(rules.payoff_tolerance),
            "waiver_credit": rules.waiver_credit,
            "thirty360": rules.thirty360,
        }
    )
    if rules.late_fee is not None:
        data["late_fee"] = _late_fee_dict(rules.late_fee)
    terms = terms_from_dict(data)
    canonical = terms_to_dict(terms)
    return terms, {key: canonical[key] for key in ENGINE_RULES if key in canonical}


def _late_fee_dict(rule: LateFeeRule) -> dict[str, Any]:
    out: dict[str, Any] = {"grace_days": rule.grace_days}
    for key, value in (("fixed", rule.fixed), ("percent", rule.percent), ("min", rule.minimum), ("max", rule.maximum)):
        if value is not None:
            out[key] = str(value)
    return out


# ---------------------------------------------------------------- reading rules


def check_rules(data: object, prefix: str = "rules") -> tuple[ProductRules | None, list[tuple[str, str]]]:
    """Validate a rules document; return the rules (or None) and every problem as (field, reason).

    Every field is checked, so one pass reports all the problems in a document.
    """
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        return None, [(prefix, "must be an object")]
    for key in data:
        if key not in KNOWN_RULES:
            problems.append((f"{prefix}.{key}", "unknown rule"))
    values: dict[str, Any] = {}

    def attempt(name: str, read: Any) -> None:
        if data.get(name) is None:
            return
        try:
            values[name] = read(data[name], f"{prefix}.{name}")
        except InputError as exc:
            problems.append((exc.field, exc.problem))
        except ValueError:
            # terms.parse_int lets int() raise on text such as "--5".
            problems.append((f"{prefix}.{name}", f"{data[name]!r} is not valid here"))

    attempt("interest", lambda v, f: parse_choice(v, f, INTEREST_METHODS))
    attempt("frequency", lambda v, f: parse_choice(v, f, FREQUENCIES))
    attempt("amortization", lambda v, f: parse_choice(v, f, AMORTIZATIONS))
    attempt("excess", lambda v, f: parse_choice(v, f, EXCESS_RULES))
    attempt("partial", lambda v, f: parse_choice(v, f, PARTIAL_RULES))
    attempt("thirty360", lambda v, f: parse_choice(v, f, THIRTY360_RULES))
    attempt("day_count", _read_day_count)
    attempt("late_fee", parse_late_fee)
    attempt("tolerance", lambda v, f: _non_negative_money(v, f))
    attempt("payoff_tolerance", _read_payoff_tolerance)
    attempt("waiver_credit", lambda v, f: parse_choice(v, f, WAIVER_CREDITS))
    attempt("waterfall", _read_waterfall)
    attempt("small_balance_threshold", lambda v, f: _non_negative_money(v, f))
    for name in THRESHOLDS:
        attempt(name, _read_days)
    attempt("letter_triggers", _read_letter_triggers)
    attempt("non_accrual_cash", lambda v, f: parse_choice(v, f, NON_ACCRUAL_CASH))
    attempt("accrual_after_months", _read_months)
    attempt("max_principal", _read_max_principal)
    attempt("max_rate", _read_max_rate)
    attempt("statement_days_before_due", lambda v, f: _read_days_before(v, f, 0, MAX_STATEMENT_DAYS))
    attempt("reminder_days_before_due", lambda v, f: _read_days_before(v, f, 1, MAX_REMINDER_DAYS))
    days = {name: values.get(name, default) for name, default in THRESHOLDS.items()}
    if days["default_days"] < days["delinquent_days"]:
        problems.append((f"{prefix}.default_days", f"{days['default_days']} is before delinquent_days "
                                                    f"{days['delinquent_days']}"))
    if days["charge_off_days"] < days["default_days"]:
        problems.append((f"{prefix}.charge_off_days", f"{days['charge_off_days']} is before default_days "
                                                       f"{days['default_days']}"))
    if days["charge_off_days"] < days["non_accrual_days"]:
        problems.append((f"{prefix}.non_accrual_days", f"{days['non_accrual_days']} is after charge_off_days "
                                                        f"{days['charge_off_days']}"))
    if problems:
        return None, problems
    rules = ProductRules(**values)
    # The engine's own parser has the last word on the engine rules together.
    try:
        engine_terms(rules, _PLACEHOLDER_NOTE)
    except InputError as exc:
        return None, [(exc.field.replace("terms.", f"{prefix}.", 1), exc.problem)]
    return rules, []


def _parse_rules(data: object, prefix: str = "rules") -> ProductRules:
    """Validated rules, or :class:`InvalidInput` naming the first bad field (and how many more)."""
    rules, problems = check_rules(data, prefix)
    if rules is None:
        field_name, reason = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidInput(field_name, reason + more)
    return rules


def rules_or_defaults(document: dict[str, Any] | None) -> ProductRules:
    """A version's stored rules document read one way; Keel's defaults for anything it lacks."""
    try:
        return _parse_rules(document or {})
    except (InputError, InvalidInput):
        return ProductRules()


def rules_of(version: ProductVersion) -> ProductRules:
    """The stored rules of a product version (stored documents were validated when written)."""
    return _parse_rules(version.rules)


def _read_day_count(value: object, field_name: str) -> str:
    normal = daycount.normalize(value) if isinstance(value, str) else None
    if normal is None:
        raise InputError(field_name, f"{value!r} is not one of {', '.join(daycount.DAY_COUNTS)}")
    return normal


def _read_payoff_tolerance(value: object, field_name: str) -> Decimal:
    amount = _non_negative_money(value, field_name)
    if amount > MAX_PAYOFF_TOLERANCE:
        raise InputError(field_name, f"{amount} is more than {MAX_PAYOFF_TOLERANCE}: it is for pennies of rounding")
    return amount


def _non_negative_money(value: object, field_name: str) -> Decimal:
    amount = to_money(value, field_name)
    if amount < 0:
        raise InputError(field_name, "must not be negative")
    return amount


def _read_waterfall(value: object, field_name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InputError(field_name, 'must be a list such as ["interest", "principal", "fees"]')
    parts = tuple(parse_choice(part, field_name, WATERFALL_PARTS) for part in value)
    if sorted(parts) != sorted(WATERFALL_PARTS):
        raise InputError(field_name, "must name interest, principal and fees once each")
    return parts


def _read_days(value: object, field_name: str) -> int:
    days = parse_int(value, field_name)
    if not 1 <= days <= MAX_DAYS:
        raise InputError(field_name, f"{days} is outside 1 to {MAX_DAYS} days")
    return days


def _read_max_principal(value: object, field_name: str) -> Decimal:
    amount = to_money(value, field_name)
    if not ZERO < amount <= MAX_PRINCIPAL:
        raise InputError(field_name, f"{money_str(amount)} is outside 0.01 to {money_str(MAX_PRINCIPAL)}")
    return amount


def _read_max_rate(value: object, field_name: str) -> Decimal:
    rate = to_decimal(value, field_name)
    if not ZERO <= rate <= MAX_RATE:
        raise InputError(field_name, f"{rate} is outside 0 to {MAX_RATE} percent")
    return rate


def _read_days_before(value: object, field_name: str, low: int, high: int) -> int:
    days = parse_int(value, field_name)
    if not low <= days <= high:
        raise InputError(field_name, f"{days} is outside {low} to {high} days before the due date")
    return days


def _read_months(value: object, field_name: str) -> int:
    months = parse_int(value, field_name)
    if not 1 <= months <= 120:
        raise InputError(field_name, f"{months} is outside 1 to 120 months")
    return months


def _read_letter_triggers(value: object, field_name: str) -> tuple[LetterTrigger, ...]:
    if not isinstance(value, list):
        raise InputError(field_name, 'must be a list such as [{"letter": "late-notice", "days_past_due": 15}]')
    triggers: list[LetterTrigger] = []
    for index, item in enumerate(value):
        where = f"{field_name}[{index}]"
        if not isinstance(item, dict):
            raise InputError(where, "must be an object with letter and days_past_due")
        for key in item:
            if key not in ("letter", "days_past_due"):
                raise InputError(f"{where}.{key}", "unknown field")
        letter = item.get("letter")
        if not isinstance(letter, str) or letter.strip() not in LETTER_KINDS:
            raise InputError(f"{where}.letter", f"{letter!r} is not one of {', '.join(LETTER_KINDS)}")
        if item.get("days_past_due") is None:
            raise InputError(f"{where}.days_past_due", "is required")
        trigger = LetterTrigger(letter.strip(), _read_days(item["days_past_due"], f"{where}.days_past_due"))
        if trigger in triggers:
            raise InputError(where, f"{trigger.letter} at {trigger.days_past_due} days is listed twice")
        triggers.append(trigger)
    return tuple(triggers)


def _normalize_code(code: object) -> str:
    text = code.strip().upper() if isinstance(code, str) else ""
    if not _CODE_RE.fullmatch(text):
        shown = repr(code) if len(repr(code)) <= 42 else repr(code)[:39] + "..."
        raise InvalidInput("code", f"{shown} is not a product code (letters, digits, - or _, up to 32)")
    return text


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class ProductVersionInfo:
    effective_date: date
    rules: ProductRules


@dataclass(frozen=True)
class ProductInfo:
    code: str
    name: str
    description: str | None
    active: bool
    versions: tuple[ProductVersionInfo, ...]

    def rules_on(self, day: date) -> ProductRules | None:
        """The rules in force on ``day`` (None before the first version)."""
        current = None
        for version in self.versions:
            if version.effective_date <= day:
                current = version.rules
        return current


def _info(product: Product, session: Session) -> ProductInfo:
    versions = session.scalars(
        select(ProductVersion).where(ProductVersion.product_id == product.id).order_by(ProductVersion.effective_date)
    )
    return ProductInfo(
        product.code,
        product.name,
        product.description,
        product.active,
        tuple(ProductVersionInfo(v.effective_date, rules_of(v)) for v in versions),
    )


# ---------------------------------------------------------------- queries


def _find_product(session: Session, code: str) -> Product | None:
    return session.scalars(select(Product).where(Product.code == code.strip().upper())).one_or_none()


def product_version_on(session: Session, code: str, day: date) -> ProductVersion:
    """The version of product ``code`` in force on ``day``: the latest effective on or before it."""
    product = _find_product(session, code)
    if product is None:
        raise NotFound(f"product: no product with code {code!r}")
    version = session.scalars(
        select(ProductVersion)
        .where(ProductVersion.product_id == product.id, ProductVersion.effective_date <= day)
        .order_by(ProductVersion.effective_date.desc())
        .limit(1)
    ).first()
    if version is None:
        raise InvalidInput("product", f"{product.code} has no version in force on {day}")
    return version


def list_products(ctx: ServiceContext) -> list[ProductInfo]:
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        return [_info(p, session) for p in session.scalars(select(Product).order_by(Product.code))]


# ---------------------------------------------------------------- changes


def _check_new_version_date(session: Session, product: Product, effective: date) -> None:
    latest = session.scalar(
        select(func.max(ProductVersion.effective_date)).where(ProductVersion.product_id == product.id)
    )
    if latest is not None and effective <= latest:
        raise InvalidInput("effective_date", f"{effective} is not after {product.code}'s latest version ({latest})")
    boarded = session.scalar(
        select(func.max(Loan.boarded_on))
        .join(ProductVersion, Loan.product_version_id == ProductVersion.id)
        .where(ProductVersion.product_id == product.id)
    )
    if boarded is not None and effective <= boarded:
        raise InvalidInput(
            "effective_date",
            f"{effective} is not after {boarded}, when a loan was boarded under {product.code}; "
            "a new version applies to loans boarded after it",
        )


def _create(session: Session, ctx: ServiceContext, code: str, name: str, rules: ProductRules, effective: date,
            description: str | None) -> Product:
    if _find_product(session, code) is not None:
        raise InvalidInput("code", f"a product with code {code} already exists")
    product = Product(code=code, name=name, description=description)
    version = ProductVersion(product=product, effective_date=effective, rules=rules.to_dict(),
                             created_by_id=ctx.actor.user_id)
    session.add_all([product, version])
    session.flush()
    audit.record(session, ctx.actor, "product.created", entity="product", entity_id=product.code,
                 details={"name": name, "effective_date": effective.isoformat(), "rules": rules.to_dict()})
    return product


def _add_version(session: Session, ctx: ServiceContext, product: Product, rules: ProductRules, effective: date) -> None:
    _check_new_version_date(session, product, effective)
    session.add(ProductVersion(product_id=product.id, effective_date=effective, rules=rules.to_dict(),
                               created_by_id=ctx.actor.user_id))
    session.flush()
    audit.record(session, ctx.actor, "product.version_added", entity="product", entity_id=product.code,
                 details={"effective_date": effective.isoformat(), "rules": rules.to_dict()})


def _inputs(name: object, effective_date: object) -> tuple[str, date]:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name", "a product name is required")
    text_field(name, "name", max_len=200)
    try:
        return name.strip(), parse_date(effective_date, "effective_date")
    except InputError as exc:
        raise InvalidInput(exc.field, exc.problem) from None


def create_product(
    ctx: ServiceContext, code: str, name: str, rules: dict[str, Any], effective_date: date | str, *,
    description: str | None = None,
) -> ProductInfo:
    """A new product with its first version of rules."""
    permissions.require(ctx.actor, permissions.MANAGE_PRODUCTS)
    chosen = _normalize_code(code)
    label, effective = _inputs(name, effective_date)
    description = text_field(description, "description", max_len=MAX_DESCRIPTION, multiline=True)
    parsed = _parse_rules(rules)
    try:
        with ctx.unit() as session:
            product = _create(session, ctx, chosen, label, parsed, effective, description)
            return _info(product, session)
    except IntegrityError:
        raise InvalidInput("code", f"a product with code {chosen} already exists") from None


def add_product_version(ctx: ServiceContext, code: str, rules: dict[str, Any], effective_date: date | str) -> ProductInfo:
    """New rules for an existing product from ``effective_date``; loans already boarded keep theirs."""
    permissions.require(ctx.actor, permissions.MANAGE_PRODUCTS)
    chosen = _normalize_code(code)
    try:
        effective = parse_date(effective_date, "effective_date")
    except InputError as exc:
        raise InvalidInput(exc.field, exc.problem) from None
    parsed = _parse_rules(rules)
    try:
        with ctx.unit() as session:
            product = _find_product(session, chosen)
            if product is None:
                raise NotFound(f"product: no product with code {chosen!r}")
            _add_version(session, ctx, product, parsed, effective)
            return _info(product, session)
    except IntegrityError:
        raise InvalidInput("effective_date", f"{chosen} already has a version effective {effective}") from None


# ---------------------------------------------------------------- products file


@dataclass(frozen=True)
class ProductsLoaded:
    created: tuple[str, ...]
    versions_added: tuple[tuple[str, date], ...]
    unchanged: tuple[tuple[str, date], ...]


_ENTRY_FIELDS = {"code", "name", "description", "effective_date", "rules"}


def _read_products_file(path: str | Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The product entries of a products JSON file, and any problems reading it.

    The file is ``{"products": [entry, ...]}``, a bare list of entries, or one
    entry; an entry is ``{"code", "name", "description"?, "effective_date",
    "rules"}``.  Numbers are read as Decimal, never float.
    """
    name = Path(path).name
    try:
        data = read_json_file(path, "file")
    except InvalidInput as exc:
        return [], [Problem(name, None, exc.field, exc.problem)]
    if isinstance(data, dict) and "products" in data:
        entries = data["products"]
    elif isinstance(data, dict):
        entries = [data]
    else:
        entries = data
    if not isinstance(entries, list) or not entries:
        return [], [Problem(name, None, "products", "must be a non-empty list of products")]
    return entries, []


def load_products_file(ctx: ServiceContext, path: str | Path) -> ProductsLoaded:
    """Create products (or add versions) from a JSON file, all or nothing.

    Every entry is checked first and every problem reported (``FileRejected``,
    row = the entry's position from 1).  Loading the same file again changes
    nothing: an entry whose product already has a version on that date with
    the same rules is unchanged; different rules on an existing date are a
    problem.  A later effective date adds a version.
    """
    permissions.require(ctx.actor, permissions.MANAGE_PRODUCTS)
    file_name = Path(path).name
    entries, problems = _read_products_file(path)
    if problems:
        raise FileRejected(problems)
    parsed: list[tuple[int, str, str, str | None, date, ProductRules]] = []
    for row, entry in enumerate(entries, start=1):
        def bad(field_name: str, reason: str, row: int = row) -> None:
            problems.append(Problem(file_name, row, field_name, reason))

        if not isinstance(entry, dict):
            bad("product", "must be an object")
            continue
        for key in entry:
            if key not in _ENTRY_FIELDS:
                bad(key, "unknown field")
        code = name = None
        effective = None
        try:
            code = _normalize_code(entry.get("code"))
        except InvalidInput as exc:
            bad(exc.field, exc.problem)
        try:
            name, effective = _inputs(entry.get("name"), entry.get("effective_date"))
        except InvalidInput as exc:
            bad(exc.field, exc.problem)
        rules, rule_problems = check_rules(entry.get("rules"), "rules")
        for field_name, reason in rule_problems:
            bad(field_name, reason)
        description = entry.get("description")
        try:
            description = text_field(description, "description", max_len=MAX_DESCRIPTION, multiline=True)
        except InvalidInput as exc:
            bad(exc.field, exc.problem)
            description = None
        if code and name and effective and rules is not None:
            parsed.append((row, code, name, description, effective, rules))
    seen: set[tuple[str, date]] = set()
    for row, code, _, _, effective, _ in parsed:
        if (code, effective) in seen:
            problems.append(Problem(file_name, row, "effective_date", f"{code} effective {effective} is listed twice"))
        seen.add((code, effective))
    if problems:
        raise FileRejected(problems)
    created: list[str] = []
    added: list[tuple[str, date]] = []
    unchanged: list[tuple[str, date]] = []
    with ctx.unit() as session:
        for row, code, name, description, effective, rules in sorted(parsed, key=lambda p: (p[1], p[4])):
            product = _find_product(session, code)
            try:
                if product is None:
                    _create(session, ctx, code, name, rules, effective, description)
                    created.append(code)
                    continue
                existing = session.scalars(
                    select(ProductVersion).where(ProductVersion.product_id == product.id,
                                                 ProductVersion.effective_date == effective)
                ).one_or_none()
                if existing is not None:
                    if rules_of(existing) == rules:
                        unchanged.append((code, effective))
                    else:
                        problems.append(Problem(file_name, row, "rules",
                                                f"{code} already has different rules effective {effective}"))
                    continue
                _add_version(session, ctx, product, rules, effective)
                added.append((code, effective))
            except InvalidInput as exc:
                problems.append(Problem(file_name, row, exc.field, exc.problem))
        if problems:
            # Raised inside the unit of work, so whatever was added rolls back.
            raise FileRejected(problems)
    return ProductsLoaded(tuple(created), tuple(added), tuple(unchanged))
