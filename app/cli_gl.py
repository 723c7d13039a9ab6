"""The ``gl`` commands: the general-ledger journal for the accountant, its accounts and control totals.

``keel gl journal --from D --to D --format csv|xlsx|json [--layout general|qbo|xero] [--product C] [--out FILE]``
    the journal of a period by business date (one balanced entry per day and
    product); csv and json go to stdout without ``--out``; xlsx needs ``--out``.
``keel gl entries JOURNAL_NO [--account ROLE|NUMBER] [--format text|csv|json] [--out FILE]``
    the drill-down: the ledger entries behind one journal entry, with their lines.
``keel gl accounts [--set ROLE=NUMBER:NAME ...] [--charge-off-method allowance|direct] [--xero-tax-rate NAME] [--json]``
    the account each role posts to (changing it needs settings.manage).
``keel gl control [--as-of D] [--json]``
    the control accounts from the journal since inception beside the booked ledger.

All call :mod:`app.services.gl` and write through :mod:`app.reports.gl_export`, as the desktop does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli import CliError
from app.cli_support import add_db_user_args, cli_context, date_arg, print_json, run_service
from app.domain.money import format_money


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("gl", help="the general-ledger journal, its accounts and control totals",
                            description="The general ledger Keel keeps for the accountant (docs/gl.md).")
    verbs = parser.add_subparsers(dest="gl_command", metavar="{journal,entries,accounts,control}")

    journal = verbs.add_parser(
        "journal", help="the journal of a period (one balanced entry per business day and product)",
        description="The general-ledger journal of the business dates --from to --to (both included): one journal "
                    "entry per day and product, GL-YYYYMMDD-PRODUCT, in the general layout or the import layout of "
                    "QuickBooks Online (qbo) or Xero (xero). Dates as YYYY-MM-DD, MM/DD/YYYY or MMDDYYYY.")
    add_db_user_args(journal)
    journal.add_argument("--from", dest="start", metavar="D", required=True, help="first business date")
    journal.add_argument("--to", dest="end", metavar="D", required=True, help="last business date")
    journal.add_argument("--format", choices=("csv", "xlsx", "json"), default="csv", help="csv (default), xlsx, json")
    journal.add_argument("--layout", choices=("general", "qbo", "xero"), default="general",
                         help="general (default), qbo (QuickBooks Online import), xero (Xero manual journal import)")
    journal.add_argument("--product", metavar="C", help="one product's journal entries (its code)")
    journal.add_argument("--out", metavar="FILE", help="write to this file (required for xlsx)")
    journal.set_defaults(handler=_journal)

    entries = verbs.add_parser("entries", help="the ledger entries behind one journal entry",
                               description="The drill-down of a journal entry: each ledger entry behind it with "
                                           "its own journal lines.")
    add_db_user_args(entries)
    entries.add_argument("journal_no", metavar="JOURNAL_NO", help="a journal number such as GL-20261130-AUTO60")
    entries.add_argument("--account", metavar="ROLE|NUMBER", help="only the entries with a line on this account")
    entries.add_argument("--format", choices=("text", "csv", "json"), default="text", help="text (default), csv, json")
    entries.add_argument("--out", metavar="FILE", help="write csv or xlsx to this file")
    entries.set_defaults(handler=_entries)

    accounts = verbs.add_parser(
        "accounts", help="show or set the account each role posts to",
        description="The chart-of-accounts mapping: each role's account number and name, the charge-off method "
                    "(allowance: CECL, the charge-off debits the allowance and a recovery credits it; direct: "
                    "charge-off expense and recovery income) and the Xero tax rate name.")
    add_db_user_args(accounts)
    accounts.add_argument("--set", dest="assignments", action="append", default=[], metavar="ROLE=NUMBER:NAME",
                          help="map a role to an account (repeatable; ROLE=NUMBER keeps the name)")
    accounts.add_argument("--charge-off-method", choices=("allowance", "direct"), help="how charge-offs post")
    accounts.add_argument("--xero-tax-rate", metavar="NAME", help="the Xero tax rate name on every line")
    accounts.add_argument("--json", action="store_true", help="print the mapping as JSON")
    accounts.set_defaults(handler=_accounts)

    control = verbs.add_parser("control", help="control accounts beside the booked ledger",
                               description="Loans receivable, interest receivable, fees receivable, suspense and "
                                           "refunds payable from the journal since inception, beside the booked "
                                           "ledger's figures (what keel verify reports), as of a business date.")
    add_db_user_args(control)
    control.add_argument("--as-of", metavar="D", help="a business date (default: the open business date)")
    control.add_argument("--json", action="store_true", help="print every figure as JSON")
    control.set_defaults(handler=_control)
    parser.set_defaults(handler=_no_verb)


def _no_verb(args: argparse.Namespace) -> int:
    raise CliError("gl: give a command: journal, entries, accounts or control (keel gl --help)")


def _emit(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@run_service
def _journal(args: argparse.Namespace) -> int:
    from app.reports import gl_export
    from app.reports.tabular import csv_text, json_rows
    from app.services.gl import journal as gl_journal

    start, end = date_arg(args.start, "--from"), date_arg(args.end, "--to")
    if args.format == "xlsx" and not args.out:
        raise CliError("--out: an xlsx journal needs a file to write (--out journal.xlsx)")
    if args.out and args.format != "json" and Path(args.out).suffix.lower() != f".{args.format}":
        raise CliError(f"--out: {args.out!r} should end in .{args.format} for --format {args.format}")
    ctx = cli_context(args, reading=True)
    result = gl_journal.journal(ctx, start, end, product=args.product)
    if args.format == "json":
        _emit(json.dumps(json_rows(gl_export.journal_table(result, args.layout)), indent=2, ensure_ascii=False)
              + "\n", args.out)
    elif args.out:
        gl_export.write_journal(result, args.layout, Path(args.out))
    else:
        sys.stdout.write(csv_text(gl_export.journal_table(result, args.layout)))
    if args.out:
        print(f"{len(result.entries)} journal entries, {sum(len(e.lines) for e in result.entries)} lines, debits "
              f"{format_money(result.debits)} = credits {format_money(result.credits)}: {args.out}", file=sys.stderr)
    return 0


@run_service
def _entries(args: argparse.Namespace) -> int:
    from app.reports import gl_export
    from app.reports.tabular import csv_text, json_rows, write

    ctx = cli_context(args, reading=True)
    from app.services.gl import journal as gl_journal

    detail = gl_journal.journal_detail(ctx, args.journal_no, account=args.account)
    table = gl_export.detail_table(detail)
    if args.out:
        try:
            write(table, Path(args.out))
        except ValueError as exc:
            raise CliError(f"--out: {exc}") from None
        print(f"{len(detail.entries)} ledger entries: {args.out}", file=sys.stderr)
        return 0
    if args.format == "csv":
        sys.stdout.write(csv_text(table))
    elif args.format == "json":
        print(json.dumps(json_rows(table), indent=2, ensure_ascii=False))
    else:
        print(f"{detail.journal_no}: {len(detail.entries)} ledger entries, debits {format_money(detail.debits)}, "
              f"credits {format_money(detail.credits)}")
        for e in detail.entries:
            print(f"#{e.entry_id} {e.loan_number} {e.type} {e.effective_date} {format_money(e.amount)}"
                  + (f" {e.method}" if e.method else "") + (" (opening)" if e.opening else ""))
            for line in e.lines:
                side = f"Dr {format_money(line.debit)}" if line.debit else f"Cr {format_money(line.credit)}"
                print(f"    {line.account_number:<8} {line.account_name:<32} {side:>18}  {line.memo}")
    return 0


@run_service
def _accounts(args: argparse.Namespace) -> int:
    from app.services.gl import accounts as gl_accounts

    ctx = cli_context(args, reading=not (args.assignments or args.charge_off_method or args.xero_tax_rate))
    if args.assignments or args.charge_off_method or args.xero_tax_rate:
        changes: dict[str, tuple[str, str | None]] = {}
        for text in args.assignments:
            role, number, name = gl_accounts.parse_assignment(text)
            changes[role] = (number, name)
        settings = gl_accounts.save_gl_settings(ctx, accounts=changes, charge_off_method=args.charge_off_method,
                                                xero_tax_rate=args.xero_tax_rate)
    else:
        settings = gl_accounts.gl_settings(ctx)
    if args.json:
        print_json({"charge_off_method": settings.charge_off_method, "xero_tax_rate": settings.xero_tax_rate,
                    "accounts": [{"role": a.role, "number": a.number, "name": a.name, "reserved": a.reserved}
                                 for a in settings.accounts.values()]})
        return 0
    print(f"charge-off method: {settings.charge_off_method}; Xero tax rate: {settings.xero_tax_rate}")
    for a in settings.accounts.values():
        print(f"{a.role:<28} {a.number:<10} {a.name}" + ("  (reserved: escrow)" if a.reserved else ""))
    return 0


@run_service
def _control(args: argparse.Namespace) -> int:
    from app.services.gl import control as gl_control

    ctx = cli_context(args, reading=True)
    totals = gl_control.control_totals(ctx, date_arg(args.as_of, "--as-of"))
    if args.json:
        print_json({"as_of": totals.as_of, "charge_off_method": totals.charge_off_method, "ok": totals.ok,
                    "control": {part: {"gl": totals.gl[part], "booked": totals.booked[part]} for part in totals.gl}})
        return 0 if totals.ok else 1
    names = {"principal": "Loans receivable", "interest": "Interest receivable", "fees": "Fees receivable",
             "suspense": "Suspense", "refund": "Refunds payable"}
    print(f"As of {totals.as_of} (everything booked through that business date)")
    print(f"{'':<22}{'general ledger':>18}{'booked ledger':>18}")
    for part, label in names.items():
        mark = "" if totals.gl[part] == totals.booked[part] else "  DIFFERS"
        print(f"{label:<22}{format_money(totals.gl[part]):>18}{format_money(totals.booked[part]):>18}{mark}")
    print("control accounts equal the booked ledger" if totals.ok else "control accounts DIFFER from the booked ledger")
    return 0 if totals.ok else 1
