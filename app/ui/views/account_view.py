"""The account: who, what is owed, and every entry, as of any date.

Header: borrower, loan number, product, status and days past due (a badge
with colour *and* words).  Tabs: summary, schedule, ledger (every entry with
its allocation; reversals linked to their originals; Reverse for permitted
users), borrower and contacts, notes and contact log, letters, audit history.
The "as of" date shows the whole account on any past date, by effective
date, from everything recorded up to now (accounts.account(..., as_of)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.services import accounts, permissions, personal
from app.services import flags as flag_service
from app.services.account_page import AccountPage, account_page
from app.services.accounts import LedgerLine
from app.services.personal import Revealed
from app.services.search import Party
from app.ui import formatting, optional
from app.ui.dialogs.adjust_dialog import AdjustDialog
from app.ui.dialogs.borrower_dialog import BorrowerDialog
from app.ui.dialogs.fee_dialog import FeeDialog
from app.ui.dialogs.flag_dialog import FlagDialog
from app.ui.dialogs.letter_options_dialog import NEEDS_OPTIONS, LetterOptionsDialog
from app.ui.dialogs.letter_preview_dialog import LetterPreviewDialog
from app.ui.dialogs.refund_dialog import RefundDialog
from app.ui.dialogs.reverse_dialog import ReverseDialog
from app.ui.dialogs.terms_dialog import TermsDialog
from app.ui.dialogs.waive_dialog import WaiveDialog
from app.ui.dialogs.write_off_dialog import WriteOffDialog
from app.ui.export import TableExport, add_export
from app.ui.messages import error_text, show_error
from app.ui.models.audit_table_model import AuditTableModel
from app.ui.models.contact_table_model import (
    ContactsTableModel,
    NotesTableModel,
    PromisesTableModel,
)
from app.ui.models.ledger_table_model import KINDS, LedgerFilterProxy, LedgerTableModel
from app.ui.models.record_table_model import Column, RecordTableModel
from app.ui.models.schedule_table_model import ScheduleTableModel
from app.ui.views.view import View
from app.ui.widgets.date_edit import DateEdit
from app.ui.widgets.status_badge import StatusBadge
from app.ui.widgets.table import fit_columns, make_table, restore_header, save_header
from app.ui.workers import Change
from app.ui.workspace import Workspace

#: Everything the account view shows, read in one unit of work by one background job.
AccountData = AccountPage


def load_account(ctx: Any, loan_number: str, as_of: date | None) -> AccountPage:
    """Run on a read worker: the one read service for the whole page."""
    return account_page(ctx, loan_number, as_of)


def letters_note(data: AccountPage) -> str:
    """The letters tab's line: what was sent, and what waits for the next letter run (end of day's statements)."""
    text = ("Letters sent to this borrower, newest first. Open one to see the PDF exactly as sent."
            if data.letters else "No letter has been sent yet.")
    waiting = []
    for item in getattr(data, "queued_letters", ()):
        what = formatting.words(item.kind.replace("-", " "))
        if item.cycle_due is not None:
            what += f" for the payment due {formatting.day(item.cycle_due)}"
        waiting.append(f"{what} (queued {formatting.day(item.queued_on)})")
    if waiting:
        text += " Waiting for the next letter run: " + "; ".join(waiting) + "."
    return text


#: Where the ledger's column layout is kept (2: the running principal column and sorting, issue 11).
LEDGER_HEADER = "account/ledgerHeader2"


class LettersTableModel(RecordTableModel[Any]):
    """letters.LetterRecord rows, newest first."""

    columns = (
        Column("Date", lambda r: r.letter_date, "date"),
        Column("Letter", lambda r: r.kind, text=lambda r: formatting.words(r.kind.replace("-", " "))),
        Column("By", lambda r: r.user),
        Column("Recorded", lambda r: r.created_at, "datetime"),
        Column("Batch run", lambda r: r.run_id, text=lambda r: "yes" if r.run_id else ""),
        Column("Size", lambda r: r.size, "int", text=lambda r: f"{r.size / 1024:,.0f} KB"),
        Column("Number", lambda r: r.id, "id"),
    )


def _figure(name: str) -> QLabel:
    label = QLabel(formatting.DASH)
    label.setObjectName(f"figure_{name}")
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class AccountView(View):
    title = "Account"
    shortcut = "Ctrl+2"

    #: Ask the main window for payment entry on this loan.
    post_payment_requested = Signal(str)
    #: Emitted after an account has been shown (tests, benchmarks).
    account_shown = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(workspace, parent)
        self.setObjectName("accountView")
        self.loan_number: str | None = None
        self.data: AccountData | None = None
        self._generation = 0

        # ---------------------------------------------------------- header
        self.empty_label = QLabel("Find an account with the search box above (Ctrl+F): loan number, "
                                  "borrower name, phone or the last four digits of an SSN.")
        self.empty_label.setObjectName("accountEmpty")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.borrower_label = QLabel()
        self.borrower_label.setObjectName("borrowerLabel")
        font = self.borrower_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.45)
        font.setBold(True)
        self.borrower_label.setFont(font)
        self.borrower_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.loan_label = QLabel()
        self.loan_label.setObjectName("loanLabel")
        self.loan_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.badge = StatusBadge()
        self.as_of_edit = DateEdit(field="As of")
        self.as_of_edit.setObjectName("asOfDate")
        self.as_of_edit.setToolTip("Show the whole account as of this date (by effective date)")
        self.today_button = QPushButton("To&day")
        self.today_button.setObjectName("asOfToday")
        self.today_button.setToolTip("Back to the open business date")
        self.post_button = QPushButton("&Post payment\N{HORIZONTAL ELLIPSIS}")
        self.post_button.setObjectName("accountPostPayment")
        self.post_button.setToolTip("Post a payment to this account (Ctrl+P)")
        self.post_button.setVisible(workspace.can(permissions.POST_PAYMENT))
        self.terms_button = QPushButton("Change &terms\N{HORIZONTAL ELLIPSIS}")
        self.terms_button.setObjectName("changeTerms")
        self.terms_button.setToolTip("Change the rate, payment, remaining term or next due date, "
                                     "seeing what changes before it is done")
        # Hidden, not just disabled: a user who may never change terms should not see the action.
        self.terms_button.setVisible(workspace.can(permissions.CHANGE_TERMS))
        self._build_actions_menu(workspace)
        self.as_of_note = QLabel()
        self.as_of_note.setObjectName("asOfNote")
        self.as_of_note.setStyleSheet("color: #6b2e00;")

        names = QVBoxLayout()
        names.setSpacing(2)
        names.addWidget(self.borrower_label)
        names.addWidget(self.loan_label)
        names.addWidget(self.as_of_note)
        controls = QGridLayout()
        controls.addWidget(self.badge, 0, 0, 1, 3, Qt.AlignmentFlag.AlignRight)
        controls.addWidget(QLabel("&As of:"), 1, 0, Qt.AlignmentFlag.AlignRight)
        controls.itemAtPosition(1, 0).widget().setBuddy(self.as_of_edit)  # type: ignore[union-attr]
        controls.addWidget(self.as_of_edit, 1, 1)
        controls.addWidget(self.today_button, 1, 2)
        # One row of actions, so the ledger keeps its height at 1366x768 (issue 11).
        actions_row = QHBoxLayout()
        actions_row.addStretch(1)
        for button in (self.post_button, self.terms_button, self.actions_button):
            actions_row.addWidget(button)
        controls.addLayout(actions_row, 2, 0, 1, 3)
        header = QFrame()
        header.setObjectName("accountHeader")
        header.setFrameShape(QFrame.Shape.StyledPanel)
        header_layout = QHBoxLayout(header)
        header_layout.addLayout(names, 1)
        header_layout.addLayout(controls)

        # ---------------------------------------------------------- tabs
        self.tabs = QTabWidget()
        self.tabs.setObjectName("accountTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._summary_tab(), "&Summary")
        self.schedule_model = ScheduleTableModel(self)
        self.schedule_table = make_table(self.schedule_model, name="scheduleTable")
        self.exports: dict[str, TableExport] = {}
        self.tabs.addTab(self._with_note(self.schedule_table, "The note's schedule as boarded: what the loan "
                                         "does if every installment is paid on its due date.",
                                         self._export("schedule", self.schedule_table, "Schedule")), "Sc&hedule")
        self.tabs.addTab(self._ledger_tab(), "&Ledger")
        self.tabs.addTab(self._borrower_tab(), "&Borrower")
        self.tabs.addTab(self._notes_tab(), "&Notes && contacts")
        self.tabs.addTab(self._letters_tab(), "L&etters")
        self.audit_model = AuditTableModel(self)
        self.audit_table = make_table(self.audit_model, name="auditTable")
        self.tabs.addTab(self._with_note(self.audit_table, "Every recorded action on this loan, newest first.",
                                         self._export("audit", self.audit_table, "Audit history")), "A&udit")

        self.body = QWidget()
        body_layout = QVBoxLayout(self.body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addWidget(header)
        body_layout.addWidget(self.tabs, 1)
        self.error_label = QLabel()
        self.error_label.setObjectName("accountError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #a00000;")
        self.error_label.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(self.error_label)
        layout.addWidget(self.empty_label, 1)
        layout.addWidget(self.body, 1)
        self.body.hide()

        self._as_of_timer = QTimer(self)
        self._as_of_timer.setSingleShot(True)
        self._as_of_timer.setInterval(300)
        self._as_of_timer.timeout.connect(self.refresh)
        self._set_date_limits()
        self.as_of_edit.value_changed.connect(lambda d: self._as_of_timer.start() if d is not None else None)
        self.today_button.clicked.connect(self.show_today)
        self.terms_button.clicked.connect(self.change_terms)
        self.post_button.clicked.connect(lambda: self.loan_number and self.post_payment_requested.emit(self.loan_number))
        workspace.business_date_changed.connect(self._set_date_limits)
        restore_header(workspace.settings, LEDGER_HEADER, self.ledger_table)

    # ------------------------------------------------------------ the Actions menu
    #: (object name, menu text, permission, dialog opener name): every servicing action on one loan (issue 11).
    DESK_ACTIONS = (
        ("assessFeeAction", "&Assess a fee\N{HORIZONTAL ELLIPSIS}", permissions.ASSESS_FEE, "assess_fee"),
        ("waiveFeeAction", "&Waive a fee\N{HORIZONTAL ELLIPSIS}", permissions.WAIVE_FEE, "waive_fee"),
        ("adjustAction", "Adjust &principal\N{HORIZONTAL ELLIPSIS}", permissions.ADJUST, "adjust_principal"),
        ("refundAction", "Pay a &refund\N{HORIZONTAL ELLIPSIS}", permissions.REFUND, "pay_refund"),
        ("writeOffAction", "Write off a &small balance\N{HORIZONTAL ELLIPSIS}", permissions.WRITE_OFF,
         "write_off"),
        ("hardshipAction", "&Hardship flag\N{HORIZONTAL ELLIPSIS}", flag_service.FLAG_PERMISSIONS["hardship"],
         "hardship_flag"),
        ("disputeAction", "&Dispute\N{HORIZONTAL ELLIPSIS}", flag_service.FLAG_PERMISSIONS["dispute"],
         "dispute_flag"),
        ("regFAction", "Regulation &F applicability\N{HORIZONTAL ELLIPSIS}", flag_service.FLAG_PERMISSIONS["reg_f"],
         "reg_f_flag"),
    )

    def _build_actions_menu(self, workspace: Workspace) -> None:
        self.actions_button = QPushButton("A&ctions")
        self.actions_button.setObjectName("accountActions")
        self.actions_button.setToolTip("Fees, waivers, adjustments, refunds, write-offs and flags on this loan")
        self.actions_menu = QMenu(self.actions_button)
        self.actions_menu.setObjectName("accountActionsMenu")
        self.desk_actions: dict[str, QAction] = {}
        for name, text, permission, opener in self.DESK_ACTIONS:
            action = QAction(text, self)
            action.setObjectName(name)
            # Hidden, not just disabled: a user who may never do it should not see the action.
            action.setVisible(workspace.can(permission))
            action.triggered.connect(lambda _checked=False, o=opener: getattr(self, o)())
            if name == "hardshipAction":
                self.actions_menu.addSeparator()
            self.actions_menu.addAction(action)
            self.desk_actions[name] = action
        self.actions_button.setMenu(self.actions_menu)
        self.actions_button.setVisible(any(a.isVisible() for a in self.desk_actions.values()))

    def _open(self, dialog: Any) -> Any:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _may(self, name: str) -> bool:
        permission = next(p for n, _t, p, _o in self.DESK_ACTIONS if n == name)
        return self.loan_number is not None and self.workspace.can(permission)

    def assess_fee(self) -> FeeDialog | None:
        return self._open(FeeDialog(self.workspace, self.loan_number, self)) if self._may("assessFeeAction") else None

    def waive_fee(self) -> WaiveDialog | None:
        return self._open(WaiveDialog(self.workspace, self.loan_number, self)) if self._may("waiveFeeAction") else None

    def adjust_principal(self) -> AdjustDialog | None:
        return self._open(AdjustDialog(self.workspace, self.loan_number, self)) if self._may("adjustAction") else None

    def pay_refund(self) -> RefundDialog | None:
        return self._open(RefundDialog(self.workspace, self.loan_number, self)) if self._may("refundAction") else None

    def write_off(self) -> WriteOffDialog | None:
        if not self._may("writeOffAction"):
            return None
        return self._open(WriteOffDialog(self.workspace, self.loan_number, self))

    def _flag(self, name: str, flag: str) -> FlagDialog | None:
        if not self._may(name):
            return None
        return self._open(FlagDialog(self.workspace, self.loan_number, flag, self))

    def hardship_flag(self) -> FlagDialog | None:
        return self._flag("hardshipAction", "hardship")

    def dispute_flag(self) -> FlagDialog | None:
        return self._flag("disputeAction", "dispute")

    def reg_f_flag(self) -> FlagDialog | None:
        return self._flag("regFAction", "reg_f")

    # ------------------------------------------------------------ building tabs
    def _with_note(self, widget: QWidget, note: str, export: TableExport | None = None) -> QWidget:
        holder = QWidget()
        layout = QVBoxLayout(holder)
        label = QLabel(note)
        label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(label, 1)
        if export is not None:
            row.addWidget(export.button())
        layout.addLayout(row)
        layout.addWidget(widget, 1)
        return holder

    # ------------------------------------------------------------ export and copy (issue 13)
    def _export(self, key: str, table: QTableView, name: str,
                more: Callable[[], list[tuple[str, str]]] | None = None) -> TableExport:
        """Copy (Ctrl+C) and Export... (Ctrl+E) on one of the account's tables; the file names the loan."""
        export = add_export(table, self.workspace, lambda: f"{name} {self.loan_number or ''}".strip(),
                            lambda: self.export_filters() + (more() if more is not None else []))
        self.exports[key] = export
        return export

    def export_filters(self) -> list[tuple[str, str]]:
        """The account an export is of, and the date it is shown as of."""
        if self.data is None:
            return []
        account = self.data.account
        return [("Loan", account.loan_number), ("Borrower", account.borrower or ""),
                ("Product", account.product), ("As of", account.snapshot.as_of.isoformat())]

    def _ledger_filters(self) -> list[tuple[str, str]]:
        shown = [("Show", self.ledger_kind.currentText())]
        if self.ledger_filter.text().strip():
            shown.append(("Filter", self.ledger_filter.text().strip()))
        return shown

    def _summary_tab(self) -> QWidget:
        self.figures: dict[str, QLabel] = {}

        def group(title: str, rows: list[tuple[str, str]]) -> QGroupBox:
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for name, label in rows:
                self.figures[name] = _figure(name)
                form.addRow(label, self.figures[name])
            return box

        balances = group("Balances", [
            ("principal", "Principal"), ("accrued_interest", "Accrued interest"), ("fees", "Fees"),
            ("suspense", "Suspense (unapplied)"), ("refund_due", "Refund due"),
            ("payoff", "Payoff"), ("per_diem", "Per diem after that"),
        ])
        payments = group("Payments", [
            ("amount_due", "Amount due now"), ("next_due", "Next due date"), ("next_payment", "Next payment"),
            ("paid_through", "Paid through"), ("days_past_due", "Days past due"), ("status", "Status"),
            ("last_payment", "Last payment"), ("maturity", "Maturity date"),
        ])
        interest = group("Interest paid", [
            ("interest_paid_ytd", "This year to date"), ("interest_paid_last_year", "Last year"),
        ])
        self.interest_box = interest
        terms = group("Terms", [
            ("original_principal", "Original principal"), ("rate", "Interest rate"), ("term", "Term"),
            ("scheduled_payment", "Scheduled payment"), ("start", "Funded"), ("first_due", "First due"),
            ("interest_method", "Interest method"), ("day_count", "Day count"), ("late_fee", "Late fee"),
        ])
        self.collateral_label = self._words_label("collateralText")
        self.co_borrowers_label = self._words_label("coBorrowersText")
        collateral = QGroupBox("Collateral")
        QVBoxLayout(collateral).addWidget(self.collateral_label)
        people = QGroupBox("Co-borrowers and guarantors")
        QVBoxLayout(people).addWidget(self.co_borrowers_label)
        page = QWidget()
        grid = QGridLayout(page)
        grid.addWidget(balances, 0, 0)
        grid.addWidget(payments, 0, 1)
        grid.addWidget(terms, 0, 2)
        grid.addWidget(interest, 1, 0)
        grid.addWidget(collateral, 1, 1)
        grid.addWidget(people, 1, 2)
        for column in range(3):
            grid.setColumnStretch(column, 1)
        grid.setRowStretch(2, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(page)
        return scroll

    @staticmethod
    def _words_label(name: str) -> QLabel:
        label = QLabel(formatting.DASH)
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _ledger_tab(self) -> QWidget:
        self.ledger_model = LedgerTableModel(self)
        # Sorted by a clicked header and filtered through a proxy; the model keeps the ledger's date order.
        self.ledger_proxy = LedgerFilterProxy(self.ledger_model, self)
        self.ledger_table = make_table(self.ledger_proxy, name="ledgerTable", sortable=True)
        self.ledger_table.horizontalHeader().setSortIndicatorShown(True)
        self.ledger_kind = QComboBox()
        self.ledger_kind.setObjectName("ledgerKind")
        for key, words, _types in KINDS:
            self.ledger_kind.addItem(words, key)
        self.ledger_kind.setToolTip("Show one kind of entry")
        self.ledger_filter = QLineEdit()
        self.ledger_filter.setObjectName("ledgerFilter")
        self.ledger_filter.setPlaceholderText("Filter: any words shown in a line (a reference, an amount, a user)")
        self.ledger_filter.setClearButtonEnabled(True)
        self.ledger_count = QLabel()
        self.ledger_count.setObjectName("ledgerCount")
        self.ledger_kind.currentIndexChanged.connect(self._filter_ledger)
        self.ledger_filter.textChanged.connect(self._filter_ledger)
        self.ledger_order_button = QPushButton("Date &order")
        self.ledger_order_button.setObjectName("ledgerDateOrder")
        self.ledger_order_button.setToolTip("Back to the ledger's own order: by effective date, as the engine applies it")
        self.ledger_order_button.clicked.connect(self.ledger_date_order)
        # Right-click a header to show or hide columns; a choice made there wins over the automatic hiding.
        self._ledger_columns_chosen: dict[str, bool] = {}
        ledger_header = self.ledger_table.horizontalHeader()
        ledger_header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        ledger_header.setToolTip("Click to sort; right-click to choose the columns")
        ledger_header.customContextMenuRequested.connect(self._ledger_columns_menu)
        self.ledger_table.doubleClicked.connect(self._follow_link)
        self.reverse_button = QPushButton("&Reverse payment\N{HORIZONTAL ELLIPSIS}")
        self.reverse_button.setObjectName("reverseButton")
        self.reverse_button.setToolTip("Reverse the selected payment: a returned check, a posting error (Ctrl+R)")
        self.reverse_action = QAction("&Reverse payment\N{HORIZONTAL ELLIPSIS}", self)
        self.reverse_action.setObjectName("reverseAction")
        self.reverse_action.setShortcut(QKeySequence("Ctrl+R"))
        self.reverse_action.triggered.connect(self.reverse_selected)
        allowed = self.workspace.can(permissions.REVERSE)
        # Hidden, not just disabled: a user who may never reverse should not see the action.
        self.reverse_button.setVisible(allowed)
        self.reverse_action.setVisible(allowed)
        self.reverse_action.setEnabled(False)
        self.reverse_button.setEnabled(False)
        self.reverse_button.clicked.connect(self.reverse_selected)
        self.ledger_hint = QLabel("Struck-through payments were reversed; they show how they were applied when "
                                  "received. Double-click a reversal to find its payment, or an adjusting entry to find "
                                  "its cause; the Note column says why each adjusting entry was booked.")
        self.ledger_hint.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.ledger_hint, 1)
        buttons.addWidget(self.reverse_button)
        filters = QHBoxLayout()
        show = QLabel("Sho&w:")
        show.setBuddy(self.ledger_kind)
        filters.addWidget(show)
        filters.addWidget(self.ledger_kind)
        filter_label = QLabel("F&ilter:")
        filter_label.setBuddy(self.ledger_filter)
        filters.addWidget(filter_label)
        filters.addWidget(self.ledger_filter, 1)
        filters.addWidget(self.ledger_count)
        filters.addWidget(self.ledger_order_button)
        filters.addWidget(self._export("ledger", self.ledger_table, "Ledger", self._ledger_filters).button())
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(buttons)
        layout.addLayout(filters)
        layout.addWidget(self.ledger_table, 1)
        self.ledger_table.selectionModel().selectionChanged.connect(self._ledger_selection)
        return page

    def _borrower_tab(self) -> QWidget:
        self.parties_box = QWidget()
        self.parties_layout = QHBoxLayout(self.parties_box)
        self.parties_layout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        text = ("Edit changes a borrower's name, address, phones, e-mail and contact flags; every change "
                "is recorded in the audit history." if self.workspace.can(permissions.EDIT_BORROWER)
                else "Borrowers, co-borrowers and guarantors on this loan.")
        if self.workspace.can(permissions.REVEAL_PERSONAL):
            text += " The SSN/TIN and date of birth are masked; showing them records who looked."
        note = QLabel(text)
        note.setObjectName("borrowerEditNote")
        note.setWordWrap(True)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(note)
        layout.addWidget(self.parties_box, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(page)
        return scroll

    def _notes_tab(self) -> QWidget:
        self.notes_model = NotesTableModel(self)
        self.contacts_model = ContactsTableModel(self)
        self.promises_model = PromisesTableModel(self)
        self.notes_table = make_table(self.notes_model, name="notesTable")
        self.contacts_table = make_table(self.contacts_model, name="contactsTable")
        self.promises_table = make_table(self.promises_model, name="promisesTable")
        self._export("notes", self.notes_table, "Notes")
        self._export("contacts", self.contacts_table, "Contact log")
        self._export("promises", self.promises_table, "Promises")
        self.contacts_note = QLabel()
        self.contacts_note.setWordWrap(True)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("notesSplitter")
        for title, table in (("Contact log", self.contacts_table), ("Promises to pay", self.promises_table),
                             ("Notes", self.notes_table)):
            box = QGroupBox(title)
            box_layout = QVBoxLayout(box)
            box_layout.addWidget(table)
            if table is self.notes_table:
                box_layout.addWidget(self._note_entry())
            splitter.addWidget(box)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.contacts_note)
        layout.addWidget(splitter, 1)
        return page

    def _note_entry(self) -> QWidget:
        """The "Add note" box under the notes (append-only: a correction is a new note)."""
        self.note_edit = QPlainTextEdit()
        self.note_edit.setObjectName("noteEdit")
        self.note_edit.setPlaceholderText("A note for this account: what was said, what was agreed, what to do next")
        self.note_edit.setTabChangesFocus(True)
        self.note_edit.setFixedHeight(self.note_edit.fontMetrics().lineSpacing() * 3 + 12)
        self.add_note_button = QPushButton("A&dd note")
        self.add_note_button.setObjectName("addNote")
        self.add_note_button.setToolTip("Add the note to this account; notes cannot be edited afterwards")
        self.add_note_button.setEnabled(False)
        self.note_error = QLabel()
        self.note_error.setObjectName("noteError")
        self.note_error.setWordWrap(True)
        self.note_error.setStyleSheet("color: #a00000;")
        self.note_error.hide()
        self.note_edit.textChanged.connect(
            lambda: self.add_note_button.setEnabled(bool(self.note_edit.toPlainText().strip())))
        self.add_note_button.clicked.connect(self.add_note)
        holder = QWidget()
        holder.setObjectName("noteEntry")
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.note_edit, 1)
        row.addWidget(self.add_note_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(row)
        layout.addWidget(self.note_error)
        # Hidden, not just disabled, for a user who may not add notes.
        holder.setVisible(self.workspace.can(permissions.ADD_NOTE))
        return holder

    def add_note(self) -> None:
        text = self.note_edit.toPlainText().strip()
        if not text or self.loan_number is None or not self.workspace.can(permissions.ADD_NOTE):
            return
        ctx, number = self.workspace.ctx, self.loan_number
        self.add_note_button.setEnabled(False)

        def done(_note_id: int) -> None:
            self.note_error.hide()
            self.note_edit.clear()

        def failed(exc: BaseException) -> None:
            self.note_error.setText(error_text(exc))
            self.note_error.show()
            self.add_note_button.setEnabled(bool(self.note_edit.toPlainText().strip()))

        # The Change refreshes the account (and so the notes list) in every view showing it.
        self.workspace.tasks.write(lambda: accounts.add_note(ctx, number, text), done, failed, owner=self,
                                   label="Adding the note\N{HORIZONTAL ELLIPSIS}",
                                   change=Change("note_added", (number,)))

    def _letters_tab(self) -> QWidget:
        self.letters_model = LettersTableModel(self)
        self.letters_table = make_table(self.letters_model, name="lettersTable")
        self.letters_note = QLabel()
        self.letters_note.setObjectName("lettersNote")
        self.letters_note.setWordWrap(True)
        self.open_letter_button = QPushButton("&Open PDF")
        self.open_letter_button.setObjectName("openLetter")
        self.open_letter_button.setToolTip("The letter exactly as sent (its stored file, checked against its hash)")
        self.open_letter_button.clicked.connect(self._open_letter)
        self.letters_table.doubleClicked.connect(lambda _i: self._open_letter())
        self.letter_kind = QComboBox()
        self.letter_kind.setObjectName("letterKind")
        letters = optional.service("letters")
        for kind in getattr(letters, "KINDS", ()):
            self.letter_kind.addItem(formatting.words(kind.replace("-", " ")), kind)
        self.preview_letter_button = QPushButton("Pre&view")
        self.preview_letter_button.setObjectName("previewLetter")
        self.preview_letter_button.setToolTip("Render the letter as of today without recording it")
        self.issue_letter_button = QPushButton("&Issue letter")
        self.issue_letter_button.setObjectName("issueLetter")
        self.issue_letter_button.setToolTip("Render the letter, record it in the history and open it to print")
        may_print = letters is not None and self.workspace.can(permissions.PRINT_LETTERS)
        for widget in (self.open_letter_button, self.letter_kind, self.preview_letter_button,
                       self.issue_letter_button):
            widget.setVisible(may_print)
        self.preview_letter_button.clicked.connect(lambda: self._letter(issue=False))
        self.issue_letter_button.clicked.connect(lambda: self._letter(issue=True))
        row = QHBoxLayout()
        row.addWidget(self.letters_note, 1)
        row.addWidget(self.letter_kind)
        row.addWidget(self.preview_letter_button)
        row.addWidget(self.issue_letter_button)
        row.addWidget(self.open_letter_button)
        row.addWidget(self._export("letters", self.letters_table, "Letters").button())
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(row)
        layout.addWidget(self.letters_table, 1)
        return page

    # ------------------------------------------------------------ loading
    def _set_date_limits(self, _day: object = None) -> None:
        today = self.workspace.business_date
        self.as_of_edit.blockSignals(True)
        self.as_of_edit.set_range(None, today, maximum_name="the open business date")
        if self.data is None or self.as_of() >= today:
            self.as_of_edit.set_value(today)
        self.as_of_edit.blockSignals(False)

    def as_of(self) -> date:
        return self.as_of_edit.value() or self.workspace.business_date

    def show_today(self) -> None:
        self.as_of_edit.set_value(self.workspace.business_date)

    def open_loan(self, loan_number: str) -> None:
        if loan_number != self.loan_number:
            self.as_of_edit.blockSignals(True)
            self.as_of_edit.set_value(self.workspace.business_date)
            self.as_of_edit.blockSignals(False)
        self.loan_number = loan_number
        self._loaded = True
        self.refresh()

    def refresh(self) -> None:
        if self.loan_number is None:
            return
        self._as_of_timer.stop()
        self._generation += 1
        generation = self._generation
        number, ctx = self.loan_number, self.workspace.ctx
        day = self.as_of()
        as_of = None if day >= self.workspace.business_date else day
        if self.data is None or self.data.account.loan_number != number:
            self.borrower_label.setText(f"Opening {number}\N{HORIZONTAL ELLIPSIS}")

        def done(data: AccountData) -> None:
            if generation == self._generation:
                self._show(data)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self.error_label.setText(error_text(exc))
                self.error_label.show()
                if self.data is None or self.data.account.loan_number != number:
                    self.body.hide()
                    self.empty_label.show()
                    self.loan_number = self.data.account.loan_number if self.data else None

        self.workspace.tasks.read(lambda: load_account(ctx, number, as_of), done, failed, owner=self)

    # ------------------------------------------------------------ showing
    def _show(self, data: AccountData) -> None:
        first_time = self.data is None or self.data.account.loan_number != data.account.loan_number
        self.data = data
        account, snap, terms = data.account, data.account.snapshot, data.account.terms
        self.loan_number = account.loan_number
        self.error_label.hide()
        self.empty_label.hide()
        self.body.show()
        self.borrower_label.setText(account.borrower or "(no borrower on file)")
        self.loan_label.setText(f"{account.loan_number}  \N{MIDDLE DOT}  {account.product}  \N{MIDDLE DOT}  "
                                f"{formatting.words(account.status)}")
        self.badge.set_status(snap.bucket, snap.days_past_due, account.status if account.status != "active"
                              else snap.status)
        past = snap.as_of < account.business_date
        self.as_of_note.setText(f"Showing the account as of {formatting.day(snap.as_of)} (the open business date "
                                f"is {formatting.day(account.business_date)})." if past else "")
        f = self.figures
        for name in ("principal", "accrued_interest", "fees", "suspense", "refund_due", "payoff", "per_diem",
                     "amount_due", "next_payment"):
            f[name].setText(formatting.money(getattr(snap, name)))
        f["next_due"].setText(formatting.day(snap.next_due))
        f["paid_through"].setText(formatting.day(snap.paid_through))
        f["days_past_due"].setText(formatting.days_past_due_text(snap.days_past_due, snap.bucket))
        f["status"].setText(formatting.words(snap.status))
        f["payoff"].parentWidget().layout().labelForField(f["payoff"]).setText(  # type: ignore[union-attr]
            f"Payoff on {formatting.day(snap.as_of)}")
        f["original_principal"].setText(formatting.money(terms.principal))
        f["rate"].setText(f"{terms.rate} %")
        f["term"].setText(f"{terms.term} {formatting.words(terms.frequency).lower()} installments")
        f["scheduled_payment"].setText(formatting.money(data.schedule[0].payment) if data.schedule else formatting.DASH)
        f["start"].setText(formatting.day(terms.start))
        f["first_due"].setText(formatting.day(terms.first_due))
        f["interest_method"].setText(formatting.words(terms.interest))
        f["day_count"].setText(terms.day_count)
        f["late_fee"].setText(self._late_fee_text(terms))
        last = data.last_payment
        f["last_payment"].setText(f"{formatting.money(last.amount)} on {formatting.day(last.effective_date)}"
                                  if last is not None else "None received")
        f["maturity"].setText(formatting.day(data.maturity))
        f["interest_paid_ytd"].setText(formatting.money(data.interest_paid_ytd))
        f["interest_paid_last_year"].setText(formatting.money(data.interest_paid_last_year))
        form = self.interest_box.layout()
        assert isinstance(form, QFormLayout)
        for name, text in (("interest_paid_ytd", f"{data.year} to {formatting.day(snap.as_of)}"),
                           ("interest_paid_last_year", str(data.year - 1))):
            label = form.labelForField(f[name])
            if isinstance(label, QLabel):
                label.setText(text)
        self.collateral_label.setText(self._collateral_text(data) or "None on file")
        roles = {"co_borrower": "co-borrower", "guarantor": "guarantor", "borrower": "borrower"}
        self.co_borrowers_label.setText("\n".join(f"{p.name} ({roles.get(p.role, formatting.words(p.role).lower())})"
                                                   for p in data.co_borrowers) or "None: the borrower alone")

        self.schedule_model.set_rows(data.schedule)
        self.ledger_model.set_rows(account.lines)
        self._count_ledger()
        # Suspense and Refund are shown only on a loan that has used them: the key columns fit at 1366x768.
        for column, spec in enumerate(self.ledger_model.columns):
            if spec.title in ("Suspense", "Refund") and spec.title not in self._ledger_columns_chosen:
                self.ledger_table.setColumnHidden(column, not any(spec.value(line) for line in account.lines))
        self.audit_model.set_rows(data.audit)
        self.notes_model.set_rows(data.notes)
        self._show_parties(data.parties)
        self.contacts_note.setText("Log a call or a promise to pay from the Collections view (Ctrl+5); "
                                   "add a free-text note below.")
        self.contacts_model.set_rows(data.contacts)
        self.promises_model.set_rows(data.promises)
        self.letters_note.setText(letters_note(data))
        self.open_letter_button.setEnabled(bool(data.letters))
        self.letters_model.set_rows(data.letters)
        if first_time:
            for table in (self.schedule_table, self.audit_table, self.notes_table, self.contacts_table,
                          self.promises_table, self.letters_table):
                fit_columns(table)
            if not restore_header(self.workspace.settings, LEDGER_HEADER, self.ledger_table):
                fit_columns(self.ledger_table, 24)
            self.ledger_table.scrollToBottom()
        self._ledger_selection()
        self.account_shown.emit(data)

    @staticmethod
    def _collateral_text(data: AccountPage) -> str:
        """Each item on its own lines: a vehicle's year, make, model and VIN; a property's address."""
        blocks = []
        for item in data.collateral:
            if item.kind == "vehicle":
                lines = [item.title, f"VIN {item.vin}" if item.vin else "VIN not on file"]
            elif item.kind == "real_estate":
                lines = [item.address or item.title]
            else:
                lines = [item.title]
            if item.value is not None:
                lines.append(f"Valued at {formatting.money(item.value)}")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    @staticmethod
    def _late_fee_text(terms: Any) -> str:
        rule = terms.late_fee
        if rule is None:
            return "None"
        if rule.fixed is not None:
            amount = formatting.money(rule.fixed)
        else:
            amount = f"{rule.percent} % of the installment"
            if rule.minimum is not None or rule.maximum is not None:
                amount += f" ({formatting.money(rule.minimum)} to {formatting.money(rule.maximum)})"
        return f"{amount} after {rule.grace_days} days' grace"

    def _show_parties(self, parties: Sequence[Party]) -> None:
        while self.parties_layout.count():
            item = self.parties_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for party in parties:
            box = QGroupBox(f"{formatting.words(party.role)}: {party.name}")
            form = QFormLayout(box)
            rows = [
                ("Address", party.address or formatting.DASH),
                ("Mobile phone", party.mobile_phone or formatting.DASH),
                ("Home phone", party.home_phone or formatting.DASH),
                ("Work phone", party.work_phone or formatting.DASH),
                ("E-mail", party.email or formatting.DASH),
                ("Date of birth", party.date_of_birth_masked or formatting.DASH),
                ("SSN / TIN", party.tax_id_masked or formatting.DASH),
                ("Time zone", party.time_zone),
                ("Cease contact", "Yes: do not contact" if party.cease_contact else "No"),
                ("Attorney", "Yes: contact the attorney only" if party.attorney_represented else "No"),
            ]
            for label, value in rows:
                text = QLabel(value)
                text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                if label in ("Date of birth", "SSN / TIN"):
                    text.setObjectName(f"{'taxId' if label == 'SSN / TIN' else 'birth'}{party.person_id}")
                form.addRow(label, text)
            if (self.workspace.can(permissions.REVEAL_PERSONAL) and party.person_id
                    and (party.tax_id_masked or party.date_of_birth_masked)):
                reveal = QPushButton("Show SSN and &birth date")
                reveal.setObjectName(f"revealParty{party.person_id}")
                reveal.setToolTip("Show the full SSN/TIN and date of birth; each look is recorded in the audit trail")
                reveal.clicked.connect(lambda _checked=False, box=box: self.reveal_personal(box))
                form.addRow("", reveal)
            if self.workspace.can(permissions.EDIT_BORROWER) and party.person_id:
                edit = QPushButton("&Edit\N{HORIZONTAL ELLIPSIS}")
                edit.setObjectName(f"editParty{party.person_id}")
                edit.setToolTip(f"Change {party.name}'s details")
                edit.clicked.connect(lambda _checked=False, p=party: self.edit_party(p))
                form.addRow("", edit)
            self.parties_layout.addWidget(box)

    def reveal_personal(self, box: QGroupBox | None = None) -> None:
        """Show the parties' full SSN/TIN and date of birth (audited, one record a person) in their boxes."""
        if self.loan_number is None or not self.workspace.can(permissions.REVEAL_PERSONAL):
            return
        ctx, number = self.workspace.ctx, self.loan_number

        def done(revealed: list[Revealed]) -> None:
            for person in revealed:
                tax = self.findChild(QLabel, f"taxId{person.person_id}")
                born = self.findChild(QLabel, f"birth{person.person_id}")
                if tax is not None:
                    tax.setText(person.tax_id or formatting.DASH)
                if born is not None:
                    born.setText(formatting.day(person.date_of_birth))
                button = self.findChild(QPushButton, f"revealParty{person.person_id}")
                if button is not None:
                    button.setEnabled(False)
                    button.setText("Shown (recorded in the audit trail)")

        self.workspace.tasks.write(lambda: personal.reveal_parties(ctx, number), done,
                                   lambda exc: show_error(self, exc), owner=self)

    def edit_party(self, party: Party) -> BorrowerDialog | None:
        if self.loan_number is None or not self.workspace.can(permissions.EDIT_BORROWER):
            return None
        dialog = BorrowerDialog(self.workspace, self.loan_number, party, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.conflicted.connect(self.refresh)
        dialog.open()
        return dialog

    # ------------------------------------------------------------ ledger actions
    def selected_line(self) -> LedgerLine | None:
        rows = self.ledger_table.selectionModel().selectedRows()
        return self.ledger_model.row_at(self.ledger_proxy.mapToSource(rows[0]).row()) if rows else None

    def select_ledger_row(self, source_row: int) -> bool:
        """Select the ledger's ``source_row`` (its row in date order), clearing a filter that hides it."""
        index = self.ledger_proxy.mapFromSource(self.ledger_model.index(source_row, 0))
        if not index.isValid() and self.ledger_proxy.filtering:
            self.ledger_filter.clear()
            self.ledger_kind.setCurrentIndex(0)
            index = self.ledger_proxy.mapFromSource(self.ledger_model.index(source_row, 0))
        if not index.isValid():
            return False
        self.ledger_table.selectRow(index.row())
        self.ledger_table.scrollTo(index)
        return True

    def ledger_date_order(self) -> None:
        """Unsort: the ledger by effective date, as the engine applies it."""
        self.ledger_table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.ledger_proxy.sort(-1)

    def ledger_columns_menu(self) -> QMenu:
        """The header's menu: one checkable entry per column (the "#" column always stays)."""
        menu = QMenu(self)
        menu.setObjectName("ledgerColumnsMenu")
        for column, spec in enumerate(self.ledger_model.columns):
            if column == 0:
                continue
            action = menu.addAction(spec.title)
            action.setCheckable(True)
            action.setChecked(not self.ledger_table.isColumnHidden(column))
            action.toggled.connect(lambda on, c=column, t=spec.title: self._choose_ledger_column(c, t, on))
        return menu

    def _ledger_columns_menu(self, position: Any) -> None:
        self.ledger_columns_menu().popup(self.ledger_table.horizontalHeader().mapToGlobal(position))

    def _choose_ledger_column(self, column: int, title: str, shown: bool) -> None:
        self._ledger_columns_chosen[title] = shown
        self.ledger_table.setColumnHidden(column, not shown)

    def _filter_ledger(self, *_args: object) -> None:
        self.ledger_proxy.set_kind(self.ledger_kind.currentData())
        self.ledger_proxy.set_text(self.ledger_filter.text())
        self._count_ledger()

    def _count_ledger(self) -> None:
        shown, total = self.ledger_proxy.rowCount(), self.ledger_model.rowCount()
        self.ledger_count.setText(f"{shown} of {total} lines" if self.ledger_proxy.filtering else f"{total} lines")

    def _ledger_selection(self, *_args: QItemSelection) -> None:
        line = self.selected_line()
        ok = (
            self.workspace.can(permissions.REVERSE)
            and line is not None
            and line.type == "payment"
            and line.entry_id is not None
            and not line.reversed
            and self.ledger_model.reversed_by(line) is None
            and self.data is not None
            and self.data.account.snapshot.as_of >= self.data.account.business_date
        )
        self.reverse_button.setEnabled(ok)
        self.reverse_action.setEnabled(ok)

    def reverse_selected(self) -> None:
        line = self.selected_line()
        if (line is None or not self.workspace.can(permissions.REVERSE) or not self.reverse_button.isEnabled()
                or self.loan_number is None):
            return
        dialog = ReverseDialog(self.workspace, line, self.loan_number, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def change_terms(self) -> TermsDialog | None:
        if self.loan_number is None or not self.workspace.can(permissions.CHANGE_TERMS):
            return None
        dialog = TermsDialog(self.workspace, self.loan_number, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _follow_link(self) -> None:
        line = self.selected_line()
        if line is None:
            return
        # A reversal leads to its original; an adjusting entry to the entry that caused it.
        target = line.reverses_id or line.reapplies_id or line.cause_id or self.ledger_model.reversed_by(line)
        if target is not None:
            row = self.ledger_model.row_of_entry(target)
            if row is not None:
                self.select_ledger_row(row)

    def select_entry(self, entry_id: int) -> bool:
        row = self.ledger_model.row_of_entry(entry_id)
        if row is None:
            return False
        self.tabs.setCurrentIndex(2)
        return self.select_ledger_row(row)

    # ------------------------------------------------------------ letters
    def _open_letter(self) -> None:
        letters = optional.service("letters")
        rows = self.letters_table.selectionModel().selectedRows()
        if letters is None or not rows or not self.workspace.can(permissions.PRINT_LETTERS):
            return
        record = self.letters_model.row_at(rows[0].row())
        letter_id = record.id
        ctx = self.workspace.ctx
        title = f"{formatting.words(record.kind.replace('-', ' '))} {record.letter_date.isoformat()}"
        note = (f"Letter {letter_id} exactly as recorded (SHA-256 {record.file_hash[:12]}\N{HORIZONTAL ELLIPSIS}, "
                "checked); printing it is logged.")
        # A reprint is audited, so it is a write.
        self.workspace.tasks.write(lambda: letters.reprint(ctx, letter_id),
                                   lambda pdf: self.show_letter(pdf, title, note, letter_id), owner=self,
                                   label="Opening the letter\N{HORIZONTAL ELLIPSIS}")

    def show_letter(self, pdf: bytes, title: str, note: str, letter_id: int | None,
                    issue: Any = None) -> LetterPreviewDialog:
        """The preview window: a recorded letter can be printed (then marked printed); a preview can be issued."""
        dialog = LetterPreviewDialog(self, pdf, title, note=note, can_print=letter_id is not None,
                                     issue_text="&Issue letter" if issue is not None else None,
                                     document_name=title)
        if letter_id is not None:
            dialog.printed.connect(lambda _pages: self._mark_printed(letter_id))
        if issue is not None:
            dialog.issue_requested.connect(lambda: (dialog.accept(), issue()))
        self.preview_dialog = dialog
        dialog.show_preview()
        return dialog

    def _mark_printed(self, letter_id: int) -> None:
        letters = optional.service("letters")
        ctx = self.workspace.ctx
        self.workspace.tasks.write(lambda: letters.mark_printed(ctx, [letter_id]), lambda _r: None, owner=self,
                                   label="Recording the print\N{HORIZONTAL ELLIPSIS}",
                                   change=Change("letter_issued", (self.loan_number,)))

    def _letter(self, *, issue: bool, options: dict[str, Any] | None = None) -> None:
        letters = optional.service("letters")
        if letters is None or self.loan_number is None:
            return
        ctx, number, kind = self.workspace.ctx, self.loan_number, self.letter_kind.currentData()
        if options is None and kind in NEEDS_OPTIONS:
            # Payoff good-through date, default notice cure days: asked first (issue 11).
            chooser = LetterOptionsDialog(self, kind, self.workspace.business_date,
                                          good_days=getattr(letters, "PAYOFF_GOOD_DAYS", 10),
                                          cure_days=getattr(letters, "CURE_DAYS", 30))
            chooser.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            chooser.accepted.connect(lambda: self._letter(issue=issue, options=chooser.options()))
            self.options_dialog = chooser
            chooser.open()
            return
        chosen = dict(options or {})
        words = formatting.words(kind.replace("-", " "))

        def issued(record: Any) -> None:
            self.show_letter(record.pdf_bytes, f"{words} for {number}",
                             f"Recorded as letter {record.id} in the account's history; print it from here.",
                             record.id)

        def rendered(result: Any) -> None:
            self.show_letter(result.pdf_bytes, f"{words} for {number} (preview)",
                             "Preview: not recorded and not printable. Issue the letter to record and print it.",
                             None, issue=lambda: self._letter(issue=True, options=chosen))

        def failed(exc: BaseException) -> None:
            show_error(self, exc)

        if issue:
            self.workspace.tasks.write(lambda: letters.issue_letter(ctx, kind, number, **chosen), issued, failed,
                                       owner=self, label="Issuing the letter\N{HORIZONTAL ELLIPSIS}",
                                       change=Change("letter_issued", (number,)))
        else:
            self.workspace.tasks.read(lambda: letters.render_letter(ctx, kind, number, **chosen), rendered, failed,
                                      owner=self, label="Rendering the letter\N{HORIZONTAL ELLIPSIS}")

    # ------------------------------------------------------------ changes
    def apply_change(self, change: Change) -> None:
        if change.touches(self.loan_number) or change.kind in ("day_closed", "batch_posted"):
            self.refresh()

    def save_state(self) -> None:
        save_header(self.workspace.settings, LEDGER_HEADER, self.ledger_table)
