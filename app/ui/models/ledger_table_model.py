"""An account's ledger: every entry with its allocation; reversals linked to their originals."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont

from app.services.accounts import LedgerLine
from app.ui import formatting
from app.ui.models.record_table_model import Column, RecordTableModel

MUTED = QColor(110, 110, 110)

TYPE_NAMES = {
    "boarding": "Boarded",
    "conversion": "Converted",
    "payment": "Payment",
    "reversal": "Reversal",
    "fee": "Fee",
    "late_fee": "Late fee",
    "waiver": "Fee waived",
    "terms_change": "Terms change",
    "adjustment": "Principal adjustment",
    "accrual": "Interest accrual",
    "charge_off": "Charge-off",
    "recovery": "Recovery",
    "write_off": "Write-off",
    "payoff_write_off": "Payoff shortfall written off",
    "refund": "Refund",
    "suspense_applied": "Suspense applied",
    "disbursement": "Disbursement",
    # The books' adjusting entries (issue 9; signs in app/domain/books.py)
    "reallocation": "Payment re-applied",
    "late_fee_reversal": "Late fee reversed",
    "accrual_adjustment": "Interest adjustment",
    "nonaccrual_interest": "Interest off the books",
    "interest_reversal": "Interest reversed (non-accrual)",
    "interest_recognition": "Interest recognised",
    "cost_recovery": "Cost recovery",
    "charge_off_adjustment": "Charge-off adjustment",
}


def type_name(code: str) -> str:
    return TYPE_NAMES.get(code, formatting.words(code))


class LedgerTableModel(RecordTableModel[LedgerLine]):
    """Oldest first, as the engine applies them.  A reversed payment is greyed and struck
    through *and* says "reversed by #n" (never colour alone)."""

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self._reversed_by: dict[int, int] = {}
        self.columns = (
            Column("#", lambda r: r.entry_id, "id", "The entry's number (derived lines have none)"),
            Column("Effective", lambda r: r.effective_date, "date", "The date the money counts from"),
            Column("Type", lambda r: r.type, text=lambda r: type_name(r.type)),
            Column("Amount", lambda r: r.amount, "money"),
            Column("Interest", lambda r: r.interest, "money"),
            Column("Principal", lambda r: r.principal, "money"),
            Column("Fees", lambda r: r.fees, "money"),
            Column("Suspense", lambda r: r.suspense, "money"),
            Column("Refund", lambda r: r.refund, "money"),
            Column("Link", self._link, tooltip="Reversals and the payments they undo"),
            Column("Method", lambda r: r.method, "words"),
            Column("Reference", lambda r: r.reference),
            Column("By", lambda r: r.user),
            Column("Posted", lambda r: r.posted_at, "datetime"),
            Column("Note", lambda r: r.note),
        )

    def set_rows(self, rows: object) -> None:  # type: ignore[override]
        lines = list(rows)  # type: ignore[call-overload]
        self._reversed_by = {r.reverses_id: r.entry_id for r in lines if r.reverses_id is not None and r.entry_id}
        super().set_rows(lines)

    def reversed_by(self, line: LedgerLine) -> int | None:
        return self._reversed_by.get(line.entry_id) if line.entry_id is not None else None

    def _link(self, line: LedgerLine) -> str:
        if line.reverses_id is not None:
            return f"reverses #{line.reverses_id}"
        if line.reapplies_id is not None:
            return f"re-applies #{line.reapplies_id}" + (f", caused by #{line.cause_id}" if line.cause_id else "")
        if line.cause_id is not None:
            return f"caused by #{line.cause_id}"
        by = self.reversed_by(line)
        if by is not None:
            return f"reversed by #{by}"
        if line.reversed:
            return "reversed"
        return ""

    def row_of_entry(self, entry_id: int) -> int | None:
        for index, line in enumerate(self._rows):
            if line.entry_id == entry_id:
                return index
        return None

    def row_font(self, record: LedgerLine) -> QFont | None:
        if record.reversed or self.reversed_by(record) is not None:
            font = QFont()
            font.setStrikeOut(True)
            return font
        return None

    def row_foreground(self, record: LedgerLine) -> QColor | None:
        if record.reversed or self.reversed_by(record) is not None or record.entry_id is None:
            return MUTED
        return None

    def row_tooltip(self, record: LedgerLine) -> str | None:
        if record.entry_id is None:
            return "Derived by the engine from the loan's terms (not a posted entry)"
        by = self.reversed_by(record)
        if by is not None:
            return f"Reversed by entry #{by}: shown as it was applied when received"
        return None
