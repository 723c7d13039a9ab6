"""The desk locks itself after the security setting's idle minutes (issue 11, item 7).

An application-wide event filter restarts a single-shot timer on every key
press, click and wheel turn; when it fires, :class:`LockDialog` covers the
window (application-modal) until the signed-in user types their password,
checked by the same service as a sign-in (wrong passwords count towards the
lockout).  Nothing is lost: forms, drafts and background work carry on under
the lock.  Another person at the desk signs the first user out instead.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services import users
from app.services.context import ServiceContext
from app.ui.forms import problem_label
from app.ui.messages import error_text
from app.ui.workers import TaskRunner

_ACTIVITY = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel, QEvent.Type.TouchBegin}


class LockDialog(QDialog):
    """Locked: the user's password resumes; Sign out hands the desk to someone else."""

    def __init__(self, ctx: ServiceContext, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockDialog")
        self.setWindowTitle("Keel is locked")
        self.setWindowModality(Qt.WindowModality.ApplicationModal)
        self._ctx, self._tasks = ctx, tasks
        #: True when the user chose to sign out rather than unlock.
        self.sign_out = False
        name = ctx.actor.full_name or ctx.actor.username
        heading = QLabel(f"<b>Locked.</b> {name} ({ctx.actor.username}) is signed in; "
                         "type the password to go on where you left off.")
        heading.setWordWrap(True)
        self.password = QLineEdit()
        self.password.setObjectName("unlockPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.addRow("&Password:", self.password)
        self.message = problem_label("unlockMessage")
        self.buttons = QDialogButtonBox()
        self.unlock_button = self.buttons.addButton("&Unlock", QDialogButtonBox.ButtonRole.AcceptRole)
        self.unlock_button.setObjectName("unlockButton")
        self.sign_out_button = QPushButton("Sign &out")
        self.sign_out_button.setObjectName("lockSignOutButton")
        self.sign_out_button.setAutoDefault(False)
        self.buttons.addButton(self.sign_out_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.buttons.accepted.connect(self._unlock)
        self.sign_out_button.clicked.connect(self._sign_out)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 64, self.sizeHint().height())
        self.password.setFocus()

    def _unlock(self) -> None:
        password = self.password.text()
        if not password:
            self.message.setText("Password: type the password of the signed-in user.")
            return
        self.unlock_button.setEnabled(False)
        factory, name = self._ctx.factory, self._ctx.actor.username

        def failed(exc: BaseException) -> None:
            self.unlock_button.setEnabled(True)
            self.message.setText(error_text(exc))
            self.password.clear()
            self.password.setFocus()

        self._tasks.write(lambda: users.confirm_identity(factory, name, password), lambda _a: self.accept(), failed,
                          owner=self, label="Checking\N{HORIZONTAL ELLIPSIS}")

    def _sign_out(self) -> None:
        self.sign_out = True
        self.reject()

    def reject(self) -> None:  # Qt's name: Esc does not unlock
        if self.sign_out:
            super().reject()


class IdleLock(QObject):
    """Locks ``window`` after ``minutes`` without input (0: never); ``lock_now()`` for File > Lock."""

    def __init__(self, window: QWidget, ctx: ServiceContext, tasks: TaskRunner, minutes: int,
                 on_sign_out: Callable[[], None]) -> None:
        super().__init__(window)
        self._window, self._ctx, self._tasks, self._on_sign_out = window, ctx, tasks, on_sign_out
        self.dialog: LockDialog | None = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.lock_now)
        self.set_minutes(minutes)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def set_minutes(self, minutes: int) -> None:
        self.minutes = minutes
        if minutes > 0:
            self.timer.setInterval(minutes * 60_000)
            self.timer.start()
        else:
            self.timer.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt's name
        if event.type() in _ACTIVITY and self.dialog is None and self.minutes > 0:
            self.timer.start()
        return False

    def lock_now(self) -> None:
        if self.dialog is not None or not self._window.isVisible():
            return
        self.timer.stop()
        dialog = LockDialog(self._ctx, self._tasks, self._window)
        self.dialog = dialog

        def finished(_code: int) -> None:
            self.dialog = None
            dialog.deleteLater()
            if dialog.sign_out:
                self._on_sign_out()
            elif self.minutes > 0:
                self.timer.start()

        dialog.finished.connect(finished)
        dialog.open()

    def stop(self) -> None:
        self.timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
