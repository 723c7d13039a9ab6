"""The demo portfolio: a realistic lender's book, built through the services a user calls.

``build_demo`` makes a new database of kind ``demo`` and:

1. creates the users admin, manager, clerk and collector (password ``demo``,
   accepted only on a demo database), the lender's settings and the sample
   products (``resources/samples/products.json``);
2. writes an LOS handoff file of seasoned loans with two to five years of
   payment history each — borrowers who pay early, on time, late, in part,
   with extra principal, or who stopped paying — and boards it with
   :func:`app.services.boarding.board_file` (history loans: Keel replays and
   ties out every one);
3. lives the last ``days`` business days: clerks post the payments that come
   in (:func:`post_payment`), checks bounce and are reversed with an NSF fee,
   collectors log calls and promises, a few borrowers pay off, and end of day
   closes every day (:func:`run_eod`) — so loans move through the buckets,
   late fees and promises behave as the rules say, and some loans are charged
   off at the threshold.

Everything is seeded: the same ``--seed`` builds the same portfolio.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.db.models import Loan, LoanState
from app.db.settings import set_setting
from app.domain.engine import Event, advance, initial_state, snapshot
from app.domain.money import CENT, money_str, round_money
from app.domain.terms import Terms
from app.services import boarding, products, servicing, users
from app.services.accounts import payoff_quote
from app.services.approvals import Approval
from app.services.context import CancelToken, Progress, ServiceContext, no_progress
from app.services.eod import run_eod
from app.services.errors import NeedsApproval, NeedsConfirmation, ServiceError
from app.services.ledger import business_date
from app.services.setup import database_is_empty, initialize_database

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
PRODUCTS_FILE = RESOURCES / "samples" / "products.json"

LENDER = {
    "lender_name": "Harbor Community Lending",
    "lender_address": "120 Water Street, Suite 300\nPortland, ME 04101",
    "lender_phone": "(207) 555-0100",
}

FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
         "Joseph Jessica Thomas Sarah Carlos Maria Aisha Wei Priya Dmitri Fatima Kenji Olga Mateo Amara Lucas "
         "Zofia Andrzej Chloe Noah Grace Omar Leila Samuel Hannah Diego Nora Ethan Ava Isaac Mia").split()
LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
        "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
        "Robinson Walker Young Allen King Wright Scott Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera "
        "Campbell Mitchell Carter Roberts Kowalski Nowak Okafor Patel Chen Kim Haddad Ivanova").split()
STREETS = ("Maple Ave|Oak St|Pine St|Cedar Ln|Elm St|Washington Blvd|Lake Rd|Hill St|Park Ave|Church St|"
           "Main St|Highland Ave|Forest Dr|River Rd|Sunset Blvd|Mill St|Spring St|Union St|Center St").split("|")
CITIES = (
    ("Portland", "ME", "041"), ("Manchester", "NH", "031"), ("Burlington", "VT", "054"), ("Worcester", "MA", "016"),
    ("Providence", "RI", "029"), ("Hartford", "CT", "061"), ("Albany", "NY", "122"), ("Scranton", "PA", "185"),
    ("Columbus", "OH", "432"), ("Richmond", "VA", "232"), ("Raleigh", "NC", "276"), ("Nashville", "TN", "372"),
    ("Madison", "WI", "537"), ("Des Moines", "IA", "503"), ("Omaha", "NE", "681"), ("Denver", "CO", "802"),
)
VEHICLES = (("Toyota", "Camry"), ("Honda", "Civic"), ("Ford", "F-150"), ("Chevrolet", "Equinox"),
            ("Subaru", "Outback"), ("Hyundai", "Elantra"), ("Nissan", "Rogue"), ("Kia", "Sorento"))

#: Borrower behaviour: (share of the book, description).
PROFILES = {
    "steady": 0.44,  # pays on or a day or two before the due date
    "early": 0.12,  # pays a week or more early
    "late": 0.16,  # pays within or just past grace; sometimes a late fee
    "partial": 0.07,  # sometimes pays part, then the rest
    "extra": 0.08,  # adds extra principal now and then
    "struggling": 0.06,  # stopped paying in the last months before boarding
    "defaulter": 0.03,  # stopped long ago: charged off during the demo
    "payoff": 0.04,  # pays the loan off during the demo
}


@dataclass(frozen=True)
class DemoResult:
    url: str
    loans: int
    business_date: date
    seconds: float
    board_seconds: float
    live_seconds: float
    payments_posted: int
    reversals: int
    contacts: int


def _weighted(rng: random.Random, table: dict[str, float]) -> str:
    point, total = rng.random(), 0.0
    for key, weight in table.items():
        total += weight
        if point <= total:
            return key
    return next(reversed(table))


def _money(rng: random.Random, low: int, high: int, step: int = 50) -> Decimal:
    return Decimal(rng.randrange(low // step, high // step + 1) * step).quantize(CENT)


@dataclass
class _Plan:
    record: dict[str, Any]
    terms: Terms
    profile: str
    number: str


def _borrower(rng: random.Random, index: int) -> dict[str, Any]:
    city, state, zip3 = rng.choice(CITIES)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    phone = f"{rng.randrange(201, 990)}-555-{rng.randrange(100, 200):04d}"
    return {
        "first_name": first,
        "last_name": last,
        "address_line1": f"{rng.randrange(10, 9900)} {rng.choice(STREETS)}",
        "city": city,
        "state": state,
        "postal_code": f"{zip3}{rng.randrange(0, 100):02d}",
        "mobile_phone" if rng.random() < 0.7 else "home_phone": phone,
        "email": f"{first.lower()}.{last.lower()}{index}@example.com",
        "date_of_birth": date(rng.randrange(1950, 2002), rng.randrange(1, 13), rng.randrange(1, 29)).isoformat(),
        "tax_id": f"9{rng.randrange(0, 100):02d}-{rng.choice((70, 78, 83, 88, 90, 94, 99))}-{rng.randrange(0, 10000):04d}",
    }


def _note(rng: random.Random, product: str, anchor: date) -> dict[str, Any]:
    if product == "AUTO60":
        term = rng.choice((48, 60, 72)) if rng.random() < 0.3 else 60
        principal, rate = _money(rng, 8000, 42000), Decimal(rng.choice(("5.99", "6.49", "7.49", "8.99", "11.25")))
    elif product == "PERS36":
        term = rng.choice((24, 36))
        principal, rate = _money(rng, 2000, 20000), Decimal(rng.choice(("9.99", "12.00", "14.50", "17.99")))
    else:
        term = 360
        principal, rate = _money(rng, 90000, 480000, 1000), Decimal(rng.choice(("5.875", "6.25", "6.5", "6.875")))
    longest = min(term - 4, 60)  # at least a few installments left on the book
    months_ago = rng.randrange(24 if longest >= 24 else 6, max(longest, 25))
    months_ago = min(months_ago, longest)
    day = rng.choice((1, 5, 10, 15, 20, 25, 28))
    start_month = anchor.year * 12 + anchor.month - 1 - months_ago
    start = date(start_month // 12, start_month % 12 + 1, day)
    first_month = start_month + 1
    first_due = date(first_month // 12, first_month % 12 + 1, day)
    return {"principal": money_str(principal), "rate": str(rate), "term": term, "start": start.isoformat(),
            "first_due": first_due.isoformat()}


def _history(rng: random.Random, terms: Terms, profile: str, anchor: date) -> tuple[list[dict[str, str]], Any]:
    """The payments a borrower of this profile made before ``anchor``, decided with the engine."""
    state = initial_state(terms)
    payments: list[dict[str, str]] = []
    stop = None
    if profile == "struggling":
        stop = anchor - timedelta(days=rng.randrange(20, 150))
    elif profile == "defaulter":
        stop = anchor - timedelta(days=rng.randrange(70, 115))
    last_day = anchor - timedelta(days=1)
    due_days = sorted({d for d in _due_dates(terms, last_day)})
    for due in due_days:
        if stop is not None and due >= stop:
            break
        offset = {"steady": rng.choice((0, 0, 0, -1, -2)), "early": -rng.randrange(5, 12),
                  "late": rng.choice((3, 6, 9, 12, 14, 18, 24)), "partial": rng.choice((0, 2, 5)),
                  "extra": rng.choice((0, -1)), "struggling": rng.choice((0, 4, 9)),
                  "defaulter": rng.choice((0, 7, 15)), "payoff": rng.choice((0, -3))}[profile]
        pay_day = max(due + timedelta(days=offset), state.date + timedelta(days=1), terms.start + timedelta(days=1))
        if pay_day > last_day:
            break
        state, _ = advance(state, terms, [], pay_day - timedelta(days=1))
        snap = snapshot(state, terms, pay_day)
        owed = snap.amount_due if snap.amount_due > 0 else snap.next_payment
        if owed <= 0 or snap.status != "active":
            break
        amounts = [owed]
        if profile == "partial" and rng.random() < 0.35:
            part = round_money(owed * Decimal("0.6"))
            amounts = [part]
            later = pay_day + timedelta(days=rng.randrange(5, 12))
            if later <= last_day:
                amounts.append(owed - part)
        if profile == "extra" and rng.random() < 0.25:
            amounts[0] += _money(rng, 50, 500, 25)
        day = pay_day
        for n, amount in enumerate(amounts):
            if day > last_day:
                break
            state, _ = advance(state, terms, [Event(f"h{len(payments)}", "payment", day, amount)], day)
            payments.append({"date": day.isoformat(), "amount": money_str(amount),
                             "reference": f"{'ACH' if rng.random() < 0.6 else 'CHK'} {rng.randrange(100000, 999999)}"})
            day = day + timedelta(days=rng.randrange(5, 12))
    state, _ = advance(state, terms, [], last_day) if state.date < last_day else (state, [])
    return payments, snapshot(state, terms, anchor)


def _due_dates(terms: Terms, until: date) -> list[date]:
    from app.domain.terms import due_date

    out = []
    for k in range(terms.term):
        day = due_date(terms.frequency, terms.first_due, k)
        if day > until:
            break
        out.append(day)
    return out


def demo_database_url() -> str:
    """The desktop's demo database: ``keel-demo.sqlite3`` in the user's data folder."""
    from app.db.session import data_dir

    return f"sqlite:///{data_dir() / 'keel-demo.sqlite3'}"


def _admin(factory: Any) -> ServiceContext:
    return ServiceContext(factory, users.authenticate(factory, "admin", users.DEMO_PASSWORD))


def build_demo(
    factory: Any,
    *,
    loans: int = 200,
    seed: int = 7,
    days: int = 90,
    today: date | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> DemoResult:
    """Build the demo portfolio into an empty database (see the module's description)."""
    began = time.perf_counter()
    if not database_is_empty(factory):
        raise ServiceError("keel demo builds a new database, and this one already has users; use an empty one")
    rng = random.Random(seed)
    end = today or date.today()
    anchor = end - timedelta(days=days)
    initialize_database(factory, kind="demo", business_date=anchor)
    users.bootstrap_admin(factory, "admin", "Ada Admin", users.DEMO_PASSWORD)
    admin = _admin(factory)
    for name, full, role in (("manager", "Morgan Manager", "manager"), ("clerk", "Casey Clerk", "clerk"),
                             ("collector", "Cole Collector", "collector")):
        users.create_user(admin, name, full, role, users.DEMO_PASSWORD)
    with admin.unit() as session:
        for key, value in LENDER.items():
            set_setting(session, key, value)
    products.load_products_file(admin, PRODUCTS_FILE)
    rules = {}
    with admin.unit(write=False) as session:
        for code in ("AUTO60", "PERS36", "MORT30"):
            rules[code] = products.rules_of(products.product_version_on(session, code, anchor))

    plans: list[_Plan] = []
    records: list[dict[str, Any]] = []
    for index in range(loans):
        if cancel is not None and cancel.cancelled:
            raise ServiceError("The demo build was cancelled")
        product = _weighted(rng, {"AUTO60": 0.5, "PERS36": 0.35, "MORT30": 0.15})
        note = _note(rng, product, anchor)
        terms, _ = products.engine_terms(rules[product], note)
        profile = _weighted(rng, PROFILES)
        history, snap = _history(rng, terms, profile, anchor)
        if snap.status != "active" or snap.next_due is None:
            continue
        number = f"KL-{100001 + index:06d}"
        borrower = _borrower(rng, index)
        record: dict[str, Any] = {
            "los_reference": f"LOS-{anchor.year - 5}-{index + 1:06d}",
            "loan_number": number,
            "product": product,
            "boarding_type": "history",
            **note,
            "borrower": borrower,
            "conversion": {
                "date": anchor.isoformat(),
                "principal": money_str(snap.principal),
                "next_due": snap.next_due.isoformat(),
                **({"paid_through": snap.paid_through.isoformat()} if snap.paid_through else {}),
            },
            "history": history,
        }
        if product == "AUTO60":
            make, model = rng.choice(VEHICLES)
            record["collateral"] = {"kind": "vehicle", "year": rng.randrange(2016, 2026), "make": make,
                                    "model": model, "value": money_str(Decimal(note["principal"]) * Decimal("0.9"))}
        elif product == "MORT30":
            record["collateral"] = {"kind": "real_estate", "address_line1": borrower["address_line1"],
                                    "city": borrower["city"], "state": borrower["state"],
                                    "postal_code": borrower["postal_code"], "description": "Single-family residence",
                                    "value": money_str(round_money(Decimal(note["principal"]) * Decimal("1.35")))}
        if rng.random() < 0.2:
            record["co_borrower"] = {"first_name": rng.choice(FIRST), "last_name": borrower["last_name"]}
        records.append(record)
        plans.append(_Plan(record, terms, profile, number))
        progress(index + 1, loans, "loans prepared")

    board_began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo-boarding.json"
        path.write_text(json.dumps({"loans": records}), encoding="utf-8")
        result = boarding.board_file(admin, path, progress=lambda d, t, label: progress(d, t, "loans boarded"))
    if result.exceptions:
        raise ServiceError(f"demo boarding held {len(result.exceptions)} loans as exceptions: {result.exceptions[0]}")
    board_seconds = time.perf_counter() - board_began

    live_began = time.perf_counter()
    counts = _live(factory, plans, rng, days, progress, cancel)
    _written_requests(factory, random.Random(len(plans) * 7919 + days))  # its own draws: the book is unchanged
    return DemoResult(
        url=str(factory.kw["bind"].url),
        loans=len(plans),
        business_date=end,
        seconds=time.perf_counter() - began,
        board_seconds=board_seconds,
        live_seconds=time.perf_counter() - live_began,
        payments_posted=counts["payments"],
        reversals=counts["reversals"],
        contacts=counts["contacts"],
    )


def _signed_in(factory: Any, name: str) -> ServiceContext:
    return ServiceContext(factory, users.authenticate(factory, name, users.DEMO_PASSWORD))


def _live(factory: Any, plans: list[_Plan], rng: random.Random, days: int, progress: Progress,
          cancel: CancelToken | None) -> dict[str, int]:
    """The last ``days`` business days: payments, bounced checks, calls and promises, end of day."""
    admin, manager = _signed_in(factory, "admin"), _signed_in(factory, "manager")
    clerk, collector = _signed_in(factory, "clerk"), _signed_in(factory, "collector")
    profile = {plan.number: plan.profile for plan in plans}
    payoff_day = {plan.number: rng.randrange(5, max(days, 6)) for plan in plans if plan.profile == "payoff"}
    bounce: dict[date, list[int]] = {}
    counts = {"payments": 0, "reversals": 0, "contacts": 0}
    try:
        from app.services import collections
    except ImportError:  # pragma: no cover - collections ships with Keel
        collections = None  # type: ignore[assignment]
    for step in range(days):
        if cancel is not None and cancel.cancelled:
            raise ServiceError("The demo build was cancelled")
        with clerk.unit(write=False) as session:
            today = business_date(session)
            due = session.execute(
                select(Loan.loan_number, LoanState.next_due, LoanState.days_past_due, LoanState.amount_due,
                       Loan.status)
                .join(LoanState, LoanState.loan_id == Loan.id)
                .where(Loan.status == "active")
            ).all()
        for number, next_due, dpd, amount_due, status in due:
            kind = profile.get(number, "steady")
            if payoff_day.get(number) == step:
                quote = payoff_quote(clerk, number)
                counts["payments"] += _pay(clerk, number, quote.payoff, rng)
                continue
            if next_due is None:
                continue
            pay = False
            if kind in ("steady", "extra", "payoff", "partial") and today == next_due:
                pay = True
            elif kind == "early" and today == next_due - timedelta(days=7):
                pay = True
            elif kind == "late" and dpd == rng.choice((4, 8, 12, 17)):
                pay = True
            elif kind == "struggling" and dpd in (35, 62) and rng.random() < 0.5:
                pay = True
            if not pay:
                continue
            amount = amount_due if amount_due > 0 else None
            if amount is None:
                snap = servicing.preview_payment(clerk, number, "0.01").before
                amount = snap.next_payment
            if kind == "partial" and rng.random() < 0.3:
                amount = round_money(amount * Decimal("0.5"))
            if kind == "extra" and rng.random() < 0.3:
                amount += Decimal("200.00")
            if amount <= 0:
                continue
            entry = _pay(clerk, number, amount, rng, want_entry=True)
            if entry:
                counts["payments"] += 1
                if rng.random() < 0.015:
                    bounce.setdefault(today + timedelta(days=rng.randrange(3, 8)), []).append(entry)
        for entry_id in bounce.pop(today, []):
            try:
                servicing.reverse_payment(manager, entry_id, "nsf", nsf_fee="25.00")
                counts["reversals"] += 1
            except ServiceError:
                pass
        if collections is not None:
            counts["contacts"] += _collect(collector, collections, due, rng, today)
        run_eod(admin, today)
        progress(step + 1, days, "days lived")
    return counts


_REQUESTS = (
    ("notice_of_error", None, "The November payment was applied to the wrong month"),
    ("notice_of_error", "payoff_balance", "The payoff quote leaves out my last payment"),
    ("information_request", None, "Please send the escrow account history for this year"),
    ("information_request", "owner_identity", "Who owns my loan now?"),
    ("payoff_request", None, "Payoff statement good through the end of the month, for a refinance"),
    ("notice_of_error", None, "A late fee was charged although the payment arrived within the grace period"),
)


def _written_requests(factory: Any, rng: random.Random) -> None:
    """A few mortgage borrowers' written requests of the last three weeks, some answered (the Requests view)."""
    try:
        from app.services import requests
    except ImportError:  # pragma: no cover - requests ships with Keel
        return
    from app.db.models import Collateral

    clerk = _signed_in(factory, "clerk")
    with clerk.unit(write=False) as session:
        today = business_date(session)
        mortgages = list(session.scalars(
            select(Loan.loan_number).join(Collateral, Collateral.loan_id == Loan.id)
            .where(Collateral.kind == "real_estate", Loan.status == "active").order_by(Loan.id)))
    for kind, subject, text in _REQUESTS:
        if not mortgages:
            return
        number = mortgages.pop(rng.randrange(len(mortgages)))
        received = today - timedelta(days=rng.randrange(1, 21))
        info = requests.log_request(clerk, number, kind, subject=subject, description=text, received_on=received)
        if info.acknowledge_by is not None and rng.random() < 0.5:
            requests.mark_request(clerk, info.id, "acknowledged", on=min(info.acknowledge_by, today))
        if rng.random() < 0.2:
            requests.mark_request(clerk, info.id, "responded", on=today, note="Answered in writing")


def _pay(ctx: ServiceContext, number: str, amount: Decimal, rng: random.Random, want_entry: bool = False) -> int:
    method = rng.choice(("ach", "ach", "check", "check", "card", "money_order"))
    reference = f"{method.upper()} {rng.randrange(100000, 999999)}"
    options: dict[str, Any] = {}
    for _ in range(3):
        try:
            posted = servicing.post_payment(ctx, number, amount, method=method, reference=reference, **options)
            break
        except NeedsApproval:
            # Above the clerk's limit or the payoff: the manager at the next desk approves, as in an office.
            options["approval"] = Approval("manager", users.DEMO_PASSWORD)
        except NeedsConfirmation:
            options["confirm_duplicate"] = True
    else:  # pragma: no cover - each refusal above is answered once
        raise ServiceError(f"the demo could not post a payment to {number}")
    return posted.entry_id if want_entry else 1


def _collect(ctx: ServiceContext, collections: Any, rows: Sequence[Any], rng: random.Random, today: date) -> int:
    """Collectors work the oldest accounts: calls, messages and promises to pay."""
    done = 0
    for number, next_due, dpd, amount_due, status in rows:
        if dpd not in (16, 33, 47, 65) or rng.random() > 0.6:
            continue
        outcome = rng.choice(("promise_to_pay", "left_message", "no_answer", "promise_to_pay", "contacted"))
        promises = []
        if outcome == "promise_to_pay" and amount_due > 0:
            promises = [(today + timedelta(days=rng.randrange(2, 10)), amount_due)]
        try:
            at = datetime.combine(today, clock(15, rng.randrange(0, 60)), tzinfo=UTC)
            collections.log_contact(ctx, number, channel="call", outcome=outcome, at=at,
                                    note="Spoke with the borrower about the past-due amount."
                                    if outcome in ("promise_to_pay", "contacted") else None,
                                    promises=promises, override_reason="demo data")
            done += 1
        except ServiceError:
            continue
    return done

