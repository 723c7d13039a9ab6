"""A second user's approval for an entry above a limit (issue 11, item 7).

Shown when a service refuses with NeedsApproval: it says which limits the
entry crosses, in the service's words, and asks the approver (a different
user, typically a manager at the clerk's side) for their name and password.
The entry is then posted again with the approval; the approver's password is
checked by the service like a sign-in, so the dialog keeps nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.services.approvals import Approval
from app.services.errors import NeedsApproval
from app.ui.forms import ok_cancel, problem_label


class ApprovalDialog(QDialog):
    def __init__(self, exc: NeedsApproval, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("approvalDialog")
        self.setWindowTitle("Approval needed")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        what = str(exc).split(":", 1)[0]
        heading = QLabel(f"<b>{what}.</b>")
        heading.setObjectName("approvalHeading")
        heading.setWordWrap(True)
        reasons = QLabel("<ul style='margin-left: -20px'>" + "".join(f"<li>{r[:1].upper()}{r[1:]}.</li>"
                                                                      for r in exc.reasons) + "</ul>")
        reasons.setObjectName("approvalReasons")
        reasons.setWordWrap(True)
        self.reasons_label = reasons
        hint = QLabel("A different user who may approve it types their name and password here. "
                      "The approval is kept with the entry and in the audit trail.")
        hint.setWordWrap(True)
        self.approver = QLineEdit()
        self.approver.setObjectName("approverName")
        self.password = QLineEdit()
        self.password.setObjectName("approverPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.addRow("&Approver:", self.approver)
        form.addRow("&Password:", self.password)
        self.message = problem_label("approvalMessage")
        self.buttons, self.ok_button = ok_cancel("Approve and post", "approveButton", self._accept, self.reject)
        layout = QVBoxLayout(self)
        for widget in (heading, reasons, hint):
            layout.addWidget(widget)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 72, self.sizeHint().height())
        self.approver.setFocus()

    def approval(self) -> Approval:
        return Approval(self.approver.text().strip(), self.password.text())

    def _accept(self) -> None:
        if not self.approver.text().strip() or not self.password.text():
            self.message.setText("Enter the approver's user name and password.")
            (self.approver if not self.approver.text().strip() else self.password).setFocus()
            return
        self.accept()


def ask_approval(parent: QWidget, exc: NeedsApproval, retry: Callable[[Approval], None],
                 on_cancel: Callable[[], None] | None = None) -> ApprovalDialog:
    """Open the dialog; ``retry(approval)`` on OK, ``on_cancel()`` otherwise (nothing was posted)."""
    dialog = ApprovalDialog(exc, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def finished(code: int) -> None:
        if code == QDialog.DialogCode.Accepted:
            retry(dialog.approval())
        elif on_cancel is not None:
            on_cancel()

    dialog.finished.connect(finished)
    dialog.open()
    return dialog
