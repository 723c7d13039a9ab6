"""A deposit: a grid of payments with a control total, posted all together or not at all.

Type the deposit slip's total first, then one row per check: loan number, Tab,
amount, Tab, reference, Enter (the next row).  The running total and the
difference from the control total update as you type; "Post all" is enabled
only when the batch balances and every row is complete.  Every problem the
service finds is listed at once and marked on its row; nothing is posted
until all are fixed.  A bank's lockbox file can be loaded into the grid too.

The batch is a draft saved in the database a moment after each edit, for the
signed-in user (issue 11): closing Keel, a crash or signing out loses
nothing.  "Your drafts" lists them; one is resumed or deleted there, and the
newest is resumed when the view opens with an empty grid.  Posting deletes
the draft in the same transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QRegularExpressionValidator, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.date_input import FORMATS_HINT
from app.services import batch_drafts, batches, permissions, search, servicing
from app.services.batch_drafts import Draft
from app.services.batches import BatchResult
from app.services.approvals import Approval
from app.services.errors import FileRejected, NeedsApproval, NeedsConfirmation, Problem, ServiceError
from app.ui.dialogs.approval_dialog import ask_approval
from app.ui import formatting
from app.ui.export import add_export
from app.ui.messages import confirm, error_text, problem_text, show_error
from app.ui.models.batch_table_model import (
    AMOUNT,
    CHECK,
    EFFECTIVE,
    LOAN,
    METHOD,
    REFERENCE,
    BatchEntry,
    BatchTableModel,
)
from app.ui.views.payment_view import METHOD_TEXT
from app.ui.views.view import View
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workers import Change
from app.ui.workspace import Workspace
from app.ui.widgets.date_edit import DateEdit

Index = QModelIndex | QPersistentModelIndex


class BatchDelegate(QStyledItemDelegate):
    """A money field for amounts, a list for the method, plain text elsewhere."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:  # Qt's name
        if index.column() == AMOUNT:
            editor = MoneyEdit(parent)
            editor.setObjectName("batchAmountEditor")
            return editor
        if index.column() == METHOD:
            combo = QComboBox(parent)
            combo.addItem("(batch method)", "")
            for code in servicing.PAYMENT_METHODS:
                combo.addItem(METHOD_TEXT.get(code, code), code)
            return combo
        editor = QLineEdit(parent)
        if index.column() == EFFECTIVE:
            # The same keys as the date field: digits and separators, which never leave the cell.
            editor.setPlaceholderText("YYYY-MM-DD")
            editor.setToolTip(f"Type {FORMATS_HINT}; empty: the deposit date")
            editor.setValidator(QRegularExpressionValidator(QRegularExpression(r"[0-9/\-]{0,10}"), editor))
        return editor

    def setEditorData(self, editor: QWidget, index: Index) -> None:  # Qt's name
        value = index.data(Qt.ItemDataRole.EditRole)
        if isinstance(editor, MoneyEdit):
            editor.setText("" if value is None else str(value))
        elif isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(value or "")))
        elif isinstance(editor, QLineEdit):
            editor.setText("" if value is None else str(value))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:  # Qt's name
        if isinstance(editor, MoneyEdit):
            value = editor.value()
            model.setData(index, value if value is not None else editor.text())
        elif isinstance(editor, QComboBox):
            model.setData(index, editor.currentData())
        elif isinstance(editor, QLineEdit):
            model.setData(index, editor.text())


class BatchGrid(QTableView):
    """Enter after the reference (or Tab) goes to the next row's loan number."""

    def moveCursor(self, action: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier) -> QModelIndex:
        current = self.currentIndex()
        model = self.model()
        if action == QAbstractItemView.CursorAction.MoveNext and current.isValid():
            if current.column() >= REFERENCE:
                return model.index(min(current.row() + 1, model.rowCount() - 1), LOAN)
            return model.index(current.row(), current.column() + 1)
        if action == QAbstractItemView.CursorAction.MovePrevious and current.isValid():
            if current.column() == LOAN and current.row() > 0:
                return model.index(current.row() - 1, REFERENCE)
            return model.index(current.row(), max(LOAN, current.column() - 1))
        return super().moveCursor(action, modifiers)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.state() != QAbstractItemView.State.EditingState:
            target = self.moveCursor(QAbstractItemView.CursorAction.MoveNext, event.modifiers())
            self.setCurrentIndex(target)
            self.edit(target)
            return
        if event.key() == Qt.Key.Key_Delete and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            model = self.model()
            if isinstance(model, BatchTableModel):
                model.remove_row(self.currentIndex().row())
            return
        super().keyPressEvent(event)

    def closeEditor(self, editor: QWidget, hint: QStyledItemDelegate.EndEditHint) -> None:  # Qt's name
        # Enter inside an editor: commit and move on like Tab, so the keyboard never stops.
        if hint == QStyledItemDelegate.EndEditHint.SubmitModelCache:
            hint = QStyledItemDelegate.EndEditHint.EditNextItem
        super().closeEditor(editor, hint)


