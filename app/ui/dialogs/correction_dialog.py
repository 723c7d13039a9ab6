"""Correct a mis-logged contact or promise to pay (issue 11): a new entry that points at the original.

Nothing is edited: the collections service adds a correcting contact (or
promise) and the history shows the original struck through, marked
"Corrected by #N".  The reason is required and kept with the correction and
in the audit trail; the service's refusal is shown in one sentence with its
field outlined, and nothing changes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.ui import formatting
from app.ui.forms import no_default_buttons
from app.ui.messages import error_field, error_text, mark_problem
from app.ui.widgets.date_edit import DateEdit
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workers import Change
from app.ui.workspace import Workspace

CHANNEL_TEXT = {"call": "Call", "text": "Text message", "email": "E-mail", "letter": "Letter", "visit": "Visit"}


class CorrectionDialog(QDialog):
    """One contact's (``record`` a ContactInfo) or one promise's (a PromiseInfo) correction."""

    corrected = Signal(object)  # ContactCorrected or PromiseCorrected

    def __init__(self, workspace: Workspace, service: Any, record: Any, *, promise: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.service = service
        self.record = record
        self.is_promise = promise
        self.setObjectName("correctionDialog")
        what = "promise to pay" if promise else "contact"
        self.setWindowTitle(f"Correct a {what} \N{EM DASH} Keel")

        if promise:
            summary = (f"Promise #{record.id}: {formatting.money(record.amount)} by "
                       f"{formatting.day(record.due_date)}, logged by {record.created_by or 'someone'}.")
        else:
            summary = (f"Contact #{record.id}: {formatting.words(record.channel)}, "
                       f"{formatting.words(record.outcome).lower()}, {formatting.instant(record.at)}, "
                       f"logged by {record.user or 'someone'}.")
        intro = QLabel(f"{summary}<br>The {what} is kept as logged and shown struck through; the correction is "
                       "added beside it and counts instead. Change what was wrong:")
        intro.setWordWrap(True)
        form = QFormLayout()
        self.fields: dict[str, QWidget] = {}
        if promise:
            today = workspace.business_date
            self.due_edit = DateEdit(field="Due date")
            self.due_edit.setObjectName("correctDue")
            days = getattr(service, "MAX_PROMISE_DAYS", 60)
            self.due_edit.set_range(today + timedelta(days=1), today + timedelta(days=days),
                                    minimum_name="the day after today",
                                    maximum_name=f"the latest a promise may be ({days} days ahead)")
            self.due_edit.set_value(record.due_date)
            self.amount_edit = MoneyEdit()
            self.amount_edit.setObjectName("correctAmount")
            self.amount_edit.set_value(record.amount)
            form.addRow("&Due date:", self.due_edit)
            form.addRow("&Amount:", self.amount_edit)
            self.fields.update({"promises": self.amount_edit, "due_date": self.due_edit.line_edit,
                                "promise": self.amount_edit})
        else:
            self.channel_combo = QComboBox()
            self.channel_combo.setObjectName("correctChannel")
            for code in service.CONTACT_CHANNELS:
                self.channel_combo.addItem(CHANNEL_TEXT.get(code, formatting.words(code)), code)
            self.channel_combo.setCurrentIndex(max(self.channel_combo.findData(record.channel), 0))
            self.outcome_combo = QComboBox()
            self.outcome_combo.setObjectName("correctOutcome")
            for code in service.CONTACT_OUTCOMES:
                # A promise is logged as a new contact with its dates and amounts, never by a correction.
                if code == "promise_to_pay" and record.outcome != "promise_to_pay":
                    continue
                self.outcome_combo.addItem(formatting.words(code), code)
            self.outcome_combo.setCurrentIndex(max(self.outcome_combo.findData(record.outcome), 0))
            self.note_edit = QPlainTextEdit(record.note or "")
            self.note_edit.setObjectName("correctNote")
            self.note_edit.setTabChangesFocus(True)
            self.note_edit.setMaximumHeight(self.fontMetrics().height() * 5)
            form.addRow("C&hannel:", self.channel_combo)
            form.addRow("O&utcome:", self.outcome_combo)
            form.addRow("No&te:", self.note_edit)
            self.fields.update({"channel": self.channel_combo, "outcome": self.outcome_combo,
                                "note": self.note_edit, "contact": self.outcome_combo})
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("correctReason")
        self.reason_edit.setPlaceholderText("Required: what was logged wrongly")
        form.addRow("&Reason:", self.reason_edit)
        self.fields["reason"] = self.reason_edit

        self.error = QLabel()
        self.error.setObjectName("correctionError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a00000;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("&Record the correction", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("correctionOk")
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 76, self.sizeHint().height())

    def showEvent(self, event: QShowEvent) -> None:  # Qt's name
        super().showEvent(event)
        no_default_buttons(self)  # Enter in a field must not record the correction (issue 11)

    def apply(self) -> None:
        service, ctx, record = self.service, self.workspace.ctx, self.record
        reason = self.reason_edit.text()
        if self.is_promise:
            day = self.due_edit.value()
            if day is None:
                self._show_problem("due_date", self.due_edit.problem() or "Due date: type the promised date.")
                return
            amount = self.amount_edit.value()
            if amount is None:
                self._show_problem("promises", "Amount: type the promised amount.")
                return

            def work() -> Any:
                return service.correct_promise(ctx, record.id, reason=reason, due_date=day, amount=amount)
        else:
            channel, outcome = self.channel_combo.currentData(), self.outcome_combo.currentData()
            note = self.note_edit.toPlainText()

            def work() -> Any:
                return service.correct_contact(ctx, record.id, reason=reason, channel=channel, outcome=outcome,
                                               note=note)

        self.ok.setEnabled(False)

        def done(result: Any) -> None:
            self.ok.setEnabled(True)
            self.corrected.emit(result)
            self.accept()

        def failed(exc: BaseException) -> None:
            self.ok.setEnabled(True)
            self._show_problem(error_field(exc), error_text(exc))

        self.workspace.tasks.write(work, done, failed, owner=self, label="Recording the correction\N{HORIZONTAL ELLIPSIS}",
                                   change=lambda result: Change("contact_logged", (result.loan_number,)))

    def _show_problem(self, field: str | None, text: str) -> None:
        self.error.setText(text)
        mark_problem(self.fields, field)
