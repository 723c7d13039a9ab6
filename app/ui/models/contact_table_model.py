"""Notes, contacts and promises to pay of one loan."""

from __future__ import annotations

from app.services.search import NoteLine
from app.ui.models.record_table_model import Column, RecordTableModel


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
        Column("When", lambda r: r.at, "datetime"),
        Column("Channel", lambda r: r.channel, "words"),
        Column("Outcome", lambda r: r.outcome, "words"),
        Column("With", lambda r: r.party),
        Column("By", lambda r: r.user),
        Column("Note", lambda r: r.note),
        Column("Override reason", lambda r: r.override_reason),
    )

    def row_tooltip(self, record: object) -> str | None:
        return getattr(record, "note", None)  # the whole note; the column shows its start

class PromisesTableModel(RecordTableModel[object]):
    """collections.PromiseInfo rows."""

    columns = (
        Column("Due", lambda r: r.due_date, "date"),
        Column("Amount", lambda r: r.amount, "money"),
        Column("Status", lambda r: r.status, "words"),
        Column("Paid", lambda r: r.paid_amount, "money"),
        Column("Settled", lambda r: r.settled_on, "date"),
        Column("By", lambda r: r.created_by),
    )
