"""The collections work queue (collections.QueueItem rows), highest score first."""

from __future__ import annotations

from typing import Any

from app.ui.models.record_table_model import Column, RecordTableModel


def flags_text(item: Any) -> str:
    """The account's warnings in words (never a colour or an icon alone)."""
    flags = getattr(item, "flags", None)
    if flags is None:
        return ""
    names = [
        ("cease_contact", "Cease contact"),
        ("attorney", "Attorney"),
        ("dispute", "Dispute"),
        ("hardship", "Hardship"),
        ("reg_f", "Reg F"),
    ]
    return ", ".join(label for attr, label in names if getattr(flags, attr, False))


class QueueTableModel(RecordTableModel[Any]):
    #: The columns a collector works by come first, so they show without scrolling at 1366x768 and at 200 %
    #: (issue 11: Amount due and Principal were behind a scroll).
    columns = (
        Column("Loan", lambda r: r.loan_number),
        Column("Borrower", lambda r: r.borrower),
        Column("DPD", lambda r: r.days_past_due, "int", "Days past due"),
        Column("Amount due", lambda r: r.amount_due, "money"),
        Column("Principal", lambda r: r.principal, "money"),
        Column("Score", lambda r: r.score, "int", "Priority: days past due, amount due, broken promises, "
                                                  "days since the last contact"),
        Column("Bucket", lambda r: r.bucket, tooltip="Days past due bucket"),
        Column("Next due", lambda r: r.next_due, "date"),
        Column("Last contact", lambda r: r.last_contact, "datetime"),
        Column("Last outcome", lambda r: r.last_outcome, "words"),
        Column("Broken", lambda r: r.broken_promises, "int", "Promises broken in the last 90 days"),
        Column("Promise due", lambda r: r.promise_due, "date"),
        Column("Collector", lambda r: r.collector),
        Column("Product", lambda r: r.product),
        Column("Flags", flags_text),
    )

    def row_of(self, loan_number: str) -> int | None:
        for index, item in enumerate(self._rows):
            if item.loan_number == loan_number:
                return index
        return None
