"""Keel's main window.

For now a placeholder: the workstation views (account search, posting, collections
queue, dashboard, ...) arrive with later issues, each as its own module.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

PLACEHOLDER_TEXT = (
    "Keel loan servicing\n\n"
    "The workstation views (finding an account, posting payments, collections,\n"
    "the portfolio dashboard) arrive with later issues."
)

# No business date or user yet: both come from the database once sign-in and
# end of day exist.  The em dash says "not known", not "today".
STATUS_TEXT = "Business date: \N{EM DASH}  |  Not signed in"


class MainWindow(QMainWindow):
    """The workstation's top-level window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keel")
        self.resize(1024, 680)

        placeholder = QLabel(PLACEHOLDER_TEXT)
        placeholder.setObjectName("placeholderLabel")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        placeholder.setWordWrap(True)
        self.setCentralWidget(placeholder)

        # A permanent widget, not showMessage(): temporary messages would erase it.
        self.status_label = QLabel(STATUS_TEXT)
        self.status_label.setObjectName("statusLabel")
        self.statusBar().addPermanentWidget(self.status_label, 1)
