"""A deposit: a grid of payments with a control total, posted all together or not at all.

Type the deposit slip's total first, then one row per check: loan number, Tab,
amount, Tab, reference, Enter (the next row).  The running total and the
difference from the control total update as you type; "Post all" is enabled
only when the batch balances and every row is complete.  Every problem the
service finds is listed at once and marked on its row; nothing is posted
until all are fixed.  A bank's lockbox file can be loaded into the grid too.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.services import batches, permissions, search, servicing
from app.services.batches import BatchResult
from app.services.errors import FileRejected, NeedsConfirmation, ServiceError
from app.ui import formatting
from app.ui.messages import confirm, error_text, show_error
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
            editor.setPlaceholderText("YYYY-MM-DD")
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
        self.deposit_date = DateEdit()
        self.deposit_date.setObjectName("depositDate")
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("batchMethod")
        for code in servicing.PAYMENT_METHODS:
            self.method_combo.addItem(METHOD_TEXT.get(code, code), code)
        width = self.fontMetrics().averageCharWidth() * 20
        for widget in (self.control_edit, self.deposit_date, self.method_combo):
            widget.setMinimumWidth(width)
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
        top = QHBoxLayout()
        top.addLayout(form)
        top.addSpacing(self.fontMetrics().averageCharWidth() * 4)
        top.addLayout(totals)
        top.addStretch(1)

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
        self.clear_button = QPushButton("&New batch")
        self.clear_button.setObjectName("clearBatch")
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
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
        layout.addLayout(buttons)

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
        today = formatting.to_qdate(self.workspace.business_date)
        self.deposit_date.setMaximumDate(today)
        self.deposit_date.setDate(today)

    def activate(self) -> None:
        super().activate()
        if self.control_edit.value() is None:
            self.control_edit.setFocus()

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

        def done(hits: list[search.LoanHit]) -> None:
            exact = [h for h in hits if h.loan_number.upper() == number.upper()]
            if not exact:
                self.model.set_info(row, number, "", f"No loan numbered {number!r}")
            elif exact[0].loan_number != number:
                self.model.setData(self.model.index(row, LOAN), exact[0].loan_number)
            else:
                hit = exact[0]
                note = "" if hit.status == "active" else f" ({formatting.words(hit.status).lower()})"
                self.model.set_info(row, number, f"{hit.borrower}{note}, due {formatting.money(hit.amount_due)}", "")
            self._update_totals()

        self.workspace.tasks.read(lambda: search.search_loans(ctx, number, 5), done, owner=self)

    def new_batch(self) -> None:
        self.model.clear()
        self.control_edit.clear()
        self._file_hash = self._file_name = None
        self.problems_list.clear()
        self.problems_list.hide()
        self.status_label.clear()
        self._reset_date()
        self.control_edit.setFocus()

    def _rows(self) -> list[batches.BatchRow]:
        return self.model.batch_rows(str(self.method_combo.currentData()), None)

    def _show_problems(self, problems: list[object]) -> None:
        self.problems_list.clear()
        by_row: dict[int, str] = {}
        for problem in problems:
            self.problems_list.addItem(str(problem))
            row = getattr(problem, "row", None)
            if row is not None:
                by_row.setdefault(row, f"{getattr(problem, 'field', '')}: {getattr(problem, 'reason', '')}")
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

    def _post(self, *, confirm_duplicates: bool, confirm_backdated: bool) -> None:
        control = self.control_edit.value()
        assert control is not None
        rows, ctx = self._rows(), self.workspace.ctx
        deposit = formatting.from_qdate(self.deposit_date.date())
        source, file_hash = self._file_name or "batch", self._file_hash
        self._posting = True
        self._update_totals()

        def work() -> BatchResult:
            return batches.post_batch(ctx, rows, control, source=source, file_hash=file_hash, deposit_date=deposit,
                                      confirm_duplicates=confirm_duplicates, confirm_backdated=confirm_backdated)

        def failed(exc: BaseException) -> None:
            self._posting = False
            self._update_totals()
            if isinstance(exc, FileRejected):
                self._show_problems(list(exc.problems))
                self.status_label.setText("Nothing was posted: fix the problems listed, then post again.")
            elif isinstance(exc, NeedsConfirmation):
                duplicate = exc.preview is None
                confirm(self, str(exc), lambda: self._post(
                    confirm_duplicates=confirm_duplicates or duplicate,
                    confirm_backdated=confirm_backdated or not duplicate),
                    yes_text="Post anyway" if duplicate else "Post back-dated")
            else:
                self.status_label.setText(f"Nothing was posted: {error_text(exc)}")
                if not isinstance(exc, ServiceError):
                    show_error(self, exc)  # a bug: logged with its traceback

        def done(result: BatchResult) -> None:
            self._posting = False
            self.model.clear()
            self.control_edit.clear()
            self._file_hash = self._file_name = None
            self.problems_list.hide()
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
