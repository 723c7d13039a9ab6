"""CLI verbs for the servicing actions the desk's Actions menu has (issue 11, item 4).

``keel adjust``, ``keel refund``, ``keel write-off``, ``keel flag`` and
``keel reg-f-policy``.  Each money action prints the service's preview (the
same figures the desktop dialog shows) and asks before it is done; ``--yes``
skips the question for scripts.  Without a terminal to ask on and without
``--yes`` nothing is done.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from app.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from app.cli_support import add_db_user_args

    adjust = sub.add_parser("adjust", help="adjust a loan's principal (negative reduces), with a reason")
    adjust.add_argument("loan")
    adjust.add_argument("amount", help="e.g. -12.34 to reduce, 12.34 to add")
    adjust.add_argument("--reason", required=True)
    adjust.add_argument("--yes", action="store_true", help="do it without asking (after printing the preview)")
    add_db_user_args(adjust)
    adjust.set_defaults(handler=run_adjust)

    refund = sub.add_parser("refund", help="pay back the refund due (money received beyond the payoff)")
    refund.add_argument("loan")
    refund.add_argument("--amount", help="default: the whole refund due")
    refund.add_argument("--method", default="check", help="check, ach, cash, card, money_order")
    refund.add_argument("--reference", help="check number or trace reference")
    refund.add_argument("--yes", action="store_true", help="do it without asking (after printing the preview)")
    add_db_user_args(refund)
    refund.set_defaults(handler=run_refund)

    write_off = sub.add_parser("write-off", help="write off a balance under the product's small-balance threshold")
    write_off.add_argument("loan")
    write_off.add_argument("--reason", default="small balance after payoff")
    write_off.add_argument("--yes", action="store_true", help="do it without asking (after printing the preview)")
    add_db_user_args(write_off)
    write_off.set_defaults(handler=run_write_off)

    flag = sub.add_parser("flag", help="set or clear a loan's hardship, dispute or reg_f flag, dated, with a reason")
    flag.add_argument("loan")
    flag.add_argument("flag", choices=("hardship", "dispute", "reg_f"))
    flag.add_argument("state", choices=("on", "off"))
    flag.add_argument("--reason", required=True)
    flag.add_argument("--date", help="effective date (default: the open business date)")
    flag.add_argument("--form", choices=("written", "oral"), help="dispute: how it was received")
    flag.add_argument("--within-validation", choices=("yes", "no"),
                      help="dispute: did it come inside the validation period")
    flag.add_argument("--basis", help="reg_f: serviced_in_default, bought_in_default, other_name or policy")
    add_db_user_args(flag)
    flag.set_defaults(handler=run_flag)

    policy = sub.add_parser("reg-f-policy", help="apply Regulation F's guardrails to all consumer loans (on/off)")
    policy.add_argument("state", choices=("on", "off", "show"))
    policy.add_argument("--reason")
    add_db_user_args(policy)
    policy.set_defaults(handler=run_reg_f_policy)


def print_preview(preview: Any) -> None:
    """The preview: each figure that changes, before and after (the rows the desktop dialog shows)."""
    print(f"Dated {preview.effective_date}; what changes on {preview.loan_number}:")
    for field, before, after in preview.changes or ():
        print(f"  {field.replace('_', ' ')}: {before if before is not None else '-'} -> "
              f"{after if after is not None else '-'}")
    if not preview.changes:
        print("  no figure changes")


def ask(question: str, yes: bool) -> None:
    """Go on after a yes (or ``--yes``); otherwise stop with nothing done."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} Nothing was done: add --yes to go ahead without being asked")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("Nothing was done")


def previewed(preview_fn: Callable[[], Any], apply_fn: Callable[[], Any], question: str, yes: bool) -> Any:
    from app.cli_loans import _service

    preview = _service(preview_fn)
    print_preview(preview)
    ask(question, yes)
    return _service(apply_fn)


def run_adjust(args: argparse.Namespace) -> int:
    from app.cli_loans import _posted_text
    from app.cli_support import cli_context
    from app.services import servicing

    ctx = cli_context(args)
    posted = previewed(lambda: servicing.preview_adjustment(ctx, args.loan, args.amount),
                       lambda: servicing.adjust_principal(ctx, args.loan, args.amount, reason=args.reason),
                       f"Adjust the principal of {args.loan} by {args.amount}?", args.yes)
    print(_posted_text(posted, "Adjusted with"))
    return 0


def run_refund(args: argparse.Namespace) -> int:
    from app.cli_loans import _posted_text
    from app.cli_support import cli_context
    from app.services import servicing

    ctx = cli_context(args)
    posted = previewed(lambda: servicing.preview_refund(ctx, args.loan, args.amount),
                       lambda: servicing.pay_refund(ctx, args.loan, args.amount, method=args.method,
                                                    reference=args.reference),
                       f"Pay this refund on {args.loan}?", args.yes)
    print(_posted_text(posted, "Refunded with"))
    return 0


def run_write_off(args: argparse.Namespace) -> int:
    from app.cli_loans import _posted_text
    from app.cli_support import cli_context
    from app.services import servicing

    ctx = cli_context(args)
    posted = previewed(lambda: servicing.preview_write_off(ctx, args.loan),
                       lambda: servicing.write_off_small_balance(ctx, args.loan, reason=args.reason),
                       f"Write off the balance of {args.loan}?", args.yes)
    print(_posted_text(posted, "Wrote off with"))
    return 0


def run_flag(args: argparse.Namespace) -> int:
    from app.cli_loans import _service
    from app.cli_support import cli_context, date_arg
    from app.services import flags

    ctx = cli_context(args)
    within = None if args.within_validation is None else args.within_validation == "yes"
    done = _service(flags.set_flag, ctx, args.loan, args.flag, args.state == "on", reason=args.reason,
                    effective_date=date_arg(args.date, "--date"), dispute_form=args.form,
                    within_validation_period=within, reg_f_basis=args.basis)
    state = "set" if done.on else "cleared"
    print(f"{done.flag} {state} on {done.loan_number} from {done.effective_date}"
          + ("" if done.changed else f" (it was already {state}; the change is recorded)"))
    return 0


def run_reg_f_policy(args: argparse.Namespace) -> int:
    from app.cli_loans import _service
    from app.cli_support import cli_context
    from app.services import flags

    ctx = cli_context(args)
    if args.state == "show":
        on = _service(flags.reg_f_policy, ctx)
    else:
        if not args.reason:
            raise CliError("--reason: a reason is required to change the Regulation F policy")
        on = _service(flags.set_reg_f_policy, ctx, args.state == "on", reason=args.reason)
    print("Regulation F guardrails apply to all consumer loans" if on
          else "Regulation F applies only to loans flagged reg_f")
    return 0
