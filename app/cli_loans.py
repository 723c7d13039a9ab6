"""CLI commands on loans: pay, reverse, account, payoff, verify, batch, batch-drafts, fee, waive.

JSON contracts (issue 3): ``keel account LOAN --json`` prints the same fields as
``keel simulate``; ``keel payoff LOAN --date D --json`` prints
``{"loan_number", "date", "principal", "accrued_interest", "fees", "payoff", "per_diem"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from app.cli_support import ID_ARG, add_approver_arg, add_db_user_args

    pay = sub.add_parser("pay", help="post a payment")
    pay.add_argument("loan")
    pay.add_argument("amount")
    pay.add_argument("--date", help="effective date (default: the open business date)")
    pay.add_argument("--method", default="check", help="check, ach, cash, card, money_order")
    pay.add_argument("--reference", help="check number or trace reference")
    pay.add_argument("--confirm-duplicate", action="store_true", help="post even if it looks like a duplicate")
    pay.add_argument("--confirm-backdated", action="store_true", help="post a back-dated payment after its preview")
    pay.add_argument("--split", help="allocation override, e.g. interest=10.00,principal=90.00 (manager)")
    pay.add_argument("--override-reason", help="reason code for --split: borrower_request, court_order, "
                     "hardship_plan, correction, investor_rule, other")
    pay.add_argument("--json", action="store_true")
    add_approver_arg(pay)
    add_db_user_args(pay)
    pay.set_defaults(handler=run_pay)

    overrides = sub.add_parser("overrides", help="payments posted with an allocation override")
    overrides.add_argument("--from", dest="start", help="first effective date")
    overrides.add_argument("--to", dest="end", help="last effective date")
    overrides.add_argument("--json", action="store_true")
    add_db_user_args(overrides)
    overrides.set_defaults(handler=run_overrides)

    reverse = sub.add_parser("reverse", help="reverse a payment (NSF, posting error)")
    reverse.add_argument("entry", type=ID_ARG, help="the payment's ledger entry id")
    reverse.add_argument("--reason", required=True, help="nsf, posting_error, stop_payment, duplicate, other")
    reverse.add_argument("--fee", help="NSF fee to assess, e.g. 25.00")
    reverse.add_argument("--note", help="the bank's return reason, who asked, ...")
    reverse.add_argument("--yes", action="store_true", help="reverse without asking (after printing the preview)")
    reverse.add_argument("--json", action="store_true")
    add_db_user_args(reverse)
    reverse.set_defaults(handler=run_reverse)

    account = sub.add_parser("account", help="show a loan as of a date")
    account.add_argument("loan")
    account.add_argument("--as-of", help="date (default: the open business date)")
    account.add_argument("--json", action="store_true")
    add_db_user_args(account)
    account.set_defaults(handler=run_account)

    payoff = sub.add_parser("payoff", help="payoff quote good through a date")
    payoff.add_argument("loan")
    payoff.add_argument("--date", help="good-through date (default: the open business date)")
    payoff.add_argument("--json", action="store_true")
    add_db_user_args(payoff)
    payoff.set_defaults(handler=run_payoff)

    verify = sub.add_parser("verify", help="replay every loan; compare the cached state and the booked ledger with it")
    verify.add_argument("--json", action="store_true")
    add_db_user_args(verify)
    verify.set_defaults(handler=run_verify)

    books = sub.add_parser("reconcile-books", help="book the adjusting entries that make every loan's booked "
                           "ledger equal the replay (once, for a database from before the rule)")
    books.add_argument("--json", action="store_true")
    add_db_user_args(books)
    books.set_defaults(handler=run_reconcile_books)

    batch = sub.add_parser("batch", help="post a lockbox file as one balanced deposit")
    batch.add_argument("file")
    batch.add_argument("--control-total", required=True)
    batch.add_argument("--confirm-duplicates", action="store_true")
    batch.add_argument("--confirm-backdated", action="store_true")
    batch.add_argument("--json", action="store_true")
    add_approver_arg(batch)
    add_db_user_args(batch)
    batch.set_defaults(handler=run_batch)

    # Its own verb, not "batch drafts": "batch" takes a lockbox file name as its first argument.
    drafts = sub.add_parser("batch-drafts", help="list (or delete) your unposted batch drafts from the desktop")
    drafts.add_argument("--delete", type=ID_ARG, metavar="ID", help="delete the draft with this number")
    drafts.add_argument("--show", type=ID_ARG, metavar="ID", help="list the rows of the draft with this number, as typed")
    drafts.add_argument("--json", action="store_true")
    add_db_user_args(drafts)
    drafts.set_defaults(handler=run_batch_drafts)

    fee = sub.add_parser("fee", help="assess a fee")
    fee.add_argument("loan")
    fee.add_argument("amount")
    fee.add_argument("--kind", default="other")
    fee.add_argument("--reason")
    add_db_user_args(fee)
    fee.set_defaults(handler=run_fee)

    waive = sub.add_parser("waive", help="waive an outstanding fee (late_fee:N or the fee's entry id)")
    waive.add_argument("loan")
    waive.add_argument("fee")
    waive.add_argument("--amount")
    waive.add_argument("--reason", required=True)
    add_approver_arg(waive)
    add_db_user_args(waive)
    waive.set_defaults(handler=run_waive)


def _service(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a service; a confirmation it needs shows what would change, every error is one line."""
    from app.cli_support import cli_error
    from app.services.errors import NeedsConfirmation, ServiceError

    try:
        return fn(*args, **kwargs)
    except NeedsConfirmation as exc:
        preview = exc.preview
        if preview is not None and getattr(preview, "changes", None):
            for field, before, after in preview.changes:
                print(f"  {field}: {before} -> {after}", file=sys.stderr)
        raise CliError(str(exc)) from None
    except ServiceError as exc:
        raise cli_error(exc) from None


