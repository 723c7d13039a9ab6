"""The ``report`` and ``snapshot`` commands: Keel's reports in a terminal (issue 13).

``keel report NAME [--as-of D | --from D --to D] [--product C] [--collector U]
[--status S] --format csv|xlsx|json [--out FILE]`` runs one report of
:data:`app.services.reports.registry.REPORTS`; ``keel report --list`` prints
one report name per line, then its description.  CSV and JSON go to stdout
unless ``--out`` names a file; XLSX needs ``--out``.  JSON rows use the CSV
header's names, with money as strings with two decimals.

``keel snapshot --list`` shows the month ends that have a month-end snapshot;
``keel snapshot --month-end D`` writes the snapshot of a closed month end
that has none (a book older than the snapshots), for administrators.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli import CliError
from app.cli_support import add_db_user_args, cli_context, date_arg, run_service

FORMATS = ("csv", "xlsx", "json")
#: A service's field name -> the option that sets it.
FLAGS = {"as_of": "--as-of", "from": "--from", "to": "--to", "product": "--product", "collector": "--collector",
         "status": "--status", "month_end": "--month-end", "report": "NAME"}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "report",
        help="run a report (trial balance, cash receipts, journal, aging, roll rates, ...) as CSV, XLSX or JSON",
        description="Run one of Keel's reports. A report is for a date (--as-of) or a period (--from, --to; both "
                    "included, by the business date work was booked). Dates as YYYY-MM-DD, MM/DD/YYYY or MMDDYYYY. "
                    "keel report --list shows every report. For managers and administrators.",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="the report (see --list)")
    parser.add_argument("--list", action="store_true", help="list the reports, one a line, with what each shows")
    add_db_user_args(parser)
    parser.add_argument("--as-of", metavar="D", help="the date of a report for a date (default: the open business "
                                                     "date, or the last month end for month-end reports)")
    parser.add_argument("--from", dest="start", metavar="D", help="the first day of a report for a period")
    parser.add_argument("--to", dest="end", metavar="D", help="the last day of a report for a period")
    parser.add_argument("--product", metavar="C", help="only this product's loans (its code)")
    parser.add_argument("--collector", metavar="U", help="only this collector's loans (a username)")
    parser.add_argument("--status", metavar="S", help="only loans with this status (active, paid_off, "
                                                      "charged_off, transferred)")
    parser.add_argument("--format", choices=FORMATS, help="csv, xlsx or json")
    parser.add_argument("--out", metavar="FILE", help="write to this file (required for xlsx)")
    parser.set_defaults(handler=run)

    snap = sub.add_parser(
        "snapshot",
        help="month-end snapshots: list them, or write one for a closed month end that has none",
        description="End of day writes a snapshot of every loan when it closes a month's last day; aging, roll "
                    "rates and vintages read them. --month-end D writes the snapshot of a month end that passed "
                    "without one (administrators).",
    )
    add_db_user_args(snap)
    snap.add_argument("--list", action="store_true", help="the month ends that have a snapshot")
    snap.add_argument("--month-end", metavar="D", help="write the snapshot of this closed month end")
    snap.set_defaults(handler=run_snapshot)


def list_text() -> str:
    from app.services.reports.registry import REPORTS

    # Two spaces, not aligned columns: a script splits each line at the first double space.
    return "".join(f"{name}  {spec.description}\n" for name, spec in REPORTS.items())


@run_service
def run(args: argparse.Namespace) -> int:
    if args.list:
        if args.name:
            raise CliError("--list takes no report name")
        sys.stdout.write(list_text())
        return 0
    from app.services.errors import InvalidInput
    from app.services.reports.registry import ReportParams, run_report, spec_of

    if not args.name:
        raise CliError("name a report (keel report --list shows them)")
    spec = spec_of(args.name)
    if args.format is None:
        raise CliError("--format: give csv, xlsx or json")
    if args.format == "xlsx" and not args.out:
        raise CliError("--out: an XLSX report is written to a file; give --out FILE")
    if args.as_of and (args.start or args.end):
        raise CliError("--as-of: give a date or a period (--from, --to), not both")
    params = ReportParams(as_of=date_arg(args.as_of, "--as-of"), start=date_arg(args.start, "--from"),
                          end=date_arg(args.end, "--to"), product=args.product, collector=args.collector,
                          status=args.status)
    if spec.takes == "date" and (params.start or params.end):
        raise CliError(f"{'--from' if params.start else '--to'}: {spec.name} is for a date; give --as-of")
    if spec.takes == "period" and params.as_of:
        raise CliError(f"--as-of: {spec.name} is for a period; give --from and --to")
    ctx = cli_context(args, reading=True)
    try:
        table = run_report(ctx, spec.name, params).table()
    except InvalidInput as exc:
        raise CliError(f"{FLAGS.get(exc.field, exc.field)}: {exc.problem}") from None
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.exists():
        raise CliError(f"--out: the folder {out.parent} does not exist")
    from app.reports import tabular

    if args.format == "xlsx":
        assert out is not None
        tabular.write_xlsx(table, out, sheet=spec.name)
    elif args.format == "csv":
        if out is None:
            sys.stdout.write(tabular.csv_text(table))
        else:
            tabular.write_csv(table, out)
    else:
        text = json.dumps(_json_document(spec.name, table), indent=2, ensure_ascii=False) + "\n"
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text, encoding="utf-8")
    if out is not None:
        print(f"{spec.name}: {len(table.rows):,} rows written to {out}", file=sys.stderr)
    return 0


def _json_document(name: str, table: Any) -> dict[str, Any]:
    from app.reports import tabular

    totals = None
    if table.totals is not None:
        totals = tabular.json_rows(tabular.Table("", table.columns, [table.totals]))[0]
    return {
        "report": name,
        "title": table.title,
        "parameters": {key: value for key, value in table.filters if key != "Note"},
        "notes": [value for key, value in table.filters if key == "Note"],
        "rows": tabular.json_rows(table),
        "totals": totals,
    }


@run_service
def run_snapshot(args: argparse.Namespace) -> int:
    from app.services.reports import snapshots

    if bool(args.list) == bool(args.month_end):
        raise CliError("give --list or --month-end D")
    if args.list:
        ctx = cli_context(args, reading=True)
        months = snapshots.snapshot_months(ctx)
        if not months:
            print("No month-end snapshots yet.")
        for month in months:
            print(f"{month.month_end}  {month.loans:>8,} loans  {month.source.replace('_', ' ')}  "
                  f"written {month.written_at:%Y-%m-%d %H:%M} UTC")
        return 0
    day = date_arg(args.month_end, "--month-end")
    ctx = cli_context(args)

    def tell(done: int, total: int, label: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{done:,} of {total:,} {label}", end="", file=sys.stderr, flush=True)

    written = snapshots.write_snapshot(ctx, day, progress=tell)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    how = "copied from the close's cache" if written.source == "on_demand" else "replayed from the entries booked by then"
    print(f"Month-end snapshot of {written.month_end}: {written.loans:,} loans, {how}.")
    for number, why in written.skipped:
        print(f"  {number}: not replayed ({why})", file=sys.stderr)
    return 0
