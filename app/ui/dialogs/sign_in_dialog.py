"""Signing in: open the database (creating and upgrading a local one), then check the user.

On a database with no user yet the dialog asks for its first administrator
instead.  On the demo database it says which demo users exist.  Every
database call runs in the background; the dialog stays responsive.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services import setup, users
from app.services.context import Actor
from app.services.errors import ServiceError
from app.ui.dialogs.connection_dialog import Connection, ConnectionDialog
from app.ui.messages import clerk_text, error_text
from app.ui.workers import TaskRunner

LAST_USER_KEY = "signin/last_user"
DEMO_HINT = "Demo database: sign in as clerk, collector, manager or admin; the password is \u201cdemo\u201d."


@dataclass(frozen=True)
class Opened:
    factory: object  # sessionmaker; the UI only hands it back to services
    empty: bool
    kind: str | None
    business_date: object


@dataclass(frozen=True)
class SignedIn:
    factory: object
    actor: Actor
    connection: Connection
    kind: str
    business_date: object


class SignInDialog(QDialog):
    def __init__(
        self,
        settings: QSettings,
        tasks: TaskRunner,
        connection: Connection,
        *,
        local_url: str | None = None,
        notice: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("signInDialog")
        #: Why the last session ended (deactivated, role changed), shown until the next sign-in.
        self._notice = notice or ""
        self.setWindowTitle("Sign in to Keel")
        self._settings = settings
        self._tasks = tasks
        # Signing in writes (the sign-in is audited): while another desk holds SQLite's lock, say so.
        tasks.notice.connect(self._busy_notice)
        self._local_url = local_url
        self.connection = connection
        self._opened: Opened | None = None
        self.result_value: SignedIn | None = None

        title = QLabel("Keel loan servicing")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        title.setFont(font)

        self.database_label = QLabel()
        self.database_label.setObjectName("databaseLabel")
        self.database_label.setWordWrap(True)
        self.change_button = QPushButton("C&hange\N{HORIZONTAL ELLIPSIS}")
        self.change_button.setObjectName("changeConnection")
        self.change_button.clicked.connect(self._change_connection)
        database_row = QHBoxLayout()
        database_row.addWidget(self.database_label, 1)
        database_row.addWidget(self.change_button, 0, Qt.AlignmentFlag.AlignTop)

        self.intro = QLabel()
        self.intro.setObjectName("introLabel")
        self.intro.setWordWrap(True)

        self.username = QLineEdit(str(settings.value(LAST_USER_KEY, "") or ""))
        self.username.setObjectName("username")
        self.full_name = QLineEdit()
        self.full_name.setObjectName("fullName")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit()
        self.repeat.setObjectName("repeatPassword")
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.form = QFormLayout()
        self.form.addRow("&User name:", self.username)
        self.form.addRow("&Full name:", self.full_name)
        self.form.addRow("&Password:", self.password)
        self.form.addRow("&Repeat password:", self.repeat)

        self.message = QLabel()
        self.message.setObjectName("signInMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setObjectName("signInButton")
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(database_row)
        layout.addSpacing(6)
        layout.addWidget(self.intro)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 70, self.sizeHint().height())
        self._set_mode("opening")
        self._open()

    # ------------------------------------------------------------ modes
    def _set_mode(self, mode: str) -> None:
        self._mode = mode
        first_admin = mode == "first_admin"
        for widget in (self.full_name, self.repeat):
            widget.setVisible(first_admin)
            label = self.form.labelForField(widget)
            if label is not None:
                label.setVisible(first_admin)
        ready = mode in ("sign_in", "first_admin")
        for widget in (self.username, self.password, self.full_name, self.repeat):
            widget.setEnabled(ready)
        self.ok_button.setEnabled(ready)
        self.change_button.setEnabled(mode != "opening")
        self.ok_button.setText("Create administrator" if first_admin else "Sign in")
        self.database_label.setText(f"<b>Database:</b> {self.connection.label}")
        if mode == "opening":
            self.intro.setText("Opening the database\N{HORIZONTAL ELLIPSIS}")
        elif first_admin:
            self.intro.setText("This database has no users yet. Create its first administrator, "
                               "who can then add everyone else.")
        elif mode == "sign_in":
            kind = self._opened.kind if self._opened else None
            self.intro.setText(DEMO_HINT if kind == setup.DEMO else "Sign in with your Keel user name and password.")
        else:
            self.intro.setText("The database could not be opened. Check the connection and try again.")
        if ready:
            (self.password if self.username.text() else self.username).setFocus()

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #a00000;" if text else "")

    # ------------------------------------------------------------ opening
    def _open(self) -> None:
        url = self.connection.url

        given = self.connection.kind == "given"

        def work() -> Opened:
            if given:
                # A book named with --db must exist (issue 12); only the local book is made on first run.
                setup.require_existing_book(url)
            factory = setup.open_database(url)
            info = setup.database_info(factory)
            return Opened(factory, setup.database_is_empty(factory), info.kind if info else None,
                          info.business_date if info else None)

        def done(opened: Opened) -> None:
            self._opened = opened
            self._show_message(self._notice)
            self._set_mode("first_admin" if opened.empty else "sign_in")

        def failed(exc: BaseException) -> None:
            self._set_mode("failed")
            self._show_message(error_text(exc))

        self._tasks.write(work, done, failed, owner=self)

    def _change_connection(self) -> None:
        dialog = ConnectionDialog(self._settings, self._tasks, self._local_url, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def chosen() -> None:
            if dialog.chosen is None:
                return
            self._close_opened()
            self.connection = dialog.chosen
            self._show_message("")
            self._set_mode("opening")
            self._open()

        dialog.accepted.connect(chosen)
        dialog.open()

    def _close_opened(self) -> None:
        if self._opened is not None:
            factory = self._opened.factory
            self._opened = None
            self._tasks.write(lambda: setup.close_database(factory))  # type: ignore[arg-type]

    # ------------------------------------------------------------ signing in
    def _submit(self) -> None:
        if self._opened is None or self._mode not in ("sign_in", "first_admin"):
            return
        name, password = self.username.text().strip(), self.password.text()
        if not name or not password:
            self._show_message("Enter your user name and password.")
            return
        factory = self._opened.factory
        if self._mode == "first_admin":
            if password != self.repeat.text():
                self._show_message("The two passwords differ.")
                return
            full_name = self.full_name.text().strip()

            def work() -> Actor:
                users.bootstrap_admin(factory, name, full_name, password)  # type: ignore[arg-type]
                return users.authenticate(factory, name, password)  # type: ignore[arg-type]
        else:
            def work() -> Actor:
                return users.authenticate(factory, name, password)  # type: ignore[arg-type]

        self.ok_button.setEnabled(False)
        self._show_message("")
        self.intro.setText("Checking\N{HORIZONTAL ELLIPSIS}")
        self._tasks.write(work, self._signed_in, self._refused, owner=self)

    def _signed_in(self, actor: Actor) -> None:
        opened = self._opened
        assert opened is not None
        if actor.must_change_password:
            self._change_password(actor)
            return
        self._finish(actor)

    def _change_password(self, actor: Actor) -> None:
        """An administrator reset this password: the user chooses their own before the desk opens."""
        from app.services.context import ServiceContext
        from app.ui.dialogs.password_dialog import ChangePasswordDialog

        assert self._opened is not None
        dialog = ChangePasswordDialog(ServiceContext(self._opened.factory, actor), self._tasks,  # type: ignore[arg-type]
                                      forced=True, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.current.setText(self.password.text())  # just typed: the reset password

        def finished(code: int) -> None:
            if code == QDialog.DialogCode.Accepted and dialog.actor is not None:
                self._finish(dialog.actor)
            else:
                self._refused(ServiceError("Choose a new password to sign in: an administrator reset yours."))

        dialog.finished.connect(finished)
        dialog.open()
        dialog.new.setFocus()

    def _finish(self, actor: Actor) -> None:
        opened = self._opened
        assert opened is not None
        self._settings.setValue(LAST_USER_KEY, actor.username)

        def info() -> object:
            return setup.database_info(opened.factory)  # type: ignore[arg-type]

        def done(found: object) -> None:
            kind = getattr(found, "kind", opened.kind) or ""
            day = getattr(found, "business_date", opened.business_date)
            self.result_value = SignedIn(opened.factory, actor, self.connection, kind, day)
            self._opened = None  # handed over; no longer ours to close
            self.accept()

        self._tasks.read(info, done, self._refused, owner=self)

    def _busy_notice(self, text: str) -> None:
        self.intro.setText(clerk_text(text))

    def _refused(self, exc: BaseException) -> None:
        self._set_mode(self._mode)
        self._show_message(error_text(exc))
        self.password.clear()
        self.password.setFocus()

    def reject(self) -> None:  # Qt's name
        self._close_opened()
        super().reject()
