"""Waive all or part of an outstanding fee, with a reason (``keel waive`` on the command line).

A waiver larger than what is left of the fee is refused by the service; the
sentence is shown with the Amount field outlined.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from app.services import servicing
from app.services.servicing import Posted, Preview
from app.ui import formatting
from app.ui.dialogs.action_dialog import LoanActionDialog
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workspace import Workspace


class WaiveDialog(LoanActionDialog):
    verb = "&Waive fee"
    busy = "Waiving the fee\N{HORIZONTAL ELLIPSIS}"
    change_kind = "fee_waived"
    name = "waive"

    def __init__(self, workspace: Workspace, loan_number: str, parent: QWidget | None = None) -> None:
        super().__init__(workspace, loan_number, parent)
        self.setWindowTitle(f"Waive a fee on {loan_number}")
        self.fee_combo = QComboBox()
        self.fee_combo.setObjectName("waiveFee")
        self.fee_combo.setPlaceholderText("Reading the outstanding fees\N{HORIZONTAL ELLIPSIS}")
        self.amount_edit = MoneyEdit()
        self.amount_edit.setObjectName("waiveAmount")
        self.amount_edit.setPlaceholderText("blank: the whole fee")
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("waiveReason")
        self.reason_edit.setPlaceholderText("Required: why the fee is waived")
        self.form.addRow("&Fee:", self.fee_combo)
        self.form.addRow("A&mount to waive:", self.amount_edit)
        self.form.addRow("Rea&son:", self.reason_edit)
        self.finish_layout("Choose the fee; leave the amount blank to waive all that is left of it.")
        self.fee_combo.currentIndexChanged.connect(lambda _i: self.edited())
        self.amount_edit.value_changed.connect(lambda _v: self.edited())
        self.reason_edit.textChanged.connect(lambda _t: self._update_ok())
        self._load_fees()

    def _load_fees(self) -> None:
        ctx, number = self.workspace.ctx, self.loan_number

        def done(fees: list[tuple[str, str, Decimal]]) -> None:
            self.fee_combo.clear()
            for fee_id, kind, remaining in fees:
                self.fee_combo.addItem(f"{formatting.words(kind)} fee, {formatting.money(remaining)} outstanding "
                                       f"({fee_id})", fee_id)
            if not fees:
                self.fee_combo.setPlaceholderText("No fee is outstanding on this loan")
            self.edited()

        self.workspace.tasks.read(lambda: servicing.outstanding_fees(ctx, number), done, self.show_error, owner=self)

    def fields(self) -> dict[str, QWidget]:
        return {"amount": self.amount_edit, "fee": self.fee_combo, "reason": self.reason_edit}

    def inputs(self) -> dict[str, Any] | None:
        fee = self.fee_combo.currentData()
        if fee is None or (self.amount_edit.text().strip() and self.amount_edit.value() is None):
            return None
        return {"fee": fee, "amount": self.amount_edit.value()}

    def incomplete(self) -> str:
        if self.fee_combo.count() == 0:
            return "There is no outstanding fee to waive."
        return "Choose the fee and the amount to waive."

    def ready_to_apply(self) -> bool:
        return bool(self.reason_edit.text().strip())

    def run_preview(self, ctx: Any, inputs: dict[str, Any]) -> Preview:
        return servicing.preview_waiver(ctx, self.loan_number, inputs["fee"], amount=inputs["amount"])

    def run_apply(self, ctx: Any, inputs: dict[str, Any], confirm_backdated: bool) -> Posted:
        return servicing.waive_fee(ctx, self.loan_number, inputs["fee"], amount=inputs["amount"],
                                   reason=self.reason_edit.text().strip(), approval=self.approval)
