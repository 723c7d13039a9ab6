"""Boarding from the desk: check an LOS handoff file, see every problem, board it; the exceptions list.

The same services as ``keel board``: :func:`app.services.boarding.check_file`
lists what a file would board and every problem in it without writing,
:func:`~app.services.boarding.board_file` boards it all or nothing, and
:func:`~app.services.boarding.list_boarding_exceptions` lists the history
loans held back because the prior servicer's figures do not tie out (they
are resolved by boarding a corrected file; a resolved one leaves the list).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services import boarding, permissions
from app.services.boarding import BoardedLoan, BoardingException, BoardingPlan, BoardingResult
from app.services.errors import Problem
from app.ui.export import add_export
from app.ui.messages import error_text
from app.ui.models.record_table_model import Column, RecordTableModel
from app.ui.widgets.table import fit_columns, make_table
from app.ui.workers import Change
from app.ui.workspace import Workspace


class PlannedLoanTableModel(RecordTableModel[BoardedLoan]):
    columns = (
        Column("Row", lambda r: r.row, "int"),
        Column("LOS reference", lambda r: r.los_reference),
        Column("Loan", lambda r: r.loan_number),
        Column("Product", lambda r: r.product),
        Column("Type", lambda r: r.boarding_type, "words"),
        Column("Borrower", lambda r: r.borrower),
        Column("Principal", lambda r: r.principal, "money"),
        Column("Next due", lambda r: r.next_due, "date"),
    )


class ProblemTableModel(RecordTableModel[Problem]):
    columns = (
        Column("Row", lambda r: r.row, "int"),
        Column("Field", lambda r: r.field, "words"),
        Column("Problem", lambda r: r.reason),
    )


class ExceptionTableModel(RecordTableModel[BoardingException]):
    columns = (
        Column("LOS reference", lambda r: r.los_reference),
        Column("Row", lambda r: r.row, "int"),
        Column("Figure", lambda r: r.field, "words"),
        Column("Prior servicer", lambda r: r.stated),
        Column("Keel's replay", lambda r: r.derived),
        Column("Difference", lambda r: r.difference),
    )


class BoardingPanel(QWidget):
    """Check a file, then board it; below, the boarding exceptions."""

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("boardingPanel")
        self.workspace = workspace
        self.path: Path | None = None
        self.plan: BoardingPlan | None = None

        self.file_label = QLabel("No file chosen.")
        self.file_label.setObjectName("boardingFile")
        self.choose_button = QPushButton("&Choose a file\N{HORIZONTAL ELLIPSIS}")
        self.choose_button.setObjectName("boardingChoose")
        self.board_button = QPushButton("&Board these loans")
        self.board_button.setObjectName("boardingBoard")
        self.board_button.setEnabled(False)
        self.result = QLabel()
        self.result.setObjectName("boardingResult")
        self.result.setWordWrap(True)
        self.loans = PlannedLoanTableModel(self)
        self.loans_table = make_table(self.loans, name="boardingLoans")
        self.problems = ProblemTableModel(self)
        self.problems_table = make_table(self.problems, name="boardingProblems")
        self.problems_table.hide()

        self.exceptions = ExceptionTableModel(self)
        self.exceptions_table = make_table(self.exceptions, name="boardingExceptions")
        self.show_resolved = QCheckBox("Show resolved exceptions too")
        self.show_resolved.setObjectName("boardingShowResolved")
        # Copy (Ctrl+C) and Export... (Ctrl+E, the context menu) on each table (issue 13).
        add_export(self.loans_table, workspace, "Boarding check", self._file_filters)
        add_export(self.problems_table, workspace, "Boarding problems", self._file_filters)
        add_export(self.exceptions_table, workspace, "Boarding exceptions",
                   lambda: [("Resolved exceptions", "shown" if self.show_resolved.isChecked() else "left out")])

        row = QHBoxLayout()
        row.addWidget(self.choose_button)
        row.addWidget(self.file_label, 1)
        row.addWidget(self.board_button)
        check = QGroupBox("Board a file from the origination system (CSV or JSON; see docs/boarding.md)")
        check_layout = QVBoxLayout(check)
        check_layout.addLayout(row)
        check_layout.addWidget(self.result)
        check_layout.addWidget(self.loans_table, 1)
        check_layout.addWidget(self.problems_table, 1)
        held = QGroupBox("Boarding exceptions: history loans held back because they do not tie out")
        held_layout = QVBoxLayout(held)
        held_layout.addWidget(self.show_resolved)
        held_layout.addWidget(self.exceptions_table, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(check, 3)
        layout.addWidget(held, 2)

        self.choose_button.clicked.connect(self.choose)
        self.board_button.clicked.connect(self.board)
        self.show_resolved.toggled.connect(lambda _on: self.refresh())

    def _file_filters(self) -> list[tuple[str, str]]:
        return [("File", self.path.name)] if self.path is not None else []

    # ------------------------------------------------------------ checking

    def choose(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Boarding file", "", "Boarding files (*.csv *.json)")
        if name:
            self.check(Path(name))

    def check(self, path: Path) -> None:
        """Check ``path`` (nothing is written) and show what it would board or every problem."""
        self.path, self.plan = path, None
        self.file_label.setText(path.name)
        self.file_label.setToolTip(str(path))
        self.board_button.setEnabled(False)
        self.result.setText("Checking\N{HORIZONTAL ELLIPSIS}")
        ctx = self.workspace.ctx
        self.workspace.tasks.read(lambda: boarding.check_file(ctx, path), self._checked, self._failed, owner=self)

    def _checked(self, plan: BoardingPlan) -> None:
        self.plan = plan
        self.loans.set_rows(list(plan.loans))
        self.problems.set_rows(list(plan.problems))
        self.problems_table.setVisible(bool(plan.problems))
        self.loans_table.setVisible(not plan.problems)
        fit_columns(self.loans_table)
        fit_columns(self.problems_table)
        if plan.problems:
            count = len(plan.problems)
            self.result.setText(f"{count} problem{'s' if count != 1 else ''} in this file: correct them in the "
                                "origination system and check the file again. Nothing was written.")
            return
        parts = [f"Would board {len(plan.loans)} loan{'s' if len(plan.loans) != 1 else ''}."]
        if plan.skipped:
            parts.append(f"Already boarded, skipped: {', '.join(plan.skipped)}.")
        if plan.exceptions:
            parts.append(f"{len(plan.exceptions)} history loan(s) do not tie out and would be held as exceptions.")
        self.result.setText(" ".join(parts) + " Nothing is written until you board them.")
        self.board_button.setEnabled(bool(plan.loans) and self.workspace.can(permissions.BOARD))

    # ------------------------------------------------------------ boarding

    def board(self) -> None:
        if self.path is None or self.plan is None or not self.plan.ok:
            return
        path, ctx = self.path, self.workspace.ctx
        self.board_button.setEnabled(False)
        self.result.setText("Boarding\N{HORIZONTAL ELLIPSIS}")
        self.workspace.tasks.write(lambda: boarding.board_file(ctx, path), self._boarded, self._failed, owner=self,
                                   change=Change("loans_boarded"))

    def _boarded(self, result: BoardingResult) -> None:
        self.plan = None
        count = len(result.boarded)
        self.result.setText(f"Boarded {count} loan{'s' if count != 1 else ''}: "
                            f"{', '.join(result.loan_numbers) or 'none'}."
                            + (f" {len(result.exceptions)} held as exceptions (below)." if result.exceptions else ""))
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        self.result.setText(error_text(exc))

    # ------------------------------------------------------------ exceptions

    def refresh(self) -> None:
        ctx, open_only = self.workspace.ctx, not self.show_resolved.isChecked()

        def done(rows: Any) -> None:
            self.exceptions.set_rows(list(rows))
            fit_columns(self.exceptions_table)

        self.workspace.tasks.read(lambda: boarding.list_boarding_exceptions(ctx, open_only=open_only), done,
                                  self._failed, owner=self)
