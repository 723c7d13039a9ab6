"""Small rules every form follows."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialogButtonBox, QLabel, QPushButton, QWidget


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


PROBLEM_COLOUR = "#a00000"


def problem_label(name: str) -> QLabel:
    """The red, wrapping line under a form that says what is wrong, in words."""
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {PROBLEM_COLOUR};")
    return label


def ok_cancel(ok_text: str, ok_name: str, on_ok: Callable[[], None], on_cancel: Callable[[], None]
              ) -> tuple[QDialogButtonBox, QPushButton]:
    """An OK/Cancel button box whose OK says what it does (``Approve and post``), wired to the two slots."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(ok_text)
    ok.setObjectName(ok_name)
    buttons.accepted.connect(on_ok)
    buttons.rejected.connect(on_cancel)
    return buttons, ok
