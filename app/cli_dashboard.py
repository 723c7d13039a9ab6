"""The ``dashboard`` command: the desktop dashboard's KPI figures and chart series, in a terminal.

Both call :func:`app.services.dashboard.dashboard`, so the screen and the
terminal cannot disagree.  ``--json`` prints every figure (amounts as exact
decimal strings); without it a short summary.
"""

from __future__ import annotations

import argparse

from app.cli_support import add_db_user_args, cli_context, date_arg, print_json, run_service, whole_arg
from app.domain.money import format_money


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "dashboard",
        help="portfolio KPIs and chart series (the desktop dashboard's figures)",
        description="Outstanding principal, open loans, 30+ delinquency, collections, promise-kept rate and the "
                    "month and bucket series, as the desktop dashboard shows them.",
    )
    add_db_user_args(parser)
    parser.add_argument("--as-of", metavar="DATE", help="YYYY-MM-DD (default: the open business date)")
    parser.add_argument("--months", type=whole_arg(1, 120), default=12, help="months in each series (default 12)")
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    parser.set_defaults(handler=run)


@run_service
def run(args: argparse.Namespace) -> int:
    from app.services import dashboard

    as_of = date_arg(args.as_of, "--as-of")  # the one reader of typed dates
    ctx = cli_context(args, reading=True)
    board = dashboard.dashboard(ctx, as_of, months=args.months)
    if args.json:
        print_json(board)
        return 0
    k = board.kpis
    rate = f"{k.promise_kept_rate} %" if k.promise_kept_rate is not None else "none settled"
    lines = [
        f"As of {k.as_of} (business date {k.business_date})",
        f"Outstanding principal  {format_money(k.outstanding_principal)}",
        f"Open loans             {k.open_loans:,}",
        f"30+ delinquency        {k.delinquency_rate_30} % ({k.delinquent_30_loans:,} loans, "
        f"{format_money(k.delinquent_30_principal)})",
        f"Collected this month   {format_money(k.collected_this_month)} (last month to the same day "
        f"{format_money(k.collected_last_month_to_date)}; all of last month {format_money(k.collected_last_month)})",
        f"Promises kept          {rate}",
        "",
        "Month        principal        payments",
    ]
    for principal, payments in zip(board.principal_by_month, board.payments_by_month):
        lines.append(f"{principal.month:%Y-%m}  {format_money(principal.amount):>16}  "
                     f"{format_money(payments.amount):>14}")
    lines += ["", "Bucket     loans        principal"]
    for bucket in board.delinquency_by_bucket:
        lines.append(f"{bucket.bucket:<8} {bucket.loans:>7,}  {format_money(bucket.principal):>15}")
    print("\n".join(lines))
    return 0
