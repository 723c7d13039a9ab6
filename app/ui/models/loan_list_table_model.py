"""The loans behind a dashboard bar."""

from __future__ import annotations

from app.services.dashboard import LoanLine
from app.ui.models.record_table_model import Column, RecordTableModel


class LoanListTableModel(RecordTableModel[LoanLine]):
    def __init__(self, amount_title: str = "Amount", parent: object = None) -> None:
        super().__init__(parent)
        self.columns = (
            Column("Loan", lambda r: r.loan_number),
            Column("Borrower", lambda r: r.borrower),
            Column("Status", lambda r: r.status, "words"),
            Column("Days past due", lambda r: r.days_past_due, "int"),
            Column("Bucket", lambda r: r.bucket),
            Column("Principal", lambda r: r.principal, "money"),
            Column("Amount due", lambda r: r.amount_due, "money"),
            Column(amount_title, lambda r: r.amount, "money"),
        )
