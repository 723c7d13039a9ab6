"""Reverse a payment: the reason, an optional NSF fee, and what it will change, before it is done."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.services import permissions, servicing
from app.services.accounts import LedgerLine
from app.services.servicing import Posted, Preview
from app.ui import formatting
from app.ui.forms import no_default_buttons
from app.ui.messages import error_text
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workers import Change
from app.ui.workspace import Workspace

REASON_TEXT = {
    "nsf": "Returned unpaid (NSF)",
    "posting_error": "Posting error",
    "stop_payment": "Stop payment",
    "duplicate": "Duplicate",
    "other": "Other",
}
DEFAULT_NSF_FEE = Decimal("25.00")


def describe_changes(preview: Preview) -> str:
    lines = []
    for name, before, after in preview.changes:
        lines.append(f"{formatting.words(name)}: {before} \N{RIGHTWARDS ARROW} {after}")
    return "\n".join(lines) or "No figure changes."


class ReverseDialog(QDialog):
    reversed = Signal(object)  # Posted

    def showEvent(self, event: QShowEvent) -> None:  # Qt's name
        super().showEvent(event)
        no_default_buttons(self)  # Enter in a field must not press the action button (issue 11)

    def __init__(self, workspace: Workspace, line: LedgerLine, loan_number: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reverseDialog")
        self.setWindowTitle(f"Reverse payment #{line.entry_id}")
        self.workspace = workspace
        self.line = line
        self.loan_number = loan_number
        assert line.entry_id is not None
        self.entry_id = line.entry_id

        summary = QLabel(
            f"Payment #{line.entry_id} of {formatting.money(line.amount)} dated {formatting.day(line.effective_date)}"
            f" on {loan_number}" + (f", reference {line.reference}" if line.reference else "") + "."
        )
        summary.setWordWrap(True)
        self.reason = QComboBox()
        self.reason.setObjectName("reverseReason")
        for code in servicing.REVERSAL_REASONS:
            self.reason.addItem(REASON_TEXT.get(code, formatting.words(code)), code)
        self.nsf_check = QCheckBox("Charge an &NSF fee of")
        self.nsf_check.setObjectName("nsfCheck")
        self.nsf_fee = MoneyEdit()
        self.nsf_fee.setObjectName("nsfFee")
        self.nsf_fee.set_value(DEFAULT_NSF_FEE)
        may_fee = workspace.can(permissions.ASSESS_FEE)
        # Kept: ``isVisible()`` is False until the dialog is shown, so the NSF default must not ask it (issue 11).
        self.may_fee = may_fee
        self.nsf_check.setVisible(may_fee)
        self.nsf_fee.setVisible(may_fee)
        self.note = QLineEdit()
        self.note.setObjectName("reverseNote")
        self.note.setPlaceholderText("Optional: the bank's return reason, who asked, ...")
        # A read-only text box, not a label: the preview arrives after the dialog has taken its size, and a
        # label's new lines were clipped (issue 11); the box scrolls when a reversal changes many figures.
        self.preview_label = QPlainTextEdit("Working out what the reversal changes\N{HORIZONTAL ELLIPSIS}")
        self.preview_label.setObjectName("reversePreview")
        self.preview_label.setReadOnly(True)
        self.preview_label.setFrameShape(QFrame.Shape.StyledPanel)
        self.preview_label.setMinimumHeight(self.fontMetrics().lineSpacing() * 9)

        form = QFormLayout()
        form.addRow("&Reason:", self.reason)
        if may_fee:
            form.addRow(self.nsf_check, self.nsf_fee)
        form.addRow("N&ote:", self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("Reverse payment", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("reverseOk")
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        self.error = QLabel()
        self.error.setObjectName("reverseError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a00000;")

        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addLayout(form)
        layout.addWidget(QLabel("<b>What changes on the account</b>"))
        layout.addWidget(self.preview_label, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 80, self.fontMetrics().lineSpacing() * 24)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._preview)
        self.nsf_check.toggled.connect(lambda _on: self._timer.start())
        self.nsf_fee.value_changed.connect(lambda _v: self._timer.start())
        self.reason.currentIndexChanged.connect(self._reason_changed)
        self._generation = 0
        self._reason_changed()
        self._preview()

    def _reason_changed(self) -> None:
        """A returned check (NSF) ticks the fee box; any other reason unticks it."""
        if self.may_fee:
            self.nsf_check.setChecked(self.reason.currentData() == "nsf")
        self._timer.start()

    def _fee(self) -> Decimal | None:
        return self.nsf_fee.value() if self.nsf_check.isChecked() else None

    def _preview(self) -> None:
        self._generation += 1
        generation = self._generation
        fee = self._fee()
        if self.nsf_check.isChecked() and (fee is None or fee <= 0):
            self.preview_label.setPlainText("Enter the NSF fee, or untick it.")
            self.ok.setEnabled(False)
            return
        ctx, entry_id = self.workspace.ctx, self.entry_id

        def done(preview: Preview) -> None:
            if generation == self._generation:
                self.preview_label.setPlainText(describe_changes(preview))
                self.error.setText("")
                self.ok.setEnabled(True)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self.preview_label.setPlainText("")
                self.error.setText(error_text(exc))
                self.ok.setEnabled(False)

        self.workspace.tasks.read(lambda: servicing.preview_reversal(ctx, entry_id, fee), done, failed, owner=self)

    def _submit(self) -> None:
        if not self.ok.isEnabled():
            return
        ctx, entry_id = self.workspace.ctx, self.entry_id
        reason, fee, note = self.reason.currentData(), self._fee(), self.note.text().strip() or None
        self.ok.setEnabled(False)

        def done(posted: Posted) -> None:
            self.reversed.emit(posted)
            self.accept()

        def failed(exc: BaseException) -> None:
            self.error.setText(error_text(exc))
            self.ok.setEnabled(True)

        self.workspace.tasks.write(
            lambda: servicing.reverse_payment(ctx, entry_id, reason, nsf_fee=fee, note=note),
            done, failed, owner=self, label="Reversing the payment\N{HORIZONTAL ELLIPSIS}",
            change=Change("payment_reversed", (self.loan_number,)),
        )
