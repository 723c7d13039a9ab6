"""Pay back money held beyond the payoff (the refund due), seeing what it changes first (``keel refund``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from app.services import servicing
from app.services.servicing import Posted, Preview
from app.ui import formatting
from app.ui.dialogs.action_dialog import LoanActionDialog
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workspace import Workspace


class RefundDialog(LoanActionDialog):
    verb = "&Pay refund"
    busy = "Paying the refund\N{HORIZONTAL ELLIPSIS}"
    change_kind = "refund_paid"
    name = "refund"

    def __init__(self, workspace: Workspace, loan_number: str, parent: QWidget | None = None) -> None:
        super().__init__(workspace, loan_number, parent)
        self.setWindowTitle(f"Pay a refund on {loan_number}")
        self.amount_edit = MoneyEdit()
        self.amount_edit.setObjectName("refundAmount")
        self.amount_edit.setPlaceholderText("blank: the whole refund due")
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("refundMethod")
        for method in servicing.PAYMENT_METHODS:
            self.method_combo.addItem(formatting.words(method) if method != "ach" else "ACH", method)
        self.reference_edit = QLineEdit()
        self.reference_edit.setObjectName("refundReference")
        self.reference_edit.setPlaceholderText("Optional: check number or trace")
        self.form.addRow("A&mount:", self.amount_edit)
        self.form.addRow("&Method:", self.method_combo)
        self.form.addRow("&Reference:", self.reference_edit)
        self.finish_layout("The refund pays the borrower back what was received beyond the payoff; dated today.")
        self.amount_edit.value_changed.connect(lambda _v: self.edited())

    def fields(self) -> dict[str, QWidget]:
        return {"amount": self.amount_edit, "method": self.method_combo, "reference": self.reference_edit}

    def inputs(self) -> dict[str, Any] | None:
        if self.amount_edit.text().strip() and self.amount_edit.value() is None:
            return None
        return {"amount": self.amount_edit.value()}

    def run_preview(self, ctx: Any, inputs: dict[str, Any]) -> Preview:
        return servicing.preview_refund(ctx, self.loan_number, inputs["amount"])

    def run_apply(self, ctx: Any, inputs: dict[str, Any], confirm_backdated: bool) -> Posted:
        return servicing.pay_refund(ctx, self.loan_number, inputs["amount"], method=self.method_combo.currentData(),
                                    reference=self.reference_edit.text().strip() or None)
