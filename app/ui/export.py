"""Export… and Copy for every table on the desk (issue 13, item 3).

One helper, not one per view:

* :func:`add_export` gives any ``QTableView`` whose model exposes typed rows
  (:class:`TypedRows`: ``RecordTableModel`` does, so does the batch grid; a
  sort or filter proxy in between is followed) a context menu with **Copy**
  (Ctrl+C: the selected rows as tab-separated text with a header line) and
  **Export…** (Ctrl+E: CSV or XLSX, chosen in a save dialog), and a button
  for the view's own row of controls.  The view supplies its name and the
  filters in force; they go into the file's header rows.
* :func:`export_table` is the same action for any :class:`tabular.Table`
  (a report's rows and totals), in one call: the save dialog, the writing and
  the messages.

Every file is written by app/reports/tabular.py from the typed values (money
stays Decimal, dates stay dates), never from the display strings.  A large
export (more than :data:`LARGE_EXPORT` rows) runs on the task runner's read
pool with a progress dialog and Cancel; a cancelled export leaves no file.
A write that fails (a read-only folder, a full disk, a file open in another
program) shows one sentence, and the desk says an export worked only once the
file exists.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from PySide6.QtCore import QAbstractItemModel, QAbstractProxyModel, QObject, QPoint, QSettings, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMenu, QPushButton, QTableView, QWidget

from app.reports import tabular
from app.services import exports
from app.ui.messages import error_text, inform, warn
from app.ui.workers import ProgressReport, TaskRunner
from app.ui.workspace import Workspace

log = logging.getLogger("keel.ui.export")

#: More rows than this are written off the GUI thread, with progress and Cancel.
LARGE_EXPORT = 5_000
#: The save dialog's choices, by suffix; the first is the default for a new desk.
FILE_FILTERS = {"xlsx": "Excel workbook (*.xlsx)", "csv": "CSV, comma-separated (*.csv)"}
EXPORT_SHORTCUT = "Ctrl+E"
FOLDER_KEY = "export/folder"
FORMAT_KEY = "export/format"
#: Characters no file name may hold on Windows or macOS.
_NOT_IN_NAMES = '<>:"/\\|?*'

Filters = Sequence[tuple[str, str]]
Text = str | Callable[[], str]


@runtime_checkable
class TypedRows(Protocol):
    """A model whose rows export as typed values (``RecordTableModel``, ``BatchTableModel``)."""

    def export_columns(self, columns: Sequence[int] | None = None) -> list[tabular.Column]: ...

    def export_rows(self, rows: Sequence[int], columns: Sequence[int] | None = None) -> Sequence[Sequence[Any]]: ...


@dataclass(frozen=True)
class ExportOutcome:
    """What became of one export: written (``ok``), cancelled, or refused with a one-line ``problem``."""

    path: Path
    rows: int
    cancelled: bool = False
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return not self.cancelled and self.problem is None


# ---------------------------------------------------------------- tables from a view

def _typed_model(view: QTableView) -> tuple[TypedRows, list[QAbstractProxyModel]]:
    """The view's typed model under any proxies, and the proxies from the view's side down."""
    model: QAbstractItemModel = view.model()
    proxies: list[QAbstractProxyModel] = []
    while isinstance(model, QAbstractProxyModel):
        proxies.append(model)
        model = model.sourceModel()
    if not isinstance(model, TypedRows):
        raise TypeError(f"{type(model).__name__} has no typed rows to export")
    return model, proxies


def _view_rows(view: QTableView, selected_only: bool) -> list[int]:
    """Rows of the view (its order: sorted and filtered as shown), all or the selected ones."""
    if not selected_only:
        return list(range(view.model().rowCount()))
    selection = view.selectionModel()
    rows: set[int] = set()
    if selection is not None:
        ranges = selection.selection()
        for number in range(ranges.count()):  # ranges, not one index per cell: Ctrl+A on 100,000 rows stays quick
            span = ranges.at(number)
            rows.update(range(span.top(), span.bottom() + 1))
    return sorted(rows)


def _sorting(view: QTableView) -> list[tuple[str, str]]:
    header = view.horizontalHeader()
    section = header.sortIndicatorSection()
    if not view.isSortingEnabled() or not 0 <= section < view.model().columnCount():
        return []
    name = view.model().headerData(section, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
    order = "descending" if header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder else "ascending"
    return [("Sorted by", f"{name}, {order}")]


def view_table(view: QTableView, title: str, filters: Filters = (), *, selected_only: bool = False) -> tabular.Table:
    """The table as the view shows it -- its rows in their order, its shown columns -- with typed values.

    Read on the GUI thread; the rows it returns are a snapshot of frozen records, safe to write from
    a worker thread.
    """
    model, proxies = _typed_model(view)
    columns = [c for c in range(view.model().columnCount()) if not view.isColumnHidden(c)]
    rows = []
    top = view.model()
    for row in _view_rows(view, selected_only):
        index = top.index(row, 0)
        for proxy in proxies:
            index = proxy.mapToSource(index)
        rows.append(index.row())
    return tabular.Table(title, model.export_columns(columns), model.export_rows(rows, columns),
                         filters=tuple(filters) + tuple(_sorting(view)))


# ---------------------------------------------------------------- choosing the file

def file_stem(name: str, day: date) -> str:
    """``Collections queue 2026-06-01``: the view's name and the date, safe as a file name anywhere."""
    cleaned = "".join(" " if ch in _NOT_IN_NAMES or ord(ch) < 32 else ch for ch in name)
    return " ".join(f"{cleaned} {day.isoformat()}".split())


