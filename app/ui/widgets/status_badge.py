"""Delinquency as a badge: colour *and* words ("32 days past due (30-59)"), never colour alone."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from app.ui import formatting

# Background, text: dark text on light fills passes WCAG contrast at any size.
_STYLES = {
    "current": ("#e3f1e3", "#14501c"),
    "1-29": ("#fff4d6", "#5c4300"),
    "30-59": ("#ffe2c7", "#6b2e00"),
    "60-89": ("#ffd3cf", "#7a0d00"),
    "90-119": ("#f7c4c4", "#6d0000"),
    "120+": ("#eeb8c9", "#5a0026"),
    "closed": ("#e6e6e6", "#333333"),
}


class StatusBadge(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBadge")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.set_status("current", 0, "active")

    def set_status(self, bucket: str, days_past_due: int, status: str) -> None:
        if status not in ("active",):
            text, key = formatting.words(status), "closed"
        else:
            text, key = formatting.days_past_due_text(days_past_due, bucket), bucket
        background, foreground = _STYLES.get(key, _STYLES["closed"])
        self.setText(text)
        self.setToolTip(f"Delinquency bucket: {bucket}" if status == "active" else f"Loan status: {text}")
        self.setStyleSheet(
            f"QLabel#statusBadge {{ background: {background}; color: {foreground}; border: 1px solid {foreground};"
            " border-radius: 4px; padding: 3px 10px; font-weight: bold; }"
        )
