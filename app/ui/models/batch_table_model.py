"""The deposit grid: one editable row per payment, and always one blank row at the end."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from app.domain.money import ZERO
from app.domain.date_input import in_words, parse_typed_date
from app.domain.errors import InputError
from app.services.batch_drafts import DraftRow
from app.reports import tabular
from app.services.batches import BatchRow
from app.ui import formatting
from app.ui.models.record_table_model import LEFT, NEGATIVE, RIGHT, ExportRows, RawRole
from app.ui.widgets.money_edit import parse_money

Index = QModelIndex | QPersistentModelIndex

LOAN, AMOUNT, REFERENCE, METHOD, EFFECTIVE, CHECK = range(6)
HEADERS = ("Loan number", "Amount", "Reference", "Method", "Effective date", "Borrower / problem")
#: What each column exports (app/ui/export.py): the typed value, or what was typed when it is not one yet.
EXPORTS: tuple[tuple[tabular.Kind, Any], ...] = (
    ("text", lambda e: e.loan_number or None),
    ("money", lambda e: e.amount if e.amount is not None else (e.amount_text or None)),
    ("text", lambda e: e.reference or None),
    ("text", lambda e: formatting.words(e.method) if e.method else None),  # empty: the batch's method
    ("date", lambda e: e.effective_date() or (e.effective_text or None)),  # empty: the deposit date
    ("text", lambda e: None if e.blank else (e.own_problem() or e.problem or e.borrower or None)),
)
EDITABLE = (LOAN, AMOUNT, REFERENCE, METHOD, EFFECTIVE)
PROBLEM = QColor(160, 0, 0)


@dataclass(frozen=True)
class BatchEntry:
    loan_number: str = ""
    amount: Decimal | None = None
    amount_text: str = ""  # what was typed, when it is not an amount
    reference: str = ""
    method: str = ""  # "" = the batch's method
    effective_text: str = ""  # "" = the batch's date
    borrower: str = ""
    problem: str = ""

    @property
    def blank(self) -> bool:
        return not (self.loan_number or self.amount is not None or self.amount_text or self.reference
                    or self.effective_text)

    def effective_date(self) -> date | None:
        if not self.effective_text:
            return None
        try:
            return parse_typed_date(self.effective_text, "Effective date")
        except InputError:
            return None

    def draft_row(self) -> DraftRow:
        """The row as typed, for the draft (amounts as their exact text)."""
        amount = self.amount_text if self.amount is None else str(self.amount)
        return DraftRow(self.loan_number, amount, self.reference, self.method, self.effective_text)

    @classmethod
    def from_draft(cls, row: DraftRow) -> BatchEntry:
        amount = parse_money(row.amount)
        return cls(loan_number=row.loan_number, amount=amount, amount_text="" if amount is not None else row.amount,
                   reference=row.reference, method=row.method, effective_text=row.effective_date)

    def own_problem(self) -> str:
        """What is wrong with the row on its face (before any service check)."""
        if not self.loan_number.strip():
            return "Loan number is missing"
        if self.amount is None:
            return (f"Amount: \u201c{self.amount_text}\u201d is not an amount in dollars and cents"
                    if self.amount_text else "Amount is missing")
        if self.amount <= 0:
            return "Amount: must be more than zero"
        if self.effective_text:
            try:
                parse_typed_date(self.effective_text, "Effective date")
            except InputError as exc:
                return f"Effective date: {exc.problem}"
        return ""


class BatchTableModel(QAbstractTableModel):
    #: The totals changed (after any edit).
    totals_changed = Signal()
    #: A loan number was typed in ``row``: look it up.
    loan_entered = Signal(int, str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[BatchEntry] = [BatchEntry()]

    # ------------------------------------------------------------ content
    def entries(self) -> list[BatchEntry]:
        """Every row with something typed in it."""
        return [row for row in self._rows if not row.blank]

    def entry(self, row: int) -> BatchEntry:
        return self._rows[row]

    def set_entries(self, entries: list[BatchEntry]) -> None:
        self.beginResetModel()
        self._rows = [*entries, BatchEntry()]
        self.endResetModel()
        self.totals_changed.emit()

    def clear(self) -> None:
        self.set_entries([])

    # ------------------------------------------------------------ export (app/ui/export.py)
    def export_columns(self, columns: Sequence[int] | None = None) -> list[tabular.Column]:
        chosen = range(len(HEADERS)) if columns is None else columns
        return [tabular.Column(HEADERS[c], EXPORTS[c][0]) for c in chosen]

    def export_rows(self, rows: Sequence[int], columns: Sequence[int] | None = None) -> ExportRows:
        """The rows typed so far (never the blank row at the end), as typed values."""
        chosen = range(len(HEADERS)) if columns is None else columns
        records = [self._rows[r] for r in rows if not self._rows[r].blank]
        return ExportRows(records, [EXPORTS[c][1] for c in chosen])

    def total(self) -> Decimal:
        return sum((row.amount for row in self._rows if row.amount is not None), ZERO)

    def count(self) -> int:
        return len(self.entries())

    def problems(self) -> list[tuple[int, str]]:
        """(row number from 1, problem) for each row with one."""
        found = []
        for number, row in enumerate(self._rows, start=1):
            if row.blank:
                continue
            problem = row.own_problem() or row.problem
            if problem:
                found.append((number, problem))
        return found

    def batch_rows(self, default_method: str, default_date: date | None) -> list[BatchRow]:
        out = []
        for row in self.entries():
            assert row.amount is not None
            out.append(BatchRow(row.loan_number.strip(), row.amount, row.reference.strip() or None,
                                row.effective_date() or default_date, row.method or default_method))
        return out

    def set_info(self, row: int, loan_number: str, borrower: str, problem: str) -> None:
        if 0 <= row < len(self._rows) and self._rows[row].loan_number.strip() == loan_number:
            self._rows[row] = replace(self._rows[row], borrower=borrower, problem=problem)
            self.dataChanged.emit(self.index(row, CHECK), self.index(row, CHECK))

    def set_problems(self, problems: dict[int, str]) -> None:
        """Problems from the service check, by row number from 1 (of the non-blank rows)."""
        filled = [i for i, row in enumerate(self._rows) if not row.blank]
        for position, index in enumerate(filled, start=1):
            entry = self._rows[index]
            self._rows[index] = replace(entry, problem=problems.get(position, "" if entry.borrower else entry.problem))
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, CHECK))

    # ------------------------------------------------------------ Qt's interface
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return RIGHT if section == AMOUNT else LEFT
        elif role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() in EDITABLE:
            base |= Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == LOAN:
                return row.loan_number
            if column == AMOUNT:
                if row.amount is None:
                    return row.amount_text
                return formatting.plain_money(row.amount) if role == Qt.ItemDataRole.DisplayRole else str(row.amount)
            if column == REFERENCE:
                return row.reference
            if column == METHOD:
                return row.method if role == Qt.ItemDataRole.EditRole else (formatting.words(row.method) if row.method
                                                                            else "")
            if column == EFFECTIVE:
                day = row.effective_date()
                if role == Qt.ItemDataRole.DisplayRole and day is not None:
                    return day.isoformat()  # typed as 05/20/2026, shown as 2026-05-20 (words in the tooltip)
                return row.effective_text
            if column == CHECK:
                if row.blank:
                    return ""
                return row.own_problem() or row.problem or row.borrower
        if role == RawRole and column == AMOUNT:
            return row.amount
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column == AMOUNT else LEFT
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == CHECK and not row.blank and (row.own_problem() or row.problem):
                return QBrush(PROBLEM)
            if column == AMOUNT and row.amount is not None and row.amount < 0:
                return QBrush(NEGATIVE)
        if role == Qt.ItemDataRole.ToolTipRole and column == EFFECTIVE and row.effective_date() is not None:
            return in_words(row.effective_date())  # type: ignore[arg-type]
        if role == Qt.ItemDataRole.ToolTipRole and column == CHECK and not row.blank:
            return row.own_problem() or row.problem or None
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or index.column() not in EDITABLE:
            return False
        row, column = index.row(), index.column()
        entry = self._rows[row]
        text = "" if value is None else str(value).strip()
        if column == LOAN:
            changed = text != entry.loan_number
            entry = replace(entry, loan_number=text, borrower="" if changed else entry.borrower,
                            problem="" if changed else entry.problem)
        elif column == AMOUNT:
            amount = value if isinstance(value, Decimal) else parse_money(text)
            entry = replace(entry, amount=amount, amount_text="" if amount is not None else text)
        elif column == REFERENCE:
            entry = replace(entry, reference=text[:64])
        elif column == METHOD:
            entry = replace(entry, method=text)
        elif column == EFFECTIVE:
            entry = replace(entry, effective_text=text)
        self._rows[row] = entry
        self.dataChanged.emit(self.index(row, 0), self.index(row, CHECK))
        if row == len(self._rows) - 1 and not entry.blank:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
            self._rows.append(BatchEntry())
            self.endInsertRows()
        if column == LOAN and text:
            self.loan_entered.emit(row, text)
        self.totals_changed.emit()
        return True

    def remove_row(self, row: int) -> None:
        if 0 <= row < len(self._rows) - 1:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()
            self.totals_changed.emit()
