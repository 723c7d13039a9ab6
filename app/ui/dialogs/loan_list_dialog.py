"""The loans behind a dashboard bar; Enter or a double-click opens one."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.domain.money import ZERO
from app.services.dashboard import LoanLine
from app.ui import formatting
from app.ui.models.loan_list_table_model import LoanListTableModel
from app.ui.export import add_export
from app.ui.widgets.table import fit_columns, make_table
from app.ui.workspace import Workspace


class LoanListDialog(QDialog):
    def __init__(self, title: str, amount_title: str, loans: list[LoanLine], open_account: Callable[[str], None],
                 parent: QWidget | None = None, *, workspace: Workspace | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loanListDialog")
        self.setWindowTitle(title)
        self._open_account = open_account
        total = sum((line.amount for line in loans), ZERO)
        summary = QLabel(f"{len(loans):,} loan{'s' if len(loans) != 1 else ''}; {amount_title.lower()} "
                         f"{formatting.money(Decimal(total))}. Double-click or press Enter to open an account.")
        summary.setObjectName("loanListSummary")
        summary.setWordWrap(True)
        self.model = LoanListTableModel(amount_title, self)
        self.model.set_rows(loans)
        self.table = make_table(self.model, name="loanListTable")
        self.table.activated.connect(lambda index: self._open(index.row()))
        fit_columns(self.table, 30)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        if workspace is not None:  # Copy and Export... of the loans behind the bar (issue 13)
            export = add_export(self.table, workspace, title)
            buttons.addButton(export.button(), QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        chars, lines = self.fontMetrics().averageCharWidth(), self.fontMetrics().height()
        self.resize(chars * 130, lines * 30)
        if loans:
            self.table.selectRow(0)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def _open(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            self._open_account(self.model.row_at(row).loan_number)
            self.accept()
