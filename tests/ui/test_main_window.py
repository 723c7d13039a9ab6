from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel

from app.ui.application import run_gui
from app.ui.main_window import MainWindow

pytestmark = pytest.mark.qt


def test_main_window_shows_title_and_status(qtbot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)

    assert window.windowTitle() == "Keel"
    status = window.statusBar().findChild(QLabel, "statusLabel")
    assert status is not None and status.isVisible()
    assert status.text() == "Business date: \u2014  |  Not signed in"
    placeholder = window.centralWidget()
    assert isinstance(placeholder, QLabel)
    assert "later issues" in placeholder.text()


def test_run_gui_shows_the_main_window_and_returns_the_exit_code(qapp) -> None:
    seen: list[str] = []

    def look_then_quit() -> None:
        seen.extend(
            w.windowTitle()
            for w in QApplication.topLevelWidgets()
            if isinstance(w, MainWindow) and w.isVisible()
        )
        for w in QApplication.topLevelWidgets():
            if isinstance(w, MainWindow):
                w.close()
        qapp.exit(3)

    QTimer.singleShot(0, look_then_quit)
    assert run_gui(None, demo=True) == 3
    assert seen == ["Keel"]
    assert QApplication.organizationName() == "Keel"
    assert QApplication.applicationName() == "Keel"
