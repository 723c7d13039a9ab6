"""Change your own password (File > Change password; asked at sign-in after an administrator's reset)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.services import users
from app.services.context import Actor, ServiceContext
from app.ui.forms import ok_cancel, problem_label
from app.ui.messages import error_field, error_text, mark_problem
from app.ui.workers import TaskRunner


class ChangePasswordDialog(QDialog):
    def __init__(self, ctx: ServiceContext, tasks: TaskRunner, *, forced: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("changePasswordDialog")
        self.setWindowTitle("Choose a new password" if forced else "Change your password")
        self._ctx, self._tasks = ctx, tasks
        #: The signed-in user after the change (must_change_password cleared).
        self.actor: Actor | None = None
        intro = QLabel(
            f"An administrator reset the password of {ctx.actor.username}. Choose your own before you go on: "
            f"at least {users.MIN_PASSWORD_LENGTH} characters, known only to you." if forced else
            f"Give your current password, then the new one twice (at least {users.MIN_PASSWORD_LENGTH} characters).")
        intro.setObjectName("passwordIntro")
        intro.setWordWrap(True)
        self.current = self._secret("currentPassword")
        self.new = self._secret("newPassword")
        self.repeat = self._secret("repeatNewPassword")
        form = QFormLayout()
        form.addRow("&Current password:", self.current)
        form.addRow("&New password:", self.new)
        form.addRow("&Repeat new password:", self.repeat)
        self.message = problem_label("passwordMessage")
        self.buttons, self.ok_button = ok_cancel("Change password", "changePasswordButton", self._submit, self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 64, self.sizeHint().height())
        self.current.setFocus()

    @staticmethod
    def _secret(name: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        return edit

    def _fields(self) -> dict[str, QWidget]:
        return {"current password": self.current, "new password": self.new, "password": self.new,
                "repeat": self.repeat}

    def _refuse(self, text: str, field: str) -> None:
        self.message.setText(text)
        mark_problem(self._fields(), field)
        widget = self._fields()[field]
        assert isinstance(widget, QLineEdit)
        widget.setFocus()
        widget.selectAll()

    def _submit(self) -> None:
        current, new = self.current.text(), self.new.text()
        if not current:
            self._refuse("Current password: type the password you signed in with.", "current password")
            return
        if not new:
            self._refuse("New password: type the password you want.", "new password")
            return
        if new != self.repeat.text():
            self._refuse("Repeat new password: the two new passwords differ.", "repeat")
            return
        self.ok_button.setEnabled(False)
        self.message.setText("")
        ctx = self._ctx

        def done(actor: Actor) -> None:
            self.actor = actor
            self.accept()

        def failed(exc: BaseException) -> None:
            self.ok_button.setEnabled(True)
            self.message.setText(error_text(exc))
            mark_problem(self._fields(), error_field(exc))
            field = error_field(exc)
            (self.current if field == "current password" else self.new).setFocus()

        self._tasks.write(lambda: users.change_own_password(ctx, current, new), done, failed, owner=self,
                          label="Changing the password\N{HORIZONTAL ELLIPSIS}")
