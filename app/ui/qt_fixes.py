"""Work around reference-counting bugs in PySide6 6.12.0 on Python 3.11.

PySide6 6.12.0 takes references to ``None``, ``True`` and ``False`` away
that it never gave: every call of a Python slot from a C++ signal (a button's
``clicked``, a line edit's ``textChanged``, a timer) loses one reference to
``None``, and ``SignalInstance.emit()`` / ``disconnect()`` lose one to the
``True`` or ``False`` they return.  On Python 3.11, where these singletons
are not immortal, the interpreter aborts ("none_dealloc: deallocating None",
"bool_dealloc") or corrupts memory after a few thousand signals -- minutes of
normal use.  PySide6 6.11.3 does not have the bugs (checked with the same
probes), and Python 3.12+ makes the singletons immortal.

:func:`install` probes this PySide6 at start-up (ten emits, ten C++ signals
into a Python function, comparing reference counts) and, only if it loses
references, does what Python 3.12 does: it makes ``None``, ``True`` and
``False`` immortal by raising their reference counts by 2**40, so no number
of lost references can bring them to zero.  They are never freed anyway, so
a larger count changes nothing else.  The real fix is to avoid PySide6
6.12.0 (``PySide6-Essentials>=6.8,!=6.12.0``; see the issue-5 note).
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

#: Added to each singleton's count: a million lost references a second would take 12 days to spend it.
BALLAST = 2**40

_installed = False


class _Probe(QObject):
    fired = Signal()


def _on_name(_name: str) -> None:
    return None


def loses_references() -> bool:
    """Whether this PySide6 drops references to None/True/False (measured, not assumed)."""
    probe = _Probe()
    singletons = (None, True, False)
    before = [sys.getrefcount(s) for s in singletons]
    for _ in range(10):
        probe.fired.emit()
    probe.objectNameChanged.connect(_on_name)
    for index in range(10):
        probe.setObjectName(f"probe-{index}")  # a C++ signal into a Python function
    after = [sys.getrefcount(s) for s in singletons]
    return any(b - a >= 10 for b, a in zip(before, after))


def _immortalize(obj: object) -> None:
    # CPython 3.11 objects start with ob_refcnt (Py_ssize_t); the GIL is held here.
    count = ctypes.c_ssize_t.from_address(id(obj))
    count.value += BALLAST


def install() -> bool:
    """Make None, True and False immortal if this PySide6 needs it; return whether it did."""
    global _installed
    if _installed:
        return True
    if sys.version_info >= (3, 12) or not hasattr(sys, "getrefcount"):
        return False  # immortal already (PEP 683)
    if not loses_references():
        return False
    for singleton in (None, True, False):
        _immortalize(singleton)
    _installed = True
    return True


install()
