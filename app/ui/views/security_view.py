"""Administration > Security (lockout, idle lock, posting limits, approval thresholds) and > Permissions."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services import permissions, security
from app.services.security import SecuritySettings
from app.ui.messages import error_field, error_text, mark_problem
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workspace import Workspace

#: Roles that post payments, so a posting limit means something for them.
POSTING_ROLES = tuple(r for r in permissions.ROLES if permissions.role_allows(r, permissions.POST_PAYMENT))


class SecurityPanel(QWidget):
    """Edit the security settings (MANAGE_SETTINGS); the service validates and audits every save."""

    #: Emitted after settings were shown (loaded or saved): a SecuritySettings.
    settings_shown = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("securityPanel")
        self.workspace = workspace
        note = QLabel("Who may sign in, how long an idle desk stays open, and which entries need a second "
                      "user's approval. Every change is recorded in the audit trail with before and after.")
        note.setWordWrap(True)
        self.attempts = self._spin("lockoutAttempts", 1, 100, " wrong passwords in a row")
        self.minutes = self._spin("lockoutMinutes", 1, 24 * 60, " minutes")
        self.idle = self._spin("idleLockMinutes", 0, 24 * 60, " minutes")
        self.idle.setSpecialValueText("Never")
        self.limit_edits: dict[str, MoneyEdit] = {}
        self.no_limit: dict[str, QCheckBox] = {}
        form = QFormLayout()
        form.addRow("Lock an account after:", self.attempts)
        form.addRow("Keep it locked for:", self.minutes)
        form.addRow("Lock an idle desk after:", self.idle)
        for role in POSTING_ROLES:
            edit = MoneyEdit()
            edit.setObjectName(f"{role}Limit")
            check = QCheckBox("No limit")
            check.setObjectName(f"{role}NoLimit")
            check.toggled.connect(lambda on, e=edit: e.setEnabled(not on))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(check)
            article = "an" if role[:1] in "aeiou" else "a"
            form.addRow(f"Largest payment {article} {role} posts alone:", row)
            self.limit_edits[role], self.no_limit[role] = edit, check
        self.waiver = MoneyEdit()
        self.waiver.setObjectName("waiverApprovalAbove")
        self.override = MoneyEdit()
        self.override.setObjectName("overrideApprovalAbove")
        form.addRow("Waivers need approval above:", self.waiver)
        form.addRow("Overrides need approval for payments above:", self.override)
        payoff = QLabel("A payment above the payoff by more than the loan's payoff tolerance always needs approval.")
        payoff.setWordWrap(True)
        self.message = QLabel()
        self.message.setObjectName("securityMessage")
        self.message.setWordWrap(True)
        self.save_button = QPushButton("&Save security settings")
        self.save_button.setObjectName("saveSecurity")
        self.save_button.setAutoDefault(False)
        self.save_button.clicked.connect(self.save)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(payoff)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.save_button.setEnabled(workspace.can(permissions.MANAGE_SETTINGS))

    @staticmethod
    def _spin(name: str, low: int, high: int, suffix: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        return spin

    def _fields(self) -> dict[str, QWidget]:
        found: dict[str, QWidget] = {"lockout_attempts": self.attempts, "lockout_minutes": self.minutes,
                                     "idle_lock_minutes": self.idle, "waiver_approval_above": self.waiver,
                                     "override_approval_above": self.override}
        for role, edit in self.limit_edits.items():
            found[f"{role} payment limit"] = edit
        return found

    def refresh(self) -> None:
        ctx = self.workspace.ctx
        self.workspace.tasks.read(lambda: security.security_settings(ctx), self.show_settings,
                                  lambda exc: self.message.setText(error_text(exc)), owner=self)

    def show_settings(self, found: SecuritySettings) -> None:
        self.attempts.setValue(found.lockout_attempts)
        self.minutes.setValue(found.lockout_minutes)
        self.idle.setValue(found.idle_lock_minutes)
        for role, edit in self.limit_edits.items():
            limit = found.payment_limit(role)
            edit.set_value(limit)
            self.no_limit[role].setChecked(limit is None)
        self.waiver.set_value(found.waiver_approval_above)
        self.override.set_value(found.override_approval_above)
        self.settings_shown.emit(found)

    def settings(self) -> SecuritySettings | str:
        """What the form says, or the first problem in words."""
        limits: dict[str, Decimal] = {}
        for role, edit in self.limit_edits.items():
            if self.no_limit[role].isChecked():
                continue
            value = edit.value()
            if value is None:
                article = "an" if role[:1] in "aeiou" else "a"
                return f"Largest payment {article} {role} posts alone: type an amount, or tick No limit."
            limits[role] = value
        waiver, override = self.waiver.value(), self.override.value()
        if waiver is None:
            return "Waivers need approval above: type an amount."
        if override is None:
            return "Overrides need approval above: type an amount."
        return SecuritySettings(self.attempts.value(), self.minutes.value(), self.idle.value(), limits, waiver,
                                override)

    def save(self) -> None:
        chosen = self.settings()
        if isinstance(chosen, str):
            self.message.setStyleSheet("color: #a00000;")
            self.message.setText(chosen)
            return
        ctx = self.workspace.ctx
        self.save_button.setEnabled(False)

        def done(saved: SecuritySettings) -> None:
            self.save_button.setEnabled(True)
            mark_problem(self._fields(), None)
            self.message.setStyleSheet("")
            self.message.setText("Saved. Desks read the idle lock when they next sign in.")
            self.show_settings(saved)

        def failed(exc: BaseException) -> None:
            self.save_button.setEnabled(True)
            self.message.setStyleSheet("color: #a00000;")
            self.message.setText(error_text(exc))
            mark_problem(self._fields(), error_field(exc))

        self.workspace.tasks.write(lambda: security.save_security_settings(ctx, chosen), done, failed, owner=self,
                                   label="Saving the security settings\N{HORIZONTAL ELLIPSIS}")


class PermissionsPanel(QWidget):
    """The permission matrix (read-only): what each role may do, from the same table the services check."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("permissionsPanel")
        note = QLabel("What each role may do. Keel checks these on every action, against the role the user has "
                      "at that moment; an administrator changes a user's role under Users and roles.")
        note.setWordWrap(True)
        rows = permissions.matrix_rows()
        self.table = QTableWidget(len(rows), 1 + len(permissions.ROLES))
        self.table.setObjectName("permissionsTable")
        self.table.setHorizontalHeaderLabels(["Action", *(r.capitalize() for r in permissions.ROLES)])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        for row, (permission, text, held) in enumerate(rows):
            item = QTableWidgetItem(text)
            item.setToolTip(permission)
            self.table.setItem(row, 0, item)
            for column, on in enumerate(held, start=1):
                mark = QTableWidgetItem("\N{CHECK MARK}" if on else "")
                mark.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                mark.setToolTip(f"{permissions.ROLES[column - 1]}: {'allowed' if on else 'not allowed'}")
                self.table.setItem(row, column, mark)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 1 + len(permissions.ROLES)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
