"""Requests: the Reg X / Reg Z worklist of mortgage borrowers' written requests (issue 11).

The worklist reads one service (``requests.requests``): every request with
what it still needs and by when, the earliest first; overdue ones are red,
those due on the open business date bold.  Beside it, a written request is
logged with the day it arrived, and the due dates it will get are shown while
it is typed (the service's own rule).  The selected request is marked
acknowledged or answered with a date and a note; each mark is audited.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.date_input import in_words
from app.services import permissions, requests
from app.services.requests import RequestInfo
from app.ui import formatting
from app.ui.export import add_export
from app.ui.messages import error_field, error_text, mark_problem
from app.ui.models.record_table_model import Column, RecordTableModel
from app.ui.views.view import View
from app.ui.widgets.date_edit import DateEdit
from app.ui.widgets.table import fit_columns, make_table
from app.ui.workers import Change
from app.ui.workspace import Workspace

KIND_TEXT = {"notice_of_error": "Notice of error", "information_request": "Request for information",
             "payoff_request": "Payoff statement"}
SUBJECT_TEXT = {None: "", "payoff_balance": "payoff balance", "owner_identity": "owner's identity"}
#: The subjects each kind may name, with the words on the form.
SUBJECT_CHOICES: dict[str, list[tuple[str | None, str]]] = {
    "notice_of_error": [(None, "Any other error (30 days)"), ("payoff_balance", "The payoff balance (7 days)")],
    "information_request": [(None, "Any other information (30 days)"),
                            ("owner_identity", "Who owns the loan (10 days)")],
    "payoff_request": [(None, "Payoff statement (7 business days)")],
}
OVERDUE = QColor("#a00000")
STEP_TEXT = {"acknowledge": "Acknowledge", "respond": "Respond", None: "Answered"}


def kind_text(info: RequestInfo) -> str:
    subject = SUBJECT_TEXT.get(info.subject, info.subject or "")
    return KIND_TEXT.get(info.kind, info.kind) + (f" ({subject})" if subject else "")


class RequestsTableModel(RecordTableModel[RequestInfo]):
    columns = (
        Column("Next step", lambda r: r.next_step or "", "text", text=lambda r: STEP_TEXT.get(r.next_step, "")),
        Column("Due", lambda r: r.next_due, "date",
               text=lambda r: (formatting.day(r.next_due) + (" overdue" if r.overdue else ""))
               if r.next_due else formatting.DASH),
        Column("Loan", lambda r: r.loan_number),
        Column("Borrower", lambda r: r.borrower),
        Column("Request", kind_text),
        Column("Received", lambda r: r.received_on, "date"),
        Column("Acknowledge by", lambda r: r.acknowledge_by, "date"),
        Column("Respond by", lambda r: r.respond_by, "date"),
        Column("Acknowledged", lambda r: r.acknowledged_on, "date"),
        Column("Answered", lambda r: r.responded_on, "date"),
        Column("What was asked", lambda r: r.description),
    )

    def __init__(self, today: date, parent: Any = None) -> None:
        super().__init__(parent)
        self.today = today

    def row_foreground(self, record: RequestInfo) -> QColor | None:
        return OVERDUE if record.overdue else None

    def row_font(self, record: RequestInfo) -> QFont | None:
        if record.overdue or record.next_due == self.today:
            font = QFont()
            font.setBold(True)
            return font
        return None

    def row_tooltip(self, record: RequestInfo) -> str | None:
        lines = [record.description]
        if record.response_note:
            lines.append(f"Answered: {record.response_note}")
        return "\n".join(lines)


class RequestsView(View):
    title = "Requests"
    shortcut = "Ctrl+8"

    #: A request was logged or marked: the RequestInfo.
    request_saved = Signal(object)
    #: The worklist was (re)loaded: the list of RequestInfo.
    worklist_loaded = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(workspace, parent)
        self.setObjectName("requestsView")
        self.may_log = workspace.can(permissions.LOG_REQUEST)
        self._due_generation = 0

        # ---------------------------------------------------------- the worklist
        self.open_check = QCheckBox("&Open only")
        self.open_check.setObjectName("requestsOpenOnly")
        self.open_check.setChecked(True)
        self.count_label = QLabel()
        self.count_label.setObjectName("requestsCount")
        self.refresh_button = QPushButton("Refresh")
        top = QHBoxLayout()
        top.addWidget(self.open_check)
        top.addStretch(1)
        top.addWidget(self.count_label)
        top.addWidget(self.refresh_button)
        self.model = RequestsTableModel(workspace.business_date, self)
        self.table = make_table(self.model, name="requestsTable")
        self.table.setToolTip("Double-click a request to open its account")
        # Copy (Ctrl+C) and Export... (Ctrl+E, the button), with the filter in the file (issue 13).
        self.table_export = add_export(
            self.table, workspace, "Requests",
            lambda: [("Requests", "open only" if self.open_check.isChecked() else "open and answered")])
        top.insertWidget(top.indexOf(self.refresh_button), self.table_export.button())
        note = QLabel("Written notices of error and requests for information (12 CFR 1024.35, 1024.36): acknowledge "
                      "within 5 days and respond within 30, not counting Saturdays, Sundays and legal public "
                      "holidays (7 for a payoff-balance error, 10 for the owner's identity). A payoff statement "
                      "is due within 7 business days (12 CFR 1026.36(c)(3)). Overdue requests are red.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #3c4650;")

        # ---------------------------------------------------------- marking the selected request
        self.selected_label = QLabel("Select a request to mark it acknowledged or answered.")
        self.selected_label.setObjectName("requestSelected")
        self.selected_label.setWordWrap(True)
        self.done_date = DateEdit(field="Sent on")
        self.done_date.setObjectName("requestDoneDate")
        self.done_note = QLineEdit()
        self.done_note.setObjectName("requestDoneNote")
        self.done_note.setPlaceholderText("How it was answered (required to mark it answered)")
        self.ack_button = QPushButton("Mark &acknowledged")
        self.ack_button.setObjectName("markAcknowledged")
        self.answer_button = QPushButton("Mark a&nswered")
        self.answer_button.setObjectName("markAnswered")
        self.done_message = QLabel()
        self.done_message.setObjectName("requestDoneMessage")
        self.done_message.setWordWrap(True)
        done_form = QFormLayout()
        done_form.addRow(self.selected_label)
        done_form.addRow("Sent o&n:", self.done_date)
        done_form.addRow("No&te:", self.done_note)
        done_buttons = QHBoxLayout()
        done_buttons.addWidget(self.done_message, 1)
        done_buttons.addWidget(self.ack_button)
        done_buttons.addWidget(self.answer_button)
        done_form.addRow(done_buttons)
        self.done_box = QGroupBox("The selected request")
        self.done_box.setLayout(done_form)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(note)
        left_layout.addWidget(self.done_box)

        # ---------------------------------------------------------- logging a request
        self.loan_edit = QLineEdit()
        self.loan_edit.setObjectName("requestLoan")
        self.loan_edit.setPlaceholderText("KL-000123")
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("requestKind")
        for code in requests.KINDS:
            self.kind_combo.addItem(KIND_TEXT.get(code, formatting.words(code)), code)
        self.subject_combo = QComboBox()
        self.subject_combo.setObjectName("requestSubject")
        self.received_edit = DateEdit(field="Received")
        self.received_edit.setObjectName("requestReceived")
        self.description_edit = QPlainTextEdit()
        self.description_edit.setObjectName("requestDescription")
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setPlaceholderText("What the borrower wrote: the error asserted or the information "
                                                 "asked for")
        self.description_edit.setMaximumHeight(self.fontMetrics().height() * 6)
        self.due_label = QLabel()
        self.due_label.setObjectName("requestDueDates")
        self.due_label.setWordWrap(True)
        self.log_message = QLabel()
        self.log_message.setObjectName("requestLogMessage")
        self.log_message.setWordWrap(True)
        self.log_button = QPushButton("&Log the request")
        self.log_button.setObjectName("logRequest")
        for button in (self.log_button, self.ack_button, self.answer_button):
            button.setAutoDefault(False)
        form = QFormLayout()
        form.addRow("Loan n&umber:", self.loan_edit)
        form.addRow("&Kind:", self.kind_combo)
        form.addRow("A&bout:", self.subject_combo)
        form.addRow("&Received:", self.received_edit)
        form.addRow("&What was asked:", self.description_edit)
        form.addRow(self.due_label)
        form.addRow(self.log_message)
        log_row = QHBoxLayout()
        log_row.addStretch(1)
        log_row.addWidget(self.log_button)
        form.addRow(log_row)
        self.log_box = QGroupBox("Log a written request")
        self.log_box.setLayout(form)
        self.log_box.setVisible(self.may_log)
        self.done_box.setVisible(self.may_log)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.log_box)
        right_layout.addStretch(1)

        self.splitter = QSplitter()
        self.splitter.setObjectName("requestsSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([820, 380])
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

        # ---------------------------------------------------------- behaviour
        self._due_timer = QTimer(self)
        self._due_timer.setSingleShot(True)
        self._due_timer.setInterval(200)
        self._due_timer.timeout.connect(self._show_due_dates)
        self.open_check.toggled.connect(lambda _on: self.refresh())
        self.refresh_button.clicked.connect(self.refresh)
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._selection_changed())
        self.table.doubleClicked.connect(lambda _i: self._open_account())
        self.kind_combo.currentIndexChanged.connect(lambda _i: self._fill_subjects())
        self.subject_combo.currentIndexChanged.connect(lambda _i: self._due_timer.start())
        self.received_edit.value_changed.connect(lambda _d: self._due_timer.start())
        self.log_button.clicked.connect(self.log_request)
        self.ack_button.clicked.connect(lambda: self.mark("acknowledged"))
        self.answer_button.clicked.connect(lambda: self.mark("responded"))
        self._reset_dates()
        workspace.business_date_changed.connect(self._date_moved)
        self._fill_subjects()
        self._selection_changed()

    # ------------------------------------------------------------ the worklist
    def _reset_dates(self) -> None:
        today = self.workspace.business_date
        for edit in (self.received_edit, self.done_date):
            edit.set_range(None, today, maximum_name="the open business date")
            edit.set_value(today)

    def _date_moved(self, _day: object) -> None:
        self.model.today = self.workspace.business_date
        self._reset_dates()
        self.refresh()

    def refresh(self) -> None:
        ctx, open_only = self.workspace.ctx, self.open_check.isChecked()

        def done(found: list[RequestInfo]) -> None:
            selected = self.selected()
            self.model.set_rows(found)
            fit_columns(self.table, 40)
            overdue = sum(1 for r in found if r.overdue)
            self.count_label.setText(f"{len(found)} request{'s' if len(found) != 1 else ''}"
                                     + (f", {overdue} overdue" if overdue else ""))
            if selected is not None:
                for row, record in enumerate(found):
                    if record.id == selected.id:
                        self.table.selectRow(row)
            self._selection_changed()
            self.worklist_loaded.emit(found)

        self.workspace.tasks.read(lambda: requests.requests(ctx, open_only=open_only), done, owner=self)

    def selected(self) -> RequestInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _selection_changed(self) -> None:
        record = self.selected()
        self.done_message.clear()
        mark_problem(self._done_fields(), None)
        if record is None:
            self.selected_label.setText("Select a request to mark it acknowledged or answered.")
            for widget in (self.ack_button, self.answer_button, self.done_date, self.done_note):
                widget.setEnabled(False)
            return
        if record.next_step is None:
            state = f"answered {formatting.day(record.responded_on)}"
        else:
            state = (f"{STEP_TEXT[record.next_step].lower()} by {in_words(record.next_due)}"
                     + (" \N{EM DASH} overdue" if record.overdue else "") if record.next_due else "")
        self.selected_label.setText(f"<b>#{record.id} {kind_text(record)}</b> on {record.loan_number}, received "
                                    f"{formatting.day(record.received_on)}: {state}.")
        open_ = record.next_step is not None and self.may_log
        self.ack_button.setEnabled(open_ and record.next_step == "acknowledge")
        self.answer_button.setEnabled(open_)
        self.done_date.setEnabled(open_)
        self.done_note.setEnabled(open_)

    def _open_account(self) -> None:
        record, window = self.selected(), self.window()
        if record is not None and hasattr(window, "open_account"):
            window.open_account(record.loan_number)

    def _done_fields(self) -> dict[str, QWidget]:
        return {"on": self.done_date.line_edit, "note": self.done_note}

    def mark(self, step: str) -> None:
        record = self.selected()
        if record is None or not self.may_log:
            return
        day = self.done_date.value()
        if day is None:
            self.done_message.setText(self.done_date.problem() or "Sent on: type the date it was sent.")
            mark_problem(self._done_fields(), "on")
            return
        ctx, note = self.workspace.ctx, self.done_note.text()

        def done(info: RequestInfo) -> None:
            self.done_note.clear()
            words = "acknowledged" if step == "acknowledged" else "answered"
            self.done_message.setText(f"Request #{info.id} marked {words} on {formatting.day(day)}.")
            self.request_saved.emit(info)

        def failed(exc: BaseException) -> None:
            self.done_message.setText(error_text(exc))
            mark_problem(self._done_fields(), error_field(exc))

        self.workspace.tasks.write(lambda: requests.mark_request(ctx, record.id, step, on=day, note=note), done,
                                   failed, owner=self, label="Saving\N{HORIZONTAL ELLIPSIS}",
                                   change=lambda info: Change("request_saved", (info.loan_number,)))

    # ------------------------------------------------------------ logging
    def _fill_subjects(self) -> None:
        kind = str(self.kind_combo.currentData())
        self.subject_combo.blockSignals(True)
        self.subject_combo.clear()
        for code, words in SUBJECT_CHOICES.get(kind, [(None, "")]):
            self.subject_combo.addItem(words, code)
        self.subject_combo.blockSignals(False)
        self.subject_combo.setEnabled(self.subject_combo.count() > 1)
        self._due_timer.start()

    def _log_fields(self) -> dict[str, QWidget]:
        return {"loan_number": self.loan_edit, "loan": self.loan_edit, "kind": self.kind_combo,
                "subject": self.subject_combo, "received_on": self.received_edit.line_edit,
                "description": self.description_edit}

    def _show_due_dates(self) -> None:
        day = self.received_edit.value()
        if day is None:
            self.due_label.setText(self.received_edit.problem() or "")
            return
        self._due_generation += 1
        generation, ctx = self._due_generation, self.workspace.ctx
        kind, subject = str(self.kind_combo.currentData()), self.subject_combo.currentData()

        def done(due: Any) -> None:
            if generation != self._due_generation:
                return
            parts = []
            if due.acknowledge_by is not None:
                parts.append(f"acknowledge by <b>{in_words(due.acknowledge_by)}</b>")
            parts.append(f"respond by <b>{in_words(due.respond_by)}</b>")
            self.due_label.setText("Due: " + ", ".join(parts) + ".")

        def failed(exc: BaseException) -> None:
            if generation == self._due_generation:
                self.due_label.setText(error_text(exc))

        self.workspace.tasks.read(lambda: requests.request_due_dates(ctx, kind, subject, day), done, failed,
                                  owner=self)

    def log_request(self) -> None:
        if not self.may_log:
            return
        day = self.received_edit.value()
        if day is None:
            self.log_message.setText(self.received_edit.problem() or "Received: type the day it arrived.")
            mark_problem(self._log_fields(), "received_on")
            return
        ctx = self.workspace.ctx
        number, kind = self.loan_edit.text().strip(), str(self.kind_combo.currentData())
        subject, text = self.subject_combo.currentData(), self.description_edit.toPlainText()
        if not number:
            self.log_message.setText("Loan number: type the mortgage's loan number.")
            mark_problem(self._log_fields(), "loan_number")
            return
        self.log_button.setEnabled(False)

        def done(info: RequestInfo) -> None:
            self.log_button.setEnabled(True)
            mark_problem(self._log_fields(), None)
            due = (f"acknowledge by {formatting.day(info.acknowledge_by)}, " if info.acknowledge_by else "") + \
                f"respond by {formatting.day(info.respond_by)}"
            self.log_message.setText(f"Logged request #{info.id} on {info.loan_number}: {due}.")
            self.loan_edit.clear()
            self.description_edit.clear()
            self.request_saved.emit(info)

        def failed(exc: BaseException) -> None:
            self.log_button.setEnabled(True)
            self.log_message.setText(error_text(exc))
            mark_problem(self._log_fields(), error_field(exc))

        self.workspace.tasks.write(
            lambda: requests.log_request(ctx, number, kind, description=text, received_on=day, subject=subject),
            done, failed, owner=self, label="Logging the request\N{HORIZONTAL ELLIPSIS}",
            change=lambda info: Change("request_saved", (info.loan_number,)))

    def unsaved_work(self) -> str | None:
        if self.may_log and (self.loan_edit.text().strip() or self.description_edit.toPlainText().strip()):
            return "a written request typed in Requests and not logged"
        return None

    def apply_change(self, change: Change) -> None:
        if change.kind in ("request_saved", "day_closed"):
            self.refresh()
