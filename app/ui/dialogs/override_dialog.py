"""A Regulation F warning the collector chooses to override: the reason is required and kept."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget


class OverrideDialog(QDialog):
    def __init__(self, message: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overrideDialog")
        self.setWindowTitle("Contact warning")
        text = QLabel(message)
        text.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setObjectName("overrideReason")
        self.reason.setPlaceholderText("Why this contact is appropriate (kept on the contact and in the audit trail)")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("Log the contact anyway", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("overrideOk")
        self.ok.setEnabled(False)
        self.reason.textChanged.connect(lambda t: self.ok.setEnabled(bool(t.strip())))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(QLabel("&Reason for going ahead:"))
        layout.itemAt(layout.count() - 1).widget().setBuddy(self.reason)  # type: ignore[union-attr]
        layout.addWidget(self.reason)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 80, self.sizeHint().height())

    def text(self) -> str:
        return self.reason.text().strip()
