"""A read-only Qt table model over a list of frozen service results.

Each concrete model (``ledger_table_model.py``, ``queue_table_model.py``, ...)
declares its :class:`Column` list; this base draws them consistently: money
right-aligned with thousands separators through the one formatter, negative
amounts with their minus sign (and dark red, never colour alone), numbers
right-aligned, em dash for "no figure".  Sorting uses the raw values (a
Decimal sorts as a number, not as text), so no proxy model is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from app.ui import formatting

T = TypeVar("T")
Index = QModelIndex | QPersistentModelIndex

NEGATIVE = QColor(160, 0, 0)
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
#: The raw value of a cell (Decimal, date, int, str), for tests and sorting.
RawRole = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class Column(Generic[T]):
    title: str
    value: Callable[[T], Any]
    kind: str = "text"  # text, money, int (with separators), id (without), date, datetime, percent, words
    tooltip: str | None = None
    text: Callable[[T], str] | None = None  # custom display text

    @property
    def numeric(self) -> bool:
        return self.kind in ("money", "int", "percent", "id")


def cell_text(kind: str, value: Any) -> str:
    if value is None:
        return formatting.DASH if kind != "text" else ""
    if kind == "money":
        return formatting.money(value)
    if kind == "date":
        return formatting.day(value)
    if kind == "datetime":
        return formatting.instant(value)
    if kind == "percent":
        return formatting.percent(value)
    if kind == "words":
        return formatting.words(value)
    if kind == "int":
        return f"{value:,}"
    if kind == "id":
        return str(value)
    return str(value)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return (1, value)
    if isinstance(value, datetime):
        return (2, value.timestamp())
    if isinstance(value, date):
        return (2, value.toordinal())
    return (3, str(value).lower())


class RecordTableModel(QAbstractTableModel, Generic[T]):
    columns: Sequence[Column[T]] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[T] = []
        self._sorted: tuple[int, Qt.SortOrder] | None = None

    # ------------------------------------------------------------ rows
    def set_rows(self, rows: Sequence[T]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        if self._sorted is not None:
            self._sort_rows(*self._sorted)
        self.endResetModel()

    def rows(self) -> list[T]:
        return list(self._rows)

    def row_at(self, row: int) -> T:
        return self._rows[row]

    # ------------------------------------------------------------ hooks
    def row_font(self, record: T) -> QFont | None:
        return None

    def row_foreground(self, record: T) -> QColor | None:
        return None

    def row_tooltip(self, record: T) -> str | None:
        return None

    # ------------------------------------------------------------ Qt's interface
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column.numeric else LEFT
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tooltip
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if column.text is not None:
                return column.text(record)
            return cell_text(column.kind, column.value(record))
        if role == RawRole:
            return column.value(record)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column.numeric else LEFT
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = self.row_foreground(record)
            if colour is not None:
                return QBrush(colour)
            if column.kind == "money":
                value = column.value(record)
                if isinstance(value, Decimal) and value < 0:
                    return QBrush(NEGATIVE)
            return None
        if role == Qt.ItemDataRole.FontRole:
            return self.row_font(record)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.row_tooltip(record) or column.tooltip
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Qt's name: sort by a column; kept when the rows are replaced (a refresh)."""
        if not 0 <= column < len(self.columns):
            self._sorted = None
            return
        self._sorted = (column, order)
        self.layoutAboutToBeChanged.emit()
        self._sort_rows(column, order)
        self.layoutChanged.emit()

    def _sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        getter = self.columns[column].value
        self._rows.sort(key=lambda r: _sort_key(getter(r)), reverse=order == Qt.SortOrder.DescendingOrder)
