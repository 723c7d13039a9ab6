"""Small rules every form follows."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton, QWidget


def no_default_buttons(root: QWidget) -> None:
    """No button under ``root`` is a default or auto-default one (issue 11).

    In a QDialog every push button is auto-default and QDialogButtonBox makes
    its first accept button the default when shown, so Enter typed in any
    field pressed "Apply" or "Reverse payment".  Call this from the dialog's
    ``showEvent`` (after the button box has chosen its default); the action
    still runs on a click, on its shortcut, or on Space once the button
    itself has the focus.
    """
    for button in root.findChildren(QPushButton):
        button.setAutoDefault(False)
        button.setDefault(False)
