"""Add a user, change a role, or set a password (administrators; anyone for their own password)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.services import users
from app.services.users import UserInfo
from app.ui import formatting
from app.ui.messages import error_text
from app.ui.workers import Change
from app.ui.workspace import Workspace

ROLE_TEXT = {
    "clerk": "Clerk: finds accounts, posts payments and batches",
    "collector": "Collector: works the queue, logs contacts, prints notices",
    "manager": "Manager: all of the above, reversals, fees, adjustments, reports",
    "admin": "Administrator: everything, including products, users and end of day",
}

NEW, ROLE, PASSWORD = "new", "role", "password"


class UserDialog(QDialog):
    saved = Signal(object)

    def __init__(self, workspace: Workspace, mode: str, user: UserInfo | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("userDialog")
        self.workspace = workspace
        self.mode = mode
        self.user = user
        titles = {NEW: "New user", ROLE: f"Role of {user.username if user else ''}",
                  PASSWORD: f"Password of {user.username if user else ''}"}
        self.setWindowTitle(titles[mode])
        self.username = QLineEdit()
        self.username.setObjectName("newUsername")
        self.full_name = QLineEdit()
        self.full_name.setObjectName("newFullName")
        self.role = QComboBox()
        self.role.setObjectName("newRole")
        for role in users.USER_ROLES:
            self.role.addItem(ROLE_TEXT.get(role, formatting.words(role)), role)
        if user is not None:
            self.role.setCurrentIndex(max(0, self.role.findData(user.role)))
        self.password = QLineEdit()
        self.password.setObjectName("newPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit()
        self.repeat.setObjectName("repeatNewPassword")
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        if mode == NEW:
            form.addRow("&User name:", self.username)
            form.addRow("&Full name:", self.full_name)
        if mode in (NEW, ROLE):
            form.addRow("&Role:", self.role)
        if mode in (NEW, PASSWORD):
            form.addRow("&Password:", self.password)
            form.addRow("R&epeat:", self.repeat)
            hint = QLabel(f"At least {users.MIN_PASSWORD_LENGTH} characters.")
            form.addRow("", hint)
        self.message = QLabel()
        self.message.setObjectName("userMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #a00000;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 75, self.sizeHint().height())

    def _save(self) -> None:
        ctx = self.workspace.ctx
        if self.mode in (NEW, PASSWORD) and self.password.text() != self.repeat.text():
            self.message.setText("The two passwords differ.")
            return
        role, password = self.role.currentData(), self.password.text()
        if self.mode == NEW:
            username, full_name = self.username.text().strip(), self.full_name.text().strip()

            def work() -> object:
                return users.create_user(ctx, username, full_name, role, password)
        elif self.mode == ROLE:
            assert self.user is not None
            name = self.user.username

            def work() -> object:
                return users.set_role(ctx, name, role)
        else:
            assert self.user is not None
            name = self.user.username

            def work() -> object:
                users.set_password(ctx, name, password)
                return None

        def done(result: object) -> None:
            self.saved.emit(result)
            self.accept()

        def failed(exc: BaseException) -> None:
            self.message.setText(error_text(exc))

        self.workspace.tasks.write(work, done, failed, owner=self, change=Change("user_saved"))
