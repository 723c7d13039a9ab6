"""CLI: ``keel eod [--through DATE]`` and ``keel charge-off LOAN --reason ...``."""

from __future__ import annotations

import argparse
import sys
import time

from app.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from app.cli_support import add_db_user_args, whole_arg

    eod = sub.add_parser("eod", help="close business days up to a date (default: yesterday)")
    eod.add_argument("--through", help="last day to close, YYYY-MM-DD (default: yesterday)")
    eod.add_argument("--chunk", type=whole_arg(1, 100_000), default=1000, help=argparse.SUPPRESS)
    eod.add_argument("--json", action="store_true")
    add_db_user_args(eod)
    eod.set_defaults(handler=run_eod_command)

    charge = sub.add_parser("charge-off", help="charge a loan off (manager)")
    charge.add_argument("loan")
    charge.add_argument("--reason", required=True)
    add_db_user_args(charge)
    charge.set_defaults(handler=run_charge_off)


class _Meter:
    """Loans done, rate and time left on the terminal."""

    def __init__(self) -> None:
        self.began = time.perf_counter()
        self.label = ""

    def __call__(self, done: int, total: int, label: str) -> None:
        if label != self.label:
            self.label, self.began = label, time.perf_counter()
        elapsed = max(time.perf_counter() - self.began, 1e-6)
        rate = done / elapsed
        left = (total - done) / rate if rate > 0 else 0.0
        line = f"\r{done:,}/{total:,} {label}  {rate:,.0f} loans/s  {left:,.0f} s left   "
        if sys.stderr.isatty():
            print(line, end="", file=sys.stderr, flush=True)
            if done >= total:
                print(file=sys.stderr)


def run_eod_command(args: argparse.Namespace) -> int:
    import json

    from app.cli_support import cli_context
    from app.domain.errors import InputError
    from app.domain.money import format_money
    from app.domain.terms import parse_date
    from app.services.context import CancelToken
    from app.services.eod import run_eod
    from app.services.errors import ServiceError

    try:
        through = parse_date(args.through, "--through") if args.through else None
    except InputError as exc:
        raise CliError(str(exc)) from None
    ctx = cli_context(args)
    cancel = CancelToken()
    try:
        summary = run_eod(ctx, through, progress=_Meter(), cancel=cancel, chunk=args.chunk)
    except KeyboardInterrupt:
        cancel.cancel()
        raise
    except ServiceError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps({
            "business_date": summary.business_date.isoformat(),
            "days": [
                {"closed": d.business_date.isoformat(), "loans": d.loans_processed,
                 "interest_accrued": str(d.interest_accrued), "fees_assessed": str(d.fees_assessed),
                 "late_fees": d.late_fees, "status_changes": d.status_changes, "charge_offs": d.charge_offs,
                 "letters_queued": d.letters_queued, "promises": d.promises,
                 "errors": [{"loan": loan, "message": msg} for loan, msg in d.errors],
                 "seconds": round(d.seconds, 3)}
                for d in summary.days
            ],
            "audit_chain_head": summary.audit_head,
        }, indent=2))
    else:
        loans, entries = summary.rederived
        if loans or entries:
            print(f"Re-derived the book under this Keel's servicing rules first: {entries} adjusting entries on "
                  f"{loans} loans")
        if not summary.days:
            print(f"Nothing to close: the open business date is {summary.business_date}")
        for d in summary.days:
            print(f"Closed {d.business_date}: {d.loans_processed:,} loans in {d.seconds:.1f} s; interest "
                  f"{format_money(d.interest_accrued)}, {d.late_fees} late fees ({format_money(d.fees_assessed)}), "
                  f"{d.status_changes} status changes, {d.charge_offs} charge-offs, {d.letters_queued} letters queued"
                  + (f", promises {d.promises}" if d.promises else ""))
            for loan, message in d.errors:
                print(f"  skipped {loan}: {message}", file=sys.stderr)
        print(f"Open business date: {summary.business_date}")
        print(f"Audit chain head: {summary.audit_head} (keep this report: `keel audit verify` later must reach it)")
    return 0


def run_charge_off(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context
    from app.domain.money import format_money
    from app.services.errors import ServiceError
    from app.services.servicing import charge_off

    ctx = cli_context(args)
    try:
        posted = charge_off(ctx, args.loan, reason=args.reason)
    except ServiceError as exc:
        raise CliError(str(exc)) from None
    a = posted.allocation
    print(f"Charged off {posted.loan_number}: principal {format_money(a.principal)}, interest "
          f"{format_money(a.interest)}, fees {format_money(a.fees)}")
    return 0
