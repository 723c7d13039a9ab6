"""Assess a fee on one loan, seeing what it changes first (``keel fee`` on the command line)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from app.services import servicing
from app.services.servicing import Posted, Preview
from app.ui import formatting
from app.ui.dialogs.action_dialog import LoanActionDialog
from app.ui.widgets.date_edit import DateEdit
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workspace import Workspace


class FeeDialog(LoanActionDialog):
    verb = "&Assess fee"
    busy = "Assessing the fee\N{HORIZONTAL ELLIPSIS}"
    change_kind = "fee_assessed"
    name = "fee"

    def __init__(self, workspace: Workspace, loan_number: str, parent: QWidget | None = None) -> None:
        super().__init__(workspace, loan_number, parent)
        self.setWindowTitle(f"Assess a fee on {loan_number}")
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("feeKind")
        for kind in servicing.FEE_KINDS:
            self.kind_combo.addItem(formatting.words(kind) if kind != "nsf" else "NSF (returned item)", kind)
        self.kind_combo.setCurrentIndex(self.kind_combo.findData("other"))
        self.amount_edit = MoneyEdit()
        self.amount_edit.setObjectName("feeAmount")
        self.effective_edit = DateEdit(field="Effective date")
        self.effective_edit.setObjectName("feeEffective")
        self.effective_edit.set_range(None, workspace.business_date, maximum_name="the open business date")
        self.effective_edit.set_value(workspace.business_date)
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("feeReason")
        self.reason_edit.setPlaceholderText("Optional: what the fee is for")
        self.form.addRow("&Kind:", self.kind_combo)
        self.form.addRow("A&mount:", self.amount_edit)
        self.form.addRow("&Effective date:", self.effective_edit)
        self.form.addRow("Rea&son:", self.reason_edit)
        self.finish_layout("The fee is added to what the borrower owes, on the date you give.")
        self.kind_combo.currentIndexChanged.connect(lambda _i: self.edited())
        self.amount_edit.value_changed.connect(lambda _v: self.edited())
        self.effective_edit.value_changed.connect(lambda _d: self.edited())

    def fields(self) -> dict[str, QWidget]:
        return {"amount": self.amount_edit, "kind": self.kind_combo, "effective_date": self.effective_edit}

    def inputs(self) -> dict[str, Any] | None:
        amount, day = self.amount_edit.value(), self.effective_edit.value()
        if amount is None or day is None:
            return None
        return {"amount": amount, "kind": self.kind_combo.currentData(), "effective_date": day}

    def incomplete(self) -> str:
        if self.effective_edit.value() is None:
            return self.effective_edit.problem() or "Effective date: type the date."
        return "Enter the fee's amount; what it changes is shown here before anything is done."

    def run_preview(self, ctx: Any, inputs: dict[str, Any]) -> Preview:
        return servicing.preview_fee(ctx, self.loan_number, inputs["amount"], inputs["kind"],
                                     effective_date=inputs["effective_date"])

    def run_apply(self, ctx: Any, inputs: dict[str, Any], confirm_backdated: bool) -> Posted:
        return servicing.assess_fee(ctx, self.loan_number, inputs["amount"], inputs["kind"],
                                    effective_date=inputs["effective_date"],
                                    reason=self.reason_edit.text().strip() or None,
                                    confirm_backdated=confirm_backdated)
