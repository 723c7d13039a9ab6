"""``keel parties LOAN [--reveal] [--json]``: a loan's borrowers, co-borrowers and guarantors.

The SSN/TIN and date of birth are masked (``***-**-6789``, ``1975-**-**``);
``--reveal`` shows them in full to a role that holds ``person.reveal``, and
each look is an audit record.
"""

from __future__ import annotations

import argparse

from app.cli_support import add_db_user_args, cli_context, print_json, run_service


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("parties", help="a loan's borrowers and guarantors (SSN/TIN masked; --reveal, audited)")
    parser.add_argument("loan", metavar="LOAN", help="the loan number")
    parser.add_argument("--reveal", action="store_true",
                        help="show the full SSN/TIN and date of birth (managers and admins; each look is audited)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_db_user_args(parser)
    parser.set_defaults(handler=run)


@run_service
def run(args: argparse.Namespace) -> int:
    from app.services.personal import reveal_parties
    from app.services.search import loan_parties

    ctx = cli_context(args)
    parties = loan_parties(ctx, args.loan)
    full = {r.person_id: r for r in reveal_parties(ctx, args.loan)} if args.reveal else {}
    rows: list[dict[str, str | None]] = []
    for party in parties:
        shown = full.get(party.person_id)
        rows.append({
            "role": party.role, "name": party.name, "address": party.address,
            "phone": party.mobile_phone or party.home_phone or party.work_phone,
            "tax_id": shown.tax_id if shown else party.tax_id_masked,
            "date_of_birth": (shown.date_of_birth.isoformat() if shown and shown.date_of_birth
                              else party.date_of_birth_masked),
        })
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        print(f"{(row['role'] or '').replace('_', '-'):<12} {row['name']}")
        print(f"{'':12} {row['address'] or '-'}")
        print(f"{'':12} SSN/TIN {row['tax_id'] or '-'}   born {row['date_of_birth'] or '-'}   "
              f"phone {row['phone'] or '-'}")
    return 0
