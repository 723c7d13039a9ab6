"""The global search box's results."""

from __future__ import annotations

from app.services.search import LoanHit
from app.ui import formatting
from app.ui.models.record_table_model import Column, RecordTableModel


class SearchTableModel(RecordTableModel[LoanHit]):
    columns = (
        Column("Loan", lambda r: r.loan_number),
        Column("Borrower", lambda r: r.borrower),
        Column("Phone", lambda r: r.phone),
        Column("SSN", lambda r: r.tax_id_last4, text=lambda r: f"***-**-{r.tax_id_last4}" if r.tax_id_last4 else ""),
        Column("City", lambda r: r.city),
        Column("Status", lambda r: r.status, "words"),
        Column("Past due", lambda r: r.days_past_due, "int",
               text=lambda r: formatting.days_past_due_text(r.days_past_due, r.bucket)),
        Column("Principal", lambda r: r.principal, "money"),
    )
