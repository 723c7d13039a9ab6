"""Administration: end of day, boarding, products, users and roles, lender settings, letter templates, security,
permissions, the statement cycle's exemptions."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from app.services import permissions
from app.ui import formatting, optional
from app.ui.dialogs.eod_dialog import EodDialog
from app.ui.views.boarding_view import BoardingPanel
from app.ui.views.lender_view import LenderPanel
from app.ui.views.products_view import ProductsPanel
from app.ui.views.security_view import PermissionsPanel, SecurityPanel
from app.ui.views.statements_view import StatementsPanel
from app.ui.views.templates_view import LetterTemplatesPanel
from app.ui.views.users_view import UsersPanel
from app.ui.views.view import View
from app.ui.workers import Change
from app.ui.workspace import Workspace


class AdminView(View):
    title = "Administration"
    shortcut = "Ctrl+6"

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(workspace, parent)
        self.setObjectName("adminView")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("adminTabs")
        self.tabs.setDocumentMode(True)

        # ---------------------------------------------------------- end of day
        eod_page = QWidget()
        self.eod_label = QLabel()
        self.eod_label.setObjectName("eodLabel")
        self.eod_label.setWordWrap(True)
        self.eod_button = QPushButton("&Run end of day\N{HORIZONTAL ELLIPSIS}")
        self.eod_button.setObjectName("runEod")
        self.eod_action = QAction("Run &end of day\N{HORIZONTAL ELLIPSIS}", self)
        self.eod_action.setObjectName("eodAction")
        available = optional.has("eod", "run_eod")
        allowed = workspace.can(permissions.RUN_EOD)
        self.eod_button.setEnabled(available and allowed)
        self.eod_action.setEnabled(available and allowed)
        if not available:
            self.eod_button.setToolTip(optional.missing_text("End of day", "eod"))
        self.eod_button.clicked.connect(self.run_eod)
        self.eod_action.triggered.connect(self.run_eod)
        row = QHBoxLayout()
        row.addWidget(self.eod_button)
        row.addStretch(1)
        eod_layout = QVBoxLayout(eod_page)
        eod_layout.addWidget(self.eod_label)
        eod_layout.addLayout(row)
        eod_layout.addStretch(1)
        if allowed:
            self.tabs.addTab(eod_page, "&End of day")

        self.boarding: BoardingPanel | None = None
        if workspace.can(permissions.BOARD):
            self.boarding = BoardingPanel(workspace)
            self.tabs.addTab(self.boarding, "&Boarding")
        self.products = ProductsPanel(workspace)
        self.tabs.addTab(self.products, "&Products")
        self.users: UsersPanel | None = None
        if workspace.can(permissions.MANAGE_USERS):
            self.users = UsersPanel(workspace)
            self.tabs.addTab(self.users, "&Users and roles")
        self.lender: LenderPanel | None = None
        if workspace.can(permissions.MANAGE_SETTINGS):
            self.lender = LenderPanel(workspace)
            self.tabs.addTab(self.lender, "&Lender settings")
        self.security: SecurityPanel | None = None
        if workspace.can(permissions.MANAGE_SETTINGS):
            self.security = SecurityPanel(workspace)
            self.tabs.addTab(self.security, "&Security")
        self.permissions = PermissionsPanel()
        self.tabs.addTab(self.permissions, "Per&missions")
        self.templates: LetterTemplatesPanel | None = None
        if workspace.can(permissions.MANAGE_SETTINGS):
            self.templates = LetterTemplatesPanel(workspace)
            self.tabs.addTab(self.templates, "Letter &templates")
        self.statements: StatementsPanel | None = None
        if workspace.can(permissions.MANAGE_SETTINGS):
            self.statements = StatementsPanel(workspace)
            self.tabs.addTab(self.statements, "Statement &cycle")

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        self._show_date()
        workspace.business_date_changed.connect(self._show_date)

    def menu_actions(self) -> list[QAction]:
        return [self.eod_action]

    def _show_date(self, _day: object = None) -> None:
        self.eod_label.setText(
            f"The open business date is <b>{formatting.day(self.workspace.business_date)}</b>. End of day closes "
            "it for every loan and moves every desk to the next day. Run it after the day's payments are posted.")

    def run_eod(self) -> None:
        dialog = EodDialog(self.workspace, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        dialog.start_button.setFocus()

    def refresh(self) -> None:
        if self.boarding is not None:
            self.boarding.refresh()
        self.products.refresh()
        if self.users is not None:
            self.users.refresh()
        if self.lender is not None:
            self.lender.refresh()
        if self.security is not None:
            self.security.refresh()
        if self.templates is not None:
            self.templates.refresh()
        if self.statements is not None:
            self.statements.refresh()

    def unsaved_work(self) -> str | None:
        return self.templates.unsaved_work() if self.templates is not None else None

    def apply_change(self, change: Change) -> None:
        if change.kind == "product_saved":
            self.products.refresh()