def ask_path(parent: QWidget | None, settings: QSettings, name: str, day: date) -> Path | None:
    """The save dialog with both formats; the last folder and format are remembered.  None: cancelled."""
    folder = str(settings.value(FOLDER_KEY, "") or "")
    if not folder or not Path(folder).is_dir():
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
    kind = str(settings.value(FORMAT_KEY, "xlsx") or "xlsx")
    kind = kind if kind in FILE_FILTERS else "xlsx"
    suggested = str(Path(folder) / f"{file_stem(name, day)}.{kind}")
    chosen, chosen_filter = QFileDialog.getSaveFileName(parent, f"Export {name}", suggested,
                                                        ";;".join(FILE_FILTERS.values()), FILE_FILTERS[kind])
    if not chosen:
        return None
    path = Path(chosen)
    if path.suffix.lower() not in (".csv", ".xlsx"):
        wanted = "csv" if chosen_filter == FILE_FILTERS["csv"] else "xlsx"
        path = path.with_name(f"{path.name}.{wanted}")
    settings.setValue(FOLDER_KEY, str(path.parent))
    settings.setValue(FORMAT_KEY, path.suffix[1:].lower())
    return path


# ---------------------------------------------------------------- writing

_REASONS = {
    # On Windows a file open in Excel refuses to be replaced with "permission denied".
    errno.EACCES: "the file is open in another program, or the folder is read-only",
    errno.EPERM: "the file is open in another program, or the folder is read-only",
    errno.EROFS: "the disk is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "the folder does not exist",
    errno.EISDIR: "a folder has that name",
    errno.ENAMETOOLONG: "the name is too long",
}


def write_problem(path: Path, exc: OSError) -> str:
    """One sentence for a write that failed, naming the file: never a traceback."""
    reason = _REASONS.get(exc.errno or 0) or (exc.strerror or type(exc).__name__).lower()
    return f"Could not write {path}: {reason}. Nothing was written."


def write_file(table: tabular.Table, path: Path, *, progress: tabular.ProgressFn | None = None,
               cancelled: tabular.CancelledFn | None = None) -> ExportOutcome:
    """Write ``table`` to ``path`` (CSV or XLSX by its suffix, the filters in its header rows)."""
    count = len(table.rows)
    try:
        tabular.write(table, path, progress=progress, cancelled=cancelled, with_header_rows=True,
                      sheet=table.title or "Keel")
    except tabular.ExportCancelled:
        return ExportOutcome(path, count, cancelled=True)
    except OSError as exc:
        log.info("export to %s failed: %s", path, exc)
        return ExportOutcome(path, count, problem=write_problem(path, exc))
    if not path.is_file():  # pragma: no cover - tabular moves the file into place or raises
        return ExportOutcome(path, count, problem=f"Could not write {path}. Nothing was written.")
    return ExportOutcome(path, count)


