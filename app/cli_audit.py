"""The ``audit`` command: the audit trail in words, filtered like the desktop's Audit view.

``keel audit [--user U] [--from D] [--to D] [--action A] [--loan L] [--json]``
prints one line per record, newest first: when, the loan, and the sentence
("Casey Clerk posted a $250.00 check payment effective Nov 20, 2026.").  Both
call :func:`app.services.audit_search.search_audit`, for managers and
administrators.  ``--user`` is whose actions to show; the person running the
command signs in with ``--as NAME`` (or $KEEL_USER), as every other command's
``--user``.
"""

from __future__ import annotations

import argparse

from app.cli_support import add_db_arg, cli_context, date_arg, print_json, run_service, whole_arg
from app.db.chain import ChainReport


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "audit",
        help="the audit trail in words: who did what, by user, date, action and loan",
        description="Audit records newest first, each as a sentence. Dates as YYYY-MM-DD, MM/DD/YYYY or MMDDYYYY; "
                    "--from and --to are both included. An action is a code (payment.posted) or its first part "
                    "(payment). For managers and administrators.",
    )
    parser.add_argument("verb", nargs="?", choices=["verify"],
                        help="verify: prove the sealed audit chain (numbering, links, seals and the ledger entries "
                             "each record covers) and report the first broken link")
    add_db_arg(parser)
    parser.add_argument("--as", dest="user", metavar="NAME",
                        help="sign in as this user (default: $KEEL_USER); password from $KEEL_PASSWORD or a prompt")
    parser.add_argument("--user", dest="by_user", metavar="U", help="only what this user did (a username)")
    parser.add_argument("--from", dest="start", metavar="D", help="from this day")
    parser.add_argument("--to", dest="end", metavar="D", help="to this day")
    parser.add_argument("--action", metavar="A", help="an action code, or its first part")
    parser.add_argument("--loan", metavar="L", help="one loan's records (its loan number)")
    parser.add_argument("--page", type=whole_arg(1, 1_000_000_000), default=1, help="which page (default 1)")
    parser.add_argument("--limit", type=whole_arg(1, 500), default=100, help="records a page (default 100, at most 500)")
    parser.add_argument("--json", action="store_true", help="print the records as JSON (with their sentences)")
    parser.set_defaults(handler=run)


@run_service
def run(args: argparse.Namespace) -> int:
    if args.verb == "verify":
        return _verify(args)
    from app.services.audit_search import search_audit

    start, end = date_arg(args.start, "--from"), date_arg(args.end, "--to")
    ctx = cli_context(args, reading=True)
    page = search_audit(ctx, user=args.by_user, start=start, end=end, action=args.action, loan=args.loan,
                        page=args.page, page_size=args.limit)
    if args.json:
        print_json(page)
        return 0
    if not page.lines:
        print("No audit records match.")
        return 0
    for line in page.lines:
        at = line.at.astimezone() if line.at.tzinfo is not None else line.at  # the desk's local time
        print(f"{at:%Y-%m-%d %H:%M}  {line.loan_number or '':<10}  {line.sentence}")
    shown_to = (page.page - 1) * page.page_size + len(page.lines)
    print(f"\n{shown_to - len(page.lines) + 1}-{shown_to} of {page.total:,} records (page {page.page} of "
          f"{page.pages}; --page N for more)" if page.pages > 1 else f"\n{page.total:,} records")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from app.services.integrity import verify_audit_chain

    report = verify_audit_chain(cli_context(args))
    if args.json:
        print_json(chain_json(report))
    else:
        for line in chain_lines(report):
            print(line)
    return 0 if report.ok else 1


def chain_json(report: ChainReport | None) -> dict[str, object] | None:
    """The chain's proof as JSON (``keel audit verify --json``, ``keel verify --json``)."""
    if report is None:
        return None
    return {"ok": report.ok, "sealed": report.sealed, "head": report.head, "head_number": report.head_number,
            "before_chain": report.before_chain, "ledger_entries_checked": report.ledger_checked,
            "first_broken": report.first_broken, "problems": list(report.problems)}


def chain_lines(report: ChainReport | None) -> list[str]:
    """The chain's proof in words, one line each; the first says whether it holds."""
    if report is None:
        return []
    earlier = f"; {report.before_chain:,} older records are outside it" if report.before_chain else ""
    if report.ok:
        return [f"audit chain: intact, {report.sealed:,} records sealed, head {report.head}, "
                f"{report.ledger_checked:,} ledger entries covered{earlier}"]
    first = f", first broken link #{report.first_broken}" if report.first_broken is not None else ""
    return [f"audit chain: BROKEN{first} ({len(report.problems)} problem{'s' if len(report.problems) != 1 else ''})"
            ] + [f"  {problem}" for problem in report.problems[:20]] + (
        [f"  ... and {len(report.problems) - 20} more"] if len(report.problems) > 20 else [])
