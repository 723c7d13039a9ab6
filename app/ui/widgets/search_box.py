"""The global search box: results as you type (debounced), keyboard-first.

Type a loan number, a borrower's name, a phone number or the last four of an
SSN; after a short pause the matches drop down under the box.  Down/Up move
through them, Enter opens the highlighted (or the first) account, Escape
closes the list.  Results that arrive after newer typing are dropped.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QLineEdit, QTableView, QVBoxLayout, QWidget

from app.services import search
from app.services.search import LoanHit
from app.ui.export import add_export
from app.ui.messages import error_text
from app.ui.models.search_table_model import SearchTableModel
from app.ui.widgets.table import fit_columns, make_table
from app.ui.workspace import Workspace

DEBOUNCE_MS = 150
LIMIT = 50


class SearchBox(QLineEdit):
    #: A loan number to open.
    open_requested = Signal(str)
    #: Emitted with the hits each time results are shown (tests, benchmarks).
    results_shown = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.setObjectName("globalSearch")
        self.setPlaceholderText("Search: loan number, name, phone or SSN last four  (Ctrl+F)")
        self.setClearButtonEnabled(True)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 48)
        self._generation = 0
        self._open_exact = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._search)
        self.textEdited.connect(lambda _text: self._timer.start())
        self.returnPressed.connect(self._open_current)

        self.popup = QFrame(None)
        self.popup.setObjectName("searchResults")
        self.popup.setFrameShape(QFrame.Shape.StyledPanel)
        self.popup.setAutoFillBackground(True)
        self.model = SearchTableModel(self.popup)
        self.table: QTableView = make_table(self.model, name="searchTable", sortable=False, parent=self.popup)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.clicked.connect(lambda index: self._open_row(index.row()))
        # Right-click the results: Copy and Export... (issue 13), with the search in the file's header rows.
        self._shown_text = ""
        self.table_export = add_export(self.table, workspace, "Search results", self.export_filters)
        self.status = QLabel()
        self.status.setObjectName("searchStatus")
        layout = QVBoxLayout(self.popup)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addWidget(self.table)
        self.popup.hide()
        self.installEventFilter(self)

    # ------------------------------------------------------------ searching
    def _search(self) -> None:
        text = self.text().strip()
        self._generation += 1
        generation = self._generation
        if not text:
            self.hide_results()
            return
        ctx = self.workspace.ctx

        def done(hits: list[LoanHit]) -> None:
            if generation == self._generation:
                self._show(text, hits)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self.model.set_rows([])
                self._place_popup()
                self.status.setText(error_text(exc))

        self.workspace.tasks.read(lambda: search.search_loans(ctx, text, LIMIT), done, failed, owner=self)

    def export_filters(self) -> list[tuple[str, str]]:
        hits = self.model.rows()
        shown = [("Search", self._shown_text)]
        if hits:
            shown.append(("Matched by", hits[0].matched))
        if len(hits) >= LIMIT:
            shown.append(("Shown", f"the first {LIMIT} matches"))
        return shown

    def search_now(self) -> None:
        """Search immediately (no debounce); for Enter pressed before the pause."""
        self._timer.stop()
        self._search()

    def _show(self, text: str, hits: list[LoanHit]) -> None:
        if self._open_exact:
            self._open_exact = False
            exact = [hit for hit in hits if hit.loan_number.upper() == text.upper()]
            if len(exact) == 1 or len(hits) == 1:
                self.hide_results()
                self.clear()
                self.open_requested.emit((exact or hits)[0].loan_number)
                return
        self.model.set_rows(hits)
        self._shown_text = text
        if hits:
            more = " (first 50; type more to narrow)" if len(hits) >= LIMIT else ""
            self.status.setText(f"{len(hits)} match{'es' if len(hits) != 1 else ''} by {hits[0].matched}{more}"
                                "  \N{EM DASH}  Enter opens, Down/Up choose, Esc closes")
            self.table.selectRow(0)
        else:
            self.status.setText(f"No loan matches \u201c{text}\u201d.")
        fit_columns(self.table, 30)
        self._place_popup()
        self.results_shown.emit(hits)

    def _place_popup(self) -> None:
        window = self.window()
        if self.popup.parent() is not window:
            self.popup.setParent(window)
        header = self.table.horizontalHeader()
        columns = sum(header.sectionSize(i) for i in range(header.count()))
        # As wide as the results need (the status line at least), never wider than the window.
        wanted = max(columns + 40, self.status.sizeHint().width() + 24, self.fontMetrics().averageCharWidth() * 60)
        width = min(window.width() - 16, wanted)
        rows = min(self.model.rowCount(), 12)
        row_height = self.table.verticalHeader().defaultSectionSize()
        height = self.status.sizeHint().height() + self.table.horizontalHeader().sizeHint().height() \
            + row_height * max(rows, 1) + 20
        origin = self.mapTo(window, QPoint(0, self.height()))
        x = max(8, min(origin.x(), window.width() - width - 8))
        self.popup.setGeometry(x, origin.y() + 2, width, height)
        self.popup.show()
        self.popup.raise_()

    def hide_results(self) -> None:
        self.popup.hide()

    # ------------------------------------------------------------ opening
    def _open_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            number = self.model.row_at(row).loan_number
            self.hide_results()
            self.clear()
            self.open_requested.emit(number)

    def _open_current(self) -> None:
        if self._timer.isActive() or not self.popup.isVisible():
            # Typed and pressed Enter at once: an exact loan number (or a sole match) opens directly.
            self._open_exact = True
            self.search_now()
            return
        selected = self.table.selectionModel().selectedRows()
        self._open_row(selected[0].row() if selected else 0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt's name
        if watched is self and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key == Qt.Key.Key_Escape and self.popup.isVisible():
                self.hide_results()
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self.model.rowCount():
                if not self.popup.isVisible():
                    self._place_popup()
                current = self.table.selectionModel().selectedRows()
                row = current[0].row() if current else -1
                row = row + 1 if key == Qt.Key.Key_Down else row - 1
                self.table.selectRow(max(0, min(row, self.model.rowCount() - 1)))
                return True
        if watched is self and event.type() == QEvent.Type.FocusOut:
            QTimer.singleShot(150, self, self._hide_if_unfocused)
        return super().eventFilter(watched, event)

    def _hide_if_unfocused(self) -> None:
        # A context menu on the results (Copy, Export...) keeps them up while it is open.
        if not self.hasFocus() and QApplication.activePopupWidget() is None:
            self.hide_results()
