"""A date field where Tab always moves to the next field.

QDateEdit uses Tab to step through its own year, month and day sections,
which stalls a clerk tabbing through a form; here Tab leaves the field and
the sections are reached with the arrow keys (or by typing the whole date).
Dates show as ISO (2026-06-01), the same on every desk.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDateEdit, QWidget


class DateEdit(QDateEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCalendarPopup(True)
        self.setDisplayFormat("yyyy-MM-dd")

    def focusNextPrevChild(self, next: bool) -> bool:  # Qt's name; QDateTimeEdit steps sections here
        return QWidget.focusNextPrevChild(self, next)