class BatchView(View):
    title = "Batch entry"
    shortcut = "Ctrl+4"

    batch_posted = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(workspace, parent)
        self.setObjectName("batchView")
        self._file_hash: str | None = None
        self._file_name: str | None = None
        self._posting = False

        heading = QLabel("Batch (deposit) entry")
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        heading.setFont(font)

        self.control_edit = MoneyEdit()
        self.control_edit.setObjectName("controlTotal")
        self.control_edit.setToolTip("The deposit slip's total: the payments must add up to it")
        self.deposit_date = DateEdit(field="Deposit date")
        self.deposit_date.setObjectName("depositDate")
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("batchMethod")
        for code in servicing.PAYMENT_METHODS:
            self.method_combo.addItem(METHOD_TEXT.get(code, code), code)
        width = self.fontMetrics().averageCharWidth() * 20
        for widget in (self.control_edit, self.method_combo):
            widget.setMinimumWidth(width)
            widget.setMaximumWidth(width)
        form = QFormLayout()
        form.addRow("&Control total:", self.control_edit)
        form.addRow("&Deposit date:", self.deposit_date)
        form.addRow("&Method:", self.method_combo)

        self.count_label = QLabel()
        self.count_label.setObjectName("batchCount")
        self.total_label = QLabel()
        self.total_label.setObjectName("batchTotal")
        self.difference_label = QLabel()
        self.difference_label.setObjectName("batchDifference")
        totals = QFormLayout()
        totals.addRow("Payments:", self.count_label)
        totals.addRow("Entered:", self.total_label)
        totals.addRow("Difference:", self.difference_label)
        for label in (self.count_label, self.total_label, self.difference_label):
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            label.setMinimumWidth(self.fontMetrics().averageCharWidth() * 18)
        # ---------------------------------------------------------- drafts
        self.drafts_list = QListWidget()
        self.drafts_list.setObjectName("batchDrafts")
        self.drafts_list.setMaximumHeight(self.fontMetrics().height() * 5)
        self.drafts_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.drafts_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.drafts_list.setMinimumWidth(self.fontMetrics().averageCharWidth() * 44)
        self.drafts_list.setToolTip("Batches you have not posted yet, saved as you typed them")
        self.resume_button = QPushButton("&Resume")
        self.resume_button.setObjectName("resumeDraft")
        self.delete_draft_button = QPushButton("De&lete draft\N{HORIZONTAL ELLIPSIS}")
        self.delete_draft_button.setObjectName("deleteDraft")
        self.draft_label = QLabel()
        self.draft_label.setObjectName("draftStatus")
        self.draft_label.setStyleSheet("color: #3c4650;")
        drafts_buttons = QHBoxLayout()
        drafts_buttons.addWidget(self.resume_button)
        drafts_buttons.addWidget(self.delete_draft_button)
        drafts_buttons.addStretch(1)
        drafts_box = QVBoxLayout()
        drafts_box.addWidget(QLabel("<b>Your drafts</b> (saved as you type)"))
        drafts_box.addWidget(self.drafts_list)
        drafts_box.addLayout(drafts_buttons)

        top = QHBoxLayout()
        top.addLayout(form)
        top.addSpacing(self.fontMetrics().averageCharWidth() * 4)
        top.addLayout(totals)
        top.addStretch(1)
        top.addLayout(drafts_box)

        self.model = BatchTableModel(self)
        self.grid = BatchGrid()
        self.grid.setObjectName("batchGrid")
        self.grid.setModel(self.model)
        self.grid.setItemDelegate(BatchDelegate(self.grid))
        self.grid.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.AnyKeyPressed
                                  | QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.grid.setTabKeyNavigation(True)
        self.grid.verticalHeader().setDefaultSectionSize(int(self.grid.fontMetrics().height() * 1.7))
        self.grid.horizontalHeader().setStretchLastSection(True)
        chars = self.fontMetrics().averageCharWidth()
        for column, size in ((LOAN, 16), (AMOUNT, 16), (REFERENCE, 20), (METHOD, 14), (EFFECTIVE, 15)):
            self.grid.setColumnWidth(column, chars * size)
        hint = QLabel("Loan number, Tab, amount, Tab, reference, Enter for the next row. Method and effective "
                      "date default to the batch's; reach them with the arrow keys. Ctrl+Delete removes a row.")
        hint.setWordWrap(True)

        self.problems_list = QListWidget()
        self.problems_list.setObjectName("batchProblems")
        self.problems_list.setMaximumHeight(self.fontMetrics().height() * 7)
        self.problems_list.hide()
        self.status_label = QLabel()
        self.status_label.setObjectName("batchStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.RichText)

        self.load_button = QPushButton("&Load lockbox file\N{HORIZONTAL ELLIPSIS}")
        self.load_button.setObjectName("loadLockbox")
        self.check_button = QPushButton("Chec&k")
        self.check_button.setObjectName("checkBatch")
        self.post_button = QPushButton("&Post all")
        self.post_button.setObjectName("postBatch")
        self.post_button.setToolTip("Post every payment in one go (Ctrl+Enter); enabled when the batch balances")
        self.post_button.setEnabled(False)
        self.post_button.setAutoDefault(False)  # never pressed by a stray Enter or space (issue 11)
        self.post_button.setDefault(False)
        self.clear_button = QPushButton("&New batch")
        self.clear_button.setObjectName("clearBatch")
        # Copy (Ctrl+C) and Export... (Ctrl+E, the button) of the rows typed, with the batch's figures (issue 13).
        self.grid_export = add_export(self.grid, workspace, "Batch", self.export_filters)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.grid_export.button())
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.post_button)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(top)
        layout.addWidget(hint)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.problems_list)
        layout.addWidget(self.status_label)
        buttons.insertWidget(1, self.draft_label)
        layout.addLayout(buttons)

        self._draft_id: int | None = None
        self._draft_saving = False
        self._draft_dirty = False
        self._drafts: list[Draft] = []
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(600)
        self._save_timer.timeout.connect(self.save_draft)
        self.model.totals_changed.connect(self._edited)
        self.model.dataChanged.connect(lambda *_a: self._edited())
        self.control_edit.value_changed.connect(lambda _v: self._edited())
        self.deposit_date.value_changed.connect(lambda _d: self._edited())
        self.method_combo.currentIndexChanged.connect(lambda _i: self._edited())
        self.resume_button.clicked.connect(self._resume_selected)
        self.delete_draft_button.clicked.connect(self._delete_selected)
        self.drafts_list.itemActivated.connect(lambda _item: self._resume_selected())
        self._restoring = False

        self.model.totals_changed.connect(self._update_totals)
        self.model.loan_entered.connect(self._lookup)
        self.control_edit.value_changed.connect(lambda _v: self._update_totals())
        self.control_edit.returnPressed.connect(self._start_grid)
        self.check_button.clicked.connect(self.check)
        self.post_button.clicked.connect(self.post)
        self.clear_button.clicked.connect(self.new_batch)
        self.load_button.clicked.connect(self._choose_file)
        for sequence in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(sequence), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.post)
        self.setTabOrder(self.control_edit, self.deposit_date)
        self.setTabOrder(self.deposit_date, self.method_combo)
        self.setTabOrder(self.method_combo, self.grid)
        self._reset_date()
        workspace.business_date_changed.connect(self._reset_date)
        self._update_totals()

    def _reset_date(self, _day: object = None) -> None:
        today = self.workspace.business_date
        self.deposit_date.set_range(None, today, maximum_name="the open business date")
        if self._restoring or not getattr(self, "_draft_id", None):
            self.deposit_date.set_value(today)

    def export_filters(self) -> list[tuple[str, str]]:
        """The batch's own figures, for an export's header rows (a row's empty method or date is the batch's)."""
        shown = [("Control total", formatting.money(self.control_edit.value())),
                 ("Entered", formatting.money(self.model.total())),
                 ("Deposit date", formatting.day(self.deposit_date.value())),
                 ("Method", self.method_combo.currentText())]
        if self._draft_id is not None:
            shown.append(("Draft", f"#{self._draft_id}"))
        if self._file_name:
            shown.append(("Lockbox file", self._file_name))
        return shown

    def activate(self) -> None:
        super().activate()
        if self.control_edit.value() is None:
            self.control_edit.setFocus()

    def refresh(self) -> None:
        self.load_drafts(resume_newest=self._draft_id is None and self.is_empty())

    # ------------------------------------------------------------ drafts
    def is_empty(self) -> bool:
        return self.model.count() == 0 and not self.control_edit.text().strip()

    def _edited(self) -> None:
        if self._restoring or self._posting:
            return
        self._save_timer.start()
        self.draft_label.setText("Saving\N{HORIZONTAL ELLIPSIS}" if not self.is_empty() or self._draft_id else "")

    def _draft_fields(self) -> dict[str, object]:
        return {
            "control_total": self.control_edit.value(),
            "deposit_date": self.deposit_date.value(),
            "method": str(self.method_combo.currentData()),
            "rows": [entry.draft_row() for entry in self.model.entries()],
            "file_name": self._file_name,
            "file_hash": self._file_hash,
        }

    def save_draft(self) -> None:
        """Save what is on screen as the user's draft (a queued write; one at a time, in order)."""
        self._save_timer.stop()
        if not self.workspace.can(permissions.POST_BATCH) or self._posting:
            return
        if self._draft_saving:
            self._draft_dirty = True
            return
        if self._draft_id is None and self.is_empty():
            self.draft_label.setText("")
            return
        fields, ctx, draft_id = self._draft_fields(), self.workspace.ctx, self._draft_id
        self._draft_saving, self._draft_dirty = True, False

        def work() -> Draft:
            if draft_id is None:
                return batch_drafts.create_draft(ctx, **fields)  # type: ignore[arg-type]
            return batch_drafts.save_draft(ctx, draft_id, **fields)  # type: ignore[arg-type]

        def done(draft: Draft) -> None:
            self._draft_saving = False
            if self._draft_id is None and not self._posting:
                self._draft_id = draft.id
            self.draft_label.setText(f"Draft #{draft.id} saved {formatting.instant(draft.updated_at)[11:]}")
            self._show_drafts_saved(draft)
            if self._draft_dirty:
                self.save_draft()

        def failed(exc: BaseException) -> None:
            self._draft_saving = False
            self.draft_label.setText(f"The draft was not saved: {error_text(exc)}")
            if not isinstance(exc, ServiceError):
                show_error(self, exc)

        self.workspace.tasks.write(work, done, failed, owner=self)

    def flush_draft(self) -> None:
        """Save now if a save is waiting (before the window closes)."""
        if self._save_timer.isActive():
            self.save_draft()

    def load_drafts(self, resume_newest: bool = False) -> None:
        if not self.workspace.can(permissions.POST_BATCH):
            return
        ctx = self.workspace.ctx

        def done(drafts: list[Draft]) -> None:
            self._set_drafts(drafts)
            if resume_newest and drafts and self._draft_id is None and self.is_empty():
                self.resume(drafts[0])
                self.status_label.setText(f"Resumed your draft #{drafts[0].id} ({self._draft_summary(drafts[0])}), "
                                          "as you left it.")

        self.workspace.tasks.read(lambda: batch_drafts.list_drafts(ctx), done, owner=self)

    @staticmethod
    def _draft_summary(draft: Draft) -> str:
        count = draft.count
        text = f"{count:,} payment{'s' if count != 1 else ''}, {formatting.money(draft.total)}"
        if draft.control_total is not None:
            text += f" of {formatting.money(draft.control_total)}"
        return text

    def _set_drafts(self, drafts: list[Draft]) -> None:
        self._drafts = list(drafts)
        self.drafts_list.clear()
        for draft in self._drafts:
            current = " \N{EM DASH} on screen" if draft.id == self._draft_id else ""
            item = QListWidgetItem(f"#{draft.id}  {self._draft_summary(draft)}\n"
                                   f"      saved {formatting.instant(draft.updated_at)}{current}")
            item.setData(Qt.ItemDataRole.UserRole, draft.id)
            self.drafts_list.addItem(item)
        if not self._drafts:
            placeholder = QListWidgetItem("No drafts: a batch is saved here as you type it.")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.drafts_list.addItem(placeholder)
        self.resume_button.setEnabled(bool(self._drafts))
        self.delete_draft_button.setEnabled(bool(self._drafts))

    def _show_drafts_saved(self, draft: Draft) -> None:
        others = [d for d in self._drafts if d.id != draft.id]
        self._set_drafts([draft, *others])

    def drafts(self) -> list[Draft]:
        return list(self._drafts)

    def _selected_draft(self) -> Draft | None:
        item = self.drafts_list.currentItem()
        chosen = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return next((d for d in self._drafts if d.id == chosen), None)

    def _resume_selected(self) -> None:
        draft = self._selected_draft()
        if draft is None:
            self.status_label.setText("Choose a draft in the list first.")
            return
        self.flush_draft()
        self.resume(draft)
        self.status_label.setText(f"Resumed draft #{draft.id} ({self._draft_summary(draft)}).")

    def resume(self, draft: Draft) -> None:
        """Put ``draft`` on screen; edits from now on are saved to it."""
        self._restoring = True
        try:
            self._draft_id = draft.id
            self.model.set_entries([BatchEntry.from_draft(row) for row in draft.rows])
            self.control_edit.set_value(draft.control_total)
            if draft.control_total is None:
                self.control_edit.clear()
            self.deposit_date.set_value(draft.deposit_date or self.workspace.business_date)
            self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(draft.method)))
            self._file_name, self._file_hash = draft.file_name, draft.file_hash
            self.problems_list.clear()
            self.problems_list.hide()
        finally:
            self._restoring = False
        for row, entry in enumerate(self.model.entries()):
            if entry.loan_number:
                self._lookup(row, entry.loan_number)
        self._set_drafts(self._drafts)
        self.draft_label.setText(f"Draft #{draft.id}")
        self._update_totals()

    def _delete_selected(self) -> None:
        draft = self._selected_draft()
        if draft is None:
            self.status_label.setText("Choose a draft in the list first.")
            return
        confirm(self, f"Delete draft #{draft.id} ({self._draft_summary(draft)})? Its payments have not been "
                      "posted and will be gone.", lambda: self.delete_draft(draft.id), yes_text="Delete the draft")

    def delete_draft(self, draft_id: int) -> None:
        ctx = self.workspace.ctx
        if draft_id == self._draft_id:
            self._save_timer.stop()

        def done(_result: object) -> None:
            if draft_id == self._draft_id:
                self._draft_id = None
                self._clear_screen()
            self.status_label.setText(f"Draft #{draft_id} deleted.")
            self.load_drafts()

        self.workspace.tasks.write(lambda: batch_drafts.delete_draft(ctx, draft_id), done, owner=self)

    def unsaved_work(self) -> str | None:
        """What quitting would leave behind, in words (the draft itself is kept)."""
        self.flush_draft()
        if self.is_empty():
            return None
        count = self.model.count()
        return (f"a batch of {count:,} payment{'s' if count != 1 else ''} that is not posted "
                f"(kept as a draft: it will be here when you come back)")

    def _start_grid(self) -> None:
        self.grid.setFocus()
        first = self.model.index(0, LOAN)
        self.grid.setCurrentIndex(first)

    # ------------------------------------------------------------ totals
    def difference(self) -> Decimal | None:
        control = self.control_edit.value()
        return None if control is None else self.model.total() - control

    def balanced(self) -> bool:
        return self.model.count() > 0 and self.difference() == 0 and not self.model.problems()

    def _update_totals(self) -> None:
        count, total, difference = self.model.count(), self.model.total(), self.difference()
        self.count_label.setText(f"{count:,}")
        self.total_label.setText(formatting.money(total))
        if difference is None:
            self.difference_label.setText("enter the control total")
            self.difference_label.setStyleSheet("")
        elif difference == 0:
            self.difference_label.setText("$0.00  \N{CHECK MARK} balanced")
            self.difference_label.setStyleSheet("color: #14501c; font-weight: bold;")
        else:
            word = "over" if difference > 0 else "short"
            self.difference_label.setText(f"{formatting.money(difference)}  ({word})")
            self.difference_label.setStyleSheet("color: #a00000; font-weight: bold;")
        can_post = self.workspace.can(permissions.POST_BATCH) and self.workspace.can(permissions.POST_PAYMENT)
        self.post_button.setEnabled(can_post and self.balanced() and not self._posting)
        self.check_button.setEnabled(count > 0)

    # ------------------------------------------------------------ rows
    def _lookup(self, row: int, number: str) -> None:
        ctx = self.workspace.ctx

        def done(hit: search.LoanHit | None) -> None:
            if hit is None:
                self.model.set_info(row, number, "", f"Loan number: there is no loan numbered \u201c{number}\u201d")
            elif hit.loan_number != number:
                self.model.setData(self.model.index(row, LOAN), hit.loan_number)  # 100118 -> KL-100118
            else:
                note = "" if hit.status == "active" else f" ({formatting.words(hit.status).lower()})"
                self.model.set_info(row, number, f"{hit.borrower}{note}, due {formatting.money(hit.amount_due)}", "")
            self._update_totals()

        self.workspace.tasks.read(lambda: search.find_loan(ctx, number), done, owner=self)

    def new_batch(self) -> None:
        """Start an empty batch; the one on screen stays in "Your drafts"."""
        self.flush_draft()
        kept = self._draft_id
        self._draft_id = None
        self._clear_screen()
        if kept is not None:
            self.status_label.setText(f"Draft #{kept} is kept in Your drafts.")
        self.load_drafts()

    def _clear_screen(self) -> None:
        self._restoring = True
        try:
            self.model.clear()
            self.control_edit.clear()
            self._file_hash = self._file_name = None
            self.problems_list.clear()
            self.problems_list.hide()
            self.status_label.clear()
            self.draft_label.clear()
            self.deposit_date.set_value(self.workspace.business_date)
        finally:
            self._restoring = False
        self.control_edit.setFocus()

    def _rows(self) -> list[batches.BatchRow]:
        return self.model.batch_rows(str(self.method_combo.currentData()), None)

    def _show_problems(self, problems: list[object]) -> None:
        self.problems_list.clear()
        by_row: dict[int, str] = {}
        for problem in problems:
            self.problems_list.addItem(problem_text(problem) if isinstance(problem, Problem) else str(problem))
            row = getattr(problem, "row", None)
            if isinstance(problem, Problem) and row is not None:
                by_row.setdefault(row, problem_text(replace(problem, row=None, file="batch")))
        self.model.set_problems(by_row)
        self.problems_list.setVisible(bool(problems))
        self._update_totals()

    # ------------------------------------------------------------ check and post
    def check(self) -> None:
        if self.model.problems():
            self._show_problems([f"Row {n}: {text}" for n, text in self.model.problems()])
            return
        control = self.control_edit.value()
        if control is None:
            self.status_label.setText("Enter the control total first.")
            return
        rows, ctx, source = self._rows(), self.workspace.ctx, self._file_name or "batch"

        def done(problems: list[object]) -> None:
            self._show_problems(problems)
            self.status_label.setText("No problems: the batch is ready to post." if not problems
                                      else f"{len(problems)} problem(s): fix them, then post.")

        self.workspace.tasks.read(lambda: batches.check_batch(ctx, rows, control, source), done, owner=self,
                                  label="Checking the batch\N{HORIZONTAL ELLIPSIS}")

    def post(self) -> None:
        if not self.post_button.isEnabled() or self._posting:
            if self.model.count() and not self.balanced():
                difference = self.difference()
                self.status_label.setText(
                    "The batch does not balance: it cannot be posted until the payments add up to the control "
                    f"total (difference {formatting.money(difference)})." if difference not in (None, 0)
                    else "Fix the rows marked in red before posting.")
            return
        self._post(confirm_duplicates=False, confirm_backdated=False)

    def _post(self, *, confirm_duplicates: bool, confirm_backdated: bool, approval: Approval | None = None) -> None:
        control = self.control_edit.value()
        assert control is not None
        rows, ctx = self._rows(), self.workspace.ctx
        deposit = self.deposit_date.value()
        if deposit is None:
            self.status_label.setText(self.deposit_date.problem() or "Deposit date: type the date of the deposit.")
            self.deposit_date.setFocus()
            return
        source, file_hash = self._file_name or "batch", self._file_hash
        self._save_timer.stop()
        draft_id = self._draft_id if not self._draft_saving else None
        if self._draft_saving:  # a save is in flight: post after it, so the draft it creates is the one deleted
            QTimer.singleShot(100, self, lambda: self._post(confirm_duplicates=confirm_duplicates,
                                                      confirm_backdated=confirm_backdated, approval=approval))
            return
        self._posting = True
        self._update_totals()

        def work() -> BatchResult:
            return batches.post_batch(ctx, rows, control, source=source, file_hash=file_hash, deposit_date=deposit,
                                      confirm_duplicates=confirm_duplicates, confirm_backdated=confirm_backdated,
                                      draft_id=draft_id, approval=approval)

        def failed(exc: BaseException) -> None:
            self._posting = False
            self._update_totals()
            if isinstance(exc, FileRejected):
                self._show_problems(list(exc.problems))
                self.status_label.setText("Nothing was posted: fix the problems listed, then post again.")
            elif isinstance(exc, NeedsApproval):
                self.status_label.setText(f"Nothing was posted yet. {error_text(exc)}")
                ask_approval(self, exc, lambda given: self._post(confirm_duplicates=confirm_duplicates,
                                                                 confirm_backdated=confirm_backdated,
                                                                 approval=given))
            elif isinstance(exc, NeedsConfirmation):
                duplicate = exc.preview is None
                confirm(self, str(exc), lambda: self._post(
                    confirm_duplicates=confirm_duplicates or duplicate,
                    confirm_backdated=confirm_backdated or not duplicate, approval=approval),
                    yes_text="Post anyway" if duplicate else "Post back-dated")
            else:
                self.status_label.setText(f"Nothing was posted. {error_text(exc)}")
                if not isinstance(exc, ServiceError):
                    show_error(self, exc)  # a bug: logged with its traceback

        def done(result: BatchResult) -> None:
            self._posting = False
            self._draft_id = None
            self._clear_screen()
            self.load_drafts()
            self.status_label.setText(f"<b>Posted</b> batch #{result.batch_id}: {result.count:,} payments, "
                                      f"{formatting.money(result.total)}.")
            self.batch_posted.emit(result)
            self.control_edit.setFocus()

        self.workspace.tasks.write(
            work, done, failed, owner=self, label=f"Posting {len(rows):,} payments\N{HORIZONTAL ELLIPSIS}",
            change=lambda result: Change("batch_posted", tuple(p.loan_number for p in result.posted)),
        )

    # ------------------------------------------------------------ lockbox files
    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a lockbox file", "", "Lockbox files (*.csv);;All files (*)")
        if path:
            self.load_file(path)

    def load_file(self, path: str) -> None:
        def done(loaded: tuple[list[batches.BatchRow], str]) -> None:
            rows, digest = loaded
            entries = [
                BatchEntry(loan_number=r.loan_number, amount=r.amount, reference=r.reference or "",
                           method=r.method if r.method != "check" else "",
                           effective_text=r.effective_date.isoformat() if r.effective_date else "")
                for r in rows
            ]
            self.model.set_entries(entries)
            self._file_hash, self._file_name = digest, Path(path).name
            self.status_label.setText(f"Loaded {len(rows):,} payments from {Path(path).name}. Enter the deposit "
                                      "slip's total as the control total, check, then post.")
            for row, entry in enumerate(entries):
                self._lookup(row, entry.loan_number)
            self.control_edit.setFocus()

        def failed(exc: BaseException) -> None:
            if isinstance(exc, FileRejected):
                self._show_problems(list(exc.problems))
            show_error(self, exc)

        self.workspace.tasks.read(lambda: batches.read_lockbox(path), done, failed, owner=self,
                                  label="Reading the file\N{HORIZONTAL ELLIPSIS}")

    def apply_change(self, change: Change) -> None:
        if change.kind == "day_closed":
            self._reset_date()