def _main_window(widget: QWidget | None) -> QMainWindow | None:
    while widget is not None:
        window = widget.window()
        if isinstance(window, QMainWindow):
            return window
        widget = window.parentWidget()
    return None


def tell(parent: QWidget | None, text: str) -> None:
    """A passing message: in the main window's status bar, or a box when there is none."""
    window = _main_window(parent)
    if window is not None:
        window.statusBar().showMessage(text, 15_000)
    else:
        inform(parent, text)


def _rows_text(count: int) -> str:
    return f"{count:,} row{'s' if count != 1 else ''}"


def _finish(parent: QWidget | None, outcome: ExportOutcome,
            on_finished: Callable[[ExportOutcome], None] | None) -> None:
    if outcome.ok and outcome.path.is_file():
        tell(parent, f"Exported {_rows_text(outcome.rows)} to {outcome.path}.")
    elif outcome.cancelled:
        tell(parent, "Export cancelled; no file was written.")
    else:
        warn(parent, outcome.problem or f"Could not write {outcome.path}. Nothing was written.")
    if on_finished is not None:
        on_finished(outcome)


def write_table(parent: QWidget | None, tasks: TaskRunner, table: tabular.Table, path: Path,
                on_finished: Callable[[ExportOutcome], None] | None = None) -> None:
    """Write ``table`` to ``path`` and say how it went; more than :data:`LARGE_EXPORT` rows off the GUI thread."""
    count = len(table.rows)
    if count <= LARGE_EXPORT:
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            outcome = write_file(table, path)
        except Exception as exc:  # a bug: logged with its traceback, one sentence shown
            log.exception("export failed")
            outcome = ExportOutcome(path, count, problem=error_text(exc))
        finally:
            QApplication.restoreOverrideCursor()
        _finish(parent, outcome, on_finished)
        return

    stop = threading.Event()
    label = f"Exporting {_rows_text(count)} to {path.name}\N{HORIZONTAL ELLIPSIS}"

    def work(report: ProgressReport) -> ExportOutcome:
        return write_file(table, path, progress=lambda done, total: report(done, total, label),
                          cancelled=stop.is_set)

    def failed(exc: BaseException) -> None:  # a bug (the runner has logged it): one sentence, no file claimed
        _finish(parent, ExportOutcome(path, count, problem=error_text(exc)), on_finished)

    tasks.read(work, lambda outcome: _finish(parent, outcome, on_finished), failed, owner=parent, label=label,
               on_progress=lambda _done, _total, _label: None, cancel=stop)


def export_table(parent: QWidget | None, workspace: Workspace, table: tabular.Table, name: str | None = None,
                 on_finished: Callable[[ExportOutcome], None] | None = None) -> bool:
    """Export… for any table, in one call: ask where (CSV or XLSX), write it, say so.  False: no file chosen.

    A Reports view calls ``export_table(self, self.workspace, report_table)`` with the report's
    :class:`tabular.Table` (its filters and totals included).
    """
    title = name or table.title or "Export"
    path = ask_path(parent, workspace.settings, title, workspace.business_date)
    if path is None:
        return False

    def finished(outcome: ExportOutcome) -> None:
        if outcome.ok and outcome.path.is_file():  # what left Keel is an audit record (app.services.exports)
            ctx = workspace.ctx
            workspace.tasks.write(lambda: exports.record_export(ctx, title, outcome.rows, outcome.path.name))
        if on_finished is not None:
            on_finished(outcome)

    write_table(parent, workspace.tasks, table, path, finished)
    return True


# ---------------------------------------------------------------- the actions on a table view

def _text(value: Text) -> str:
    return value() if callable(value) else value


