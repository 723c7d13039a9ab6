"""A principal adjustment (add or reduce), with a reason, seeing what it changes first (``keel adjust``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLineEdit, QWidget

from app.services import servicing
from app.services.servicing import Posted, Preview
from app.ui.dialogs.action_dialog import LoanActionDialog
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workspace import Workspace


class AdjustDialog(LoanActionDialog):
    verb = "&Adjust principal"
    busy = "Adjusting the principal\N{HORIZONTAL ELLIPSIS}"
    change_kind = "principal_adjusted"
    name = "adjust"

    def __init__(self, workspace: Workspace, loan_number: str, parent: QWidget | None = None) -> None:
        super().__init__(workspace, loan_number, parent)
        self.setWindowTitle(f"Adjust the principal of {loan_number}")
        self.amount_edit = MoneyEdit(allow_negative=True)
        self.amount_edit.setObjectName("adjustAmount")
        self.amount_edit.setPlaceholderText("e.g. -25.00 to reduce, 25.00 to add")
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("adjustReason")
        self.reason_edit.setPlaceholderText("Required: what the adjustment corrects")
        self.form.addRow("A&mount:", self.amount_edit)
        self.form.addRow("Rea&son:", self.reason_edit)
        self.finish_layout("A negative amount reduces the principal, a positive one adds to it; dated today.")
        self.amount_edit.value_changed.connect(lambda _v: self.edited())
        self.reason_edit.textChanged.connect(lambda _t: self._update_ok())

    def fields(self) -> dict[str, QWidget]:
        return {"amount": self.amount_edit, "reason": self.reason_edit}

    def inputs(self) -> dict[str, Any] | None:
        amount = self.amount_edit.value()
        return None if amount is None else {"amount": amount}

    def incomplete(self) -> str:
        return "Enter the adjustment; what it changes is shown here before anything is done."

    def ready_to_apply(self) -> bool:
        return bool(self.reason_edit.text().strip())

    def run_preview(self, ctx: Any, inputs: dict[str, Any]) -> Preview:
        return servicing.preview_adjustment(ctx, self.loan_number, inputs["amount"])

    def run_apply(self, ctx: Any, inputs: dict[str, Any], confirm_backdated: bool) -> Posted:
        return servicing.adjust_principal(ctx, self.loan_number, inputs["amount"],
                                          reason=self.reason_edit.text().strip())
