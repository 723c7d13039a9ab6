"""The date field used everywhere a date is typed in the desktop (issue 11, item 1).

A line edit, a calendar button and the date in words beside it:

* it takes ``2026-11-20``, ``11/20/2026``, ``1/5/2026`` or ``11202026``
  (through the one parser, :func:`app.domain.date_input.parse_typed_date`);
* "-" and "/" are characters like any other: they never move the focus (a
  QDateEdit jumps to its next section on a separator, and the rest of a typed
  date then landed in the next fields of the form);
* keys other than digits and separators are refused as they are typed, so a
  stray space does nothing;
* beside it: what was understood, in words ("Friday, November 20, 2026"), or
  the problem in a sentence naming the field, with the field outlined;
* :meth:`value` is a ``datetime.date`` or None ("nothing valid": empty, not a
  date, or outside the allowed range) -- never a string the caller parses;
* Up / Down move a day; Alt+Down (or the button) opens the calendar; Tab
  leaves the field.

Dates are shown as ISO (2026-06-01) once the field is left, the same on every
desk.
"""

from __future__ import annotations

from datetime import date, timedelta

from PySide6.QtCore import QDate, QRegularExpression, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCalendarWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.date_input import FORMATS_HINT, in_words, parse_typed_date
from app.domain.errors import InputError

PROBLEM_STYLE = "QLineEdit { border: 2px solid #a00000; border-radius: 2px; padding: 1px; }"
PROBLEM_COLOUR = "#a00000"
WORDS_COLOUR = "#3c4650"


class _DateLine(QLineEdit):
    """The text part: Up/Down step a day, Alt+Down opens the calendar."""

    def __init__(self, owner: DateEdit) -> None:
        super().__init__(owner)
        self._owner = owner

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Qt's name
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key.Key_Down and mods & Qt.KeyboardModifier.AltModifier or key == Qt.Key.Key_F4:
            self._owner.show_calendar()
            return
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and not mods & Qt.KeyboardModifier.AltModifier:
            self._owner.step(1 if key == Qt.Key.Key_Up else -1)
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # Qt's name
        self._owner._tidy()
        super().focusOutEvent(event)