class TableExport(QObject):
    """Copy and Export… on one table view: a context menu, Ctrl+C and Ctrl+E, and a button for the view."""

    #: After each export: an :class:`ExportOutcome` (written, cancelled or refused).
    exported = Signal(object)
    #: The text put on the clipboard.
    copied = Signal(str)

    def __init__(self, table: QTableView, workspace: Workspace, name: Text,
                 filters: Callable[[], Filters] | None = None) -> None:
        super().__init__(table)
        self.table = table
        self.workspace = workspace
        self._name = name
        self._filters = filters
        self.menu: QMenu | None = None
        self.copy_action = QAction("&Copy", table)
        self.copy_action.setObjectName("copyRowsAction")
        self.copy_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        self.copy_action.setToolTip("Copy the selected rows, with the column titles, to paste into a spreadsheet")
        self.export_action = QAction("&Export\N{HORIZONTAL ELLIPSIS}", table)
        self.export_action.setObjectName("exportTableAction")
        self.export_action.setShortcut(QKeySequence(EXPORT_SHORTCUT))
        self.export_action.setToolTip("Save the table as an Excel workbook or a CSV file")
        for action in (self.copy_action, self.export_action):
            # Only while the table has the focus: Ctrl+C in a text field still copies its text.
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            table.addAction(action)
        self.copy_action.triggered.connect(self.copy)
        self.export_action.triggered.connect(self.export)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._show_menu)

    # ------------------------------------------------------------ what is exported
    def name(self) -> str:
        return _text(self._name)

    def filters(self) -> list[tuple[str, str]]:
        """The view's filters, then the date and the user: the file says what it was made from."""
        given = list(self._filters()) if self._filters is not None else []
        actor = self.workspace.ctx.actor
        return given + [("Business date", self.workspace.business_date.isoformat()),
                        ("Exported by", actor.username)]

    def current_table(self, *, selected_only: bool = False) -> tabular.Table:
        return view_table(self.table, self.name(), self.filters(), selected_only=selected_only)

    # ------------------------------------------------------------ the actions
    def button(self, text: str = "Export\N{HORIZONTAL ELLIPSIS}") -> QPushButton:
        """A button for the view's row of controls that runs Export…."""
        button = QPushButton(text)
        button.setObjectName(f"{self.table.objectName() or 'table'}Export")
        button.setToolTip(f"Save this table as an Excel workbook or a CSV file ({EXPORT_SHORTCUT} in the table); "
                          "Ctrl+C copies the selected rows")
        button.setAutoDefault(False)
        button.clicked.connect(self.export)
        return button

    def copy(self) -> str:
        """Put the selected rows on the clipboard as tab-separated text with a header line."""
        table = self.current_table(selected_only=True)
        if not table.rows:
            tell(self.table, "Select the rows to copy first.")
            return ""
        text = tabular.clipboard_text(table.columns, table.rows)
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(text)
        tell(self.table, f"Copied {_rows_text(len(table.rows))}.")
        self.copied.emit(text)
        return text

    def export(self) -> bool:
        """Export…: the whole table as shown (sorted and filtered), with the filters in its header rows."""
        return export_table(self.table, self.workspace, self.current_table(), self.name(), self.exported.emit)

    def context_menu(self) -> QMenu:
        menu = QMenu(self.table)
        menu.setObjectName("tableContextMenu")
        menu.addAction(self.copy_action)
        menu.addAction(self.export_action)
        return menu

    def _show_menu(self, position: QPoint) -> None:
        self.menu = self.context_menu()
        self.menu.popup(self.table.viewport().mapToGlobal(position))


def add_export(table: QTableView, workspace: Workspace, name: Text,
               filters: Callable[[], Filters] | None = None) -> TableExport:
    """Give ``table`` Copy (Ctrl+C) and Export… (Ctrl+E) and a context menu; ``filters`` says what is in force."""
    return TableExport(table, workspace, name, filters)


__all__ = ["EXPORT_SHORTCUT", "ExportOutcome", "FILE_FILTERS", "LARGE_EXPORT", "TableExport", "TypedRows",
           "add_export", "ask_path", "export_table", "file_stem", "tell", "view_table", "write_file", "write_table",
           "write_problem"]
