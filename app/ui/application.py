"""Start the desktop: the QApplication, the main window and the event loop."""

from __future__ import annotations

import signal
import sys

from PySide6.QtWidgets import QApplication

from app.ui.main_window import MainWindow


def run_gui(db_url: str | None, demo: bool) -> int:
    """Open the main window and run the event loop; return the exit code.

    ``db_url`` (``--db``) and ``demo`` (``--demo``: the demo database file in the
    user data directory) are accepted now so the command line stays stable; the
    window opens no database yet -- the first view that needs one will get it
    through a service.
    """
    del db_url, demo  # not used until the first view needs the database
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    # Where QSettings and the user data directory live on each platform.
    app.setOrganizationName("Keel")
    app.setApplicationName("Keel")
    # Ctrl+C in the terminal that started `keel gui` should close it; Qt's
    # event loop would otherwise swallow SIGINT until the next Python callback.
    previous_handler = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        window = MainWindow()
        window.show()
        return app.exec()
    finally:
        signal.signal(signal.SIGINT, previous_handler)
