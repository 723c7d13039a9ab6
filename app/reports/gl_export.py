"""The general-ledger journal as tables for the accountant (issue 13, item 2), through :mod:`app.reports.tabular`.

Three layouts of the same lines (:func:`journal_table`):

``general``
    journal_no, date, account_number, account_name, debit, credit, memo,
    reference — one row per journal line; both amount columns always filled
    (0.00 on the other side).  CSV with a BOM; XLSX with the title and
    filters above the header, as every Keel export.

``qbo`` — QuickBooks Online, Settings > Import data > Journal entries
    JournalNo, JournalDate, AccountName, Debits, Credits, Description, Name.
    QuickBooks matches accounts by *name* (turn account numbers off before the
    import), wants dates as MM/DD/YYYY, and the Debits cell empty on a credit
    line and the Credits cell empty on a debit line; rows with the same
    JournalNo form one entry.  Name (a customer or vendor) is left empty: the
    journal carries no borrower.  Headings in the first row, no BOM.

``xero`` — Xero, Accounting > Manual journals > Import
    \\*Narration, \\*Date, Description, \\*AccountCode, \\*TaxRate, \\*Amount,
    TrackingName1, TrackingOption1, TrackingName2, TrackingOption2 — Xero's
    template headings (an asterisk marks a required column).  Rows with the
    same Narration and Date form one journal; the amount is positive for a
    debit and negative for a credit; AccountCode is the account *number*;
    TaxRate is the tax rate's name (the setting ``xero_tax_rate``, default
    "Tax Exempt"); the date is written ``30 Nov 2026``, which Xero reads the
    same in every region.  Xero takes at most 300 lines a file: export a long
    period in parts.  Headings in the first row, no BOM.

JSON rows (``keel gl journal --format json``) use each layout's CSV headings
as their keys, money as two-decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from app.domain.money import ZERO
from app.reports.tabular import Column, Table, write_csv, write_xlsx
from app.services.gl.journal import Journal, JournalDetail

LAYOUTS = ("general", "qbo", "xero")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

GENERAL_COLUMNS = (
    Column("journal_no", width=24), Column("date", "date"), Column("account_number", width=14),
    Column("account_name", width=30), Column("debit", "money"), Column("credit", "money"),
    Column("memo", width=48), Column("reference", width=24),
)
QBO_COLUMNS = (
    Column("JournalNo", width=24), Column("JournalDate", width=12), Column("AccountName", width=30),
    Column("Debits", "money"), Column("Credits", "money"), Column("Description", width=48), Column("Name"),
)
XERO_COLUMNS = (
    Column("*Narration", width=40), Column("*Date", width=12), Column("Description", width=48),
    Column("*AccountCode", width=14), Column("*TaxRate", width=14), Column("*Amount", "money"),
    Column("TrackingName1"), Column("TrackingOption1"), Column("TrackingName2"), Column("TrackingOption2"),
)
COLUMNS = {"general": GENERAL_COLUMNS, "qbo": QBO_COLUMNS, "xero": XERO_COLUMNS}


def _blank(value: Decimal) -> Decimal | None:
    return None if value == ZERO else value


def journal_table(journal: Journal, layout: str = "general") -> Table:
    """The journal's lines in one of :data:`LAYOUTS` (no totals row: an importer would read it as a line)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    rows: list[list[object]] = []
    for entry in journal.entries:
        narration = f"{entry.journal_no} {entry.product_name}"
        for line in entry.lines:
            if layout == "general":
                rows.append([line.journal_no, line.date, line.account_number, line.account_name, line.debit,
                             line.credit, line.memo, line.reference])
            elif layout == "qbo":
                rows.append([line.journal_no, f"{line.date:%m/%d/%Y}", line.account_name, _blank(line.debit),
                             _blank(line.credit), line.memo, ""])
            else:
                rows.append([narration, f"{line.date.day:02d} {_MONTHS[line.date.month - 1]} {line.date.year}",
                             line.memo, line.account_number, journal.settings.xero_tax_rate,
                             line.debit - line.credit, "", "", "", ""])
    filters = [("From", journal.start.isoformat()), ("To", journal.end.isoformat()),
               ("Product", journal.product or "all"), ("Layout", layout),
               ("Charge-off method", journal.charge_off_method),
               ("Journal entries", str(len(journal.entries))),
               ("Debits", f"{journal.debits:.2f}"), ("Credits", f"{journal.credits:.2f}")]
    return Table("General ledger journal", COLUMNS[layout], rows, filters=filters)


def write_journal(journal: Journal, layout: str, path: Path) -> Path:
    """The journal to ``path`` (``.csv`` or ``.xlsx``) in ``layout``; the import layouts have their headings first."""
    table = journal_table(journal, layout)
    suffix = Path(path).suffix.lower()
    plain = layout == "general"
    if suffix == ".xlsx":
        return write_xlsx(table, path, sheet="Journal", header_rows=plain)
    if suffix == ".csv":
        return write_csv(table, path, bom=plain)
    raise ValueError(f"{Path(path).name}: export the journal as .csv or .xlsx")


DETAIL_COLUMNS = (
    Column("entry_id", "int"), Column("loan_number", width=14), Column("type", width=18),
    Column("effective_date", "date"), Column("amount", "money"), Column("principal", "money"),
    Column("interest", "money"), Column("fees", "money"), Column("suspense", "money"), Column("refund", "money"),
    Column("method"), Column("entry_reference", width=16), Column("reason_code", width=14), Column("user"),
    Column("batch_id", "int"), Column("opening", "bool"), Column("account_number", width=14),
    Column("account_name", width=30), Column("debit", "money"), Column("credit", "money"), Column("memo", width=48),
)


def detail_table(detail: JournalDetail) -> Table:
    """The ledger entries behind a journal entry: one row per entry and journal line."""
    rows: list[list[object]] = []
    for e in detail.entries:
        for line in e.lines or (None,):
            rows.append([e.entry_id, e.loan_number, e.type, e.effective_date, e.amount, e.principal, e.interest,
                         e.fees, e.suspense, e.refund, e.method, e.reference, e.reason_code, e.user, e.batch_id,
                         e.opening, line.account_number if line else None, line.account_name if line else None,
                         line.debit if line else None, line.credit if line else None, line.memo if line else None])
    filters = [("Journal", detail.journal_no), ("Business date", detail.date.isoformat()),
               ("Product", detail.product), ("Account", detail.role or "all"),
               ("Ledger entries", str(len(detail.entries)))]
    return Table(f"Ledger entries behind {detail.journal_no}", DETAIL_COLUMNS, rows, filters=filters,
                 totals=[None] * 18 + [detail.debits, detail.credits, None])
