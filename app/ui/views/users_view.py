"""Users and roles: add, change a role, reset a password, deactivate (never delete)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.services import users
from app.services.users import UserInfo
from app.ui.dialogs.user_dialog import NEW, PASSWORD, ROLE, UserDialog
from app.ui.export import add_export
from app.ui.messages import confirm, show_error
from app.ui.models.record_table_model import Column, RecordTableModel
from app.ui.widgets.table import fit_columns, make_table
from app.ui.workers import Change
from app.ui.workspace import Workspace


class UserTableModel(RecordTableModel[UserInfo]):
    columns = (
        Column("User", lambda r: r.username),
        Column("Name", lambda r: r.full_name),
        Column("Role", lambda r: r.role, "words"),
        Column("Active", lambda r: r.active, text=lambda r: "Yes" if r.active else "No (deactivated)"),
        Column("Last sign-in", lambda r: r.last_login_at, "datetime"),
        Column("Sign-in", lambda r: (r.locked(), r.must_change_password), text=lambda r: _sign_in_state(r)),
    )


def _sign_in_state(user: UserInfo) -> str:
    if user.locked() and user.locked_until is not None:
        return f"Locked until {user.locked_until.astimezone().strftime('%H:%M')} (wrong passwords)"
    return "Must choose a new password" if user.must_change_password else "Normal"


class UsersPanel(QWidget):
    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("usersPanel")
        self.workspace = workspace
        self.model = UserTableModel(self)
        self.table = make_table(self.model, name="usersTable")
        self.new_button = QPushButton("&New user\N{HORIZONTAL ELLIPSIS}")
        self.new_button.setObjectName("newUser")
        self.role_button = QPushButton("Change &role\N{HORIZONTAL ELLIPSIS}")
        self.password_button = QPushButton("Set &password\N{HORIZONTAL ELLIPSIS}")
        self.active_button = QPushButton("&Deactivate")
        self.active_button.setObjectName("toggleUserActive")
        self.unlock_button = QPushButton("&Unlock")
        self.unlock_button.setObjectName("unlockUser")
        self.unlock_button.setToolTip("Lift a lockout after too many wrong passwords before its minutes are up")
        self.table_export = add_export(self.table, workspace, "Users")  # Copy and Export... (issue 13)
        buttons = QHBoxLayout()
        buttons.addWidget(self.table_export.button())
        buttons.addStretch(1)
        for button in (self.new_button, self.role_button, self.password_button, self.active_button,
                       self.unlock_button):
            buttons.addWidget(button)
        note = QLabel("Users are never deleted: the ledger and the audit trail keep pointing at them.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        self.new_button.clicked.connect(lambda: self._dialog(NEW))
        self.role_button.clicked.connect(lambda: self._dialog(ROLE))
        self.password_button.clicked.connect(lambda: self._dialog(PASSWORD))
        self.active_button.clicked.connect(self._toggle_active)
        self.unlock_button.clicked.connect(self._unlock)
        self.table.selectionModel().selectionChanged.connect(self._selection)
        workspace.tasks.changed.connect(self._changed)
        self._selection()

    def _changed(self, change: Change) -> None:
        if change.kind == "user_saved":
            self.refresh()

    def refresh(self) -> None:
        ctx = self.workspace.ctx

        def done(found: list[UserInfo]) -> None:
            self.model.set_rows(found)
            fit_columns(self.table)

        self.workspace.tasks.read(lambda: users.list_users(ctx), done, lambda e: show_error(self, e), owner=self)

    def selected(self) -> UserInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _selection(self) -> None:
        user = self.selected()
        for button in (self.role_button, self.password_button, self.active_button):
            button.setEnabled(user is not None)
        self.active_button.setText("&Reactivate" if user is not None and not user.active else "&Deactivate")
        self.unlock_button.setEnabled(user is not None and user.locked())

    def _unlock(self) -> None:
        user = self.selected()
        if user is None:
            return
        ctx, name = self.workspace.ctx, user.username
        self.workspace.tasks.write(lambda: users.unlock_user(ctx, name), owner=self, change=Change("user_saved"))

    def _dialog(self, mode: str) -> None:
        user = self.selected()
        if mode != NEW and user is None:
            return
        dialog = UserDialog(self.workspace, mode, user, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _toggle_active(self) -> None:
        user = self.selected()
        if user is None:
            return
        ctx, name = self.workspace.ctx, user.username
        if user.active:
            def go() -> None:
                self.workspace.tasks.write(lambda: users.deactivate_user(ctx, name), owner=self,
                                           change=Change("user_saved"))

            confirm(self, f"Deactivate {name}? They will no longer be able to sign in.", go, yes_text="Deactivate")
        else:
            self.workspace.tasks.write(lambda: users.reactivate_user(ctx, name), owner=self,
                                       change=Change("user_saved"))
