"""An account's ledger: every entry with its allocation; reversals linked to their originals."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel
from PySide6.QtGui import QColor, QFont

from app.services.accounts import LedgerLine
from app.ui import formatting
from app.ui.models.record_table_model import (
    Column,
    RawRole,
    RecordTableModel,
    _sort_key,
)

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
            Column("Balance", lambda r: r.principal_balance, "money",
                   "Principal balance: the principal owed after this line, each line's principal taken off "
                   "(or added) in date order"),
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


#: The ledger filter's choices: (key, words, the types it shows).  "books" shows the adjusting entries.
KINDS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("all", "All entries", frozenset()),
    ("money", "Payments, reversals and refunds", frozenset({"payment", "reversal", "recovery", "refund",
                                                            "suspense_applied"})),
    ("fees", "Fees and waivers", frozenset({"fee", "late_fee", "waiver", "late_fee_reversal"})),
    ("principal", "Principal and terms changes", frozenset({"boarding", "conversion", "adjustment", "write_off",
                                                            "payoff_write_off", "charge_off", "terms_change",
                                                            "disbursement"})),
    ("books", "Adjusting entries (the books)", frozenset()),
)


class LedgerFilterProxy(QSortFilterProxyModel):
    """The ledger as the table shows it: sorted by a clicked header (by raw value: amounts as
    numbers, dates as dates) and filtered by kind of entry and by any text shown in a row."""

    def __init__(self, source: LedgerTableModel, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.setSourceModel(source)
        self._kind = "all"
        self._words: list[str] = []

    def ledger(self) -> LedgerTableModel:
        model = self.sourceModel()
        assert isinstance(model, LedgerTableModel)
        return model

    def set_kind(self, kind: str) -> None:
        self._refilter(lambda: setattr(self, "_kind", kind))

    def set_text(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "_words", text.lower().split()))

    def _refilter(self, change: Callable[[], None]) -> None:
        # Qt 6.10 replaced invalidateFilter() with begin/endFilterChange(); older Qt has only the first.
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange()
        else:
            change()
            self.invalidateFilter()

    @property
    def filtering(self) -> bool:
        return self._kind != "all" or bool(self._words)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:  # Qt's name
        model = self.ledger()
        line = model.row_at(source_row)
        if self._kind == "books":
            if not line.books_only:
                return False
        elif self._kind != "all":
            types = next(t for key, _w, t in KINDS if key == self._kind)
            if line.type not in types or line.books_only:
                return False
        if not self._words:
            return True
        shown = " ".join(str(model.data(model.index(source_row, column)) or "")
                         for column in range(model.columnCount())).lower()
        return all(word in shown for word in self._words)

    def lessThan(self, left: QModelIndex | QPersistentModelIndex,  # Qt's name
                 right: QModelIndex | QPersistentModelIndex) -> bool:
        a = _sort_key(left.data(RawRole))
        b = _sort_key(right.data(RawRole))
        if a == b:  # ties keep the ledger's own (date) order
            return left.row() < right.row()
        return a < b