def _print(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2))


def _posted_json(posted: Any) -> dict[str, Any]:
    from app.cli_engine import snapshot_json
    from app.domain.money import money_str

    alloc = posted.allocation
    return {
        "entry_id": posted.entry_id,
        "loan_number": posted.loan_number,
        "allocation": {
            "interest": money_str(alloc.interest),
            "principal": money_str(alloc.principal),
            "fees": money_str(alloc.fees),
            "suspense": money_str(alloc.suspense),
            "refund": money_str(alloc.refund),
        },
        "state": snapshot_json(posted.snapshot),
    }


def _posted_text(posted: Any, verb: str) -> str:
    from app.domain.money import format_money

    a, s = posted.allocation, posted.snapshot
    return (
        f"{verb} entry {posted.entry_id} on {posted.loan_number}: interest {format_money(a.interest)}, "
        f"principal {format_money(a.principal)}, fees {format_money(a.fees)}, suspense {format_money(a.suspense)}"
        + (f", refund {format_money(a.refund)}" if a.refund else "")
        + f"\nNow: principal {format_money(s.principal)}, amount due {format_money(s.amount_due)}, "
        f"{s.days_past_due} days past due ({s.bucket}), next due {s.next_due or '-'}"
    )


def run_pay(args: argparse.Namespace) -> int:
    from app.cli_support import approval_from, cli_context, date_arg
    from app.services.servicing import post_payment

    split = None
    if args.split:
        split = {}
        for item in args.split.split(","):
            part, _, amount = item.partition("=")
            if not amount:
                raise CliError(f"--split: {item!r} is not PART=AMOUNT (e.g. principal=90.00)")
            split[part.strip().lower()] = amount.strip()
    ctx = cli_context(args)
    posted = _service(
        post_payment, ctx, args.loan, args.amount, date_arg(args.date, "--date"), method=args.method,
        reference=args.reference, confirm_duplicate=args.confirm_duplicate, confirm_backdated=args.confirm_backdated,
        split=split, override_reason=args.override_reason, approval=approval_from(args),
    )
    print(json.dumps(_posted_json(posted), indent=2) if args.json else _posted_text(posted, "Posted"))
    return 0


