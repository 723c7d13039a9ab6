"""Who did what to a loan."""

from __future__ import annotations

import json

from app.services.search import AuditLine
from app.ui.models.record_table_model import Column, RecordTableModel


def _details(line: AuditLine) -> str:
    text = json.dumps(line.details, separators=(", ", ": "), default=str)
    return text if len(text) <= 160 else text[:157] + "..."

class AuditTableModel(RecordTableModel[AuditLine]):
    columns = (
        Column("When", lambda r: r.at, "datetime"),
        Column("Who", lambda r: r.user),
        Column("Action", lambda r: r.action),
        Column("What", lambda r: f"{r.entity} {r.entity_id or ''}".strip()),
        Column("Details", _details),
    )

    def row_tooltip(self, record: AuditLine) -> str | None:
        return json.dumps(record.details, indent=2, default=str)
