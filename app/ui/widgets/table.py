"""One way to set up a table view, so every table in Keel behaves and scales the same."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QSettings, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget


def make_table(
    model: QAbstractItemModel,
    *,
    name: str,
    sortable: bool = True,
    parent: QWidget | None = None,
    multi_select: bool = False,
) -> QTableView:
    table = QTableView(parent)
    table.setObjectName(name)
    table.setModel(model)
    table.setAlternatingRowColors(True)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(
        QAbstractItemView.SelectionMode.ExtendedSelection if multi_select
        else QAbstractItemView.SelectionMode.SingleSelection
    )
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    # No sort until the user clicks a header: the service's order (priority,
    # newest first) is the meaningful one, and enabling sorting would
    # otherwise sort by the first column at once.
    table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    table.setSortingEnabled(sortable)
    table.setWordWrap(False)
    table.verticalHeader().setVisible(False)
    # Row height from the font, so 200 % scaling and large fonts stay readable.
    table.verticalHeader().setDefaultSectionSize(int(table.fontMetrics().height() * 1.6))
    header = table.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setHighlightSections(False)
    header.setDefaultAlignment(header.defaultAlignment())
    return table


def fit_columns(table: QTableView, max_chars: int = 40) -> None:
    """Size columns to their contents, but no column wider than ``max_chars`` characters."""
    table.resizeColumnsToContents()
    chars = table.fontMetrics().averageCharWidth()
    limit = chars * max_chars
    header = table.horizontalHeader()
    for column in range(header.count() - 1):
        # A little air between columns (two characters), never wider than the limit.
        header.resizeSection(column, min(header.sectionSize(column) + chars * 2, limit))


def save_header(settings: QSettings, key: str, table: QTableView) -> None:
    settings.setValue(key, table.horizontalHeader().saveState())


def restore_header(settings: QSettings, key: str, table: QTableView) -> bool:
    state = settings.value(key)
    if state is None:
        return False
    return table.horizontalHeader().restoreState(state)
