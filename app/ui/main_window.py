"""Keel's main window: navigation between the views, the global search, the status bar.

The window owns nothing global: it is given a :class:`Workspace` (database,
user, task runner, settings) and passes it to each view.  Each view lives in
its own module under ``app/ui/views``.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from app.services import permissions, security
from app.ui import formatting
from app.ui.dialogs.password_dialog import ChangePasswordDialog
from app.ui.idle_lock import IdleLock
from app.ui.messages import clerk_text, confirm, inform, show_error
from app.ui.views.account_view import AccountView
from app.ui.views.admin_view import AdminView
from app.ui.views.audit_view import AuditView
from app.ui.views.reports_view import ReportsView
from app.ui.views.requests_view import RequestsView
from app.ui.views.batch_view import BatchView
from app.ui.views.collections_view import CollectionsView
from app.ui.views.dashboard_view import DashboardView
from app.ui.views.payment_view import PaymentView
from app.ui.views.view import View
from app.ui.widgets.search_box import SearchBox
from app.ui.workers import Change
from app.ui.workspace import Workspace

GEOMETRY_KEY = "window/geometry"
STATE_KEY = "window/state"
SPLITTER_KEY = "window/navigation"
VIEW_KEY = "window/view"

#: The first view of a desk that has no saved layout yet: where each role spends its day.
ROLE_START = {"clerk": "Payment entry", "collector": "Collections", "manager": "Dashboard", "admin": "Dashboard"}

SHORTCUTS_HELP = """Keyboard shortcuts

