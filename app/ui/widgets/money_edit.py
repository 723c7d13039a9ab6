"""The amount field: filters keystrokes, right-aligns, and returns a Decimal or None.

Never a string the caller must parse (STYLE.md, Electrum).  What the user
types goes through the one parser, :func:`app.domain.money.to_money`; while
the field has no focus it shows the amount with thousands separators.
"""

from __future__ import annotations

import re
from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFocusEvent, QValidator
from PySide6.QtWidgets import QLineEdit, QWidget

from app.domain.errors import InputError
from app.domain.money import to_money
from app.ui import formatting

#: At most ten digits before the point (99,999,999.99 and then some), two after.
_SHAPE = re.compile(r"^(-)?\$?[0-9,]{0,13}(\.[0-9]{0,2})?$")
MAXIMUM = Decimal("9999999999.99")


class MoneyValidator(QValidator):
    def __init__(self, allow_negative: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.allow_negative = allow_negative

    def validate(self, text: str, pos: int) -> object:  # Qt's name and signature
        candidate = text.strip()
        match = _SHAPE.match(candidate)
        if match is None or (match.group(1) and not self.allow_negative):
            return QValidator.State.Invalid, text, pos
        if candidate in ("", "-", "$", "-$", ".", "$.", "-."):
            return QValidator.State.Intermediate, text, pos
        value = parse_money(candidate)
        if value is None:
            return QValidator.State.Intermediate, text, pos
        if abs(value) > MAXIMUM:
            return QValidator.State.Invalid, text, pos
        return QValidator.State.Acceptable, text, pos


def parse_money(text: str) -> Decimal | None:
    """The amount in ``text``, or None when it is not one (through the one parser)."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return to_money(stripped.replace("$", ""), "amount")
    except InputError:
        return None


class MoneyEdit(QLineEdit):
    """An amount field.  :meth:`value` is a Decimal with two places, or None."""

    #: The new value (Decimal or None) after every edit.
    value_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, allow_negative: bool = False) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setValidator(MoneyValidator(allow_negative, self))
        self.setPlaceholderText("0.00")
        self.setInputMethodHints(Qt.InputMethodHint.ImhFormattedNumbersOnly)
        self.textEdited.connect(lambda _text: self.value_changed.emit(self.value()))

    def value(self) -> Decimal | None:
        return parse_money(self.text())

    def set_value(self, value: Decimal | None) -> None:
        self.setText(formatting.plain_money(value))
        self.value_changed.emit(self.value())

    def clear(self) -> None:  # keep QLineEdit's name
        super().clear()
        self.value_changed.emit(None)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # Qt's name
        value = self.value()
        if value is not None:
            self.setText(formatting.plain_money(value))
        super().focusOutEvent(event)
