"""Collections from a terminal: ``keel queue``, ``keel contact``, ``keel contacts``, ``keel contact-correct``,
``keel assign``.

JSON contract (issue 4, item 3): ``keel queue --json`` prints a list of objects,
highest score first, each with ``loan_number``, ``borrower``, ``phone``,
``days_past_due``, ``bucket``, ``amount_due`` and ``principal`` (strings with
two decimals), ``next_due``, ``score`` (integer), ``collector`` (username or
null), ``product``, ``last_contact`` (ISO instant or null), ``last_outcome``,
``broken_promises``, ``promise_due`` (ISO date or null) and ``flags``
(``hardship``, ``dispute``, ``cease_contact``, ``attorney``, ``reg_f``,
``contact_blocked``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from collections.abc import Sequence
from typing import Any

from app.cli import CliError
from app.cli_support import ID_ARG, add_db_user_args, cli_context, print_json, run_service, whole_arg
from app.domain.money import format_money, money_str
from app.services import collections
from app.services.errors import NeedsConfirmation


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    q = sub.add_parser("queue", help="the collections queue: past-due accounts by priority")
    q.add_argument("--collector", metavar="NAME", help="only this collector's accounts")
    q.add_argument("--bucket", metavar="BUCKET", help="only this bucket: " + ", ".join(collections.PAST_DUE_BUCKETS))
    q.add_argument("--product", metavar="CODE", help="only this product")
    q.add_argument("--all", action="store_true", help="include accounts with a live promise to pay")
    q.add_argument("--limit", type=whole_arg(1, 1_000_000), metavar="N", help="at most N accounts")
    q.add_argument("--json", action="store_true", help="print JSON")
    add_db_user_args(q)
    q.set_defaults(handler=_queue)

    c = sub.add_parser(
        "contact",
        help="log a contact with a borrower (and promises to pay)",
        description=(
            "Log a call, text, email, letter or visit.  Outcomes: "
            + ", ".join(collections.OUTCOMES)
            + " (or promise, message, no-answer, wrong, spoke).  A Regulation F warning refuses the "
            "contact until --override-reason is given."
        ),
    )
    c.add_argument("loan", metavar="LOAN")
    c.add_argument("--outcome", required=True)
    c.add_argument("--channel", default="call", help="call (default), text, email, letter, visit")
    c.add_argument("--promise", action="append", default=[], metavar="DATE:AMOUNT",
                   help="a promised payment, e.g. 2026-12-05:150.00 (repeat for several)")
    c.add_argument("--note")
    c.add_argument("--party", help="borrower (default), co_borrower or guarantor")
    c.add_argument("--at", metavar="WHEN", help="when it happened, ISO with a UTC offset (default: now)")
    c.add_argument("--override-reason", metavar="TEXT", help="log it despite a Regulation F warning, and why")
    c.add_argument("--json", action="store_true")
    add_db_user_args(c)
    c.set_defaults(handler=_contact)

    h = sub.add_parser("contacts", help="a loan's contact history and promises to pay")
    h.add_argument("loan", metavar="LOAN")
    h.add_argument("--json", action="store_true")
    add_db_user_args(h)
    h.set_defaults(handler=_contacts)

    fix = sub.add_parser(
        "contact-correct",
        help="correct a mis-logged contact or promise (a new entry pointing at it; the original is kept)",
        description=(
            "Contact and promise ids are in keel contacts.  Give --contact ID with what was wrong (--channel, "
            "--outcome, --at, --note; the rest is copied), or --promise ID with --due and/or --amount.  "
            "--reason is required and kept with the correction.  The original stays in the history, marked "
            "corrected; correct a correction to correct it again."
        ),
    )
    which = fix.add_mutually_exclusive_group(required=True)
    which.add_argument("--contact", type=ID_ARG, metavar="ID", help="the contact to correct")
    which.add_argument("--promise", type=ID_ARG, metavar="ID", help="the open promise to correct")
    fix.add_argument("--reason", required=True, metavar="TEXT", help="what was logged wrongly")
    fix.add_argument("--channel", help="the right channel (contact)")
    fix.add_argument("--outcome", help="the right outcome (contact)")
    fix.add_argument("--at", metavar="WHEN", help="the right time, ISO with a UTC offset (contact)")
    fix.add_argument("--note", help="the right note (contact); an empty string removes it")
    fix.add_argument("--due", metavar="DATE", help="the right due date (promise)")
    fix.add_argument("--amount", metavar="AMOUNT", help="the right amount (promise)")
    fix.add_argument("--json", action="store_true")
    add_db_user_args(fix)
    fix.set_defaults(handler=_contact_correct)

    a = sub.add_parser("assign", help="give a loan to a collector (managers)")
    a.add_argument("loan", metavar="LOAN")
    a.add_argument("collector", metavar="COLLECTOR", help="username, or 'none' to unassign")
    add_db_user_args(a)
    a.set_defaults(handler=_assign)

    r = sub.add_parser(
        "assign-rules",
        help="assign the past-due loans by rules (managers)",
        description=(
            'FILE is JSON: [{"bucket": "30-59", "product": "AUTO", "team": ["ann", "bob"]}, ...]; '
            "bucket and product are optional, the first matching rule wins, round-robin within the team.  "
            "Without FILE the saved rules are used; --save keeps FILE's rules for next time (and end of day)."
        ),
    )
    r.add_argument("file", metavar="FILE", nargs="?")
    r.add_argument("--save", action="store_true", help="save the rules as the standing rules")
    add_db_user_args(r)
    r.set_defaults(handler=_assign_rules)


# ---------------------------------------------------------------------------
def _queue_json(item: collections.QueueItem) -> dict[str, Any]:
    return {
        "loan_number": item.loan_number,
        "borrower": item.borrower,
        "phone": item.phone,
        "days_past_due": item.days_past_due,
        "bucket": item.bucket,
        "amount_due": money_str(item.amount_due),
        "principal": money_str(item.principal),
        "next_due": item.next_due.isoformat() if item.next_due else None,
        "score": item.score,
        "collector": item.collector,
        "product": item.product,
        "last_contact": item.last_contact.isoformat() if item.last_contact else None,
        "last_outcome": item.last_outcome,
        "broken_promises": item.broken_promises,
        "promise_due": item.promise_due.isoformat() if item.promise_due else None,
        "flags": {
            "hardship": item.flags.hardship,
            "dispute": item.flags.dispute,
            "cease_contact": item.flags.cease_contact,
            "attorney": item.flags.attorney,
            "reg_f": item.flags.reg_f,
            "contact_blocked": item.flags.contact_blocked,
        },
    }


def _table(rows: Sequence[tuple[str, ...]], right: frozenset[int] = frozenset()) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        print("  ".join(cells).rstrip())


def _flag_text(flags: collections.Flags) -> str:
    names = [("CEASE", flags.cease_contact), ("ATTORNEY", flags.attorney), ("hardship", flags.hardship),
             ("dispute", flags.dispute), ("regF", flags.reg_f)]
    return ",".join(name for name, on in names if on)


@run_service
def _queue(args: argparse.Namespace) -> int:
    ctx = cli_context(args, reading=True)
    items = collections.queue(ctx, collector=args.collector, bucket=args.bucket, product=args.product,
                              include_promised=args.all, limit=args.limit)
    if args.json:
        print(json.dumps([_queue_json(i) for i in items], indent=2, ensure_ascii=False))
        return 0
    if not items:
        print("No past-due accounts.")
        return 0
    rows: list[tuple[str, ...]] = [("SCORE", "LOAN", "BORROWER", "DPD", "BUCKET", "DUE", "COLLECTOR", "LAST CONTACT", "PROMISE", "FLAGS")]
    for i in items:
        last = f"{i.last_contact:%Y-%m-%d} {i.last_outcome}" if i.last_contact else "never"
        rows.append((str(i.score), i.loan_number, i.borrower, str(i.days_past_due), i.bucket,
                     format_money(i.amount_due), i.collector or "-", last,
                     i.promise_due.isoformat() if i.promise_due else "-", _flag_text(i.flags)))
    _table(rows, right=frozenset({0, 3, 5}))
    print(f"{len(items)} account{'s' if len(items) != 1 else ''}")
    return 0


def _promise_arg(text: str) -> tuple[str, str]:
    when, sep, amount = text.partition(":")
    if not sep or not when.strip() or not amount.strip():
        raise CliError(f"--promise: {text!r} is not DATE:AMOUNT (e.g. 2026-12-05:150.00)")
    return when.strip(), amount.strip()


def _at_arg(text: str | None) -> _dt.datetime | None:
    if text is None:
        return None
    try:
        value = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--at: {text!r} is not an ISO date and time (e.g. 2026-06-01T14:30:00-05:00)") from None
    if value.tzinfo is None:
        raise CliError("--at: give a UTC offset (e.g. 2026-06-01T14:30:00-05:00 or ...Z)")
    return value


@run_service
def _contact(args: argparse.Namespace) -> int:
    plan = [_promise_arg(p) for p in args.promise]
    at = _at_arg(args.at)
    ctx = cli_context(args)
    try:
        logged = collections.log_contact(
            ctx, args.loan, channel=args.channel, outcome=args.outcome, note=args.note, at=at,
            party=args.party, promises=plan, override_reason=args.override_reason,
        )
    except NeedsConfirmation as exc:
        for rail in exc.preview if isinstance(exc.preview, tuple) else ():
            print(f"  warning [{rail.code}]: {rail.message}", file=sys.stderr)
        raise CliError("a Regulation F guardrail applies; give --override-reason TEXT to log the contact anyway") \
            from None
    if args.json:
        print_json(logged)
        return 0
    print(f"Logged contact {logged.contact_id} on {logged.loan_number}: {logged.channel}, {logged.outcome}, "
          f"{logged.at:%Y-%m-%d %H:%M} UTC")
    for p in logged.promises:
        print(f"  promise {p.id}: {format_money(p.amount)} by {p.due_date.isoformat()}")
    if logged.cancelled_promises:
        print("  replaced open promise(s) " + ", ".join(str(i) for i in logged.cancelled_promises))
    for rail in logged.overridden:
        print(f"  overrode [{rail.code}]: {logged.override_reason}")
    return 0


@run_service
def _contact_correct(args: argparse.Namespace) -> int:
    if args.contact is not None:
        if args.due or args.amount:
            raise CliError("--due and --amount correct a promise; use them with --promise ID")
        at = _at_arg(args.at)
        ctx = cli_context(args)
        fixed = collections.correct_contact(ctx, args.contact, reason=args.reason, channel=args.channel,
                                            outcome=args.outcome, at=at, note=args.note)
        if args.json:
            print_json(fixed)
            return 0
        c = fixed.contact
        print(f"Contact {fixed.corrected_id} on {fixed.loan_number} corrected by contact {c.id}: {c.channel}, "
              f"{c.outcome}, {c.at:%Y-%m-%d %H:%M} UTC")
        if fixed.withdrawn_promises:
            print("  withdrew its open promise(s) " + ", ".join(str(i) for i in fixed.withdrawn_promises))
        return 0
    if args.channel or args.outcome or args.at or args.note is not None:
        raise CliError("--channel, --outcome, --at and --note correct a contact; use them with --contact ID")
    ctx = cli_context(args)
    corrected = collections.correct_promise(ctx, args.promise, reason=args.reason, due_date=args.due,
                                            amount=args.amount)
    if args.json:
        print_json(corrected)
        return 0
    p = corrected.promise
    print(f"Promise {corrected.corrected_id} on {corrected.loan_number} corrected by promise {p.id}: "
          f"{format_money(p.amount)} by {p.due_date.isoformat()}")
    return 0


@run_service
def _contacts(args: argparse.Namespace) -> int:
    ctx = cli_context(args, reading=True)
    history = collections.contact_history(ctx, args.loan)
    promised = collections.promises(ctx, args.loan)
    if args.json:
        print_json({"contacts": history, "promises": promised})
        return 0
    if not history:
        print("No contacts.")
    else:
        rows: list[tuple[str, ...]] = [("ID", "WHEN (UTC)", "CHANNEL", "OUTCOME", "WHO", "BY", "NOTE")]
        for c in history:
            note = (c.note or "") + (f" [override: {c.override_reason}]" if c.override_reason else "")
            if c.corrected_by_id is not None:
                note = f"[CORRECTED by {c.corrected_by_id}] " + note
            if c.corrects_id is not None:
                note += f" [corrects {c.corrects_id}: {c.correction_reason}]"
            rows.append((str(c.id), f"{c.at:%Y-%m-%d %H:%M}", c.channel, c.outcome, c.party or "-", c.user or "-",
                         note.strip()))
        _table(rows)
    if promised:
        print()
        rows = [("ID", "DUE", "AMOUNT", "STATUS", "PAID", "SETTLED")]
        for p in promised:
            status = p.status + (f" by {p.corrected_by_id}" if p.corrected_by_id is not None else "")
            status += f" (corrects {p.corrects_id})" if p.corrects_id is not None else ""
            rows.append((str(p.id), p.due_date.isoformat(), format_money(p.amount), status,
                         format_money(p.paid_amount), p.settled_on.isoformat() if p.settled_on else "-"))
        _table(rows, right=frozenset({2, 4}))
    return 0


@run_service
def _assign(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    name = None if args.collector.strip().lower() in ("none", "-", "") else args.collector
    done = collections.reassign(ctx, args.loan, name)
    print(f"{done.loan_number}: {done.previous or 'unassigned'} -> {done.collector or 'unassigned'}")
    return 0


@run_service
def _assign_rules(args: argparse.Namespace) -> int:
    rules = None
    if args.file is not None:
        from app.services.json_input import read_json_file

        rules = read_json_file(args.file, args.file)
    elif args.save:
        raise CliError("--save needs a FILE of rules")
    ctx = cli_context(args)
    if rules is not None and args.save:
        collections.save_assignment_rules(ctx, rules)
    changed = collections.assign_by_rules(ctx, rules)
    print(f"Assigned {changed} loan{'s' if changed != 1 else ''}")
    return 0
