"""Before a payoff statement or a default notice: its good-through date or its cure days (issue 11)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from app.ui.widgets.date_edit import DateEdit

#: The letters that take an option, and the service's defaults (app.services.letters).
NEEDS_OPTIONS = ("payoff", "default-notice")


class LetterOptionsDialog(QDialog):
    def __init__(self, parent: QWidget | None, kind: str, today: date, *, good_days: int = 10,
                 cure_days: int = 30) -> None:
        super().__init__(parent)
        self.setObjectName("letterOptionsDialog")
        self.kind = kind
        self.setWindowTitle("Payoff statement" if kind == "payoff" else "Default notice")
        form = QFormLayout()
        self.good_through = DateEdit(self, field="Good through")
        self.good_through.setObjectName("goodThrough")
        self.good_through.set_range(today, None, minimum_name="the letter date")
        self.good_through.set_value(today + timedelta(days=good_days))
        self.cure_days = QSpinBox()
        self.cure_days.setObjectName("cureDays")
        self.cure_days.setRange(1, 365)
        self.cure_days.setValue(cure_days)
        self.cure_days.setSuffix(" days")
        if kind == "payoff":
            form.addRow("Payoff good &through", self.good_through)
        else:
            form.addRow("Days to &cure", self.cure_days)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #a00000;")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for letters.render_letter / issue_letter."""
        if self.kind == "payoff":
            return {"good_through": self.good_through.value()}
        return {"cure_days": self.cure_days.value()}

    def _accept(self) -> None:
        if self.kind == "payoff" and self.good_through.value() is None:
            self.problem.setText(self.good_through.problem() or "Give the good-through date.")
            return
        self.accept()


__all__ = ["NEEDS_OPTIONS", "LetterOptionsDialog"]
