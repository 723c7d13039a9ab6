"""The note's schedule as boarded."""

from __future__ import annotations

from app.domain.schedule import ScheduleRow
from app.ui.models.record_table_model import Column, RecordTableModel


class ScheduleTableModel(RecordTableModel[ScheduleRow]):
    columns = (
        Column("No.", lambda r: r.n, "int"),
        Column("Due", lambda r: r.due, "date"),
        Column("Payment", lambda r: r.payment, "money"),
        Column("Interest", lambda r: r.interest, "money"),
        Column("Principal", lambda r: r.principal, "money"),
        Column("Balance", lambda r: r.balance, "money"),
    )
