"""Who did what, in words (app/domain/audit_words.py): a loan's Audit tab and the global audit search."""

from __future__ import annotations

from app.services.search import AuditLine
from app.ui.models.record_table_model import Column, RecordTableModel


class AuditTableModel(RecordTableModel[AuditLine]):
    """A loan's audit history, newest first, each record a sentence (issue 11: no raw JSON or codes)."""

    columns = (
        Column("When", lambda r: r.at, "datetime"),
        Column("What happened", lambda r: r.sentence),
    )

    def row_tooltip(self, record: AuditLine) -> str | None:
        return record.sentence


class AuditSearchTableModel(RecordTableModel[AuditLine]):
    """The global audit search's page: when, which loan, what happened."""

    columns = (
        Column("When", lambda r: r.at, "datetime"),
        Column("Loan", lambda r: r.loan_number),
        Column("What happened", lambda r: r.sentence),
    )

    def row_tooltip(self, record: AuditLine) -> str | None:
        return record.sentence
