"""PySide6 6.12.0's emit() drops a reference to True on every call (app/ui/qt_fixes.py)."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal

import app.ui  # noqa: F401 - installs the work-around

pytestmark = pytest.mark.qt


class Source(QObject):
    fired = Signal(int)


def test_emitting_many_signals_keeps_true_alive(qapp) -> None:
    source = Source()
    seen: list[int] = []
    source.fired.connect(seen.append)
    before = sys.getrefcount(True)
    for i in range(20_000):  # without the work-around this aborts the interpreter on Python 3.11
        source.fired.emit(i)
    assert len(seen) == 20_000
    assert abs(sys.getrefcount(True) - before) < 50


def test_connecting_and_disconnecting_keeps_the_booleans_alive(qapp) -> None:
    import warnings

    source = Source()

    def slot(_value: int) -> None:
        return None

    before = sys.getrefcount(True) + sys.getrefcount(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the second disconnect fails, on purpose
        for _ in range(5_000):
            source.fired.connect(slot)
            assert source.fired.disconnect(slot) is True
            assert source.fired.disconnect(slot) is False
    assert abs(sys.getrefcount(True) + sys.getrefcount(False) - before) < 50
