"""Notes, contacts and promises to pay of one loan."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont

from app.services.search import NoteLine
from app.ui.models.record_table_model import Column, RecordTableModel

#: A corrected contact or promise: struck through and grey; its correction is the row that counts.
CORRECTED = QColor("#7a7f86")


def _struck() -> QFont:
    font = QFont()
    font.setStrikeOut(True)
    return font


def correction_text(record: object) -> str:
    """``Corrected by #15`` on a corrected row, ``Corrects #12: why`` on its correction, else empty."""
    corrected_by = getattr(record, "corrected_by_id", None)
    if corrected_by is not None:
        return f"Corrected by #{corrected_by}"
    corrects = getattr(record, "corrects_id", None)
    if corrects is not None:
        reason = getattr(record, "correction_reason", None)
        return f"Corrects #{corrects}" + (f": {reason}" if reason else "")
    return ""


class NotesTableModel(RecordTableModel[NoteLine]):
    columns = (
        Column("When", lambda r: r.at, "datetime"),
        Column("Who", lambda r: r.user),
        Column("Note", lambda r: r.text),
    )

    def row_tooltip(self, record: NoteLine) -> str | None:
        return record.text

class ContactsTableModel(RecordTableModel[object]):
    """collections.ContactInfo rows."""

    columns = (
        Column("#", lambda r: getattr(r, "id", None), "id"),
        Column("When", lambda r: r.at, "datetime"),
        Column("Channel", lambda r: r.channel, "words"),
        Column("Outcome", lambda r: r.outcome, "words"),
        Column("Correction", correction_text),
        Column("With", lambda r: r.party),
        Column("By", lambda r: r.user),
        Column("Note", lambda r: r.note),
        Column("Override reason", lambda r: r.override_reason),
    )

    def row_font(self, record: object) -> QFont | None:
        return _struck() if getattr(record, "corrected_by_id", None) is not None else None

    def row_foreground(self, record: object) -> QColor | None:
        return CORRECTED if getattr(record, "corrected_by_id", None) is not None else None

    def row_tooltip(self, record: object) -> str | None:
        note = getattr(record, "note", None)  # the whole note; the column shows its start
        mark = correction_text(record)
        return "\n".join(part for part in (mark, note) if part) or None

class PromisesTableModel(RecordTableModel[object]):
    """collections.PromiseInfo rows."""

    columns = (
        Column("Due", lambda r: r.due_date, "date"),
        Column("Amount", lambda r: r.amount, "money"),
        Column("Status", lambda r: r.status, "words"),
        Column("Paid", lambda r: r.paid_amount, "money"),
        Column("Settled", lambda r: r.settled_on, "date"),
        Column("By", lambda r: r.created_by),
        Column("Correction", correction_text),
    )

    def row_font(self, record: object) -> QFont | None:
        return _struck() if getattr(record, "corrected_by_id", None) is not None else None

    def row_foreground(self, record: object) -> QColor | None:
        return CORRECTED if getattr(record, "corrected_by_id", None) is not None else None

    def row_tooltip(self, record: object) -> str | None:
        return correction_text(record) or None
