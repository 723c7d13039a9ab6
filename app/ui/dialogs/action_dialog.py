"""What every money action on one loan shares: a form, its preview, and Apply only for what was previewed.

Not a dialog of its own: the fee, waiver, adjustment, refund and write-off
dialogs (one module each) subclass it and say which service previews and
which one applies.  The preview is the service's own (servicing.preview_*),
the same figures ``keel`` prints; a back-dated entry needs its box ticked,
as ``--confirm-backdated`` does on the command line.  An error is the
service's one sentence, with its field outlined.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.money import format_money
from app.services.approvals import Approval
from app.services.errors import NeedsApproval
from app.services.servicing import Posted, Preview
from app.ui import formatting
from app.ui.dialogs.approval_dialog import ask_approval
from app.ui.forms import no_default_buttons
from app.ui.messages import error_field, error_text, mark_problem
from app.ui.workers import Change
from app.ui.workspace import Workspace

_MONEY = re.compile(r"^-?\d+\.\d\d$")


def shown(value: Any) -> str:
    """A preview value as the desk shows it: amounts as money, nothing as a dash."""
    if value is None or value == "":
        return formatting.DASH
    if isinstance(value, str) and _MONEY.match(value):
        return format_money(Decimal(value))
    return str(value)


class LoanActionDialog(QDialog):
    """Subclasses build ``self.form``, then call :meth:`finish_layout`, and define the methods below."""

    applied = Signal(object)  # Posted
    #: Emitted after each preview is shown, or None when there is none (tests).
    previewed = Signal(object)

    #: Shown on the Apply button, the busy label and the window title.
    verb = "Apply"
    busy = "Working\N{HORIZONTAL ELLIPSIS}"
    change_kind = "entry_posted"
    name = "action"

    def showEvent(self, event: QShowEvent) -> None:  # Qt's name
        super().showEvent(event)
        no_default_buttons(self)  # Enter in a field must not press the action button (issue 11)

    def __init__(self, workspace: Workspace, loan_number: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{self.name}Dialog")
        self.workspace = workspace
        self.loan_number = loan_number
        self.preview: Preview | None = None
        self._previewed_inputs: dict[str, Any] | None = None
        self._generation = 0
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self.refresh_preview)

    # ------------------------------------------------------------ for subclasses
    def inputs(self) -> dict[str, Any] | None:
        """The form as the preview service's arguments, or None with a reason in :meth:`incomplete`."""
        raise NotImplementedError

    def incomplete(self) -> str:
        return "Fill in the form; what it changes is shown here before anything is done."

    def run_preview(self, ctx: Any, inputs: dict[str, Any]) -> Preview:
        raise NotImplementedError

    def run_apply(self, ctx: Any, inputs: dict[str, Any], confirm_backdated: bool) -> Posted:
        raise NotImplementedError

    def ready_to_apply(self) -> bool:
        """Fields the preview does not need but the action does (a reason)."""
        return True

    def fields(self) -> dict[str, QWidget]:
        """Service field codes -> the widget to outline."""
        return {}

    # ------------------------------------------------------------ layout
    def finish_layout(self, intro: str) -> None:
        self.intro = QLabel(intro)
        self.intro.setWordWrap(True)
        self.changes_table = QTableWidget(0, 3)
        self.changes_table.setObjectName(f"{self.name}Changes")
        self.changes_table.setHorizontalHeaderLabels(["", "Before", "After"])
        self.changes_table.verticalHeader().hide()
        self.changes_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.changes_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.changes_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.status = QLabel(self.incomplete())
        self.status.setObjectName(f"{self.name}Status")
        self.status.setWordWrap(True)
        self.backdated_check = QCheckBox("This entry is back-dated; I have reviewed what it changes")
        self.backdated_check.setObjectName(f"{self.name}Backdated")
        self.backdated_check.hide()
        self.backdated_check.toggled.connect(lambda _on: self._update_ok())
        self.error = QLabel()
        self.error.setObjectName(f"{self.name}Error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a00000;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton(self.verb, QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName(f"{self.name}Apply")
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(self.form)
        heading = QLabel("<b>What changes on the account</b>")
        layout.addWidget(heading)
        layout.addWidget(self.status)
        layout.addWidget(self.changes_table, 1)
        layout.addWidget(self.backdated_check)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        metrics = self.fontMetrics()
        self.resize(metrics.averageCharWidth() * 84, metrics.lineSpacing() * 30)
        QTimer.singleShot(0, self, self.refresh_preview)

    # ------------------------------------------------------------ preview
    def edited(self) -> None:
        """Call when a field the preview depends on changed."""
        self._previewed_inputs = None
        self._update_ok()
        self._timer.start()

    def refresh_preview(self) -> None:
        self._timer.stop()
        self._generation += 1
        generation = self._generation
        inputs = self.inputs()
        if inputs is None:
            self._show(None, None)
            self.status.setText(self.incomplete())
            return
        ctx = self.workspace.ctx

        def done(preview: Preview) -> None:
            if generation == self._generation:
                self._show(preview, inputs)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self._show(None, None)
                self.status.setText("")
                self.show_error(exc)

        self.workspace.tasks.read(lambda: self.run_preview(ctx, inputs), done, failed, owner=self)

    def show_error(self, exc: BaseException | None) -> None:
        self.error.setText(error_text(exc) if exc is not None else "")
        mark_problem(self.fields(), error_field(exc) if exc is not None else None)

    def _show(self, preview: Preview | None, inputs: dict[str, Any] | None) -> None:
        self.preview = preview
        self._previewed_inputs = inputs if preview is not None else None
        self.show_error(None)
        rows = list(preview.changes) if preview is not None else []
        self.changes_table.setRowCount(len(rows))
        for row, (name, before, after) in enumerate(rows):
            for column, text in enumerate((formatting.words(name), shown(before), shown(after))):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.changes_table.setItem(row, column, item)
        if preview is not None:
            self.status.setText(f"Dated {formatting.day(preview.effective_date)}: "
                                + ("these figures change." if rows else "no figure changes."))
            self.backdated_check.setVisible(preview.backdated)
            if not preview.backdated:
                self.backdated_check.setChecked(False)
        else:
            self.backdated_check.hide()
        self._update_ok()
        self.previewed.emit(preview)

    def _update_ok(self) -> None:
        ready = (
            self.preview is not None
            and self._previewed_inputs is not None
            and self._previewed_inputs == self.inputs()
            and (not self.preview.backdated or self.backdated_check.isChecked())
            and self.ready_to_apply()
        )
        self.ok.setEnabled(ready)

    # ------------------------------------------------------------ applying
    #: A second user's approval for an action above a limit; run_apply passes it to services that take one.
    approval: Approval | None = None

    def apply(self) -> None:
        self._update_ok()
        inputs = self.inputs()
        if not self.ok.isEnabled() or self.preview is None or inputs is None:
            return
        ctx, confirm = self.workspace.ctx, self.backdated_check.isChecked()
        self.ok.setEnabled(False)

        def done(posted: Posted) -> None:
            self.approval = None
            self.applied.emit(posted)
            self.accept()

        def failed(exc: BaseException) -> None:
            self.approval = None
            if isinstance(exc, NeedsApproval):  # above a limit: a second user approves here (issue 11, item 7)

                def retry(given: Approval) -> None:
                    self.approval = given
                    self.apply()

                ask_approval(self, exc, retry, on_cancel=self._update_ok)
                return
            self.show_error(exc)
            self._update_ok()

        self.workspace.tasks.write(lambda: self.run_apply(ctx, inputs, confirm), done, failed, owner=self,
                                   label=self.busy, change=Change(self.change_kind, (self.loan_number,)))
