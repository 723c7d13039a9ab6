"""CLI commands over the pure engine: ``keel schedule`` and ``keel simulate``.

The JSON shapes are a contract other tools rely on (README, "Engine and CLI"):
amounts are strings with exactly two decimals, rates annual percent, dates
ISO ``YYYY-MM-DD``; numbers in input files are read as Decimal, never float.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.cli import CliError
from app.domain.engine import Entry, Event, Snapshot, replay, snapshot
from app.domain.errors import InputError
from app.domain.money import money_str, to_money, to_rate
from app.domain.schedule import Schedule, build_schedule
from app.domain.terms import Terms, parse_date, parse_int, terms_from_dict


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    schedule = sub.add_parser("schedule", help="print an amortization schedule")
    schedule.add_argument("--principal", required=True)
    schedule.add_argument("--rate", required=True, help="annual percent, e.g. 12 or 6.375")
    schedule.add_argument("--term", required=True, help="number of installments")
    schedule.add_argument("--frequency", default="monthly", help="monthly, semi-monthly, biweekly, weekly")
    schedule.add_argument("--start", help="funding date (default: the first of next month)")
    schedule.add_argument("--first-due", help="first due date (default: one period after start)")
    schedule.add_argument("--day-count", default="30/360", help="30/360, actual/365, actual/360, actual/actual")
    schedule.add_argument("--amortization", default="level", help="level or equal-principal")
    schedule.add_argument("--payment", help="fixed installment (a balloon if too small to amortize)")
    schedule.add_argument("--json", action="store_true", help="print JSON")
    schedule.set_defaults(handler=run_schedule)

    simulate = sub.add_parser("simulate", help="replay a loan's terms and events from a JSON file")
    simulate.add_argument("loan_file", metavar="LOAN.json")
    simulate.add_argument("--as-of", help="date to show the loan at (default: today)")
    simulate.add_argument("--json", action="store_true", help="print JSON")
    simulate.set_defaults(handler=run_simulate)


# ---------------------------------------------------------------- schedule


def _default_start(today: date) -> date:
    return date(today.year + (today.month == 12), today.month % 12 + 1, 1)


def run_schedule(args: argparse.Namespace) -> int:
    from app.domain.terms import due_date

    try:
        start = parse_date(args.start, "--start") if args.start else _default_start(date.today())
        frequency = args.frequency.strip().lower()
        first_due = args.first_due
        if first_due is None:
            if frequency not in ("monthly", "semi-monthly", "biweekly", "weekly"):
                raise InputError("--frequency", f"{args.frequency!r} is not one of monthly, semi-monthly, biweekly, weekly")
            first_due = due_date(frequency, start, 1)
        data: dict[str, Any] = {
            "principal": args.principal,
            "rate": args.rate,
            "term": args.term,
            "frequency": args.frequency,
            "start": start.isoformat(),
            "first_due": first_due if isinstance(first_due, str) else first_due.isoformat(),
            "day_count": args.day_count,
            "amortization": args.amortization,
        }
        if args.payment is not None:
            data["payment"] = args.payment
        terms = terms_from_dict(data, prefix="")
        schedule = build_schedule(terms)
    except InputError as exc:
        raise CliError(_flag_message(exc)) from None
    if args.json:
        print(json.dumps(schedule_json(schedule), indent=2))
    else:
        print(schedule_table(terms, schedule))
    return 0


def _flag_message(exc: InputError) -> str:
    """Name terms fields as the command-line flags they came from."""
    field = exc.field.lstrip(".")
    if field.startswith("-"):
        return str(exc)
    return f"--{field.replace('_', '-')}: {exc.problem}"


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    return {
        "payment": money_str(schedule.payment),
        "total_interest": money_str(schedule.total_interest),
        "total_payments": money_str(schedule.total_payments),
        "rows": [
            {
                "n": row.n,
                "due": row.due.isoformat(),
                "payment": money_str(row.payment),
                "interest": money_str(row.interest),
                "principal": money_str(row.principal),
                "balance": money_str(row.balance),
            }
            for row in schedule.rows
        ],
    }


def schedule_table(terms: Terms, schedule: Schedule) -> str:
    from app.domain.money import format_money

    lines = [
        f"Principal {format_money(terms.principal)} at {terms.rate}% for {terms.term} {terms.frequency} installments "
        f"({terms.day_count}, {terms.amortization})",
        f"Payment {format_money(schedule.payment)}   Total interest {format_money(schedule.total_interest)}   "
        f"Total of payments {format_money(schedule.total_payments)}",
        "",
        f"{'#':>4}  {'Due':<10}  {'Payment':>14}  {'Interest':>14}  {'Principal':>14}  {'Balance':>16}",
    ]
    for row in schedule.rows:
        lines.append(
            f"{row.n:>4}  {row.due.isoformat():<10}  {format_money(row.payment):>14}  "
            f"{format_money(row.interest):>14}  {format_money(row.principal):>14}  {format_money(row.balance):>16}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- simulate

_EVENT_FIELDS = {"id", "type", "date", "amount", "of", "kind", "rate", "payment", "term", "next_due"}


def load_loan_file(path: str) -> tuple[Terms, list[Event]]:
    """Read ``LOAN.json``: ``{"terms": {...}, "events": [...]}``; numbers become Decimal."""
    from app.services.errors import InvalidInput
    from app.services.json_input import MAX_FILE_BYTES, read_json_file

    if not Path(path).exists():
        raise InputError(path, "no such file")
    try:
        data = read_json_file(path, path, max_bytes=MAX_FILE_BYTES)
    except InvalidInput as exc:
        raise InputError(exc.field, exc.problem) from None
    return loan_from_dict(data)


def loan_from_dict(data: object) -> tuple[Terms, list[Event]]:
    if not isinstance(data, dict):
        raise InputError("loan", 'must be an object {"terms": ..., "events": [...]}')
    for key in data:
        if key not in ("terms", "events"):
            raise InputError(key, "unknown field")
    if "terms" not in data:
        raise InputError("terms", "is required")
    terms = terms_from_dict(data["terms"])
    raw_events = data.get("events", [])
    if not isinstance(raw_events, list):
        raise InputError("events", "must be a list")
    return terms, [event_from_dict(raw, index) for index, raw in enumerate(raw_events)]


def event_from_dict(raw: object, index: int) -> Event:
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        raise InputError(where, "must be an object")
    for key in raw:
        if key not in _EVENT_FIELDS:
            raise InputError(f"{where}.{key}", "unknown field")
    for required in ("id", "type", "date"):
        if raw.get(required) is None:
            raise InputError(f"{where}.{required}", "is required")
    if not isinstance(raw["id"], (str, int)) or isinstance(raw["id"], bool):
        raise InputError(f"{where}.id", "must be a string")
    kind = raw.get("type")
    amount = to_money(raw["amount"], f"{where}.amount") if raw.get("amount") is not None else None
    rate = None
    if raw.get("rate") is not None:
        rate = to_rate(raw["rate"], f"{where}.rate")
    payment = to_money(raw["payment"], f"{where}.payment") if raw.get("payment") is not None else None
    if payment is not None and payment <= 0:
        raise InputError(f"{where}.payment", f"{payment} must be more than zero")
    term = parse_int(raw["term"], f"{where}.term") if raw.get("term") is not None else None
    if term is not None and not 1 <= term <= 1200:
        raise InputError(f"{where}.term", f"{term} is outside 1 to 1200 installments")
    next_due = parse_date(raw["next_due"], f"{where}.next_due") if raw.get("next_due") is not None else None
    of = raw.get("of")
    if of is not None and not isinstance(of, (str, int)):
        raise InputError(f"{where}.of", "must be an event id")
    return Event(
        id=str(raw["id"]),
        type=str(kind),
        date=parse_date(raw["date"], f"{where}.date"),
        amount=amount,
        of=str(of) if of is not None else None,
        kind=str(raw["kind"]) if raw.get("kind") is not None else None,
        rate=rate,
        payment=payment,
        term=term,
        next_due=next_due,
    )


def _d(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "type": entry.type,
        "date": entry.date.isoformat(),
        "amount": money_str(entry.amount) if entry.amount is not None else None,
        "fees": money_str(entry.fees),
        "interest": money_str(entry.interest),
        "principal": money_str(entry.principal),
        "suspense": money_str(entry.suspense),
        "refund": money_str(entry.refund),
        "reversed": entry.reversed,
    }


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    return {
        "as_of": snap.as_of.isoformat(),
        "status": snap.status,
        "principal": money_str(snap.principal),
        "accrued_interest": money_str(snap.accrued_interest),
        "fees": money_str(snap.fees),
        "suspense": money_str(snap.suspense),
        "refund_due": money_str(snap.refund_due),
        "paid_through": _d(snap.paid_through),
        "next_due": _d(snap.next_due),
        "amount_due": money_str(snap.amount_due),
        "net_due": money_str(snap.net_due),
        "days_past_due": snap.days_past_due,
        "bucket": snap.bucket,
        "per_diem": money_str(snap.per_diem),
        "payoff": money_str(snap.payoff),
    }


def run_simulate(args: argparse.Namespace) -> int:
    try:
        as_of = parse_date(args.as_of, "--as-of") if args.as_of else date.today()
        terms, events = load_loan_file(args.loan_file)
        if as_of < terms.start:
            raise InputError("--as-of", f"{as_of} is before the loan's start {terms.start}")
        state, entries = replay(terms, events, as_of)
    except InputError as exc:
        raise CliError(str(exc)) from None
    snap = snapshot(state, terms)
    if args.json:
        out = snapshot_json(snap)
        out["entries"] = [entry_json(entry) for entry in entries]
        print(json.dumps(out, indent=2))
    else:
        print(simulate_text(snap, entries))
    return 0


def simulate_text(snap: Snapshot, entries: list[Entry]) -> str:
    from app.domain.money import format_money

    lines = [
        f"As of {snap.as_of}: {snap.status}, {snap.days_past_due} days past due ({snap.bucket})",
        f"  Principal         {format_money(snap.principal):>14}",
        f"  Accrued interest  {format_money(snap.accrued_interest):>14}",
        f"  Fees              {format_money(snap.fees):>14}",
        f"  Suspense          {format_money(snap.suspense):>14}",
        f"  Amount due        {format_money(snap.amount_due):>14}",
        f"  Payoff            {format_money(snap.payoff):>14}   per diem {format_money(snap.per_diem)}",
        f"  Paid through {snap.paid_through or '-'}   next due {snap.next_due or '-'}",
        "",
        f"{'Date':<10}  {'Type':<18}  {'Amount':>12}  {'Interest':>12}  {'Principal':>12}  {'Fees':>10}  {'Suspense':>10}",
    ]
    for entry in entries:
        amount = format_money(entry.amount) if entry.amount is not None else ""
        kind = entry.type + (" (reversed)" if entry.reversed else "")
        lines.append(
            f"{entry.date.isoformat():<10}  {kind:<18}  {amount:>12}  {format_money(entry.interest):>12}  "
            f"{format_money(entry.principal):>12}  {format_money(entry.fees):>10}  {format_money(entry.suspense):>10}"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    from app.cli import main

    sys.exit(main(["simulate", *sys.argv[1:]]))
