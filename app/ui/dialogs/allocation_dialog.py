"""Override a payment's allocation in payment entry (a manager's, OVERRIDE_ALLOCATION; issue 11).

The dialog starts from how the product's waterfall would apply the payment
and lets the manager type each part -- interest, principal, fees, suspense,
the parts ``keel pay --split`` takes -- and choose the reason code.  "Use
this split" asks the servicing service for the preview with that split,
which refuses parts that do not add up to the payment (or a negative part)
in one sentence; only a split the service accepted goes back to payment
entry, which then posts it through ``servicing.post_payment`` as the CLI
does.  Nothing is posted from here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.services import servicing
from app.services.servicing import Preview
from app.ui import formatting
from app.ui.forms import no_default_buttons
from app.ui.messages import error_field, error_text, mark_problem
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workspace import Workspace

REASON_TEXT = {
    "borrower_request": "Borrower's written request",
    "court_order": "Court order",
    "hardship_plan": "Hardship plan",
    "correction": "Correcting an earlier posting",
    "investor_rule": "Investor rule",
    "other": "Other",
}


class AllocationOverrideDialog(QDialog):
    """The parts of one payment; emits :attr:`split_chosen` with (split, reason code, preview)."""

    split_chosen = Signal(object, str, object)

    def __init__(
        self,
        workspace: Workspace,
        loan_number: str,
        amount: Decimal,
        effective_date: date,
        engine_preview: Preview | None,
        parent: QWidget | None = None,
        *,
        current: dict[str, Decimal] | None = None,
        current_reason: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("allocationOverrideDialog")
        self.setWindowTitle("Override allocation \N{EM DASH} Keel")
        self.workspace = workspace
        self.loan_number = loan_number
        self.amount = amount
        self.effective_date = effective_date
        self._generation = 0

        intro = QLabel(
            f"Apply the payment of <b>{formatting.money(amount)}</b> to <b>{loan_number}</b> as you split it, "
            "instead of by the product's order. The parts must add up to the payment. The override and its "
            "reason are kept with the entry and listed in the overrides report.")
        intro.setWordWrap(True)
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Part</b>"), 0, 0)
        grid.addWidget(QLabel("<b>By the product's order</b>"), 0, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(QLabel("<b>Override</b>"), 0, 2)
        self.edits: dict[str, MoneyEdit] = {}
        for row, part in enumerate(servicing.OVERRIDE_PARTS, start=1):
            label = QLabel(f"&{formatting.words(part)}:")
            engine = getattr(engine_preview.allocation, part) if engine_preview is not None else None
            engine_label = QLabel(formatting.money(engine) if engine is not None else formatting.DASH)
            engine_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            edit = MoneyEdit()
            edit.setObjectName(f"split_{part}")
            start = (current or {}).get(part, engine if engine is not None else Decimal("0.00"))
            edit.set_value(start)
            edit.value_changed.connect(lambda _v: self._edited())
            label.setBuddy(edit)
            grid.addWidget(label, row, 0)
            grid.addWidget(engine_label, row, 1)
            grid.addWidget(edit, row, 2)
            self.edits[part] = edit
        self.total_label = QLabel()
        self.total_label.setObjectName("splitTotal")
        grid.addWidget(self.total_label, len(self.edits) + 1, 0, 1, 3)
        grid.setColumnStretch(2, 1)

        self.reason_combo = QComboBox()
        self.reason_combo.setObjectName("splitReason")
        self.reason_combo.addItem("Choose the reason\N{HORIZONTAL ELLIPSIS}", None)
        for code in servicing.OVERRIDE_REASONS:
            self.reason_combo.addItem(REASON_TEXT.get(code, formatting.words(code)), code)
        if current_reason:
            self.reason_combo.setCurrentIndex(max(self.reason_combo.findData(current_reason), 0))
        self.reason_combo.currentIndexChanged.connect(lambda _i: self._edited())
        reason_label = QLabel("&Reason:")
        reason_label.setBuddy(self.reason_combo)
        grid.addWidget(reason_label, len(self.edits) + 2, 0)
        grid.addWidget(self.reason_combo, len(self.edits) + 2, 1, 1, 2)

        self.error = QLabel()
        self.error.setObjectName("splitError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a00000;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("&Use this split", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("splitOk")
        self.buttons.accepted.connect(self.check_and_use)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 72, self.sizeHint().height())
        self._edited()

    def showEvent(self, event: QShowEvent) -> None:  # Qt's name
        super().showEvent(event)
        no_default_buttons(self)  # Enter in an amount must not press "Use this split" (issue 11)

    # ------------------------------------------------------------ the form
    def split(self) -> dict[str, Decimal]:
        """The parts as typed (a part left empty is zero; the service checks the rest)."""
        return {part: value if (value := edit.value()) is not None else Decimal("0.00")
                for part, edit in self.edits.items()}

    def reason(self) -> str | None:
        data = self.reason_combo.currentData()
        return str(data) if data else None

    def _edited(self) -> None:
        # A running total for the eye only; the service decides whether the split is accepted.
        typed = [edit.value() for edit in self.edits.values()]
        total = sum((value for value in typed if value is not None), Decimal("0.00"))
        left = self.amount - total
        if left == 0:
            self.total_label.setText(f"The parts add up to the payment, {formatting.money(self.amount)}.")
            self.total_label.setStyleSheet("color: #1f6f3f;")
        else:
            word = "left to split" if left > 0 else "more than the payment"
            self.total_label.setText(f"The parts add up to {formatting.money(total)}: "
                                     f"{formatting.money(abs(left))} {word}.")
            self.total_label.setStyleSheet("color: #a00000;")
        self.error.clear()
        mark_problem(self._fields(), None)

    def _fields(self) -> dict[str, QWidget]:
        fields: dict[str, QWidget] = {f"split.{part}": edit for part, edit in self.edits.items()}
        fields["split"] = self.edits[servicing.OVERRIDE_PARTS[0]]
        fields["override_reason"] = self.reason_combo
        return fields

    # ------------------------------------------------------------ checking with the service
    def check_and_use(self) -> None:
        reason = self.reason()
        if reason is None:
            self.error.setText("Reason: choose why the payment is applied this way.")
            mark_problem(self._fields(), "override_reason")
            self.reason_combo.setFocus()
            return
        self._generation += 1
        generation, split, ctx = self._generation, self.split(), self.workspace.ctx
        parts: dict[str, object] = dict(split)
        number, amount, day = self.loan_number, self.amount, self.effective_date
        self.ok.setEnabled(False)

        def done(preview: Preview) -> None:
            if generation != self._generation:
                return
            self.ok.setEnabled(True)
            self.split_chosen.emit(split, reason, preview)
            self.accept()

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self.ok.setEnabled(True)
            self.error.setText(error_text(exc))
            mark_problem(self._fields(), error_field(exc))

        self.workspace.tasks.read(
            lambda: servicing.preview_payment(ctx, number, amount, day, split=parts),
            done, failed, owner=self)
