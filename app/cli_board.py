"""``keel board FILE [--dry-run] [--json]``, ``keel product add FILE.json`` and ``keel product list``.

Exit status of ``keel board``: 0 when every loan in the file was boarded (or
was already on Keel), 1 when the file boarded but some history loans did not
tie out and were held in the boarding exceptions list, 2 when the file was
rejected (every problem is printed on stderr, one per line; nothing was
written) or on any other error.
"""

from __future__ import annotations

import argparse
import sys

from app.cli import CliError
from app.cli_support import add_db_user_args, cli_context, print_json, run_service
from app.services import boarding, products
from app.services.errors import FileRejected


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    board = sub.add_parser(
        "board",
        help="board loans from an LOS handoff file (CSV or JSON; see docs/boarding.md)",
        description="Check the whole file, then board every loan in one transaction, or nothing.",
    )
    board.add_argument("file", metavar="FILE", help="a .csv or .json boarding file")
    board.add_argument("--dry-run", action="store_true", help="check and report what would be boarded; write nothing")
    board.add_argument("--json", action="store_true", help="print the result as JSON")
    add_db_user_args(board)
    board.set_defaults(handler=_board)

    held = sub.add_parser("boarding-exceptions",
                          help="history loans held back at boarding because they do not tie out")
    held.add_argument("--all", action="store_true", help="include those since resolved by a corrected file")
    held.add_argument("--json", action="store_true")
    add_db_user_args(held)
    held.set_defaults(handler=_boarding_exceptions)

    product = sub.add_parser("product", help="loan products and their rules")
    product_sub = product.add_subparsers(dest="product_command")
    add = product_sub.add_parser("add", help="create products or add versions from a JSON file",
                                 description="Load products from a JSON file, all or nothing "
                                             "(resources/samples/products.json shows the format).")
    add.add_argument("file", metavar="FILE.json")
    add.add_argument("--json", action="store_true", help="print the result as JSON")
    add_db_user_args(add)
    add.set_defaults(handler=_product_add)

    lst = product_sub.add_parser("list", help="list products and their versions")
    lst.add_argument("--json", action="store_true", help="print JSON (every version's rules)")
    add_db_user_args(lst)
    lst.set_defaults(handler=_product_list)

    def _help(args: argparse.Namespace) -> int:
        product.print_help()
        return 2

    product.set_defaults(handler=_help)


def _rejected(exc: FileRejected, what: str) -> CliError:
    """Every problem on its own line, then one summary line (exit 2)."""
    for problem in exc.problems:
        print(problem, file=sys.stderr)
    count = len(exc.problems)
    return CliError(f"{count} problem{'s' if count != 1 else ''} in {what}; nothing was written")


@run_service
def _board(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    try:
        result = boarding.board_file(ctx, args.file, dry_run=args.dry_run)
    except FileRejected as exc:
        raise _rejected(exc, args.file) from None
    if args.json:
        print_json(result.as_dict())
    else:
        _print_result(result)
    return 1 if result.exceptions else 0


@run_service
def _boarding_exceptions(args: argparse.Namespace) -> int:
    ctx = cli_context(args, reading=True)
    found = boarding.list_boarding_exceptions(ctx, open_only=not args.all)
    if args.json:
        print_json([item.as_dict() for item in found])
        return 0
    if not found:
        print("No boarding exceptions")
    for item in found:
        print(f"  {item}")
    return 0


def _print_result(result: boarding.BoardingResult) -> None:
    verb = "Would board" if result.dry_run else "Boarded"
    count = len(result.boarded)
    print(f"{verb} {count} loan{'s' if count != 1 else ''} from {result.file} "
          f"(business date {result.business_date.isoformat()})")
    for loan in result.boarded:
        due = loan.next_due.isoformat() if loan.next_due else "-"
        print(f"  {loan.loan_number:<10} {loan.los_reference:<18} {loan.product:<8} {loan.boarding_type:<8} "
              f"principal {loan.principal:>12}  next due {due}  payment {loan.next_payment}  {loan.borrower}")
    if result.skipped:
        print(f"Already boarded, skipped: {', '.join(result.skipped)}")
    if result.exceptions:
        print("Held in boarding exceptions (not boarded; the prior servicer's figures do not tie out):")
        for item in result.exceptions:
            print(f"  {item}")
    if result.dry_run:
        print("Dry run: nothing was written.")


@run_service
def _product_add(args: argparse.Namespace) -> int:
    ctx = cli_context(args)
    try:
        loaded = products.load_products_file(ctx, args.file)
    except FileRejected as exc:
        raise _rejected(exc, args.file) from None
    if args.json:
        print_json(loaded)
        return 0
    for code in loaded.created:
        print(f"Created product {code}")
    for code, day in loaded.versions_added:
        print(f"Added a version of {code} effective {day.isoformat()}")
    for code, day in loaded.unchanged:
        print(f"Unchanged: {code} effective {day.isoformat()}")
    return 0


@run_service
def _product_list(args: argparse.Namespace) -> int:
    ctx = cli_context(args, reading=True)
    found = products.list_products(ctx)
    if args.json:
        print_json([
            {"code": p.code, "name": p.name, "description": p.description, "active": p.active,
             "versions": [{"effective_date": v.effective_date.isoformat(), "rules": v.rules.to_dict()}
                          for v in p.versions]}
            for p in found
        ])
        return 0
    if not found:
        print("No products yet; add them with: keel product add FILE.json")
        return 0
    for p in found:
        latest = p.versions[-1]
        rules = latest.rules
        print(f"{p.code:<10} {p.name}  ({'active' if p.active else 'inactive'}; {len(p.versions)} version"
              f"{'s' if len(p.versions) != 1 else ''}, latest effective {latest.effective_date.isoformat()}: "
              f"{rules.interest} {rules.day_count} {rules.frequency})")
    return 0
