"""CLI commands for letters (issue 6, item 5).

``keel letter KIND LOAN [--date D] --out FILE.pdf``
    Issue one letter (recorded in the account's history) and write its PDF.
    ``--preview`` writes it without recording it.  KIND is one of
    late-notice, default-notice, validation-notice, payoff, statement,
    paid-in-full, payment-reminder.

``keel letters --queued --out FILE.pdf [--mark-printed]``
    Issue every letter end of day queued (re-checked, figures as of the print
    date; one record per letter) and write the stored PDFs of every queued
    letter waiting for the printer, joined page for page, so the file's bytes
    are the hashed ones.  The letters stay waiting until ``--mark-printed``
    says they were printed (audited; collection letters logged as contacts).
    ``--kind K --loan L [--loan L2 ...]`` issues one kind for chosen loans
    instead.

Both print a one-line summary (or ``--json``) and list dropped letters with
their reasons on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli import CliError

KIND_CHOICES = ("late-notice", "default-notice", "validation-notice", "payoff", "statement", "paid-in-full",
                "payment-reminder")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from app.cli_support import add_db_user_args, whole_arg

    one = sub.add_parser("letter", help="issue one letter or statement as a PDF")
    one.add_argument("kind", choices=KIND_CHOICES, metavar="KIND", help=", ".join(KIND_CHOICES))
    one.add_argument("loan")
    one.add_argument("--date", help="letter date (default: the open business date)")
    one.add_argument("--out", required=True, metavar="FILE.pdf", help="where to write the PDF")
    one.add_argument("--good-through", metavar="D", help="payoff: good-through date (default: letter date + 10 days)")
    one.add_argument("--cure-days", type=whole_arg(1, 3650), metavar="N", help="default notice: days to cure (default 30)")
    one.add_argument("--preview", action="store_true", help="write the PDF without recording the letter")
    one.add_argument("--json", action="store_true")
    add_db_user_args(one)
    one.set_defaults(handler=run_letter)

    many = sub.add_parser("letters", help="print queued letters (or one kind for chosen loans) as one PDF")
    what = many.add_mutually_exclusive_group(required=True)
    what.add_argument("--queued", action="store_true", help="the letters end of day queued")
    what.add_argument("--kind", choices=KIND_CHOICES, metavar="KIND", help="this kind for the loans given by --loan")
    many.add_argument("--loan", action="append", default=[], metavar="LOAN", help="a loan number (repeat)")
    many.add_argument("--date", help="letter date (default: the open business date)")
    many.add_argument("--out", required=True, metavar="FILE.pdf")
    many.add_argument("--duplex", action="store_true", help="start every letter on a new sheet (two-sided printing)")
    many.add_argument("--mark-printed", action="store_true",
                      help="record the letters written as printed (after the file went to the printer)")
    many.add_argument("--json", action="store_true")
    add_db_user_args(many)
    many.set_defaults(handler=run_letters)

    versions = sub.add_parser("letter-templates", help="every saved version of a letter's template, newest first")
    versions.add_argument("kind", choices=KIND_CHOICES, metavar="KIND", help=", ".join(KIND_CHOICES))
    versions.add_argument("--json", action="store_true")
    add_db_user_args(versions)
    versions.set_defaults(handler=run_letter_templates)

    history = sub.add_parser("letter-history", help="every letter Keel made for a loan, newest first, with its hash")
    history.add_argument("loan")
    history.add_argument("--json", action="store_true")
    add_db_user_args(history)
    history.set_defaults(handler=run_letter_history)


def _write(path: str, data: bytes, recorded: str | None = None) -> None:
    """Write the PDF; ``recorded`` says what the book already holds when the file cannot be written."""
    import errno

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        kept = f"; {recorded}" if recorded else ""
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            # A full disk is its own message (issue 12); a partial file is removed rather than left to print.
            target.unlink(missing_ok=True)
            raise CliError(f"the disk is full: cannot write {path} ({exc.strerror or 'no space left'}){kept}") from None
        raise CliError(f"cannot write {path}: {exc.strerror or exc}{kept}") from None


def run_letter_templates(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context, run_service
    from app.services import letters

    ctx = cli_context(args, reading=True)
    found = run_service(letters.template_versions)(ctx, args.kind)
    if args.json:
        print(json.dumps([{"kind": t.kind, "version": t.version, "created_by": t.created_by,
                           "created_at": t.created_at.isoformat() if t.created_at else None, "body": t.body}
                          for t in found], indent=2))
        return 0
    if not found:
        print(f"No saved versions of {args.kind}: letters use the template shipped with Keel")
    for t in found:
        when = f"{t.created_at.astimezone():%Y-%m-%d %H:%M}" if t.created_at else "-"
        print(f"version {t.version}: saved {when} by {t.created_by or '-'} ({len(t.body.splitlines())} lines)")
    return 0


def run_letter_history(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context, print_json, run_service
    from app.services import letters

    ctx = cli_context(args, reading=True)
    found = run_service(letters.letter_history)(ctx, args.loan)
    if args.json:
        print_json([{"id": r.id, "kind": r.kind, "letter_date": r.letter_date, "user": r.user,
                     "template_version": r.template_version, "sha256": r.file_hash, "run_id": r.run_id,
                     "created_at": r.created_at, "size": r.size} for r in found])
        return 0
    if not found:
        print(f"No letters for {args.loan}")
    for r in found:
        print(f"#{r.id}  {r.letter_date.isoformat()}  {r.kind:<18} by {r.user:<10} {r.size:>7,} bytes  "
              f"sha256 {r.file_hash[:12]}")
    return 0


def run_letter(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context, date_arg, run_service
    from app.services import letters

    day = date_arg(args.date, "--date")
    good = date_arg(args.good_through, "--good-through")

    @run_service
    def go() -> int:
        ctx = cli_context(args)
        if args.preview:
            rendered = letters.render_letter(ctx, args.kind, args.loan, day, good_through=good,
                                             cure_days=args.cure_days)
            _write(args.out, rendered.pdf_bytes)
            summary: dict[str, Any] = {"kind": rendered.kind, "loan_number": rendered.loan_number,
                                       "letter_date": rendered.letter_date.isoformat(), "recorded": False,
                                       "pages": rendered.pages, "sha256": rendered.sha256, "out": args.out}
        else:
            record = letters.issue_letter(ctx, args.kind, args.loan, day, good_through=good, cure_days=args.cure_days)
            assert record.pdf_bytes is not None
            _write(args.out, record.pdf_bytes, f"the letter is recorded as letter {record.id} with its PDF in the "
                                               "book; print it from there once there is room")
            summary = {"kind": record.kind, "loan_number": record.loan_number,
                       "letter_date": record.letter_date.isoformat(), "recorded": True, "letter_id": record.id,
                       "sha256": record.file_hash, "out": args.out}
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            state = f"recorded as letter {summary['letter_id']}" if summary["recorded"] else "preview, not recorded"
            print(f"Wrote {args.out}: {summary['kind']} for {summary['loan_number']} dated "
                  f"{summary['letter_date']} ({state}; SHA-256 {summary['sha256'][:16]}...)")
        return 0

    return int(go())


def run_letters(args: argparse.Namespace) -> int:
    from app.cli_support import cli_context, date_arg, run_service
    from app.services import letters

    day = date_arg(args.date, "--date")
    if args.kind and not args.loan:
        raise CliError("give at least one --loan with --kind")
    if args.queued and args.loan:
        raise CliError("--loan goes with --kind, not --queued")

    def progress(done: int, total: int, label: str) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\r{label[:70]:<70}", end="", file=sys.stderr, flush=True)

    @run_service
    def go() -> int:
        ctx = cli_context(args)
        if args.queued:
            run = letters.run_queued(ctx, day, progress, duplex=args.duplex)
            batch = letters.queued_batch(ctx, duplex=args.duplex)
            pdf, pages, ids = batch.pdf_bytes, batch.pages, list(batch.letter_ids)
        else:
            run = letters.print_selected(ctx, args.kind, args.loan, day, progress, duplex=args.duplex)
            pdf, pages, ids = run.pdf_bytes, run.pages, [r.id for r in run.records]
        if not args.json and sys.stderr.isatty():
            print("\r" + " " * 70 + "\r", end="", file=sys.stderr)
        if pdf:
            _write(args.out, pdf)
        marked = letters.mark_printed(ctx, ids) if args.mark_printed and ids else None
        for drop in run.dropped:
            print(f"keel: dropped {drop.kind} for {drop.loan_number}: {drop.reason}", file=sys.stderr)
        if args.json:
            print(json.dumps({
                "run_id": run.run_id, "letter_date": run.letter_date.isoformat(),
                "out": args.out if pdf else None, "pages": pages, "written": ids,
                "marked_printed": list(marked.letter_ids) if marked else [],
                "letters": [{"id": r.id, "kind": r.kind, "loan_number": r.loan_number, "sha256": r.file_hash}
                            for r in run.records],
                "dropped": [{"kind": d.kind, "loan_number": d.loan_number, "reason": d.reason}
                            for d in run.dropped],
            }, indent=2))
        elif ids:
            state = "marked printed" if marked else "waiting to be marked printed (--mark-printed)"
            print(f"Wrote {args.out}: {len(ids)} letters, {pages} pages ({len(run.records)} issued now, dated "
                  f"{run.letter_date.isoformat()}); {len(run.dropped)} dropped; {state}")
        else:
            print(f"No letters to print; {len(run.dropped)} dropped; nothing written")
        return 0

    return int(go())