Ctrl+F   Search (loan number, name, phone, SSN last four)
Ctrl+1   Dashboard
Ctrl+2   Account
Ctrl+3   Payment entry
Ctrl+4   Batch (deposit) entry
Ctrl+5   Collections
Ctrl+6   Administration
Ctrl+7   Audit (who did what, managers and administrators)
Ctrl+8   Requests (the Reg X / Reg Z worklist)
Ctrl+9   Reports and the general ledger journal (managers and administrators)
Ctrl+P   Post a payment to the open account
Ctrl+Enter   Post (payment entry) / log the contact (collections)
Ctrl+R   Reverse the selected payment (account ledger, when permitted)
Ctrl+C   Copy the selected rows of a table (tab-separated, with the column titles)
Ctrl+E   Export a table to Excel (XLSX) or CSV; right-click a table for both
Alt+Down / Alt+Up   Next / previous account (collections)
F5       Refresh the current view
Ctrl+L   Lock the desk (your password resumes)
Ctrl+Q   Quit"""


class MainWindow(QMainWindow):
    """The workstation's top-level window."""

    #: The user chose File > Sign out.
    sign_out_requested = Signal()

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.setObjectName("mainWindow")
        self.setWindowTitle("Keel")
        workspace.tasks.default_failure = lambda owner, exc: show_error(owner or self, exc)

        # ---------------------------------------------------------- views
        self.account_view = AccountView(workspace)
        self.payment_view = PaymentView(workspace)
        self.batch_view: BatchView | None = (
            BatchView(workspace) if workspace.can(permissions.POST_BATCH) else None)
        self.collections_view = CollectionsView(workspace)
        self.dashboard_view = DashboardView(workspace)
        self.views: list[View] = [self.dashboard_view, self.account_view, self.payment_view]
        if self.batch_view is not None:
            self.views.append(self.batch_view)
        self.views.append(self.collections_view)
        self.requests_view = RequestsView(workspace)  # the Reg X / Reg Z worklist (issue 11)
        self.views.append(self.requests_view)
        self.admin_view: AdminView | None = None
        if any(workspace.can(p) for p in (permissions.RUN_EOD, permissions.MANAGE_PRODUCTS, permissions.MANAGE_USERS,
                                             permissions.MANAGE_SETTINGS)):
            self.admin_view = AdminView(workspace)
            self.views.append(self.admin_view)
        # The global audit search (issue 11): managers and administrators.
        self.audit_view: AuditView | None = AuditView(workspace) if workspace.can(permissions.VIEW_REPORTS) else None
        if self.audit_view is not None:
            self.views.append(self.audit_view)
            self.audit_view.open_requested.connect(self.open_account)
        # The Reports view (issue 13): managers and administrators.
        self.reports_view: ReportsView | None = (
            ReportsView(workspace) if workspace.can(permissions.VIEW_REPORTS) else None)
        if self.reports_view is not None:
            self.views.append(self.reports_view)

        self.navigation = QListWidget()
        self.navigation.setObjectName("navigation")
        self.navigation.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.stack = QStackedWidget()
        self.stack.setObjectName("viewStack")
        for view in self.views:
            item = QListWidgetItem(view.title)
            item.setToolTip(f"{view.title} ({view.shortcut})")
            self.navigation.addItem(item)
            self.stack.addWidget(view)
        self.navigation.setSpacing(2)
        self.navigation.setStyleSheet("QListWidget#navigation::item { padding: 6px 10px; }")
        self.navigation.setMinimumWidth(self.fontMetrics().averageCharWidth() * 18)
        self.navigation.setMaximumWidth(self.fontMetrics().averageCharWidth() * 30)
        self.navigation.currentRowChanged.connect(self._show_row)

        self.splitter = QSplitter()
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.navigation)
        self.splitter.addWidget(self.stack)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        # ---------------------------------------------------------- search
        self.search_box = SearchBox(workspace)
        self.search_box.open_requested.connect(self.open_account)
        toolbar = QToolBar("Search")
        toolbar.setObjectName("searchToolbar")
        toolbar.setMovable(False)
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(6, 4, 6, 4)
        row.addWidget(self.search_box, 1)
        toolbar.addWidget(holder)
        self.addToolBar(toolbar)

        # ---------------------------------------------------------- status bar
        # Permanent widgets, not showMessage(): temporary messages would erase them.
        self.date_label = QLabel()
        self.date_label.setObjectName("businessDateLabel")
        self.user_label = QLabel(f"Signed in: {workspace.actor_name}")
        self.user_label.setObjectName("userLabel")
        self.database_label = QLabel(workspace.database_label)
        self.database_label.setObjectName("databaseLabel")
        self.busy_label = QLabel("")
        self.busy_label.setObjectName("busyLabel")
        bar = self.statusBar()
        for label in (self.database_label, self.user_label, self.date_label):
            label.setStyleSheet("padding: 0 10px; border-left: 1px solid palette(mid);")
        bar.addPermanentWidget(self.busy_label)
        bar.addPermanentWidget(self.database_label)
        bar.addPermanentWidget(self.user_label)
        bar.addPermanentWidget(self.date_label)
        self._show_business_date(workspace.business_date)
        workspace.business_date_changed.connect(self._show_business_date)
        workspace.tasks.busy_changed.connect(self._busy)
        workspace.tasks.changed.connect(self._changed)
        # "The database is busy — retrying" while a unit waits for another desk's lock (issue 12).
        workspace.tasks.notice.connect(self._notice)

        # ---------------------------------------------------------- sessions that hold (issue 11, item 7)
        #: Why Keel signed this user out (deactivated, role changed); the next sign-in dialog shows it.
        self.ended_reason: str | None = None
        workspace.tasks.failure_guard = self._session_guard
        self.idle_lock = IdleLock(self, workspace.ctx, workspace.tasks, 0, self.end_session)
        self._read_security()

        self._build_menus()
        self.resize(self._first_size())
        self._restore_layout()

    def _first_size(self) -> QSize:
        """A new desk's window: about 1366x768's worth of text, never larger than the screen it opens on."""
        wanted = QSize(self.fontMetrics().averageCharWidth() * 190, self.fontMetrics().height() * 46)
        screen = self.screen() or QApplication.primaryScreen()
        if screen is not None:
            room = screen.availableGeometry().size()
            wanted = wanted.boundedTo(QSize(room.width() * 96 // 100, room.height() * 94 // 100))
        return wanted

    # ------------------------------------------------------------ menus and shortcuts
    def _action(self, text: str, shortcut: str | QKeySequence | None, slot: object, name: str) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)  # type: ignore[arg-type]
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self._action("&Change password…", None, self.change_password,
                                         "changePasswordAction"))
        file_menu.addAction(self._action("&Lock", "Ctrl+L", self.idle_lock.lock_now, "lockAction"))
        file_menu.addAction(self._action("Sign &out", None, self._sign_out, "signOutAction"))
        # Spelt out: some platform themes (offscreen, some desktops) bind nothing to StandardKey.Quit.
        file_menu.addAction(self._action("&Quit", "Ctrl+Q", self.close, "quitAction"))

        go = menu.addMenu("&Go")
        go.addAction(self._action("&Search\N{HORIZONTAL ELLIPSIS}", "Ctrl+F", self.focus_search, "searchAction"))
        go.addSeparator()
        for view in self.views:
            action = self._action(view.title, view.shortcut, lambda _=False, v=view: self.show_view(v),
                                  f"show{type(view).__name__}")
            go.addAction(action)
        go.addSeparator()
        go.addAction(self._action("&Refresh", "F5", self.refresh_current, "refreshAction"))

        account = menu.addMenu("&Account")
        self.post_action = self._action("&Post payment\N{HORIZONTAL ELLIPSIS}", "Ctrl+P", self.post_payment,
                                        "postPaymentAction")
        self.post_action.setEnabled(self.workspace.can(permissions.POST_PAYMENT))
        account.addAction(self.post_action)
        account.addAction(self.account_view.reverse_action)
        self.addAction(self.account_view.reverse_action)
        self.account_view.post_payment_requested.connect(lambda _n: self.post_payment())

        if self.admin_view is not None:
            admin = menu.addMenu("A&dministration")
            for action in self.admin_view.menu_actions():
                admin.addAction(action)

        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self._action("&Keyboard shortcuts", "F1", lambda: inform(self, SHORTCUTS_HELP),
                                         "shortcutsAction"))

    # ------------------------------------------------------------ navigation
    def _show_row(self, row: int) -> None:
        if 0 <= row < len(self.views):
            view = self.views[row]
            self.stack.setCurrentWidget(view)
            self.setWindowTitle(f"{view.title} \N{EM DASH} Keel")
            view.activate()

    def show_view(self, view: View) -> None:
        if view in self.views:
            self.navigation.setCurrentRow(self.views.index(view))
            self._show_row(self.views.index(view))

    def current_view(self) -> View:
        widget = self.stack.currentWidget()
        assert isinstance(widget, View)
        return widget

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def refresh_current(self) -> None:
        self.current_view().refresh()

    def open_account(self, loan_number: str) -> None:
        self.show_view(self.account_view)
        self.account_view.open_loan(loan_number)

    def post_payment(self) -> None:
        if self.current_view() is self.payment_view and self.payment_view.unsaved_work():
            # Ctrl+P in payment entry posts what is typed (never clears it, issue 11).
            self.payment_view.post()
            return
        number = self.account_view.loan_number if self.current_view() is self.account_view else None
        if number is None and self.current_view() is self.collections_view:
            number = self.collections_view.current_loan()
        self.show_view(self.payment_view)
        self.payment_view.start(number)

    def _sign_out(self) -> None:
        self._signing_out = True
        self.close()

    # ------------------------------------------------------------ sessions that hold
    def _read_security(self) -> None:
        ctx = self.workspace.ctx

        def done(found: security.SecuritySettings) -> None:
            self.idle_lock.set_minutes(found.idle_lock_minutes)

        self.workspace.tasks.read(lambda: security.security_settings(ctx), done, lambda _exc: None, owner=self)

    def _session_guard(self, exc: BaseException) -> None:
        """A service refused because this user was deactivated or given another role: sign out at once."""
        self.end_session(str(exc))

    def end_session(self, reason: str | None = None) -> None:
        """Sign out without asking (unsaved batch rows are already drafts); ``reason`` is shown at sign-in."""
        if getattr(self, "_ending", False):
            return
        self._ending = True
        self.ended_reason = reason
        self.idle_lock.stop()
        for dialog in self.findChildren(QDialog):
            if dialog.isVisible():
                dialog.done(QDialog.DialogCode.Rejected)
        self._signing_out = True
        self._close_confirmed = True
        QTimer.singleShot(0, self, self.close)

    def change_password(self) -> None:
        dialog = ChangePasswordDialog(self.workspace.ctx, self.workspace.tasks, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.statusBar().showMessage("Your password was changed.", 8000))
        dialog.open()

    def unsaved_work(self) -> list[str]:
        """Every unsaved form, in words: the views' and any open dialog's (a terms change being typed)."""
        found = [text for view in self.views if (text := view.unsaved_work())]
        for dialog in self.findChildren(QDialog):
            check = getattr(dialog, "unsaved_work", None)
            if dialog.isVisible() and callable(check) and (text := check()):
                found.append(text)
        return found

    def _ask_before_closing(self) -> bool:
        """True when the window may close now; otherwise asks, and closes again on yes."""
        if getattr(self, "_close_confirmed", False):
            return True
        unsaved = self.unsaved_work()
        if not unsaved:
            return True
        leaving = "Sign out" if getattr(self, "_signing_out", False) else "Quit"
        lines = "\n".join(f"\N{BULLET} {text[:1].upper()}{text[1:]}." for text in unsaved)
        text = f"{leaving} with unfinished work?\n\n{lines}"

        def go() -> None:
            self._close_confirmed = True
            self.close()

        def stay() -> None:
            self._signing_out = False

        confirm(self, text, go, yes_text=f"{leaving} anyway", on_no=stay)
        return False

    # ------------------------------------------------------------ status
    def _busy(self, busy: object) -> None:
        self.busy_label.setText("Working\N{HORIZONTAL ELLIPSIS}" if busy else "")

    def _notice(self, text: str) -> None:
        self.statusBar().showMessage(clerk_text(text), 10_000)

    def _show_business_date(self, day: date) -> None:
        self.date_label.setText(f"Business date: {formatting.day(day)}")

    def _changed(self, change: Change) -> None:
        if change.kind == "day_closed":
            from app.services import setup

            factory = self.workspace.ctx.factory

            def done(info: object) -> None:
                day = getattr(info, "business_date", None)
                if day is not None:
                    self.workspace.set_business_date(day)

            self.workspace.tasks.read(lambda: setup.database_info(factory), done, owner=self)

    # ------------------------------------------------------------ layout persistence
    def _restore_layout(self) -> None:
        settings = self.workspace.settings
        geometry = settings.value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = settings.value(STATE_KEY)
        if isinstance(state, QByteArray):
            self.restoreState(state)
        splitter = settings.value(SPLITTER_KEY)
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes([self.fontMetrics().averageCharWidth() * 22, self.width()])
        title = str(settings.value(VIEW_KEY, "") or "") or ROLE_START.get(self.workspace.ctx.actor.role, "")
        chosen = next((v for v in self.views if v.title == title), self.views[0])
        QTimer.singleShot(0, self, lambda: self.show_view(chosen))

    def save_layout(self) -> None:
        settings = self.workspace.settings
        settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        settings.setValue(STATE_KEY, self.saveState())
        settings.setValue(SPLITTER_KEY, self.splitter.saveState())
        settings.setValue(VIEW_KEY, self.current_view().title if self.stack.count() else "")
        for view in self.views:
            view.save_state()
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # Qt's name
        if not self._ask_before_closing():
            event.ignore()
            return
        if self.batch_view is not None and not getattr(self, "_ending", False):
            self.batch_view.flush_draft()  # the last keystrokes reach the draft before the writes are waited for
        self.save_layout()
        self.search_box.hide_results()
        # A write already queued must finish: it is one transaction the user asked for.
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.workspace.tasks.wait_for_writes()
        finally:
            QApplication.restoreOverrideCursor()
        self.idle_lock.stop()
        if self.workspace.tasks.failure_guard == self._session_guard:
            self.workspace.tasks.failure_guard = None
        if getattr(self, "_signing_out", False):
            self._signing_out = False
            self.sign_out_requested.emit()
        super().closeEvent(event)
