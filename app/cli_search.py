"""``keel search TEXT``: find loans as the desktop's search box does (name, loan number, phone, SSN last four).

Both call :func:`app.services.search.search_loans`, so the terminal finds what the desk finds;
``%``, ``_`` and ``\\`` are literal characters, and text the search box would refuse (a NUL, a
direction override) is refused here with one line.
"""

from __future__ import annotations

import argparse

from app.cli_support import add_db_user_args, cli_context, print_json, run_service, whole_arg
from app.domain.money import format_money


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("search", help="find loans by borrower name, loan number, phone or SSN last four")
    parser.add_argument("text", help="what to look for, as typed in the desktop's search box")
    parser.add_argument("--limit", type=whole_arg(1, 500), default=50, help="at most N loans (default 50)")
    parser.add_argument("--json", action="store_true", help="print the loans found as JSON")
    add_db_user_args(parser)
    parser.set_defaults(handler=run)


@run_service
def run(args: argparse.Namespace) -> int:
    from app.services.search import search_loans

    ctx = cli_context(args)
    hits = search_loans(ctx, args.text, args.limit)
    if args.json:
        print_json([
            {"loan_number": h.loan_number, "borrower": h.borrower, "phone": h.phone, "tax_id_last4": h.tax_id_last4,
             "city": h.city, "status": h.status, "bucket": h.bucket, "days_past_due": h.days_past_due,
             "principal": h.principal, "amount_due": h.amount_due, "matched": h.matched}
            for h in hits
        ])
        return 0
    for h in hits:
        print(f"{h.loan_number:<12} {h.borrower:<30} {h.city or '':<16} {h.status:<10} {h.days_past_due:>4} dpd  "
              f"due {format_money(h.amount_due):>12}  ({h.matched})")
    print(f"{len(hits)} loan{'s' if len(hits) != 1 else ''} found")
    return 0
