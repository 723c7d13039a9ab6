"""End of day with a progress dialog: loans done, time left, cancel; then the run's summary.

The run happens on the write worker; its progress callback arrives here on
the GUI thread.  Cancel sets the service's CancelToken: end of day stops
between chunks of loans, keeps what it closed (each chunk commits on its
own) and a later run finishes the day with nothing posted twice.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.context import CancelToken
from app.ui import formatting, optional
from app.ui.export import add_export
from app.ui.forms import no_default_buttons
from app.ui.messages import error_text
from app.ui.models.record_table_model import Column, RecordTableModel
from app.ui.widgets.table import fit_columns, make_table
from app.ui.workers import Change
from app.ui.workspace import Workspace
from app.ui.widgets.date_edit import DateEdit


def time_left(done: int, total: int, elapsed: float) -> str:
    if done <= 0 or total <= done or elapsed <= 0:
        return ""
    seconds = elapsed / done * (total - done)
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    minutes, secs = divmod(round(seconds), 60)
    return f"about {minutes} min {secs:02d} s left"


class DaySummaryTableModel(RecordTableModel[Any]):
    columns = (
        Column("Day closed", lambda r: r.business_date, "date"),
        Column("Loans", lambda r: r.loans_processed, "int"),
        Column("Interest accrued", lambda r: r.interest_accrued, "money"),
        Column("Fees assessed", lambda r: r.fees_assessed, "money"),
        Column("Late fees", lambda r: r.late_fees, "int"),
        Column("Status changes", lambda r: r.status_changes, "int"),
        Column("Charge-offs", lambda r: r.charge_offs, "int"),
        Column("Letters queued", lambda r: r.letters_queued, "int"),
        Column("Promises settled", lambda r: r.promises,
               text=lambda r: ", ".join(f"{formatting.words(k).lower()} {v}" for k, v in (r.promises or {}).items()
                                        if v) or formatting.DASH),
        Column("Problems", lambda r: len(r.errors), "int"),
        Column("Seconds", lambda r: round(r.seconds, 1), text=lambda r: f"{r.seconds:.1f}"),
        Column("Cancelled", lambda r: r.cancelled, text=lambda r: "Yes" if r.cancelled else ""),
    )


class EodDialog(QDialog):
    finished_run = Signal(object)  # EodSummary

    def showEvent(self, event: QShowEvent) -> None:  # Qt's name
        super().showEvent(event)
        no_default_buttons(self)  # Enter in a field must not press the action button (issue 11)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("eodDialog")
        self.setWindowTitle("End of day")
        self.workspace = workspace
        self.service = optional.service("eod")
        self._token: CancelToken | None = None
        self._started = 0.0
        self.summary: Any = None

        today = workspace.business_date
        self.intro = QLabel()
        self.intro.setObjectName("eodIntro")
        self.intro.setWordWrap(True)
        self._show_open_date(today)
        self.through_edit = DateEdit(field="Through date")
        self.through_edit.setObjectName("eodThrough")
        self.through_edit.set_range(today, max(date.today(), today), minimum_name="the open business date",
                                    maximum_name="today's calendar date")
        self.through_edit.set_value(today)
        form = QFormLayout()
        form.addRow("Close every day &through:", self.through_edit)

        self.stage = QLabel()
        self.stage.setObjectName("eodStage")
        self.progress = QProgressBar()
        self.progress.setObjectName("eodProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%v of %m loans")
        self.progress.hide()  # shown once the run starts
        self.eta = QLabel()
        self.eta.setObjectName("eodEta")
        self.model = DaySummaryTableModel(self)
        self.table = make_table(self.model, name="eodSummary", sortable=False)
        add_export(self.table, workspace, "End of day")  # Copy and Export... of the days closed (issue 13)
        self.table.hide()
        self.result = QLabel()
        self.result.setObjectName("eodResult")
        self.result.setWordWrap(True)

        self.start_button = QPushButton("&Run end of day")
        self.start_button.setObjectName("eodStart")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("eodCancel")
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("eodClose")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        self.cancel_button.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.stage)
        layout.addWidget(self.progress)
        layout.addWidget(self.eta)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.result)
        layout.addLayout(buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 110, self.fontMetrics().height() * 22)

        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        if self.service is None or not hasattr(self.service, "run_eod"):
            self.start_button.setEnabled(False)
            self.result.setText(optional.missing_text("End of day", "eod"))

    def start(self) -> None:
        if self.service is None or self._token is not None:
            return
        through = self.through_edit.value()
        if through is None:
            self.through_edit.setFocus()
            self.result.setText(self.through_edit.problem() or "Through date: type the last day to close.")
            return
        ctx, service = self.workspace.ctx, self.service
        token = self._token = CancelToken()
        self._started = time.monotonic()
        self.start_button.hide()
        self.close_button.setEnabled(False)
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.through_edit.setEnabled(False)
        self.stage.setText("Starting\N{HORIZONTAL ELLIPSIS}")
        self.progress.setRange(0, 0)
        self.progress.show()

        def work(report: Any) -> Any:
            return service.run_eod(ctx, through, progress=report, cancel=token)

        self.workspace.tasks.write(work, self._done, self._failed, owner=self, on_progress=self._progressed,
                                   change=Change("day_closed"))

    def _progressed(self, done: int, total: int, label: str) -> None:
        self.stage.setText(formatting.words(label))
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        self.eta.setText(time_left(done, total, time.monotonic() - self._started))

    def cancel(self) -> None:
        if self._token is not None:
            self._token.cancel()
            self.cancel_button.setEnabled(False)
            self.stage.setText("Cancelling after the current group of loans\N{HORIZONTAL ELLIPSIS}")

    def _show_open_date(self, day: date) -> None:
        """The open date in the intro: re-said after a run, so the dialog never shows a closed day (issue 11)."""
        self.intro.setText(
            f"The open business date is <b>{formatting.day(day)}</b>. End of day closes it: interest accrues, "
            "late fees are assessed, delinquency and statuses are updated, letters are queued and promises "
            "settled; then the business date moves on. Every desk sees the new date.")

    def _finish(self) -> None:
        self._token = None
        self.cancel_button.hide()
        self.close_button.setEnabled(True)
        self.close_button.setFocus()
        self.eta.clear()

    def _done(self, summary: Any) -> None:
        self._finish()
        self.summary = summary
        days = list(summary.days)
        self.model.set_rows(days)
        self.table.setVisible(bool(days))
        fit_columns(self.table)
        errors = [f"{loan}: {message}" for day in days for loan, message in day.errors]
        if summary.cancelled:
            text = (f"Cancelled. The business date is {formatting.day(summary.business_date)}; the loans already "
                    "closed stay closed and the next run finishes the day.")
        elif not days:
            text = "Nothing to close: the business date is already past the chosen day."
        else:
            text = (f"Done: {len(days)} day{'s' if len(days) != 1 else ''} closed, "
                    f"{summary.loans_processed:,} loan-days. The business date is now "
                    f"{formatting.day(summary.business_date)}.")
        loans, entries = getattr(summary, "rederived", (0, 0))
        if loans or entries:
            text += (f"\nFirst, the book was re-derived under this Keel's servicing rules: {entries:,} adjusting "
                     f"entries on {loans:,} loans, each dated today and explained in the loan's ledger.")
        if errors:
            text += f"\n{len(errors)} loan(s) had problems and were left for review:\n" + "\n".join(errors[:10])
        head = getattr(summary, "audit_head", "")
        if head:
            text += f"\nAudit chain head: {head} (the audit trail's seal after this run; keep it with the day's report)."
        self.result.setText(text)
        self._show_open_date(summary.business_date)
        opened = summary.business_date
        self.through_edit.set_range(opened, max(date.today(), opened), minimum_name="the open business date",
                                    maximum_name="today's calendar date")
        self.through_edit.set_value(opened)
        self.stage.setText("Finished" if not summary.cancelled else "Cancelled")
        if days:
            total = self.progress.maximum() or 1
            self.progress.setRange(0, total)
            self.progress.setValue(total if not summary.cancelled else self.progress.value())
        self.finished_run.emit(summary)

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        self.progress.setRange(0, 1)
        self.stage.setText("Stopped")
        self.result.setText(f"End of day stopped: {error_text(exc)}")
        self.start_button.show()
        self.start_button.setEnabled(True)
        self.through_edit.setEnabled(True)

    def reject(self) -> None:  # Qt's name
        if self._token is not None:
            return  # running: cancel first; closing must not orphan the run
        super().reject()