class DateEdit(QWidget):
    """A date field.  :meth:`value` is a date or None; :attr:`value_changed` carries the same."""

    #: The new value (date or None) whenever it changes.
    value_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, field: str = "Date", words: bool = True) -> None:
        super().__init__(parent)
        self.field = field
        self._minimum: date | None = None
        self._maximum: date | None = None
        self._minimum_name: str | None = None
        self._maximum_name: str | None = None
        self._value: date | None = None
        self._problem: str | None = None

        self.line_edit = _DateLine(self)
        self.line_edit.setObjectName("dateText")
        self.line_edit.setPlaceholderText("YYYY-MM-DD")
        self.line_edit.setToolTip(f"Type {FORMATS_HINT}; Up/Down move a day; Alt+Down opens the calendar")
        self.line_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"[0-9/\-]{0,10}"), self))
        self.line_edit.setMaxLength(10)
        chars = self.line_edit.fontMetrics().horizontalAdvance("0000-00-00") + 24
        self.line_edit.setMinimumWidth(chars)
        self.line_edit.setMaximumWidth(chars + 40)
        self.button = QToolButton(self)
        self.button.setObjectName("dateCalendarButton")
        self.button.setText("\N{BLACK DOWN-POINTING TRIANGLE}")
        self.button.setToolTip("Choose the date from a calendar (Alt+Down)")
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes from field to field, never to the button
        self.words_label = QLabel(self)
        self.words_label.setObjectName("dateWords")
        self.words_label.setVisible(words)
        self.words_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.words_label.setWordWrap(True)
        self.words_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("Wednesday, September 30, 2026") + 8)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.line_edit)
        layout.addWidget(self.button)
        layout.addSpacing(6)
        layout.addWidget(self.words_label, 1)
        self.setFocusProxy(self.line_edit)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self._popup: QFrame | None = None
        self._calendar: QCalendarWidget | None = None
        self.line_edit.textChanged.connect(lambda _text: self._reread())
        self.button.clicked.connect(self.show_calendar)
        self._reread()

    # ------------------------------------------------------------ the value
    def value(self) -> date | None:
        """The date typed, or None when the field holds nothing valid."""
        return self._value

    def problem(self) -> str | None:
        """What is wrong, as a sentence naming the field; None when the field is valid or empty."""
        return self._problem

    def is_empty(self) -> bool:
        return not self.line_edit.text().strip()

    def text(self) -> str:
        return self.line_edit.text()

    def set_value(self, day: date | None) -> None:
        self.line_edit.setText("" if day is None else day.isoformat())

    def clear(self) -> None:
        self.line_edit.clear()

    def set_range(self, minimum: date | None, maximum: date | None, *, minimum_name: str | None = None,
                  maximum_name: str | None = None) -> None:
        """Dates outside [minimum, maximum] are not valid; the names say why (``the open business date``)."""
        self._minimum, self._maximum = minimum, maximum
        self._minimum_name, self._maximum_name = minimum_name, maximum_name
        self._reread()

    @property
    def minimum(self) -> date | None:
        return self._minimum

    @property
    def maximum(self) -> date | None:
        return self._maximum

    def step(self, days: int) -> None:
        start = self._value or self._clamp(date.today())
        self.set_value(self._clamp(start + timedelta(days=days)))
        self.line_edit.selectAll()

    def _clamp(self, day: date) -> date:
        if self._maximum is not None and day > self._maximum:
            day = self._maximum
        if self._minimum is not None and day < self._minimum:
            day = self._minimum
        return day

    def _read(self) -> tuple[date | None, str | None]:
        text = self.line_edit.text()
        if not text.strip():
            return None, None
        try:
            day = parse_typed_date(text, self.field)
        except InputError as exc:
            return None, f"{self.field}: {exc.problem}."
        if self._maximum is not None and day > self._maximum:
            limit = self._limit_text(self._maximum, self._maximum_name)
            return None, f"{self.field}: {in_words(day)} is after {limit}."
        if self._minimum is not None and day < self._minimum:
            limit = self._limit_text(self._minimum, self._minimum_name)
            return None, f"{self.field}: {in_words(day)} is before {limit}."
        return day, None

    @staticmethod
    def _limit_text(day: date, name: str | None) -> str:
        return f"{name}, {in_words(day)}" if name else in_words(day)

    def _reread(self) -> None:
        value, problem = self._read()
        self._problem = problem
        if problem is not None:
            self.words_label.setText(problem)
            self.words_label.setStyleSheet(f"color: {PROBLEM_COLOUR};")
            self.line_edit.setStyleSheet(PROBLEM_STYLE)
            self.line_edit.setToolTip(problem)
        else:
            self.words_label.setText(in_words(value) if value is not None else "")
            self.words_label.setStyleSheet(f"color: {WORDS_COLOUR};")
            self.line_edit.setStyleSheet("")
            self.line_edit.setToolTip(f"Type {FORMATS_HINT}; Up/Down move a day; Alt+Down opens the calendar")
        self.line_edit.setProperty("problem", problem is not None)
        if value != self._value:
            self._value = value
            self.value_changed.emit(value)

    def _tidy(self) -> None:
        """Leaving the field: show a valid date as ISO, whatever form it was typed in."""
        if self._value is not None and self.line_edit.text() != self._value.isoformat():
            self.line_edit.setText(self._value.isoformat())

    # ------------------------------------------------------------ the calendar
    def show_calendar(self) -> None:
        if self._popup is None:
            self._popup = QFrame(self, Qt.WindowType.Popup)
            self._popup.setObjectName("dateCalendarPopup")
            self._popup.setFrameShape(QFrame.Shape.StyledPanel)
            self._calendar = QCalendarWidget(self._popup)
            self._calendar.setObjectName("dateCalendar")
            self._calendar.setGridVisible(True)
            self._calendar.setVerticalHeaderFormat(QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
            self._calendar.clicked.connect(self._picked)
            self._calendar.activated.connect(self._picked)
            box = QVBoxLayout(self._popup)
            box.setContentsMargins(2, 2, 2, 2)
            box.addWidget(self._calendar)
        calendar = self._calendar
        assert calendar is not None
        calendar.setMinimumDate(_qdate(self._minimum) if self._minimum else QDate(1900, 1, 1))
        calendar.setMaximumDate(_qdate(self._maximum) if self._maximum else QDate(2199, 12, 31))
        calendar.setSelectedDate(_qdate(self._value or self._clamp(date.today())))
        self._popup.adjustSize()
        self._popup.move(self.line_edit.mapToGlobal(self.line_edit.rect().bottomLeft()))
        self._popup.show()
        calendar.setFocus()

    def calendar(self) -> QCalendarWidget | None:
        return self._calendar

    def _picked(self, picked: QDate) -> None:
        self.set_value(date(picked.year(), picked.month(), picked.day()))
        if self._popup is not None:
            self._popup.hide()
        self.line_edit.setFocus(Qt.FocusReason.PopupFocusReason)
        self.line_edit.selectAll()


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)
