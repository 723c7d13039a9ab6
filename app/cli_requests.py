"""The Reg X / Reg Z worklist from a terminal: ``keel requests``, ``keel request-log``, ``keel request-done``.

``keel requests --json`` prints a list of objects, the earliest next due date
first: ``id``, ``loan_number``, ``borrower``, ``kind``, ``subject``,
``received_on``, ``acknowledge_by``, ``respond_by``, ``acknowledged_on``,
``responded_on`` (ISO dates or null), ``next_step`` (``acknowledge``,
``respond`` or null), ``next_due``, ``overdue`` (true once the open business
date is after ``next_due``), ``description`` and ``response_note``.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli_support import (
    ID_ARG,
    add_db_user_args,
    cli_context,
    date_arg,
    print_json,
    run_service,
)
from app.services import requests

KIND_WORDS = {"notice_of_error": "notice of error", "information_request": "request for information",
              "payoff_request": "payoff statement request"}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    listing = sub.add_parser("requests", help="the Reg X / Reg Z worklist: written requests by next due date")
    listing.add_argument("--open", action="store_true", help="only requests not yet answered")
    listing.add_argument("--loan", metavar="LOAN", help="only this loan's requests")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_db_user_args(listing)
    listing.set_defaults(handler=_requests)

    log = sub.add_parser(
        "request-log",
        help="log a mortgage borrower's written notice of error, information request or payoff request",
        description=(
            "KIND is notice_of_error (12 CFR 1024.35), information_request (1024.36) or payoff_request "
            "(1026.36(c)(3)).  Acknowledge within 5 days and respond within 30 (excluding legal public holidays, "
            "Saturdays and Sundays); --subject payoff_balance makes a notice of error due in 7 days, "
            "--subject owner_identity an information request due in 10; a payoff statement is due in 7 "
            "business days."
        ),
    )
    log.add_argument("loan", metavar="LOAN")
    log.add_argument("kind", metavar="KIND", help=", ".join(requests.KINDS))
    log.add_argument("--subject", help=", ".join(requests.SUBJECTS))
    log.add_argument("--received", metavar="DATE", help="the day it was received (default: the business date)")
    log.add_argument("--description", required=True, metavar="TEXT", help="what the borrower wrote")
    log.add_argument("--json", action="store_true")
    add_db_user_args(log)
    log.set_defaults(handler=_request_log)

    done = sub.add_parser("request-done", help="mark a request acknowledged or responded to")
    done.add_argument("id", type=ID_ARG, metavar="ID", help="the request's id (keel requests)")
    done.add_argument("step", choices=requests.STEPS)
    done.add_argument("--on", metavar="DATE", help="the day it was sent (default: the business date)")
    done.add_argument("--note", metavar="TEXT", help="how it was answered (required for responded)")
    done.add_argument("--json", action="store_true")
    add_db_user_args(done)
    done.set_defaults(handler=_request_done)


def _iso(day: Any) -> str | None:
    return day.isoformat() if day is not None else None


def _json(info: requests.RequestInfo) -> dict[str, Any]:
    return {
        "id": info.id, "loan_number": info.loan_number, "borrower": info.borrower, "kind": info.kind,
        "subject": info.subject, "received_on": _iso(info.received_on), "acknowledge_by": _iso(info.acknowledge_by),
        "respond_by": _iso(info.respond_by), "acknowledged_on": _iso(info.acknowledged_on),
        "responded_on": _iso(info.responded_on), "next_step": info.next_step, "next_due": _iso(info.next_due),
        "overdue": info.overdue, "description": info.description, "response_note": info.response_note,
    }


def _due_words(info: requests.RequestInfo) -> str:
    ack = f"acknowledge by {info.acknowledge_by.isoformat()}, " if info.acknowledge_by else ""
    return f"{ack}respond by {info.respond_by.isoformat()}"


@run_service
def _requests(args: argparse.Namespace) -> int:
    ctx = cli_context(args, reading=True)
    found = requests.requests(ctx, open_only=args.open, loan_number=args.loan)
    if args.json:
        print_json([_json(i) for i in found])
        return 0
    if not found:
        print("No requests." if not args.open else "No open requests.")
        return 0
    rows = [("ID", "NEXT", "DUE", "", "LOAN", "KIND", "RECEIVED", "DESCRIPTION")]
    for i in found:
        step = i.next_step or "answered"
        due = _iso(i.next_due) or _iso(i.responded_on) or "-"
        rows.append((str(i.id), step, due, "OVERDUE" if i.overdue else "", i.loan_number,
                     KIND_WORDS.get(i.kind, i.kind) + (f" ({i.subject.replace('_', ' ')})" if i.subject else ""),
                     i.received_on.isoformat(), i.description[:48]))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(r)).rstrip())
    overdue = sum(1 for i in found if i.overdue)
    print(f"{len(found)} request{'s' if len(found) != 1 else ''}" + (f", {overdue} overdue" if overdue else ""))
    return 0


@run_service
def _request_log(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    info = requests.log_request(ctx, args.loan, args.kind, description=args.description,
                                received_on=date_arg(args.received, "--received"), subject=args.subject)
    if args.json:
        print_json(_json(info))
        return 0
    print(f"Logged request {info.id} on {info.loan_number}: {KIND_WORDS.get(info.kind, info.kind)} received "
          f"{info.received_on.isoformat()}; {_due_words(info)}" + (" (OVERDUE)" if info.overdue else ""))
    return 0


@run_service
def _request_done(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    info = requests.mark_request(ctx, args.id, args.step, on=date_arg(args.on, "--on"), note=args.note)
    if args.json:
        print_json(_json(info))
        return 0
    if args.step == "acknowledged":
        print(f"Request {info.id} on {info.loan_number} acknowledged {_iso(info.acknowledged_on)}; "
              f"respond by {info.respond_by.isoformat()}")
    else:
        print(f"Request {info.id} on {info.loan_number} answered {_iso(info.responded_on)}")
    return 0
