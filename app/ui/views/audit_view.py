"""The global audit search: who did what, across every loan, in words (issue 11, item 5).

For managers and administrators (``permissions.VIEW_REPORTS``).  Filters:
user, from and to dates (both included), action (a kind of action or one code)
and loan number; a page of 100 records at a time, newest first, each record a
sentence.  Double-click a record about a loan to open the account.  The same
service answers ``keel audit``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services import audit_search
from app.services.audit_search import AuditChoices, AuditPage
from app.ui import formatting
from app.ui.export import add_export
from app.ui.messages import error_field, error_text, mark_problem
from app.ui.models.audit_table_model import AuditSearchTableModel
from app.ui.views.view import View
from app.ui.widgets.date_edit import DateEdit
from app.ui.widgets.table import fit_columns, make_table
from app.ui.workers import Change
from app.ui.workspace import Workspace

PAGE_SIZE = 100


class AuditView(View):
    title = "Audit"
    shortcut = "Ctrl+7"

    #: Ask the main window to open an account (a double-clicked record's loan).
    open_requested = Signal(str)
    #: Emitted after a page has been shown (tests).
    page_shown = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(workspace, parent)
        self.setObjectName("auditView")
        self.page: AuditPage | None = None
        self._page_number = 1
        self._generation = 0
        self._shown_filters: list[tuple[str, str]] = []

        intro = QLabel("Every recorded action, newest first, in words. Choose a user, dates, a kind of action or a "
                       "loan, then Search (Enter). Double-click a record about a loan to open the account.")
        intro.setWordWrap(True)
        self.user_combo = QComboBox()
        self.user_combo.setObjectName("auditUser")
        self.user_combo.addItem("Anyone", "")
        self.action_combo = QComboBox()
        self.action_combo.setObjectName("auditAction")
        self.action_combo.addItem("Any action", "")
        self.from_edit = DateEdit(field="From")
        self.from_edit.setObjectName("auditFrom")
        self.to_edit = DateEdit(field="To")
        self.to_edit.setObjectName("auditTo")
        self.loan_edit = QLineEdit()
        self.loan_edit.setObjectName("auditLoan")
        self.loan_edit.setPlaceholderText("Any loan")
        self.search_button = QPushButton("&Search")
        self.search_button.setObjectName("auditSearch")
        self.clear_button = QPushButton("C&lear")
        self.clear_button.setObjectName("auditClear")
        self.problem_label = QLabel()
        self.problem_label.setObjectName("auditProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #a00000;")
        self.problem_label.hide()

        for combo in (self.user_combo, self.action_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMinimumContentsLength(24)
        self.loan_edit.setMinimumWidth(self.fontMetrics().averageCharWidth() * 14)
        # Two rows, labels beside their fields: who and what, then when.
        filters = QGridLayout()
        filters.setHorizontalSpacing(8)

        def add(row: int, column: int, text: str, widget: QWidget) -> None:
            label = QLabel(text)
            label.setBuddy(widget)
            filters.addWidget(label, row, column, Qt.AlignmentFlag.AlignRight)
            filters.addWidget(widget, row, column + 1)

        add(0, 0, "&User:", self.user_combo)
        add(0, 2, "&Action:", self.action_combo)
        add(0, 4, "Lo&an:", self.loan_edit)
        add(1, 0, "F&rom:", self.from_edit)
        add(1, 2, "&To:", self.to_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.search_button)
        buttons.addWidget(self.clear_button)
        filters.addLayout(buttons, 1, 4, 1, 2)
        filters.setColumnStretch(6, 1)

        self.model = AuditSearchTableModel(self)
        self.table = make_table(self.model, name="auditSearchTable", sortable=False)
        self.table.doubleClicked.connect(self._open_selected)
        self.count_label = QLabel()
        self.count_label.setObjectName("auditCount")
        self.previous_button = QPushButton("&Previous page")
        self.previous_button.setObjectName("auditPrevious")
        self.next_button = QPushButton("&Next page")
        self.next_button.setObjectName("auditNext")
        self.previous_button.setEnabled(False)
        self.next_button.setEnabled(False)
        # Copy (Ctrl+C) and Export... (Ctrl+E): the page shown, with the filters in the file (issue 13).
        self.table_export = add_export(self.table, workspace, "Audit", self.export_filters)
        paging = QHBoxLayout()
        paging.addWidget(self.count_label, 1)
        paging.addWidget(self.previous_button)
        paging.addWidget(self.next_button)
        paging.addWidget(self.table_export.button())

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(filters)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(paging)

        self.fields: dict[str, QWidget] = {"user": self.user_combo, "from": self.from_edit, "to": self.to_edit,
                                           "action": self.action_combo, "loan": self.loan_edit}
        self.search_button.clicked.connect(lambda: self.search(1))
        self.clear_button.clicked.connect(self.clear_filters)
        for line in (self.loan_edit, self.from_edit.line_edit, self.to_edit.line_edit):
            line.returnPressed.connect(lambda: self.search(1))
        self.previous_button.clicked.connect(lambda: self.search(self._page_number - 1))
        self.next_button.clicked.connect(lambda: self.search(self._page_number + 1))

    # ------------------------------------------------------------ filters
    def refresh(self) -> None:
        ctx = self.workspace.ctx
        self.workspace.tasks.read(lambda: audit_search.audit_choices(ctx), self._fill_choices, owner=self)
        self.search(self._page_number)

    def _fill_choices(self, choices: AuditChoices) -> None:
        user, action = self.user_combo.currentData(), self.action_combo.currentData()
        self.user_combo.blockSignals(True)
        self.user_combo.clear()
        self.user_combo.addItem("Anyone", "")
        for username, full_name in choices.users:
            self.user_combo.addItem(f"{full_name} ({username})", username)
        self.user_combo.setCurrentIndex(max(0, self.user_combo.findData(user)))
        self.user_combo.blockSignals(False)
        self.action_combo.blockSignals(True)
        self.action_combo.clear()
        self.action_combo.addItem("Any action", "")
        # The kinds first ("Payment: every action"), then each code in words.
        kinds = sorted({code.partition(".")[0] for code in choices.actions if "." in code})
        for kind in kinds:
            self.action_combo.addItem(f"{formatting.words(kind)}: every action", kind)
        for code in choices.actions:
            self.action_combo.addItem(f"    {formatting.words(code.replace('.', ' '))}", code)
        self.action_combo.setCurrentIndex(max(0, self.action_combo.findData(action)))
        self.action_combo.blockSignals(False)

    def clear_filters(self) -> None:
        self.user_combo.setCurrentIndex(0)
        self.action_combo.setCurrentIndex(0)
        self.from_edit.clear()
        self.to_edit.clear()
        self.loan_edit.clear()
        self.search(1)

    def filters(self) -> dict[str, Any]:
        return {"user": self.user_combo.currentData() or None, "start": self.from_edit.value(),
                "end": self.to_edit.value(), "action": self.action_combo.currentData() or None,
                "loan": self.loan_edit.text().strip() or None}

    def _describe(self) -> list[tuple[str, str]]:
        return [("User", self.user_combo.currentText()), ("Action", self.action_combo.currentText().strip()),
                ("From", formatting.day(self.from_edit.value()) if self.from_edit.value() else "any date"),
                ("To", formatting.day(self.to_edit.value()) if self.to_edit.value() else "any date"),
                ("Loan", self.loan_edit.text().strip() or "any loan")]

    def export_filters(self) -> list[tuple[str, str]]:
        """The search shown (not what is typed since), for an export's header rows, and which page of how many."""
        shown = list(self._shown_filters)
        page = self.page
        if page is not None and page.total:
            start = (page.page - 1) * page.page_size + 1
            shown.append(("Records", f"{start:,}\N{EN DASH}{start + len(page.lines) - 1:,} of {page.total:,} "
                                     f"(page {page.page} of {page.pages})"))
        return shown

    def _refuse(self, field: str, text: str) -> None:
        self.problem_label.setText(text)
        self.problem_label.show()
        mark_problem(self.fields, field)

    # ------------------------------------------------------------ searching
    def search(self, page: int = 1) -> None:
        for name, edit in (("from", self.from_edit), ("to", self.to_edit)):
            if edit.problem():
                self._refuse(name, edit.problem() or "")
                return
        wanted = self.filters()
        described = self._describe()
        ctx = self.workspace.ctx
        self._generation += 1
        generation = self._generation
        number = max(1, page)

        def done(result: AuditPage) -> None:
            if generation == self._generation:
                self._shown_filters = described
                self._show(result)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self._refuse(error_field(exc) or "", error_text(exc))

        self.workspace.tasks.read(lambda: audit_search.search_audit(ctx, page=number, page_size=PAGE_SIZE, **wanted),
                                  done, failed, owner=self, label="Searching the audit trail\N{HORIZONTAL ELLIPSIS}")

    def _show(self, result: AuditPage) -> None:
        first_time = self.page is None
        self.page = result
        self._page_number = result.page
        self.problem_label.hide()
        mark_problem(self.fields, None)
        self.model.set_rows(result.lines)
        if first_time:
            fit_columns(self.table)
        start = (result.page - 1) * result.page_size + 1
        if result.total == 0:
            self.count_label.setText("No record matches these filters.")
        else:
            self.count_label.setText(f"Records {start:,}\N{EN DASH}{start + len(result.lines) - 1:,} of "
                                     f"{result.total:,} (page {result.page} of {result.pages})")
        self.previous_button.setEnabled(result.page > 1)
        self.next_button.setEnabled(result.page < result.pages)
        self.page_shown.emit(result)

    def _open_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            number = self.model.row_at(rows[0].row()).loan_number
            if number:
                self.open_requested.emit(number)

    # ------------------------------------------------------------ changes
    def apply_change(self, change: Change) -> None:
        # Every write is audited: the first page shows it when the view is next searched.
        if self.isVisible() and self._page_number == 1:
            self.search(1)


__all__ = ["AuditView"]
