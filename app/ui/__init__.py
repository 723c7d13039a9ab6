"""The PySide6 desktop.  Importing it first applies the Qt work-arounds (app/ui/qt_fixes.py)."""

from app.ui import qt_fixes as _qt_fixes  # noqa: F401 - imported for its effect
