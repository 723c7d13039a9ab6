"""Start the desktop: the QApplication, sign-in, the main window and the event loop.

Which database: ``--db URL`` if given, else ``--demo`` (the demo database),
else the connection saved in the settings (a shared server chosen on an
earlier run), else the local SQLite file (created and upgraded on first use).
"""

from __future__ import annotations

import logging
import logging.handlers
import signal
import sys
from pathlib import Path
from types import TracebackType

import platformdirs
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.services import integrity, permissions, setup
from app.services.context import ServiceContext
from app.ui import messages
from app.ui.messages import show_recovery_key
from app.ui.dialogs.connection_dialog import Connection, masked, saved_connection
from app.ui.dialogs.sign_in_dialog import SignedIn, SignInDialog
from app.ui.main_window import MainWindow
from app.ui.workers import TaskRunner
from app.ui.workspace import Workspace

log = logging.getLogger("keel.ui")


def configure_logging() -> Path | None:
    """Log to keel.log in the user's log folder (rotated), once per process."""
    root = logging.getLogger("keel")
    if any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        return messages.LOG_FILE and Path(messages.LOG_FILE)  # type: ignore[return-value]
    try:
        folder = Path(platformdirs.user_log_dir("Keel", "Keel"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "keel.log"
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    messages.LOG_FILE = str(path)
    return path


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """An exception escaping a Qt slot: log it and show it, never a silent failure."""
    log.error("uncaught exception", exc_info=(kind, value, tb))
    if QApplication.instance() is not None:
        messages.show_error(QApplication.activeWindow(), value)


class Desk(QObject):
    """One desk's session: sign in, work in the main window, sign out, sign in again."""

    def __init__(self, app: QApplication, connection: Connection, local_url: str | None) -> None:
        super().__init__(app)
        self.app = app
        self.connection = connection
        self.local_url = local_url
        self.settings = QSettings()
        self.tasks = TaskRunner(self)
        self.tasks.default_failure = lambda owner, exc: messages.show_error(owner, exc)
        self.window: MainWindow | None = None
        self.workspace: Workspace | None = None
        self.dialog: SignInDialog | None = None
        self.factory: object | None = None

    def start(self) -> None:
        notice, self._notice = getattr(self, "_notice", None), None
        self.dialog = SignInDialog(self.settings, self.tasks, self.connection, local_url=self.local_url,
                                   notice=notice)
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.accepted.connect(self._signed_in)
        self.dialog.rejected.connect(self._quit)
        self.dialog.show()

    def _signed_in(self) -> None:
        assert self.dialog is not None
        result: SignedIn | None = self.dialog.result_value
        self.dialog = None
        if result is None:
            self._quit()
            return
        self.connection = result.connection
        self.factory = result.factory
        ctx = ServiceContext(result.factory, result.actor)  # type: ignore[arg-type]
        label = result.connection.label
        if result.kind == setup.DEMO:
            label += " \N{EM DASH} demo"
        workspace = Workspace(ctx, self.tasks, self.settings, result.business_date,  # type: ignore[arg-type]
                              database_label=label, database_kind=result.kind, parent=self)
        self.workspace = workspace
        self.window = MainWindow(workspace)
        self.window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.window.sign_out_requested.connect(self._signed_out)
        self.window.destroyed.connect(self._window_gone)
        self.window.show()
        if result.kind != setup.DEMO and permissions.allowed(result.actor, permissions.MANAGE_SETTINGS):
            self._offer_recovery_key(ctx)

    def _offer_recovery_key(self, ctx: ServiceContext) -> None:
        """An admin's first sign-in to a book whose recovery key was never handed over sees it, once."""
        factory = ctx.factory

        def shown(text: str | None) -> None:
            if text is None or self.window is None:
                return
            box = show_recovery_key(self.window, text)
            box.finished.connect(lambda _code: self.tasks.write(
                lambda: integrity.recovery_key_shown(factory, ctx.actor, "desk")))
            self.recovery_box = box

        self.tasks.read(lambda: integrity.recovery_key_to_show(factory), shown, owner=self.window)

    def _signed_out(self) -> None:
        self._signing_out = True
        # Signed out by Keel (deactivated, role changed): the sign-in dialog says why.
        self._notice = getattr(self.window, "ended_reason", None)

    def _window_gone(self) -> None:
        self.window = None
        if self.workspace is not None:
            self.workspace.deleteLater()
            self.workspace = None
        if getattr(self, "_signing_out", False):
            self._signing_out = False
            self._close_factory()
            QTimer.singleShot(0, self.start)
        else:
            self._quit()

    def _close_factory(self) -> None:
        factory, self.factory = self.factory, None
        if factory is not None:
            self.tasks.write(lambda: setup.close_database(factory))  # type: ignore[arg-type]

    def _quit(self) -> None:
        self._close_factory()
        self.tasks.wait_for_all(10_000)
        self.app.exit(0)


def connection_for(settings: QSettings, db_url: str | None, demo_url: str | None, local_url: str | None) -> Connection:
    if db_url:
        return Connection("given", db_url, f"Given with --db ({masked(db_url).removeprefix('sqlite:///')})")
    if demo_url:
        return Connection("demo", demo_url, f"Demo database ({demo_url.removeprefix('sqlite:///')})")
    return saved_connection(settings, local_url)


def prepare_application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    # Where QSettings and the user data directory live on each platform.
    app.setOrganizationName(app.organizationName() or "Keel")
    app.setApplicationName(app.applicationName() or "Keel")
    app.setApplicationDisplayName("Keel")
    # Between signing out and the sign-in dialog there is no window; Desk decides when to quit.
    app.setQuitOnLastWindowClosed(False)
    return app


def run_gui(db_url: str | None, demo: bool, *, demo_url: str | None = None, local_url: str | None = None) -> int:
    """Open the sign-in dialog, then the main window; run the event loop; return the exit code.

    ``db_url`` is ``--db``; ``demo`` with ``demo_url`` opens the demo database;
    ``local_url`` is shown as the local database's location (the services
    resolve it themselves).
    """
    app = prepare_application()
    configure_logging()
    previous_hook = sys.excepthook
    sys.excepthook = _excepthook
    # Ctrl+C in the terminal that started `keel gui` should close it; Qt's
    # event loop would otherwise swallow SIGINT until the next Python callback.
    previous_handler = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        settings = QSettings()
        connection = connection_for(settings, db_url, demo_url if demo else None, local_url)
        desk = Desk(app, connection, local_url)
        desk.start()
        code = app.exec()
        # Tidy up now, not at some later event loop (tests run several apps in one process).
        desk.tasks.wait_for_all(10_000)
        desk.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        return code
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        sys.excepthook = previous_hook


__all__ = ["Desk", "configure_logging", "connection_for", "prepare_application", "run_gui"]