def run_reverse(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context
    from app.services.servicing import reverse_payment

    from app.cli_actions import ask, print_preview
    from app.services.servicing import preview_reversal

    from app.services import permissions

    ctx = cli_context(args)
    _service(permissions.require, ctx.actor, permissions.REVERSE)  # refused before any preview is shown
    # The impact first, then the question (issue 11); --yes for scripts.  With --json the preview goes to
    # stderr so stdout stays one JSON document.
    preview = _service(preview_reversal, ctx, args.entry, args.fee)
    if args.json:
        import contextlib

        with contextlib.redirect_stdout(sys.stderr):
            print_preview(preview)
    else:
        print_preview(preview)
    ask(f"Reverse payment {args.entry}?", args.yes)
    posted = _service(reverse_payment, ctx, args.entry, args.reason, nsf_fee=args.fee, note=args.note)
    if args.json:
        _print(_posted_json(posted))
    else:
        print(_posted_text(posted, "Reversed with"))
    return 0


def run_account(args: argparse.Namespace) -> int:
    """The account page from a terminal: the same one read as the desktop's account view (issue 11)."""
    from app.cli_engine import simulate_text, snapshot_json
    from app.cli_support import cli_context, date_arg
    from app.domain.engine import Entry
    from app.domain.money import format_money, money_str
    from app.services.account_page import account_page

    ctx = cli_context(args, reading=True)
    page = _service(account_page, ctx, args.loan, date_arg(args.as_of, "--as-of"))
    acct = page.account
    last = page.last_payment
    if args.json:
        out = {"loan_number": acct.loan_number, "borrower": acct.borrower, "product": acct.product}
        out.update(snapshot_json(acct.snapshot))
        out["status"] = acct.status
        out["last_payment"] = ({"date": last.effective_date.isoformat(), "amount": money_str(last.amount),
                                "method": last.method} if last is not None else None)
        out["maturity"] = page.maturity.isoformat()
        out["interest_paid"] = {"year": page.year, "year_to_date": money_str(page.interest_paid_ytd),
                                "last_year": money_str(page.interest_paid_last_year)}
        out["collateral"] = [{"kind": c.kind, "title": c.title, "vin": c.vin, "address": c.address,
                              "value": money_str(c.value) if c.value is not None else None} for c in page.collateral]
        out["co_borrowers"] = [{"name": p.name, "role": p.role} for p in page.co_borrowers]
        out["entries"] = [
            {
                "id": line.engine_id,
                "entry_id": line.entry_id,
                "type": line.type,
                "date": line.effective_date.isoformat(),
                "amount": money_str(line.amount) if line.amount is not None else None,
                "fees": money_str(line.fees),
                "interest": money_str(line.interest),
                "principal": money_str(line.principal),
                "suspense": money_str(line.suspense),
                "refund": money_str(line.refund),
                "reversed": line.reversed,
                "method": line.method,
                "reference": line.reference,
                "principal_balance": money_str(line.principal_balance) if line.principal_balance is not None else None,
            }
            for line in acct.lines
        ]
        _print(out)
    else:
        print(f"{acct.loan_number}  {acct.borrower}  ({acct.product}, {acct.status})")
        print(f"  Last payment      {format_money(last.amount)} on {last.effective_date}" if last is not None
              else "  Last payment      none received")
        print(f"  Maturity          {page.maturity}")
        print(f"  Interest paid     {page.year} to date {format_money(page.interest_paid_ytd)}; "
              f"{page.year - 1} {format_money(page.interest_paid_last_year)}")
        for item in page.collateral:
            if item.kind == "vehicle":
                words = item.title + (f", VIN {item.vin}" if item.vin else ", VIN not on file")
            else:
                words = ", ".join(item.address.splitlines()) or item.title
            print(f"  Collateral        {words}")
        for party in page.co_borrowers:
            print(f"  {party.role.replace('_', '-').capitalize():<17} {party.name}")
        entries = [
            Entry(line.engine_id, line.type, line.effective_date, line.amount, line.fees, line.interest,
                  line.principal, line.suspense, line.refund, line.reversed)
            for line in acct.lines
        ]
        print(simulate_text(acct.snapshot, entries))
    return 0


def run_payoff(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context, date_arg
    from app.domain.money import format_money, money_str
    from app.services.accounts import payoff_quote

    ctx = cli_context(args, reading=True)
    quote = _service(payoff_quote, ctx, args.loan, date_arg(args.date, "--date"))
    if args.json:
        _print({
            "loan_number": quote.loan_number,
            "date": quote.date.isoformat(),
            "principal": money_str(quote.principal),
            "accrued_interest": money_str(quote.accrued_interest),
            "fees": money_str(quote.fees),
            # The key set is issue 3's contract; "payoff" is net of suspense (issue 9),
            # which the text form and the payoff letter show as its own line.
            "payoff": money_str(quote.payoff),
            "per_diem": money_str(quote.per_diem),
        })
    else:
        print(
            f"Payoff for {quote.loan_number} good through {quote.date}: {format_money(quote.payoff)}\n"
            f"  principal {format_money(quote.principal)}, interest {format_money(quote.accrued_interest)}, "
            f"fees {format_money(quote.fees)}"
            + (f", less {format_money(quote.suspense)} of unapplied funds held" if quote.suspense else "")
            + f"; add {format_money(quote.per_diem)} a day after that date"
        )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from app.cli_audit import chain_json, chain_lines
    from app.cli_support import cli_context
    from app.services.verify import verify

    ctx = cli_context(args, reading=True)

    def progress(done: int, total: int, label: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{done:,}/{total:,} {label}", end="", file=sys.stderr, flush=True)

    report = _service(verify, ctx, progress=progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        loans: dict[str, list[dict[str, object]]] = {}
        for b in report.book_differences:
            loans.setdefault(b.loan_number, []).append(b.as_dict())
        _print({
            "loans_checked": report.loans_checked,
            "ok": report.ok,
            "storage_problems": report.storage_problems,
            "differences": [
                {"loan_number": d.loan_number, "field": d.field, "cached": d.cached, "derived": d.derived}
                for d in report.differences
            ],
            "book_differences": [b.as_dict() for b in report.book_differences],
            "loans": [{"loan_number": number, "books": figures} for number, figures in sorted(loans.items())],
            "books": {"booked": report.booked.as_dict(), "memo_non_accrual": report.memo_non_accrual.as_dict(),
                      "charged_off_deficiency": report.deficiency.as_dict(), "recovered": str(report.recovered)},
            "audit_chain": chain_json(report.chain),
        })
    else:
        for problem in report.storage_problems:
            print(f"the book's file: {problem}")
        if report.storage_problems:
            print("The book's file is damaged (PRAGMA integrity_check): stop work on it and restore the latest backup")
        for d in report.differences:
            print(f"{d.loan_number}: {d.field} cached {d.cached} but the ledger gives {d.derived}")
        for b in report.book_differences:
            print(f"{b.loan_number}: booked {b.figure} {b.booked} but the replay gives {b.expected} "
                  f"(replayed {b.replayed}, cached {b.cached if b.cached is not None else '-'})")
        print(f"{report.loans_checked:,} loans checked, {len(report.differences)} cache differences, "
              f"{len(report.book_differences)} booked-ledger differences")
        print(f"books: deficiency charged off {report.deficiency.principal + report.deficiency.interest + report.deficiency.fees}"
              f" (principal {report.deficiency.principal}, interest {report.deficiency.interest}, fees "
              f"{report.deficiency.fees}), recovered {report.recovered}; interest off the books on non-accrual "
              f"{report.memo_non_accrual.interest}")
        for line in chain_lines(report.chain):
            print(line)
        if not report.ok:
            from app.domain.engine import RULES_REVISION
            from app.services.books import rules_revision

            stored = rules_revision(ctx)
            if stored != RULES_REVISION:
                print(f"This book was derived under older servicing rules (revision {stored or 'before 9'}; this Keel "
                      f"has {RULES_REVISION}): an admin's 'keel reconcile-books' re-derives it and books the "
                      "differences as dated, explained entries.")
    return 0 if report.ok else 1


def run_reconcile_books(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context
    from app.services.books import reconcile_books

    ctx = cli_context(args)
    loans, entries = _service(reconcile_books, ctx)
    if args.json:
        _print({"loans_adjusted": loans, "entries_booked": entries})
    else:
        print(f"{entries} adjusting entries booked on {loans} loans; every loan's cache re-derived under the "
              "current servicing rules")
    return 0


def run_batch(args: argparse.Namespace) -> int:
    from app.cli_support import approval_from, cli_context
    from app.domain.money import format_money
    from app.services.batches import post_lockbox_file

    ctx = cli_context(args)
    result = _service(post_lockbox_file, ctx, args.file, args.control_total,
                      confirm_duplicates=args.confirm_duplicates, confirm_backdated=args.confirm_backdated,
                      approval=approval_from(args))
    if args.json:
        _print({"batch_id": result.batch_id, "count": result.count, "total": str(result.total),
                "entries": [p.entry_id for p in result.posted]})
    else:
        print(f"Batch {result.batch_id}: {result.count} payments, {format_money(result.total)} posted")
    return 0


def _draft_json(d: Any) -> dict[str, Any]:
    return {"id": d.id, "count": d.count, "total": str(d.total),
            "control_total": None if d.control_total is None else str(d.control_total),
            "deposit_date": d.deposit_date.isoformat() if d.deposit_date else None,
            "method": d.method, "file_name": d.file_name, "updated_at": d.updated_at.isoformat(),
            "rows": [{"loan_number": r.loan_number, "amount": r.amount, "reference": r.reference,
                      "method": r.method, "effective_date": r.effective_date} for r in d.rows]}


def run_batch_drafts(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context
    from app.domain.money import format_money
    from app.services import batch_drafts

    ctx = cli_context(args, reading=args.delete is None)
    if args.delete is not None:
        _service(batch_drafts.delete_draft, ctx, args.delete)
        print(f"Draft {args.delete} deleted")
        return 0
    if args.show is not None:
        draft = _service(batch_drafts.get_draft, ctx, args.show)
        if args.json:
            _print(_draft_json(draft))
            return 0
        print(f"Draft {draft.id}: {draft.count} payments, {format_money(draft.total)}")
        for row in draft.rows:
            if row.loan_number or row.amount:
                print(f"  {row.loan_number:<12} {row.amount:>14}  {row.reference or '-':<16} "
                      f"{row.method or draft.method:<12} {row.effective_date or '(batch date)'}")
        return 0
    found = _service(batch_drafts.list_drafts, ctx)
    if args.json:
        _print({"drafts": [_draft_json(d) for d in found]})
        return 0
    if not found:
        print("No batch drafts")
    for d in found:
        control = "no control total" if d.control_total is None else f"control {format_money(d.control_total)}"
        print(f"Draft {d.id}: {d.count} payments, {format_money(d.total)} ({control}), "
              f"saved {d.updated_at.astimezone():%Y-%m-%d %H:%M}")
    return 0


def run_fee(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context
    from app.services.servicing import assess_fee

    ctx = cli_context(args)
    posted = _service(assess_fee, ctx, args.loan, args.amount, args.kind, reason=args.reason)
    print(_posted_text(posted, "Assessed fee"))
    return 0


def run_waive(args: argparse.Namespace) -> int:
    from app.cli_support import approval_from, cli_context
    from app.services.servicing import waive_fee

    ctx = cli_context(args)
    posted = _service(waive_fee, ctx, args.loan, args.fee, amount=args.amount, reason=args.reason,
                      approval=approval_from(args))
    print(_posted_text(posted, "Waived with"))
    return 0


def run_overrides(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context, date_arg
    from app.domain.money import format_money, money_str
    from app.services.servicing import overrides_report

    ctx = cli_context(args, reading=True)
    lines = _service(overrides_report, ctx, date_arg(args.start, "--from"), date_arg(args.end, "--to"))
    if args.json:
        _print({"overrides": [
            {"entry_id": line.entry_id, "loan_number": line.loan_number, "date": line.effective_date.isoformat(),
             "amount": money_str(line.amount), "split": {k: money_str(v) for k, v in line.split.items()},
             "reason_code": line.reason_code, "user": line.user, "reversed": line.reversed}
            for line in lines
        ]})
        return 0
    for line in lines:
        parts = ", ".join(f"{k} {format_money(v)}" for k, v in line.split.items())
        print(f"{line.effective_date}  {line.loan_number:<12} {format_money(line.amount):>12}  {parts}  "
              f"({line.reason_code}, {line.user}{', reversed' if line.reversed else ''})")
    print(f"{len(lines)} payments posted with an allocation override")
    return 0
