"""The desk actions wired to the new services: notes, borrower edits, lender settings, terms changes,
and a connection test that changes nothing."""

from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtCore import QSettings

from app.ui.dialogs.connection_dialog import ConnectionDialog
from app.ui.workers import TaskRunner

pytestmark = pytest.mark.qt


def test_testing_a_connection_changes_nothing(qtbot, tmp_path) -> None:
    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).close()  # an empty database file
    tasks = TaskRunner()
    dialog = ConnectionDialog(QSettings(), tasks, None)
    qtbot.addWidget(dialog)
    dialog.server_radio.setChecked(True)
    dialog.url_edit.setText(f"sqlite:///{path}")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.result_label.text().startswith("Connected"), timeout=30_000)
    assert "empty database" in dialog.result_label.text()
    with sqlite3.connect(path) as connection:  # no tables: nothing was set up or upgraded
        assert connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    assert dialog.buttons.button(dialog.buttons.StandardButton.Save).isEnabled()
    tasks.wait_for_all(5000)
