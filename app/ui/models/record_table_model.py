"""A read-only Qt table model over a list of frozen service results.

Each concrete model (``ledger_table_model.py``, ``queue_table_model.py``, ...)
declares its :class:`Column` list; this base draws them consistently: money
right-aligned with thousands separators through the one formatter, negative
amounts with their minus sign (and dark red, never colour alone), numbers
right-aligned, em dash for "no figure".  Sorting uses the raw values (a
Decimal sorts as a number, not as text), so no proxy model is needed.

The same columns export (issue 13, item 3): :meth:`RecordTableModel.export_columns`
and :meth:`RecordTableModel.export_rows` give the typed values -- money as
Decimal, dates as dates -- that app/reports/tabular.py writes to CSV, XLSX and
the clipboard, never the display strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from app.reports import tabular
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


#: A display column's kind as the export writes it (``id`` is a number without separators; ``words`` is text).
EXPORT_KINDS: dict[str, tabular.Kind] = {"money": "money", "int": "int", "id": "int", "date": "date",
                                         "datetime": "datetime", "percent": "percent"}


def _typed(kind: str, value: Any) -> bool:
    """Whether ``value`` is what an export of a ``kind`` column writes as a typed cell."""
    if kind in ("money", "percent"):
        return isinstance(value, Decimal)
    if kind in ("int", "id"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, date)
    if kind == "datetime":
        return isinstance(value, datetime)
    return False


def export_getter(column: Column[T]) -> Callable[[T], Any]:
    """The value a column exports for a record: the raw typed value for figures and dates, the words for text.

    Text columns export what the desk shows (``Late fee``, not ``late_fee``; a masked SSN, never more).
    A percent column holds percentages (12.50 shows as 12.50 %); the export writes the fraction, 0.125,
    formatted as a percentage.  A moment is written in the desk's local time, to match the screen (and
    the XLSX cell, which has no time zone).  A value of the wrong type for its kind falls back to its
    text, so an export never fails on one odd cell.
    """
    kind, value, text = column.kind, column.value, column.text

    def shown(record: T) -> str | None:
        if text is not None:
            words = text(record)
        else:
            raw = value(record)
            words = "" if raw is None else (formatting.words(raw) if kind == "words" else cell_text(kind, raw))
        return None if words in ("", formatting.DASH) else words

    if kind not in EXPORT_KINDS:
        return shown

    def typed(record: T) -> Any:
        raw = value(record)
        if raw is None:
            return None
        if not _typed(kind, raw):
            try:
                return shown(record)
            except (AttributeError, TypeError, ValueError):  # not even the desk's formatter can read it
                return str(raw)
        if kind == "percent":
            return raw / 100
        if kind == "datetime" and raw.tzinfo is not None:
            return raw.astimezone().replace(tzinfo=None)  # the desk's local time, as the table shows it
        return raw

    return typed


class ExportRows(Sequence[Sequence[Any]]):
    """Rows of typed values, made as they are read: a frozen snapshot of records and pure getters.

    Safe to read on a worker thread (a large export streams from it): it holds the records themselves,
    not the model, so a refresh of the table meanwhile changes nothing here.
    """

    def __init__(self, records: Sequence[Any], getters: Sequence[Callable[[Any], Any]]) -> None:
        self._records = list(records)
        self._getters = tuple(getters)

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._row(r) for r in self._records[index]]
        return self._row(self._records[index])

    def __iter__(self) -> Iterator[Sequence[Any]]:
        for record in self._records:
            yield self._row(record)

    def _row(self, record: Any) -> list[Any]:
        return [get(record) for get in self._getters]


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

    # ------------------------------------------------------------ export (app/ui/export.py)
    def export_columns(self, columns: Sequence[int] | None = None) -> list[tabular.Column]:
        """The export's columns: the titles and kinds of ``columns`` (all when None)."""
        chosen = range(len(self.columns)) if columns is None else columns
        return [tabular.Column(self.columns[c].title, EXPORT_KINDS.get(self.columns[c].kind, "text"))
                for c in chosen]

    def export_rows(self, rows: Sequence[int], columns: Sequence[int] | None = None) -> ExportRows:
        """The typed values of ``rows`` (model rows, in the order given) for ``columns``."""
        chosen = range(len(self.columns)) if columns is None else columns
        return ExportRows([self._rows[r] for r in rows], [export_getter(self.columns[c]) for c in chosen])

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
