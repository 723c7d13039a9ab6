"""Sample letters for docs/letters/: ``python -m app.reports.samples docs/letters``.

Builds a throw-away SQLite database (in a temporary folder) through the
services -- products, a boarding file, payments -- and renders one of each
document with :func:`app.services.letters.render_letter`, so the samples show
exactly what the desk and the CLI print.  Writes ``<kind>.pdf`` and, where
``pdftoppm`` exists, ``<kind>.png`` (page 1, 80 dpi) and ``<kind>-2.png``
for a second page.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

START = dt.date(2026, 1, 1)  # the book opens; end of day then runs to BUSINESS_DATE
BUSINESS_DATE = dt.date(2026, 6, 1)
PASSWORD = "sample-admin-1"

PRODUCT = {
    "interest": "scheduled",
    "day_count": "30/360",
    "frequency": "monthly",
    "late_fee": {"grace_days": 15, "percent": "5", "min": "15.00", "max": "100.00"},
    "letter_triggers": [{"letter": "late-notice", "days_past_due": 15},
                        {"letter": "default-notice", "days_past_due": 30}],
}


def _borrower(first: str, last: str, line1: str, city: str, state: str, postal: str, line2: str | None = None,
              tax_id: str = "987-65-4320") -> dict[str, Any]:
    person = {"first_name": first, "last_name": last, "address_line1": line1, "city": city, "state": state,
              "postal_code": postal, "home_phone": "(207) 555-0150", "tax_id": tax_id}
    if line2:
        person["address_line2"] = line2
    return person


LOANS = [
    # (reference, principal, rate, term, borrower, collateral, payments made: months paid from Jan)
    ("SAMPLE-1", "18500.00", "7.25", 48,
     _borrower("Maria", "Kowalczyk-Żak", "77 Orchard Lane", "Bangor", "ME", "04401", tax_id="987-65-4321"),
     {"kind": "vehicle", "vin": "1HGCV1F34PA012345", "year": 2023, "make": "Honda", "model": "Accord",
      "value": "24000.00"}, 2),
    ("SAMPLE-2", "240000.00", "6.125", 360,
     _borrower("Daniel", "Okafor", "48 Maple Avenue", "Portland", "ME", "04101", "Unit 2B", tax_id="987-65-4322"),
     {"kind": "real_estate", "address_line1": "48 Maple Avenue", "city": "Portland", "state": "ME",
      "postal_code": "04101", "value": "310000.00"}, 5),
    ("SAMPLE-3", "6000.00", "11.5", 24,
     _borrower("Grace", "O'Neil", "12 Beacon Street", "Boston", "MA", "02108", "Apt 3", tax_id="987-65-4323"),
     None, 5),
]


def build(folder: Path) -> tuple[Any, dict[str, str]]:
    """A sample database in ``folder``; returns (admin context, kind -> loan number)."""
    from app.db.models import Loan
    from app.db.settings import set_setting
    from app.services import accounts, boarding, eod, products, servicing, setup, users
    from app.services.context import ServiceContext

    factory = setup.open_database(f"sqlite:///{folder / 'samples.sqlite3'}", initialize=False)
    setup.initialize_database(factory, kind="production", business_date=START)
    users.bootstrap_admin(factory, "admin", "Sample Admin", PASSWORD)
    admin = ServiceContext(factory, users.authenticate(factory, "admin", PASSWORD))
    with admin.unit() as session:
        set_setting(session, "lender_name", "Harbor Point Lending")
        set_setting(session, "lender_address", "200 Harbor Street, Suite 400\nPortland ME 04101")
        set_setting(session, "lender_phone", "(207) 555-0100")
        set_setting(session, "lender_website", "www.harborpoint.example")
    products.create_product(admin, "STD", "Standard installment loan", PRODUCT, "2020-01-01")
    records = []
    for reference, principal, rate, term, borrower, collateral, _paid in LOANS:
        record: dict[str, Any] = {"los_reference": reference, "product": "STD", "principal": principal, "rate": rate,
                                  "term": term, "start": "2026-01-01", "first_due": "2026-02-01",
                                  "borrower": borrower}
        if collateral:
            record["collateral"] = collateral
        records.append(record)
    path = folder / "loans.json"
    path.write_text(json.dumps({"loans": records}), encoding="utf-8")
    result = boarding.board_file(admin, path)
    numbers = {loan.los_reference: loan.loan_number for loan in result.boarded}
    # Live through the months: end of day closes each day; payments arrive on their due dates.
    schedules = {ref: accounts.original_schedule(admin, numbers[ref]) for ref, *_ in LOANS}
    for month in range(2, 6):
        due = dt.date(2026, month, 1)
        eod.run_eod(admin, through=due - dt.timedelta(days=1))
        for reference, *_rest, paid in LOANS:
            row = schedules[reference][month - 2]
            if month - 1 <= paid:
                servicing.post_payment(admin, numbers[reference], str(row.payment), due, reference=f"CHK {row.n:04d}")
    eod.run_eod(admin, through=BUSINESS_DATE - dt.timedelta(days=1))
    # SAMPLE-3 pays off in full today; SAMPLE-1 (two payments, then nothing) is 61 days
    # past due and was boarded in default, so Regulation F applies to it.
    payoff = accounts.payoff_quote(admin, numbers["SAMPLE-3"], BUSINESS_DATE).payoff
    servicing.post_payment(admin, numbers["SAMPLE-3"], str(payoff), BUSINESS_DATE, reference="PAYOFF")
    with admin.unit() as session:
        loan = session.query(Loan).filter(Loan.loan_number == numbers["SAMPLE-1"]).one()
        loan.reg_f_applies = True
    late, current, paid_off = numbers["SAMPLE-1"], numbers["SAMPLE-2"], numbers["SAMPLE-3"]
    chosen = {"late-notice": late, "default-notice": late, "validation-notice": late, "payoff": current,
              "statement": late, "paid-in-full": paid_off, "payment-reminder": current}
    return admin, chosen


def write_samples(out: Path) -> list[Path]:
    from app.services import letters

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="keel-samples-") as tmp:
        admin, chosen = build(Path(tmp))
        for kind, number in chosen.items():
            rendered = letters.render_letter(admin, kind, number)
            pdf = out / f"{kind}.pdf"
            pdf.write_bytes(rendered.pdf_bytes)
            written.append(pdf)
            if shutil.which("pdftoppm"):
                subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(out / f".{kind}")], check=True,
                               timeout=120)
                pages = sorted(out.glob(f".{kind}-*.png"))
                for i, page in enumerate(pages, start=1):
                    target = out / (f"{kind}.png" if i == 1 else f"{kind}-{i}.png")
                    page.replace(target)
                    written.append(target)
        bind = admin.factory.kw.get("bind")
        if bind is not None:
            bind.dispose()
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/letters")
    for path in write_samples(out):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

