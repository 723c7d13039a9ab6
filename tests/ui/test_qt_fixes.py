"""PySide6 6.12.0 loses references to None, True and False (app/ui/qt_fixes.py)."""

from __future__ import annotations

import sys
import warnings

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLineEdit

from app.ui import qt_fixes

pytestmark = pytest.mark.qt


class Source(QObject):
    fired = Signal(int)


def test_many_signals_do_not_exhaust_the_singletons(qapp) -> None:
    """Without the work-around this aborts the interpreter on Python 3.11 with PySide6 6.12.0."""
    source = Source()
    seen: list[int] = []
    source.fired.connect(seen.append)
    edit = QLineEdit()
    edited: list[str] = []
    edit.textChanged.connect(edited.append)

    def slot(_value: int) -> None:
        return None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the second disconnect fails, on purpose
        for i in range(20_000):
            source.fired.emit(i)
            edit.setText(str(i))
            source.fired.connect(slot)
            source.fired.disconnect(slot)
            source.fired.disconnect(slot)
    assert len(seen) == 20_000 and len(edited) == 20_000
    for singleton in (None, True, False):
        assert sys.getrefcount(singleton) > 100_000 or not qt_fixes.loses_references()


def test_the_probe_runs_and_install_is_idempotent(qapp) -> None:
    first = qt_fixes.install()
    assert qt_fixes.install() == first
