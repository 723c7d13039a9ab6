"""Helpers for the desktop tests: wait for background work, find message boxes."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.ui.workers import TaskRunner

TIMEOUT = 15_000


def settle(qtbot: object, runner: TaskRunner, timeout: int = TIMEOUT) -> None:
    """Wait until every background job has finished and its callbacks have run."""
    qtbot.waitUntil(lambda: runner.idle, timeout=timeout)  # type: ignore[attr-defined]


def message_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def visible(widget: QWidget) -> bool:
    return widget.isVisibleTo(widget.window())
