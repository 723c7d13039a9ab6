"""Work around a reference-counting bug in PySide6 6.12.0 on Python 3.11.

In PySide6 6.12.0, ``SignalInstance.emit()`` and ``SignalInstance.disconnect()``
return ``True``/``False`` without taking a reference to it, so every signal
emitted from Python (Keel's own, and pyqtgraph's, which emits on every
redraw) takes one reference away from ``True``.  On Python 3.11, where
``True`` and ``False`` are not immortal, the process aborts ("bool_dealloc:
deallocating True or False") or corrupts memory after a few hundred emits.
Python 3.12+ makes them immortal, and PySide6 6.11.3 does not have the bug
(checked: ten emits leave ``True``'s count unchanged there).

:func:`install` measures, at start-up, whether each method here drops a
reference (ten calls, compare the counts) and, only then, wraps it to give
the reference back.  The real fix is to avoid 6.12.0: see the issue-5 note
(``PySide6-Essentials>=6.8,!=6.12.0``).
"""

from __future__ import annotations

import ctypes
import sys
import warnings
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore
from PySide6.QtCore import QObject, Signal

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None
_patched: set[str] = set()


class _Probe(QObject):
    fired = Signal()


def _slot() -> None:
    return None


def _lost(call: Callable[[], object]) -> int:
    """How many references to True and False ten calls take away (given back at once)."""
    before = sys.getrefcount(True) + sys.getrefcount(False)
    results = [call() for _ in range(10)]
    lost = before - (sys.getrefcount(True) + sys.getrefcount(False)) + sum(r is True or r is False for r in results)
    for result in results:
        if result is True or result is False:
            _incref(result)  # the probe's own losses, given back
    del results
    return max(0, lost)


def _wrap(name: str) -> None:
    original = getattr(QtCore.SignalInstance, name)

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if result is True or result is False:
            _incref(result)  # the reference the binding should have taken
        return result

    call.__name__ = name
    call.__doc__ = original.__doc__
    setattr(QtCore.SignalInstance, name, call)
    _patched.add(name)


def install() -> set[str]:
    """Wrap the SignalInstance methods that drop references here; return their names."""
    if sys.version_info >= (3, 12):
        return _patched  # True and False are immortal: their counts cannot run out
    probe = _Probe()
    if "emit" not in _patched and _lost(probe.fired.emit) >= 10:
        _wrap("emit")
    if "disconnect" not in _patched:
        def connect_and_disconnect() -> object:
            probe.fired.connect(_slot)
            return probe.fired.disconnect(_slot)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if _lost(connect_and_disconnect) >= 10:
                _wrap("disconnect")
    return _patched


install()
