"""Change a loan's terms (a modification): new rate, payment, remaining term or next due date.

What the change does -- each balance, the next payment and the due dates,
before and after -- is previewed (servicing.preview_terms_change) before the
change can be applied; Apply is enabled only for a preview of exactly what
the form holds.  A back-dated change must be confirmed.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.money import format_money
from app.services import permissions, servicing
from app.services.errors import InvalidInput
from app.services.servicing import Posted, Preview
from app.ui import formatting
from app.ui.forms import no_default_buttons
from app.ui.messages import error_text
from app.ui.widgets.date_edit import DateEdit
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workers import Change
from app.ui.workspace import Workspace

_MONEY = re.compile(r"^-?\d+\.\d\d$")


def shown(value: Any) -> str:
    """A preview value as the desk shows it: amounts as money, nothing as a dash."""
    if value is None or value == "":
        return formatting.DASH
    if isinstance(value, str) and _MONEY.match(value):
        return format_money(Decimal(value))
    return str(value)


class TermsDialog(QDialog):
    applied = Signal(object)  # Posted
    #: Emitted after each preview is shown (tests).
    previewed = Signal(object)

    def showEvent(self, event: QShowEvent) -> None:  # Qt's name
        super().showEvent(event)
        no_default_buttons(self)  # Enter in a field must not press the action button (issue 11)

    def __init__(self, workspace: Workspace, loan_number: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("termsDialog")
        self.setWindowTitle(f"Change terms of {loan_number}")
        self.workspace = workspace
        self.loan_number = loan_number
        self.preview: Preview | None = None
        self._previewed_inputs: dict[str, Any] | None = None

        self.effective_edit = DateEdit(field="Effective date")
        self.effective_edit.setObjectName("termsEffective")
        self.effective_edit.set_range(None, workspace.business_date, maximum_name="the open business date")
        self.effective_edit.set_value(workspace.business_date)
        self.rate_edit = QLineEdit()
        self.rate_edit.setObjectName("termsRate")
        self.rate_edit.setPlaceholderText("unchanged (e.g. 6.5)")
        self.payment_edit = MoneyEdit()
        self.payment_edit.setObjectName("termsPayment")
        self.payment_edit.setPlaceholderText("unchanged")
        self.term_edit = QSpinBox()
        self.term_edit.setObjectName("termsTerm")
        self.term_edit.setRange(0, 1200)
        self.term_edit.setSpecialValueText("unchanged")
        self.term_edit.setSuffix(" installments")
        self.next_due_check = QCheckBox("Move the next due date to")
        self.next_due_check.setObjectName("termsNextDueCheck")
        self.next_due_edit = DateEdit(field="Next due date")
        self.next_due_edit.setObjectName("termsNextDue")
        self.next_due_edit.set_value(workspace.business_date)
        self.next_due_edit.setEnabled(False)
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("termsReason")
        self.reason_edit.setPlaceholderText("Required: hardship modification approved by ..., rate reset, ...")
        due_row = QHBoxLayout()
        due_row.addWidget(self.next_due_check)
        due_row.addWidget(self.next_due_edit, 1)

        form = QFormLayout()
        form.addRow("&Effective date:", self.effective_edit)
        form.addRow("New &rate (%):", self.rate_edit)
        form.addRow("New &payment:", self.payment_edit)
        form.addRow("Remaining &term:", self.term_edit)
        form.addRow("", due_row)
        form.addRow("Rea&son:", self.reason_edit)

        self.changes_table = QTableWidget(0, 3)
        self.changes_table.setObjectName("termsChanges")
        self.changes_table.setHorizontalHeaderLabels(["", "Before", "After"])
        self.changes_table.verticalHeader().hide()
        self.changes_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.changes_table.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel("Enter what changes; the effect on the account is shown here before anything is done.")
        self.status.setObjectName("termsStatus")
        self.status.setWordWrap(True)
        self.backdated_check = QCheckBox("This change is back-dated; I have reviewed its effect")
        self.backdated_check.setObjectName("termsBackdated")
        self.backdated_check.hide()
        self.error = QLabel()
        self.error.setObjectName("termsError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a00000;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("&Apply terms change", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("termsApply")
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("<b>What changes on the account</b>"))
        layout.addWidget(self.status)
        layout.addWidget(self.changes_table, 1)
        layout.addWidget(self.backdated_check)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 80, self.fontMetrics().lineSpacing() * 34)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self.refresh_preview)
        self._generation = 0
        self.effective_edit.value_changed.connect(lambda _d: self._edited())
        self.rate_edit.textChanged.connect(lambda _t: self._edited())
        self.payment_edit.value_changed.connect(lambda _v: self._edited())
        self.term_edit.valueChanged.connect(lambda _v: self._edited())
        self.next_due_check.toggled.connect(self.next_due_edit.setEnabled)
        self.next_due_check.toggled.connect(lambda _on: self._edited())
        self.next_due_edit.value_changed.connect(lambda _d: self._edited())
        self.reason_edit.textChanged.connect(lambda _t: self._update_ok())
        self.backdated_check.toggled.connect(lambda _on: self._update_ok())

    # ------------------------------------------------------------ inputs
    def unsaved_work(self) -> str | None:
        """A terms change typed and not applied, in words (quitting asks first)."""
        if not self.isVisible():
            return None
        typed = (self.rate_edit.text().strip() or self.payment_edit.text().strip() or self.term_edit.value()
                 or self.next_due_check.isChecked() or self.reason_edit.text().strip())
        return f"a terms change to {self.loan_number} that is not applied" if typed else None

    def inputs(self) -> dict[str, Any]:
        """The form as service arguments (None: unchanged)."""
        # The rate goes to the service as typed: the one parser reads it (app.domain.money.to_rate, issue 12:
        # Decimal() itself takes full-width digits and exponents) and names the field.
        rate: Any = self.rate_edit.text().strip() or None
        return {
            "effective_date": self.effective_edit.value(),
            "rate": rate,
            "payment": self.payment_edit.value(),
            "term": self.term_edit.value() or None,
            "next_due": self.next_due_edit.value() if self.next_due_check.isChecked() else None,
        }

    def _edited(self) -> None:
        self._previewed_inputs = None
        self._update_ok()
        self._timer.start()

    def _update_ok(self) -> None:
        ready = (
            self.preview is not None
            and self._previewed_inputs is not None
            and self._previewed_inputs == self.inputs()
            and bool(self.reason_edit.text().strip())
            and (not self.preview.backdated or self.backdated_check.isChecked())
            and self.workspace.can(permissions.CHANGE_TERMS)
        )
        self.ok.setEnabled(ready)

    # ------------------------------------------------------------ preview
    def refresh_preview(self) -> None:
        self._timer.stop()
        inputs = self.inputs()
        self._generation += 1
        generation = self._generation
        for edit in (self.effective_edit, self.next_due_edit):
            if edit.isEnabled() and edit.value() is None:
                self._show(None, inputs)
                self.status.setText("")
                self.error.setText(edit.problem() or f"{edit.field}: type the date.")
                return
        if all(inputs[k] is None for k in ("rate", "payment", "term", "next_due")):
            self._show(None, inputs)
            self.status.setText("Enter a new rate, payment, remaining term or next due date.")
            return
        ctx, number = self.workspace.ctx, self.loan_number

        def done(preview: Preview) -> None:
            if generation == self._generation:
                self._show(preview, inputs)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self._show(None, inputs)
                self.status.setText("")
                self.error.setText(error_text(exc))

        self.workspace.tasks.read(lambda: servicing.preview_terms_change(ctx, number, **inputs), done, failed,
                                  owner=self)

    def _show(self, preview: Preview | None, inputs: dict[str, Any]) -> None:
        self.preview = preview
        self._previewed_inputs = inputs if preview is not None else None
        self.error.setText("")
        rows = list(preview.changes) if preview is not None else []
        self.changes_table.setRowCount(len(rows))
        for row, (name, before, after) in enumerate(rows):
            for column, text in enumerate((formatting.words(name), shown(before), shown(after))):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.changes_table.setItem(row, column, item)
        self.changes_table.resizeColumnsToContents()
        if preview is not None:
            self.status.setText(f"Effective {formatting.day(preview.effective_date)}: "
                                + ("these figures change." if rows else "no figure changes."))
            self.backdated_check.setVisible(preview.backdated)
            if not preview.backdated:
                self.backdated_check.setChecked(False)
        else:
            self.backdated_check.hide()
        self._update_ok()
        self.previewed.emit(preview)

    # ------------------------------------------------------------ applying
    def apply(self) -> None:
        self._update_ok()
        if not self.ok.isEnabled() or self.preview is None:
            return
        ctx, number, inputs = self.workspace.ctx, self.loan_number, self.inputs()
        reason, confirm = self.reason_edit.text().strip(), self.backdated_check.isChecked()
        self.ok.setEnabled(False)

        def done(posted: Posted) -> None:
            self.applied.emit(posted)
            self.accept()

        def failed(exc: BaseException) -> None:
            field = exc.field if isinstance(exc, InvalidInput) else None
            self.error.setText(error_text(exc))
            if field == "reason":
                self.reason_edit.setFocus()
            self._update_ok()

        self.workspace.tasks.write(
            lambda: servicing.change_terms(ctx, number, reason=reason, confirm_backdated=confirm, **inputs),
            done, failed, owner=self, label="Changing the terms\N{HORIZONTAL ELLIPSIS}",
            change=Change("terms_changed", (number,)))
