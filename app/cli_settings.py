"""``keel settings statements``: the lender's exemptions from Regulation Z's periodic statements (issue 13).

``keel settings statements`` shows them with the number of mortgage loans
Keel services; ``--small-servicer own-loans|housing-finance-agency|nonprofit|none``
and ``--coupon-books on|off`` change them (administrators; audited).  The
days before a due date a product's statements and reminders go out are
product rules (``statement_days_before_due``, ``reminder_days_before_due``:
``keel product add``).
"""

from __future__ import annotations

import argparse
import sys

from app.cli import CliError
from app.cli_support import add_db_user_args, cli_context, print_json, run_service


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    settings = sub.add_parser("settings", help="lender settings: the statement cycle's exemptions")
    settings_sub = settings.add_subparsers(dest="settings_command")
    statements = settings_sub.add_parser(
        "statements", help="show or change the small-servicer and coupon-book exemptions (12 CFR 1026.41(e))",
        description="End of day queues a billing statement for every active loan. A lender that qualifies may stop "
                    "its mortgages' periodic statements: --small-servicer (12 CFR 1026.41(e)(4)) or --coupon-books "
                    "(1026.41(e)(3); borrowers more than 45 days late still get their statement).")
    statements.add_argument("--small-servicer", metavar="BASIS",
                            help="own-loans (5,000 or fewer mortgage loans, all owned or originated by you or an "
                                 "affiliate), housing-finance-agency, nonprofit, or none")
    statements.add_argument("--coupon-books", choices=("on", "off"),
                            help="you give fixed-rate mortgage borrowers coupon books instead of statements")
    statements.add_argument("--json", action="store_true")
    add_db_user_args(statements)
    statements.set_defaults(handler=_statements)

    def _help(args: argparse.Namespace) -> int:
        settings.print_help()
        return 2

    settings.set_defaults(handler=_help)


@run_service
def _statements(args: argparse.Namespace) -> int:
    from app.services import statements
    from app.services.statements import SMALL_SERVICER_WORDS, StatementSettings

    changing = args.small_servicer is not None or args.coupon_books is not None
    ctx = cli_context(args, reading=not changing)
    info = statements.statement_settings(ctx)
    if changing:
        current = info.settings
        basis = current.small_servicer if args.small_servicer is None else args.small_servicer
        if isinstance(basis, str) and not basis.strip():
            raise CliError("--small-servicer: give own-loans, housing-finance-agency, nonprofit or none")
        coupons = current.coupon_books if args.coupon_books is None else args.coupon_books == "on"
        info = statements.save_statement_settings(ctx, StatementSettings(basis, coupons))
    settings = info.settings
    if args.json:
        print_json({**settings.as_dict(), "mortgage_loans": info.mortgage_loans, "warnings": list(info.warnings)})
        return 0
    print("Small servicer (12 CFR 1026.41(e)(4)): "
          + (f"yes, {SMALL_SERVICER_WORDS[settings.small_servicer]}" if settings.small_servicer else "no"))
    print("Coupon books (12 CFR 1026.41(e)(3)): " + ("yes" if settings.coupon_books else "no"))
    if settings.small_servicer:
        print("Mortgages get no periodic statements from end of day.")
    elif settings.coupon_books:
        print("Mortgages get no periodic statements from end of day, except borrowers more than 45 days late.")
    else:
        print("Mortgages get a periodic statement after each due date's grace period (12 CFR 1026.41(b)).")
    print(f"Active mortgage loans on Keel: {info.mortgage_loans:,}")
    for warning in info.warnings:
        print(f"keel: warning: {warning}", file=sys.stderr)
    return 0
