"""Collections: work the past-due queue call after call without leaving the keyboard.

Left, the queue (sortable; filtered by bucket, collector and product;
highest priority first).  Right, the selected account: its figures and
warnings, its recent contacts and promises, and the contact form -- channel,
outcome code, note, and for a promise to pay one or more dates and amounts.
Alt+Down / Alt+Up move to the next / previous account; Ctrl+Enter logs the
contact.  The Regulation F guardrails are checked as soon as an account and
channel are chosen: a block is shown and logging is refused; a warning needs
an override reason, which is kept.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.services import permissions
from app.services.errors import NeedsConfirmation
from app.ui import formatting, optional
from app.ui.dialogs.correction_dialog import CorrectionDialog
from app.ui.dialogs.override_dialog import OverrideDialog
from app.ui.dialogs.letter_preview_dialog import LetterPreviewDialog
from app.ui.export import add_export
from app.ui.messages import error_text, inform, show_error
from app.ui.models.contact_table_model import ContactsTableModel, PromisesTableModel
from app.ui.models.queue_table_model import QueueTableModel, flags_text
from app.ui.views.view import View
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.widgets.status_badge import StatusBadge
from app.ui.widgets.table import fit_columns, make_table, restore_header, save_header
from app.ui.workers import Change
from app.ui.workspace import Workspace
from app.ui.widgets.date_edit import DateEdit

ALL = ""
MINE = "\x00mine"
PROMISE_ROWS = 3
CHANNEL_TEXT = {"call": "Phone call", "text": "Text message", "email": "E-mail", "letter": "Letter",
                "visit": "Visit"}


class PromiseRow(QWidget):
    def __init__(self, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.date_edit = DateEdit(field=f"Promise {index} date")
        self.date_edit.setObjectName(f"promiseDate{index}")
        self.amount_edit = MoneyEdit()
        self.amount_edit.setObjectName(f"promiseAmount{index}")
        self.amount_edit.setMinimumWidth(self.fontMetrics().averageCharWidth() * 14)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.date_edit)
        layout.addWidget(self.amount_edit, 1)


class CollectionsView(View):
    title = "Collections"
    shortcut = "Ctrl+5"

    contact_logged = Signal(object)
    queue_loaded = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(workspace, parent)
        self.setObjectName("collectionsView")
        self.service = optional.service("collections")
        self._details_generation = 0
        self._select_after_load: str | None = None
        self._current: Any = None

        if self.service is None:
            note = QLabel(optional.missing_text("Collections", "collections"))
            note.setObjectName("collectionsUnavailable")
            note.setWordWrap(True)
            QVBoxLayout(self).addWidget(note)
            return

        # ---------------------------------------------------------- filters
        self.bucket_combo = QComboBox()
        self.bucket_combo.setObjectName("queueBucket")
        self.bucket_combo.addItem("All past due", ALL)
        for bucket in self.service.PAST_DUE_BUCKETS:
            self.bucket_combo.addItem(f"{bucket} days", bucket)
        self.collector_combo = QComboBox()
        self.collector_combo.setObjectName("queueCollector")
        self.collector_combo.addItem("All collectors", ALL)
        self.collector_combo.addItem("Assigned to me", MINE)
        # The desk's last choice; "all" on first use (a new book may have no assignments yet).
        if workspace.settings.value("collections/collector", "") == MINE:
            self.collector_combo.setCurrentIndex(1)
        self.product_combo = QComboBox()
        self.product_combo.setObjectName("queueProduct")
        self.product_combo.addItem("All products", ALL)
        # The combos say what they filter ("All past due", "All collectors"), so no labels: the row
        # stays narrow enough for a small screen at 200 %.
        for combo, name in ((self.bucket_combo, "Bucket"), (self.collector_combo, "Collector"),
                            (self.product_combo, "Product")):
            combo.setToolTip(f"{name} filter")
            combo.setAccessibleName(f"{name} filter")
        self.promised_check = QCheckBox("Show &promised")
        self.promised_check.setToolTip("Include accounts with a live promise to pay (left out by default: the "
                                       "borrower has said when the money comes)")
        for combo in (self.bucket_combo, self.collector_combo, self.product_combo):
            # Narrow screens and 200 % scaling: the combos may shrink to ten characters.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
        self.promised_check.setObjectName("queueIncludePromised")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Reload the queue (F5)")
        self.count_label = QLabel()
        self.count_label.setObjectName("queueCount")
        filters = QHBoxLayout()
        filters.addWidget(self.bucket_combo)
        filters.addWidget(self.collector_combo)
        filters.addWidget(self.product_combo)
        filters.addWidget(self.promised_check)
        filters.addStretch(1)
        filters.addWidget(self.count_label)
        filters.addWidget(self.refresh_button)

        # ---------------------------------------------------------- queue
        self.model = QueueTableModel(self)
        self.table = make_table(self.model, name="queueTable", multi_select=True)
        # Copy (Ctrl+C) and Export... (Ctrl+E, the button), with the filters in the file (issue 13).
        self.queue_export = add_export(self.table, workspace, "Collections queue", self.export_filters)
        filters.insertWidget(filters.indexOf(self.refresh_button), self.queue_export.button())
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _i: self._open_account())

        # ---------------------------------------------------------- account panel
        self.borrower_label = QLabel()
        self.borrower_label.setObjectName("collectionsBorrower")
        font = self.borrower_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.borrower_label.setFont(font)
        self.borrower_label.setWordWrap(True)
        self.loan_label = QLabel()
        self.loan_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.badge = StatusBadge()
        self.figures: dict[str, QLabel] = {}
        figures = QFormLayout()
        for name, title in (("phone", "Phone"), ("amount_due", "Amount due"), ("principal", "Principal"),
                            ("next_due", "Oldest unpaid due date"), ("last_contact", "Last contact"),
                            ("flags", "Flags")):
            label = QLabel(formatting.DASH)
            label.setObjectName(f"collections_{name}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            if name in ("amount_due", "principal"):
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.figures[name] = label
            figures.addRow(title, label)
        account_box = QGroupBox("Account")
        account_layout = QVBoxLayout(account_box)
        head = QHBoxLayout()
        names = QVBoxLayout()
        names.addWidget(self.borrower_label)
        names.addWidget(self.loan_label)
        head.addLayout(names, 1)
        head.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignTop)
        account_layout.addLayout(head)
        account_layout.addLayout(figures)

        self.contacts_model = ContactsTableModel(self)
        self.contacts_table = make_table(self.contacts_model, name="recentContacts", sortable=False)
        self.contacts_table.setMinimumHeight(self.fontMetrics().height() * 7)
        self.promises_model = PromisesTableModel(self)
        self.promises_table = make_table(self.promises_model, name="accountPromises", sortable=False)
        self.promises_table.setMinimumHeight(self.fontMetrics().height() * 5)
        add_export(self.contacts_table, workspace, lambda: f"Recent contacts {self.current_loan() or ''}".strip(),
                   lambda: self._account_filters() + [("Shown", "the 20 most recent contacts")])
        add_export(self.promises_table, workspace, lambda: f"Promises {self.current_loan() or ''}".strip(),
                   self._account_filters)
        history_box = QGroupBox("Recent contacts and promises")
        history_layout = QVBoxLayout(history_box)
        history_layout.addWidget(self.contacts_table)
        history_layout.addWidget(self.promises_table)
        # A mis-logged contact or promise is corrected by a new entry pointing at it (issue 11).
        self.correct_contact_button = QPushButton("Co&rrect contact\N{HORIZONTAL ELLIPSIS}")
        self.correct_contact_button.setObjectName("correctContact")
        self.correct_contact_button.setToolTip("Record a correction of the selected contact; the original is kept, "
                                               "struck through")
        self.correct_promise_button = QPushButton("Correct pro&mise\N{HORIZONTAL ELLIPSIS}")
        self.correct_promise_button.setObjectName("correctPromise")
        self.correct_promise_button.setToolTip("Record a correction of the selected open promise")
        correct_row = QHBoxLayout()
        correct_row.addStretch(1)
        correct_row.addWidget(self.correct_contact_button)
        correct_row.addWidget(self.correct_promise_button)
        history_layout.addLayout(correct_row)
        for button in (self.correct_contact_button, self.correct_promise_button):
            button.setVisible(workspace.can(permissions.LOG_CONTACT))
            button.setEnabled(False)
        self.contacts_table.selectionModel().selectionChanged.connect(lambda *_a: self._enable_corrections())
        self.promises_table.selectionModel().selectionChanged.connect(lambda *_a: self._enable_corrections())
        self.correct_contact_button.clicked.connect(lambda: self.correct_selected(promise=False))
        self.correct_promise_button.clicked.connect(lambda: self.correct_selected(promise=True))

        # ---------------------------------------------------------- contact form
        self.channel_combo = QComboBox()
        self.channel_combo.setObjectName("contactChannel")
        for code in self.service.CONTACT_CHANNELS:
            self.channel_combo.addItem(CHANNEL_TEXT.get(code, formatting.words(code)), code)
        self.outcome_combo = QComboBox()
        self.outcome_combo.setObjectName("contactOutcome")
        for code in self.service.CONTACT_OUTCOMES:
            self.outcome_combo.addItem(formatting.words(code), code)
        self.note_edit = QPlainTextEdit()
        self.note_edit.setObjectName("contactNote")
        self.note_edit.setTabChangesFocus(True)
        self.note_edit.setPlaceholderText("What was said")
        self.note_edit.setMaximumHeight(self.fontMetrics().height() * 5)
        self.promise_rows = [PromiseRow(i) for i in range(PROMISE_ROWS)]
        self.promise_box = QWidget()
        promise_layout = QVBoxLayout(self.promise_box)
        promise_layout.setContentsMargins(0, 0, 0, 0)
        promise_layout.addWidget(QLabel("Promised payments (date and amount; leave extra rows empty):"))
        for row in self.promise_rows:
            promise_layout.addWidget(row)
        self.guardrails_label = QLabel()
        self.guardrails_label.setObjectName("guardrails")
        self.guardrails_label.setWordWrap(True)
        self.guardrails_label.setTextFormat(Qt.TextFormat.RichText)
        self.form_message = QLabel()
        self.form_message.setObjectName("contactMessage")
        self.form_message.setWordWrap(True)
        self.log_button = QPushButton("&Log contact")
        self.log_button.setObjectName("logContact")
        self.log_button.setToolTip("Log this contact (Ctrl+Enter)")
        self.previous_button = QPushButton("\N{UPWARDS ARROW} Pre&vious")
        self.previous_button.setObjectName("previousAccount")
        self.previous_button.setToolTip("Previous account in the queue (Alt+Up)")
        self.next_button = QPushButton("Ne&xt \N{DOWNWARDS ARROW}")
        self.next_button.setObjectName("nextAccount")
        self.next_button.setToolTip("Next account in the queue (Alt+Down)")
        self.open_button = QPushButton("Open &account")
        self.open_button.setObjectName("openQueueAccount")
        self.print_button = QPushButton("Print &notice\N{HORIZONTAL ELLIPSIS}")
        self.print_button.setObjectName("printNotice")
        letters = optional.service("letters")
        self._letters = letters if letters is not None and hasattr(letters, "print_selected") else None
        if self._letters is None:
            self.print_button.setEnabled(False)
            self.print_button.setToolTip(optional.missing_text("Printing notices", "letters"))
        else:
            self.print_button.setToolTip("Print a notice for the selected accounts (select several with "
                                         "Shift or Ctrl)")
            menu = QMenu(self.print_button)
            for kind in sorted(getattr(letters, "COLLECTION_KINDS", ("late-notice",))):
                action = menu.addAction(formatting.words(kind.replace("-", " ")))
                action.triggered.connect(lambda _=False, k=kind: self.print_notices(k))
            self.print_button.setMenu(menu)
        self.print_queue_button = QPushButton("Print the &queue\N{HORIZONTAL ELLIPSIS}")
        self.print_queue_button.setObjectName("printQueue")
        self.print_queue_button.setToolTip("The letters end of day queued: preview, then the system print dialog")
        self.print_queue_button.clicked.connect(self.print_queue)
        self.print_queue_button.setVisible(self._letters is not None and workspace.can(permissions.PRINT_LETTERS))
        if not workspace.can(permissions.PRINT_LETTERS):
            self.print_button.setVisible(False)
        may_log = workspace.can(permissions.LOG_CONTACT)
        form = QFormLayout()
        form.addRow("C&hannel:", self.channel_combo)
        form.addRow("O&utcome:", self.outcome_combo)
        form.addRow("No&te:", self.note_edit)
        form.addRow(self.promise_box)
        contact_box = QGroupBox("Log a contact")
        contact_layout = QVBoxLayout(contact_box)
        contact_layout.addLayout(form)
        contact_layout.addWidget(self.guardrails_label)
        contact_layout.addWidget(self.form_message)
        buttons = QGridLayout()
        buttons.addWidget(self.log_button, 0, 0)
        buttons.addWidget(self.previous_button, 0, 1)
        buttons.addWidget(self.next_button, 0, 2)
        buttons.addWidget(self.open_button, 1, 1)
        buttons.addWidget(self.print_button, 1, 2)
        buttons.addWidget(self.print_queue_button, 1, 0)
        contact_layout.addLayout(buttons)
        if not may_log:
            self.log_button.setEnabled(False)
            self.log_button.setToolTip("Logging contacts needs the collector, manager or admin role")

        panel = QWidget()
        panel_layout = QVBoxLayout(panel)
        panel_layout.addWidget(account_box)
        panel_layout.addWidget(contact_box)
        panel_layout.addWidget(history_box, 1)
        self.panel_scroll = QScrollArea()
        self.panel_scroll.setWidgetResizable(True)
        self.panel_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.panel_scroll.setWidget(panel)

        self.splitter = QSplitter()
        self.splitter.setObjectName("collectionsSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.panel_scroll)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.splitter, 1)
        self._enable_account(False)

        # ---------------------------------------------------------- behaviour
        for combo in (self.bucket_combo, self.collector_combo, self.product_combo):
            combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.promised_check.toggled.connect(lambda _on: self.refresh())
        self.refresh_button.clicked.connect(self.refresh)
        self.outcome_combo.currentIndexChanged.connect(self._outcome_changed)
        self.channel_combo.currentIndexChanged.connect(lambda _i: self._check_guardrails())
        self.log_button.clicked.connect(self.log_contact)
        self.next_button.clicked.connect(lambda: self.move(1))
        self.previous_button.clicked.connect(lambda: self.move(-1))
        self.open_button.clicked.connect(self._open_account)
        for sequence, slot in (("Alt+Down", lambda: self.move(1)), ("Alt+Up", lambda: self.move(-1)),
                               ("Ctrl+Return", self.log_contact), ("Ctrl+Enter", self.log_contact)):
            shortcut = QShortcut(QKeySequence(sequence), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._outcome_changed()
        restore_header(workspace.settings, "collections/queueHeader2", self.table)
        splitter_state = workspace.settings.value("collections/splitter")
        if splitter_state is not None:
            self.splitter.restoreState(splitter_state)

    # ------------------------------------------------------------ the queue
    def refresh(self) -> None:
        if self.service is None:
            return
        service, ctx = self.service, self.workspace.ctx
        collector = self.collector_combo.currentData()
        if collector == MINE:
            collector = ctx.actor.username
        bucket = self.bucket_combo.currentData() or None
        product = self.product_combo.currentData() or None
        include = self.promised_check.isChecked()
        keep = self._select_after_load or self.current_loan()
        self._select_after_load = None
        self.count_label.setText("Loading\N{HORIZONTAL ELLIPSIS}")

        def done(items: list[Any]) -> None:
            self.model.set_rows(items)
            self._fill_choices(items)
            self.count_label.setText(f"{len(items):,} account{'s' if len(items) != 1 else ''}")
            if not restore_header(self.workspace.settings, "collections/queueHeader2", self.table):
                fit_columns(self.table, 20)
            row = self.model.row_of(keep) if keep else None
            if row is None and items:
                row = 0
            if row is not None:
                self.table.selectRow(row)
            else:
                self._show_account(None)
            self.queue_loaded.emit(items)

        def failed(exc: BaseException) -> None:
            self.count_label.setText("")
            show_error(self, exc)

        self.workspace.tasks.read(
            lambda: service.queue(ctx, collector=collector or None, bucket=bucket, product=product,
                                  include_promised=include),
            done, failed, owner=self)

    def export_filters(self) -> list[tuple[str, str]]:
        """The queue's filters in force, for an export's header rows."""
        collector = self.collector_combo.currentText()
        if self.collector_combo.currentData() == MINE:
            collector = f"{self.workspace.ctx.actor.username} (assigned to me)"
        return [("Bucket", self.bucket_combo.currentText()), ("Collector", collector),
                ("Product", self.product_combo.currentText()),
                ("Accounts with a live promise", "shown" if self.promised_check.isChecked() else "left out")]

    def _account_filters(self) -> list[tuple[str, str]]:
        item = self._current
        if item is None:
            return []
        return [("Loan", item.loan_number), ("Borrower", item.borrower or "")]

    def _fill_choices(self, items: list[Any]) -> None:
        """Offer the collectors and products present in the queue (no user list needed)."""
        for combo, values in ((self.collector_combo, sorted({i.collector for i in items if i.collector})),
                              (self.product_combo, sorted({i.product for i in items if i.product}))):
            known = {combo.itemData(i) for i in range(combo.count())}
            combo.blockSignals(True)
            for value in values:
                if value not in known:
                    combo.addItem(value, value)
            combo.blockSignals(False)

    def current_loan(self) -> str | None:
        if self.service is None:
            return None
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        current = self.table.currentIndex()
        row = current.row() if current.isValid() and any(r.row() == current.row() for r in rows) else rows[0].row()
        return self.model.row_at(row).loan_number

    def selected_loans(self) -> list[str]:
        return [self.model.row_at(index.row()).loan_number for index in self.table.selectionModel().selectedRows()]

    def move(self, step: int) -> None:
        if self.service is None or not self.model.rowCount():
            return
        current = self.table.currentIndex()
        row = current.row() if current.isValid() else -1
        target = max(0, min(self.model.rowCount() - 1, row + step))
        self.table.selectRow(target)
        self.table.scrollTo(self.model.index(target, 0))

    def _selection_changed(self, *_args: QItemSelection) -> None:
        number = self.current_loan()
        item = None
        if number is not None:
            row = self.model.row_of(number)
            item = self.model.row_at(row) if row is not None else None
        self._show_account(item)

    # ------------------------------------------------------------ the account panel
    def _enable_account(self, on: bool) -> None:
        for widget in (self.channel_combo, self.outcome_combo, self.note_edit, self.promise_box, self.open_button):
            widget.setEnabled(on)
        self.log_button.setEnabled(on and self.workspace.can(permissions.LOG_CONTACT))
        self.print_button.setEnabled(on and self._letters is not None)

    def _show_account(self, item: Any) -> None:
        self._current = item
        self._details_generation += 1
        self.form_message.clear()
        if item is None:
            self.borrower_label.setText("No account selected")
            self.loan_label.clear()
            for label in self.figures.values():
                label.setText(formatting.DASH)
            self.contacts_model.set_rows([])
            self.promises_model.set_rows([])
            self.guardrails_label.clear()
            self._enable_account(False)
            return
        self._enable_account(True)
        self.borrower_label.setText(item.borrower or "(no borrower)")
        self.loan_label.setText(f"{item.loan_number}  \N{MIDDLE DOT}  {item.product}  \N{MIDDLE DOT}  "
                                f"score {item.score}")
        self.badge.set_status(item.bucket, item.days_past_due, "active")
        self.figures["phone"].setText(item.phone or formatting.DASH)
        self.figures["amount_due"].setText(formatting.money(item.amount_due))
        self.figures["principal"].setText(formatting.money(item.principal))
        self.figures["next_due"].setText(formatting.day(item.next_due))
        last = formatting.instant(item.last_contact)
        if item.last_outcome:
            last += f" ({formatting.words(item.last_outcome).lower()})"
        self.figures["last_contact"].setText(last)
        flags = flags_text(item)
        self.figures["flags"].setText(flags or "None")
        self.figures["flags"].setStyleSheet("color: #a00000; font-weight: bold;" if flags else "")
        for row in self.promise_rows:
            row.amount_edit.clear()
        first = self.promise_rows[0]
        first.amount_edit.set_value(item.amount_due)
        self._reset_promise_dates()
        self._load_details(item.loan_number)
        self._check_guardrails()

    def _reset_promise_dates(self) -> None:
        today = self.workspace.business_date
        earliest = today + timedelta(days=1)
        days = getattr(self.service, "MAX_PROMISE_DAYS", 60)
        for index, row in enumerate(self.promise_rows):
            row.date_edit.set_range(earliest, today + timedelta(days=days), minimum_name="the day after today",
                                    maximum_name=f"the latest a promise may be ({days} days ahead)")
            row.date_edit.set_value(today + timedelta(days=7 * (index + 1)))

    def _load_details(self, number: str) -> None:
        service, ctx = self.service, self.workspace.ctx
        generation = self._details_generation

        def work() -> tuple[list[Any], list[Any]]:
            return service.contact_history(ctx, number)[:20], service.promises(ctx, number)

        def done(found: tuple[list[Any], list[Any]]) -> None:
            if generation == self._details_generation:
                self.contacts_model.set_rows(found[0])
                self.promises_model.set_rows(found[1])
                fit_columns(self.contacts_table, 24)
                fit_columns(self.promises_table, 16)
                self._enable_corrections()

        self.workspace.tasks.read(work, done, owner=self)

    def _check_guardrails(self) -> None:
        item = self._current
        if item is None or self.service is None:
            return
        service, ctx, number = self.service, self.workspace.ctx, item.loan_number
        channel = self.channel_combo.currentData()
        generation = self._details_generation

        def done(rails: list[Any]) -> None:
            if generation != self._details_generation or channel != self.channel_combo.currentData():
                return
            if not rails:
                self.guardrails_label.setText("")
                self.log_button.setEnabled(self.workspace.can(permissions.LOG_CONTACT))
                return
            lines = []
            for rail in rails:
                kind = "Blocked" if rail.blocking else "Warning"
                lines.append(f"<b>{kind}:</b> {rail.message}")
            colour = "#a00000" if any(r.blocking for r in rails) else "#6b2e00"
            self.guardrails_label.setText(f"<span style='color:{colour}'>" + "<br>".join(lines) + "</span>")
            self.log_button.setEnabled(self.workspace.can(permissions.LOG_CONTACT)
                                       and not any(r.blocking for r in rails))

        self.workspace.tasks.read(lambda: service.check_contact(ctx, number, channel), done, owner=self)

    def _outcome_changed(self) -> None:
        promise = self.outcome_combo.currentData() == "promise_to_pay"
        self.promise_box.setVisible(promise)

    # ------------------------------------------------------------ logging
    def promises_entered(self) -> list[tuple[Any, Decimal]] | None:
        """The promised (date, amount) pairs; None (and a message) when one is half filled."""
        plan = []
        for index, row in enumerate(self.promise_rows, start=1):
            amount = row.amount_edit.value()
            if amount is None:
                if row.amount_edit.text().strip():
                    self.form_message.setText(f"Promise {index}: the amount is not an amount.")
                    return None
                continue
            if amount <= 0:
                self.form_message.setText(f"Promise {index}: the amount must be more than zero.")
                return None
            day = row.date_edit.value()
            if day is None:
                self.form_message.setText(row.date_edit.problem() or f"Promise {index}: type the date promised.")
                row.date_edit.setFocus()
                return None
            plan.append((day, amount))
        return plan

    def log_contact(self, override_reason: str | None = None) -> None:
        item = self._current
        if item is None or self.service is None or not self.log_button.isEnabled():
            return
        outcome = self.outcome_combo.currentData()
        plan: list[tuple[Any, Decimal]] = []
        if outcome == "promise_to_pay":
            found = self.promises_entered()
            if found is None:
                return
            if not found:
                self.form_message.setText("A promise to pay needs at least one date and amount.")
                return
            plan = found
        service, ctx, number = self.service, self.workspace.ctx, item.loan_number
        channel, note = self.channel_combo.currentData(), self.note_edit.toPlainText().strip() or None
        next_row = self.table.currentIndex().row() + 1
        following = self.model.row_at(next_row).loan_number if next_row < self.model.rowCount() else None
        self.log_button.setEnabled(False)
        self.form_message.setText("Logging\N{HORIZONTAL ELLIPSIS}")

        def work() -> Any:
            return service.log_contact(ctx, number, channel=channel, outcome=outcome, note=note,
                                       promises=plan or None, override_reason=override_reason)

        def done(logged: Any) -> None:
            self.note_edit.clear()
            promised = "; ".join(f"{formatting.money(p.amount)} on {formatting.day(p.due_date)}"
                                 for p in getattr(logged, "promises", ()))
            self.form_message.setText(f"Logged {formatting.words(outcome).lower()} on {number}"
                                      + (f": promised {promised}." if promised else "."))
            self.contact_logged.emit(logged)
            # On to the next account; the queue reloads (a promised account leaves it).
            self._select_after_load = following or number
            self.refresh()

        def failed(exc: BaseException) -> None:
            self.log_button.setEnabled(True)
            if isinstance(exc, NeedsConfirmation) and override_reason is None:
                self.form_message.clear()
                dialog = OverrideDialog(str(exc), self)
                dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
                dialog.accepted.connect(lambda: self.log_contact(dialog.text()))
                dialog.open()
                return
            self.form_message.setText(error_text(exc))

        self.workspace.tasks.write(work, done, failed, owner=self, label="Logging the contact\N{HORIZONTAL ELLIPSIS}",
                                   change=Change("contact_logged", (number,)))

    # ------------------------------------------------------------ other actions
    def _open_account(self) -> None:
        number = self.current_loan()
        window = self.window()
        if number and hasattr(window, "open_account"):
            window.open_account(number)

    def print_notices(self, kind: str) -> None:
        """Issue ``kind`` for the selected accounts and show them to print; marked printed once the printer took them."""
        letters = self._letters
        numbers = self.selected_loans()
        if letters is None or not numbers:
            return
        ctx = self.workspace.ctx
        words = kind.replace("-", " ")

        def done(run: Any) -> None:
            dropped = [f"{d.loan_number}: {d.reason}" for d in run.dropped]
            text = f"Issued {len(run.records)} {words}(s); print them from the preview."
            if dropped:
                text += f" Not issued: {'; '.join(dropped)}."
            self.form_message.setText(text)
            if run.pdf_bytes:
                ids = [r.id for r in run.records]
                self.show_document(run.pdf_bytes, f"{len(run.records)} {words}(s)",
                                   f"Recorded in each account's history; {run.pages} pages, the stored letters "
                                   "joined.", ids)

        self.workspace.tasks.write(
            lambda: letters.print_selected(ctx, kind, numbers), done, lambda exc: show_error(self, exc), owner=self,
            label="Preparing the notices\N{HORIZONTAL ELLIPSIS}",
            change=Change("letter_issued", tuple(numbers)))

    def print_queue(self) -> None:
        """Print the letters end of day queued: issue what is queued, then the stored PDFs of all waiting, joined."""
        letters = self._letters
        if letters is None:
            return
        ctx = self.workspace.ctx

        def work() -> Any:
            run = letters.run_queued(ctx)
            return run, letters.queued_batch(ctx), letters.queued_batch(ctx, duplex=True)

        def done(result: Any) -> None:
            run, batch, duplex = result
            dropped = f" {len(run.dropped)} dropped (cured or stopped)." if run.dropped else ""
            if not batch.letter_ids:
                inform(self, f"No queued letters are waiting to print.{dropped}")
                return
            count = len(batch.letter_ids)
            self.show_document(batch.pdf_bytes, f"Letter queue: {count} letter{'s' if count != 1 else ''}",
                               f"{batch.pages} pages: the stored letters joined, exactly as recorded.{dropped} "
                               "They are marked printed once the printer takes them.",
                               list(batch.letter_ids), duplex.pdf_bytes)

        self.workspace.tasks.write(work, done, lambda exc: show_error(self, exc), owner=self,
                                   label="Preparing the letter queue\N{HORIZONTAL ELLIPSIS}",
                                   change=Change("letter_issued", ()))

    def show_document(self, pdf: bytes, title: str, note: str, letter_ids: list[int],
                      duplex_pdf: bytes | None = None) -> LetterPreviewDialog:
        dialog = LetterPreviewDialog(self, pdf, title, note=note, duplex_data=duplex_pdf, document_name=title)
        dialog.printed.connect(lambda _pages: self._mark_printed(letter_ids, dialog))
        self.preview_dialog = dialog
        dialog.show_preview()
        return dialog

    def _mark_printed(self, letter_ids: list[int], dialog: LetterPreviewDialog) -> None:
        letters = self._letters
        ctx = self.workspace.ctx

        def done(result: Any) -> None:
            text = f"Marked {len(result.letter_ids)} letter(s) printed"
            text += f"; {result.contacts} logged as contacts." if result.contacts else "."
            self.form_message.setText(text)
            if dialog is not None:
                try:
                    dialog.status_label.setText(dialog.status_label.text() + " " + text)
                except RuntimeError:  # the dialog was closed meanwhile
                    pass

        self.workspace.tasks.write(lambda: letters.mark_printed(ctx, letter_ids), done,
                                   lambda exc: show_error(self, exc), owner=self,
                                   label="Recording the print\N{HORIZONTAL ELLIPSIS}",
                                   change=Change("contact_logged", ()))

    # ------------------------------------------------------------ corrections
    def _selected(self, table: Any, model: Any) -> Any:
        rows = table.selectionModel().selectedRows()
        return model.row_at(rows[0].row()) if rows else None

    def _enable_corrections(self) -> None:
        contact = self._selected(self.contacts_table, self.contacts_model)
        promise = self._selected(self.promises_table, self.promises_model)
        may = self.workspace.can(permissions.LOG_CONTACT)
        self.correct_contact_button.setEnabled(may and contact is not None and contact.corrected_by_id is None)
        self.correct_promise_button.setEnabled(may and promise is not None and promise.status == "open")

    def correct_selected(self, *, promise: bool) -> None:
        """Open the correction dialog for the selected contact (or promise)."""
        record = (self._selected(self.promises_table, self.promises_model) if promise
                  else self._selected(self.contacts_table, self.contacts_model))
        if record is None or not self.workspace.can(permissions.LOG_CONTACT):
            return
        dialog = CorrectionDialog(self.workspace, self.service, record, promise=promise, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.corrected.connect(self._corrected)
        self.correction_dialog = dialog
        dialog.open()

    def _corrected(self, result: Any) -> None:
        self.form_message.setText(
            f"Correction recorded: #{result.corrected_id} is kept, struck through, and "
            f"#{result.promise.id if hasattr(result, 'promise') else result.contact.id} counts instead.")
        if self._current is not None and self._current.loan_number == result.loan_number:
            self._details_generation += 1
            self._load_details(result.loan_number)

    def apply_change(self, change: Change) -> None:
        if change.kind in ("payment_posted", "payment_reversed", "batch_posted", "day_closed", "flags_changed"):
            self.refresh()

    def save_state(self) -> None:
        if self.service is not None:
            save_header(self.workspace.settings, "collections/queueHeader2", self.table)
            self.workspace.settings.setValue("collections/collector",
                                             MINE if self.collector_combo.currentData() == MINE else "")
            self.workspace.settings.setValue("collections/splitter", self.splitter.saveState())

