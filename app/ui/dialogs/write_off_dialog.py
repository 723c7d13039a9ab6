"""Write off a small balance left after a payoff, seeing what it changes first (``keel write-off``).

The service refuses a balance above the product's small-balance threshold;
the dialog shows that sentence and leaves Write off disabled.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLineEdit, QWidget

from app.services import servicing
from app.services.servicing import Posted, Preview
from app.ui.dialogs.action_dialog import LoanActionDialog
from app.ui.workspace import Workspace


class WriteOffDialog(LoanActionDialog):
    verb = "&Write off balance"
    busy = "Writing off the balance\N{HORIZONTAL ELLIPSIS}"
    change_kind = "balance_written_off"
    name = "writeOff"

    def __init__(self, workspace: Workspace, loan_number: str, parent: QWidget | None = None) -> None:
        super().__init__(workspace, loan_number, parent)
        self.setWindowTitle(f"Write off the small balance of {loan_number}")
        self.reason_edit = QLineEdit("small balance after payoff")
        self.reason_edit.setObjectName("writeOffReason")
        self.form.addRow("Rea&son:", self.reason_edit)
        self.finish_layout("What is left is written off when it is under the product's small-balance threshold; "
                           "the loan is then paid off. Dated today.")
        self.reason_edit.textChanged.connect(lambda _t: self._update_ok())

    def fields(self) -> dict[str, QWidget]:
        return {"reason": self.reason_edit}

    def inputs(self) -> dict[str, Any] | None:
        return {}

    def ready_to_apply(self) -> bool:
        return bool(self.reason_edit.text().strip())

    def run_preview(self, ctx: Any, inputs: dict[str, Any]) -> Preview:
        return servicing.preview_write_off(ctx, self.loan_number)

    def run_apply(self, ctx: Any, inputs: dict[str, Any], confirm_backdated: bool) -> Posted:
        return servicing.write_off_small_balance(ctx, self.loan_number, reason=self.reason_edit.text().strip())
