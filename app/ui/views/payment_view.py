"""Post one payment: loan, amount, effective date, method, reference, and a preview first.

Entirely keyboard-driven: Tab or Enter moves to the next field; Ctrl+Enter
(or Ctrl+P, or a click on Post) posts -- but only once the preview on screen
is the preview of exactly what is typed, so the clerk always sees how the
payment will be applied before it is posted.  Enter never posts and the Post
button is not a default button: a stray Enter or space while typing in a
field cannot post anything (issue 11).  A payment dated other than the
business date is confirmed in words first.  A bad loan number, a zero or
negative amount and a date after the open business date are refused on the
spot, in words, with the field outlined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.date_input import distance_in_words, in_words
from app.services import permissions, search, servicing
from app.services.approvals import Approval
from app.services.errors import NeedsApproval, NeedsConfirmation
from app.ui.dialogs.approval_dialog import ask_approval
from app.services.servicing import Posted, Preview
from app.ui import formatting
from app.ui.dialogs.allocation_dialog import REASON_TEXT, AllocationOverrideDialog
from app.ui.messages import confirm, error_field, error_text, mark_problem, preview_detail
from app.ui.views.view import View
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workers import Change
from app.ui.workspace import Workspace
from app.ui.widgets.date_edit import DateEdit

METHOD_TEXT = {"check": "Check", "ach": "ACH", "cash": "Cash", "card": "Card", "money_order": "Money order"}
ALLOCATION_PARTS = ("interest", "principal", "fees", "suspense", "refund")


@dataclass(frozen=True)
class Inputs:
    loan_number: str
    amount: Decimal
    effective_date: date
    method: str
    reference: str | None


class PaymentView(View):
    title = "Payment entry"
    shortcut = "Ctrl+3"

    #: A payment was posted (tests and the status bar).
    payment_posted = Signal(object)
    #: A preview for the current inputs is on screen.
    preview_shown = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(workspace, parent)
        self.setObjectName("paymentView")
        self._preview: Preview | None = None
        self._preview_inputs: Inputs | None = None
        self._generation = 0
        self._posting = False
        #: Loan numbers as the database spells them, keyed by their upper case.
        self._canonical: dict[str, str] = {}
        #: A manager's allocation override: (loan, amount, date) it was made for, the parts, the reason code.
        self._override: tuple[tuple[str, Decimal, date], dict[str, Decimal], str] | None = None
        self._engine_preview: Preview | None = None
        self._engine_inputs: Inputs | None = None

        heading = QLabel("Post a payment")
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        heading.setFont(font)

        self.loan_edit = QLineEdit()
        self.loan_edit.setObjectName("paymentLoan")
        self.loan_edit.setPlaceholderText("KL-000123")
        self.loan_info = QLabel()
        self.loan_info.setObjectName("paymentLoanInfo")
        self.loan_info.setWordWrap(True)
        self.amount_edit = MoneyEdit()
        self.amount_edit.setObjectName("paymentAmount")
        self.date_edit = DateEdit(field="Effective date")
        self.date_edit.setObjectName("paymentDate")
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("paymentMethod")
        for code in servicing.PAYMENT_METHODS:
            self.method_combo.addItem(METHOD_TEXT.get(code, formatting.words(code)), code)
        self.reference_edit = QLineEdit()
        self.reference_edit.setObjectName("paymentReference")
        self.reference_edit.setPlaceholderText("Check number, ACH trace, receipt")
        self.reference_edit.setMaxLength(64)
        width = self.fontMetrics().averageCharWidth() * 28
        for widget in (self.loan_edit, self.amount_edit, self.method_combo, self.reference_edit):
            widget.setMinimumWidth(width)
            widget.setMaximumWidth(width * 2)

        form = QFormLayout()
        form.addRow("&Loan number:", self.loan_edit)
        form.addRow("", self.loan_info)
        form.addRow("&Amount:", self.amount_edit)
        form.addRow("&Effective date:", self.date_edit)
        form.addRow("&Method:", self.method_combo)
        form.addRow("Re&ference:", self.reference_edit)

        self.problem_label = QLabel()
        self.problem_label.setObjectName("paymentProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #a00000;")
        self.post_button = QPushButton("&Post payment")
        self.post_button.setObjectName("postPaymentButton")
        self.post_button.setToolTip("Post exactly as previewed (Ctrl+Enter or Ctrl+P)")
        self.post_button.setEnabled(False)
        # Never a default button: Enter or a stray space in a field must not post (issue 11).
        self.post_button.setAutoDefault(False)
        self.post_button.setDefault(False)
        self.clear_button = QPushButton("C&lear")
        self.clear_button.setObjectName("clearPayment")
        # A manager may apply one payment otherwise than the product's order (keel pay --split).
        self.override_button = QPushButton("O&verride allocation\N{HORIZONTAL ELLIPSIS}")
        self.override_button.setObjectName("overrideAllocation")
        self.override_button.setToolTip("Split this payment between interest, principal, fees and suspense yourself")
        self.override_button.setAutoDefault(False)
        self.override_button.setEnabled(False)
        self.override_button.setVisible(workspace.can(permissions.OVERRIDE_ALLOCATION)
                                        and workspace.can(permissions.POST_PAYMENT))
        buttons = QHBoxLayout()
        buttons.addWidget(self.post_button)
        buttons.addWidget(self.override_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        if not workspace.can(permissions.POST_PAYMENT):
            self.post_button.setVisible(False)
            buttons.addWidget(QLabel("You may preview payments; posting needs the clerk, manager or admin role."))

        entry = QWidget()
        entry_layout = QVBoxLayout(entry)
        entry_layout.addWidget(heading)
        entry_layout.addLayout(form)
        entry_layout.addWidget(self.problem_label)
        entry_layout.addLayout(buttons)
        entry_layout.addStretch(1)

        # ---------------------------------------------------------- preview
        self.preview_box = QGroupBox("How it will be applied")
        self.preview_box.setObjectName("paymentPreview")
        grid = QGridLayout(self.preview_box)
        self.allocation: dict[str, QLabel] = {}
        for row, part in enumerate(ALLOCATION_PARTS):
            grid.addWidget(QLabel(formatting.words(part)), row, 0)
            label = QLabel(formatting.DASH)
            label.setObjectName(f"allocation_{part}")
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(label, row, 1)
            self.allocation[part] = label
        self.override_label = QLabel()
        self.override_label.setObjectName("overrideNote")
        self.override_label.setWordWrap(True)
        self.override_label.setStyleSheet("color: #7a4a00;")
        self.override_label.hide()
        self.remove_override_button = QPushButton("Re&move override")
        self.remove_override_button.setObjectName("removeOverride")
        self.remove_override_button.setAutoDefault(False)
        self.remove_override_button.hide()
        override_row = QHBoxLayout()
        override_row.addWidget(self.override_label, 1)
        override_row.addWidget(self.remove_override_button, 0, Qt.AlignmentFlag.AlignTop)
        grid.addLayout(override_row, len(ALLOCATION_PARTS), 0, 1, 2)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        grid.addWidget(line, len(ALLOCATION_PARTS) + 1, 0, 1, 2)
        self.changes_label = QLabel()
        self.changes_label.setObjectName("paymentChanges")
        self.changes_label.setWordWrap(True)
        self.changes_label.setTextFormat(Qt.TextFormat.RichText)
        grid.addWidget(self.changes_label, len(ALLOCATION_PARTS) + 2, 0, 1, 2)
        grid.setColumnStretch(1, 1)

        self.result_label = QLabel()
        self.result_label.setObjectName("paymentResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.open_account_button = QPushButton("&Open the account")
        self.open_account_button.setObjectName("openPostedAccount")
        self.open_account_button.hide()
        self._last_posted: str | None = None
        result_box = QGroupBox("Last posted")
        result_layout = QVBoxLayout(result_box)
        result_layout.addWidget(self.result_label)
        result_layout.addWidget(self.open_account_button, 0, Qt.AlignmentFlag.AlignLeft)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.preview_box)
        side_layout.addWidget(result_box)
        side_layout.addStretch(1)

        # Two readable columns, not two halves of a wide screen: figures stay next to their labels.
        chars = self.fontMetrics().averageCharWidth()
        entry.setMaximumWidth(chars * 80)
        side.setMaximumWidth(chars * 70)
        layout = QHBoxLayout(self)
        layout.addWidget(entry, 1)
        layout.addWidget(side, 1)
        layout.addStretch(0)

        # ---------------------------------------------------------- behaviour
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._request_preview)
        self._lookup_timer = QTimer(self)
        self._lookup_timer.setSingleShot(True)
        self._lookup_timer.setInterval(250)
        self._lookup_timer.timeout.connect(self._lookup)
        self.loan_edit.textEdited.connect(lambda _t: (self._lookup_timer.start(), self._inputs_changed()))
        self.amount_edit.value_changed.connect(lambda _v: self._inputs_changed())
        self.date_edit.value_changed.connect(lambda _d: self._inputs_changed())
        self.method_combo.currentIndexChanged.connect(lambda _i: self._inputs_changed())
        self.reference_edit.textEdited.connect(lambda _t: self._inputs_changed())
        self.loan_edit.returnPressed.connect(self._loan_entered)
        self.amount_edit.returnPressed.connect(self.date_edit.setFocus)
        self.date_edit.line_edit.returnPressed.connect(self.method_combo.setFocus)
        self.reference_edit.returnPressed.connect(self._last_field_entered)
        self.post_button.clicked.connect(self.post)
        self.clear_button.clicked.connect(lambda: self.start(None))
        self.override_button.clicked.connect(self.override_allocation)
        self.remove_override_button.clicked.connect(lambda: self.set_override(None))
        self.open_account_button.clicked.connect(self._open_posted)
        self.method_combo.installEventFilter(self)
        for sequence in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(sequence), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.post)
        self.setTabOrder(self.loan_edit, self.amount_edit)
        self.setTabOrder(self.amount_edit, self.date_edit)
        self.setTabOrder(self.date_edit, self.method_combo)
        self.setTabOrder(self.method_combo, self.reference_edit)
        self.setTabOrder(self.reference_edit, self.post_button)
        self._reset_date()
        workspace.business_date_changed.connect(self._reset_date)
        self._clear_preview()

    # ------------------------------------------------------------ entry
    def _reset_date(self, _day: object = None) -> None:
        today = self.workspace.business_date
        self.date_edit.set_range(None, today, maximum_name="the open business date")
        self.date_edit.set_value(today)

    def start(self, loan_number: str | None) -> None:
        """Begin a new payment, optionally for ``loan_number``; focus the first empty field."""
        self._override = None
        self.loan_edit.setText(loan_number or "")
        self.amount_edit.clear()
        self.reference_edit.clear()
        self.problem_label.clear()
        self._reset_date()
        self._show_override()
        self._clear_preview()
        mark_problem(self._fields(), None)
        if loan_number:
            self._lookup()
            self.amount_edit.setFocus()
        else:
            self.loan_info.clear()
            self.loan_edit.setFocus()

    def activate(self) -> None:
        super().activate()
        if not self.loan_edit.text():
            self.loan_edit.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt's name
        if event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                    and not event.modifiers() & Qt.KeyboardModifier.ControlModifier
                    and not self.method_combo.view().isVisible()):
                self.reference_edit.setFocus()  # Enter in the method list: the next field, never Post
                return True
        return super().eventFilter(watched, event)

    def _fields(self) -> dict[str, QWidget]:
        """The entry widgets by the field names services use, for outlining a problem."""
        return {"loan_number": self.loan_edit, "loan": self.loan_edit, "amount": self.amount_edit,
                "effective_date": self.date_edit.line_edit,
                "method": self.method_combo, "reference": self.reference_edit}

    def _last_field_entered(self) -> None:
        """Enter in the reference: show the preview (if it is not on screen) and say how to post."""
        if self.preview_is_current():
            self.problem_label.setText("Press Ctrl+Enter (or click Post payment) to post it.")
        else:
            self._timer.stop()
            self._request_preview()

    def unsaved_work(self) -> str | None:
        """A half-typed payment, in words; None when the form is empty (quitting asks first)."""
        number = self.loan_edit.text().strip()
        amount = self.amount_edit.value()
        if not (number or self.amount_edit.text().strip() or self.reference_edit.text().strip()):
            return None
        what = "a payment"
        if amount is not None:
            what += f" of {formatting.money(amount)}"
        if number:
            what += f" to {self._canonical.get(number.upper(), number)}"
        return f"{what} typed in payment entry and not posted"

    def _loan_entered(self) -> None:
        self._lookup_timer.stop()
        self._lookup()
        self.amount_edit.setFocus()

    def inputs(self) -> Inputs | None:
        """What is typed, if it is complete and plausible; else None (and says why)."""
        number = self.loan_edit.text().strip()
        amount = self.amount_edit.value()
        if not number:
            return None
        if amount is None:
            return None
        if amount <= 0:
            self.problem_label.setText("Amount: a payment must be more than zero.")
            return None
        day = self.date_edit.value()
        if day is None:
            self.problem_label.setText(self.date_edit.problem()
                                       or "Effective date: type the date the payment was received.")
            return None
        return Inputs(self._canonical.get(number.upper(), number), amount, day,
                      str(self.method_combo.currentData()), self.reference_edit.text().strip() or None)

    def _inputs_changed(self) -> None:
        self.problem_label.clear()
        mark_problem(self._fields(), None)
        inputs = self.inputs()  # says at once what is wrong (a zero amount, a future date)
        if self._override is not None and (inputs is None or _override_key(inputs) != self._override[0]):
            # The override was for another loan, amount or date: it no longer adds up to this one.
            self._override = None
            self._show_override(dropped=True)
        if self._preview_inputs is not None and inputs != self._preview_inputs:
            self._clear_preview(keep_loan=True)
        self.post_button.setEnabled(False)
        self._timer.start()

    def _lookup(self) -> None:
        number = self.loan_edit.text().strip()
        if not number:
            self.loan_info.clear()
            return
        ctx = self.workspace.ctx

        def done(hit: search.LoanHit | None) -> None:
            if self.loan_edit.text().strip() != number:
                return
            if hit is None:
                self.loan_info.setText(f"Loan number: there is no loan numbered \u201c{number}\u201d.")
                self.loan_info.setStyleSheet("color: #a00000;")
                return
            if hit.loan_number != self._canonical.get(number.upper(), number):
                # "100118" typed, KL-100118 found: the inputs change, so the preview is asked again.
                # The same number found changes nothing (and must not clear what the form says).
                self._canonical[number.upper()] = hit.loan_number
                self._inputs_changed()
            self.loan_info.setStyleSheet("")
            self.loan_info.setText(f"{hit.borrower} \N{EM DASH} amount due {formatting.money(hit.amount_due)}, "
                                   f"{formatting.days_past_due_text(hit.days_past_due, hit.bucket).lower()}, "
                                   f"{formatting.words(hit.status).lower()}")

        self.workspace.tasks.read(lambda: search.find_loan(ctx, number), done, owner=self)

    # ------------------------------------------------------------ preview
    def _clear_preview(self, keep_loan: bool = False) -> None:
        self._preview = None
        self._preview_inputs = None
        for label in self.allocation.values():
            label.setText(formatting.DASH)
        self.changes_label.setText("Type the loan number and the amount to see how the payment will be applied.")
        self.post_button.setEnabled(False)
        self.override_button.setEnabled(False)

    def _request_preview(self) -> None:
        inputs = self.inputs()
        if inputs is None:
            return
        self._generation += 1
        generation = self._generation
        ctx = self.workspace.ctx
        split: dict[str, object] | None = dict(self._override[1]) if self._override is not None else None

        def done(preview: Preview) -> None:
            if generation != self._generation or self.inputs() != inputs:
                return
            self._show_preview(inputs, preview)

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self._clear_preview()
            self.problem_label.setText(error_text(exc))
            mark_problem(self._fields(), error_field(exc))

        self.workspace.tasks.read(
            lambda: servicing.preview_payment(ctx, inputs.loan_number, inputs.amount, inputs.effective_date,
                                              split=split),
            done, failed, owner=self)

    def _show_preview(self, inputs: Inputs, preview: Preview) -> None:
        self._preview, self._preview_inputs = preview, inputs
        if self._override is None:
            self._engine_preview, self._engine_inputs = preview, inputs
        for part in ALLOCATION_PARTS:
            self.allocation[part].setText(formatting.money(getattr(preview.allocation, part)))
        before, after = preview.before, preview.after
        rows = [
            ("Principal", formatting.money(before.principal), formatting.money(after.principal)),
            ("Amount due", formatting.money(before.amount_due), formatting.money(after.amount_due)),
            ("Next due", formatting.day(before.next_due), formatting.day(after.next_due)),
            ("Past due", formatting.days_past_due_text(before.days_past_due, before.bucket),
             formatting.days_past_due_text(after.days_past_due, after.bucket)),
            ("Payoff", formatting.money(before.payoff), formatting.money(after.payoff)),
        ]
        html = ["<table cellspacing='4'><tr><th></th><th align='right'>Before</th><th align='right'>After</th></tr>"]
        for name, was, will in rows:
            weight = " style='font-weight:bold'" if was != will else ""
            html.append(f"<tr><td>{name}</td><td align='right'>{was}</td><td align='right'{weight}>{will}</td></tr>")
        html.append("</table>")
        if preview.backdated:
            html.append(f"<p><b>Back-dated</b> to {formatting.day(preview.effective_date)}: everything after it is "
                        "worked out again; you will be asked to confirm.</p>")
        self.changes_label.setText("".join(html))
        self.post_button.setEnabled(self.workspace.can(permissions.POST_PAYMENT))
        self.override_button.setEnabled(self.workspace.can(permissions.OVERRIDE_ALLOCATION))
        self.preview_shown.emit(preview)

    # ------------------------------------------------------------ allocation override
    def override_allocation(self) -> None:
        """Open the split dialog for what is typed (the preview must be on screen)."""
        if not self.workspace.can(permissions.OVERRIDE_ALLOCATION) or not self.preview_is_current():
            return
        inputs = self._preview_inputs
        assert inputs is not None
        current = self._override[1] if self._override is not None else None
        reason = self._override[2] if self._override is not None else None
        # Beside each part, the product's own allocation (kept from the last preview without an override).
        engine = self._engine_preview if self._engine_inputs == inputs else None
        dialog = AllocationOverrideDialog(self.workspace, inputs.loan_number, inputs.amount, inputs.effective_date,
                                          engine, self, current=current, current_reason=reason)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.split_chosen.connect(lambda parts, code, preview: self.set_override((parts, code), preview))
        self.override_dialog = dialog
        dialog.open()
        next(iter(dialog.edits.values())).setFocus()

    def set_override(self, chosen: tuple[dict[str, Decimal], str] | None, preview: Preview | None = None) -> None:
        """Use ``chosen`` (parts, reason code) for the payment typed, or go back to the product's order."""
        inputs = self.inputs()
        if chosen is None or inputs is None:
            self._override = None
        else:
            self._override = (_override_key(inputs), chosen[0], chosen[1])
        self._show_override()
        if preview is not None and inputs is not None:
            self._show_preview(inputs, preview)
        else:
            self._clear_preview(keep_loan=True)
            self._request_preview()

    def _show_override(self, *, dropped: bool = False) -> None:
        if self._override is None:
            # Said where the override was shown, and kept while typing goes on (the problem line is not).
            self.override_label.setText("The allocation override was removed because the payment changed; "
                                        "override it again if it still applies." if dropped else "")
            self.override_label.setVisible(dropped)
            self.remove_override_button.hide()
            self.preview_box.setTitle("How it will be applied")
            return
        _key, parts, reason = self._override
        self.preview_box.setTitle("How it will be applied (allocation overridden)")
        self.override_label.setText(f"Overridden by you: {REASON_TEXT.get(reason, formatting.words(reason))}. "
                                    "The product's order is not used for this payment.")
        self.override_label.show()
        self.remove_override_button.show()

    def override(self) -> tuple[dict[str, Decimal], str] | None:
        """The override in use (parts, reason code), or None."""
        return (self._override[1], self._override[2]) if self._override is not None else None

    def preview_is_current(self) -> bool:
        inputs = self.inputs()
        return inputs is not None and self._preview is not None and inputs == self._preview_inputs

    # ------------------------------------------------------------ posting
    def post(self) -> None:
        if self._posting or not self.workspace.can(permissions.POST_PAYMENT):
            return
        inputs = self.inputs()
        if inputs is None:
            if not self.problem_label.text():
                missing = "the loan number" if not self.loan_edit.text().strip() else "the amount"
                self.problem_label.setText(f"Enter {missing} first.")
            return
        if not self.preview_is_current():
            # Never post what the clerk has not seen: show the preview, post on the next Enter.
            self._timer.stop()
            self._request_preview()
            self.problem_label.setText("Check how the payment will be applied, then press Ctrl+Enter to post.")
            return
        today = self.workspace.business_date
        if inputs.effective_date != today:
            # Said in words, with the weekday and the distance: a mistyped date is seen here (issue 11).
            text = (f"This payment will be posted as received on {in_words(inputs.effective_date)}, "
                    f"{distance_in_words(inputs.effective_date, today)} today's business date, {in_words(today)}. "
                    "Everything on the account after that day is worked out again.")
            confirm(self, text, lambda: self._post(inputs, confirm_duplicate=False, confirm_backdated=True),
                    detail=None, yes_text=f"Post as received {inputs.effective_date.isoformat()}")
            return
        self._post(inputs, confirm_duplicate=False, confirm_backdated=False)

    def _post(self, inputs: Inputs, *, confirm_duplicate: bool, confirm_backdated: bool,
              approval: Approval | None = None) -> None:
        self._posting = True
        self.post_button.setEnabled(False)
        ctx = self.workspace.ctx
        split: dict[str, object] | None = None
        reason: str | None = None
        if self._override is not None and self._override[0] == _override_key(inputs):
            split, reason = dict(self._override[1]), self._override[2]

        def work() -> Posted:
            return servicing.post_payment(
                ctx, inputs.loan_number, inputs.amount, inputs.effective_date, method=inputs.method,
                reference=inputs.reference, confirm_duplicate=confirm_duplicate, confirm_backdated=confirm_backdated,
                approval=approval,
                split=split, override_reason=reason,
            )

        def failed(exc: BaseException) -> None:
            self._posting = False
            if isinstance(exc, NeedsApproval):
                # Above a limit: a second user approves at this desk, then it posts (issue 11, item 7).
                ask_approval(self, exc, lambda given: self._post(inputs, confirm_duplicate=confirm_duplicate,
                                                                 confirm_backdated=confirm_backdated,
                                                                 approval=given),
                             on_cancel=lambda: self.post_button.setEnabled(True))
                return
            if isinstance(exc, NeedsConfirmation):
                duplicate = exc.preview is None

                def again() -> None:
                    self._post(inputs, confirm_duplicate=confirm_duplicate or duplicate,
                               confirm_backdated=confirm_backdated or not duplicate, approval=approval)

                confirm(self, str(exc), again, detail=preview_detail(exc),
                        yes_text="Post anyway" if duplicate else "Post back-dated",
                        on_no=lambda: self.post_button.setEnabled(True))
                return
            self.problem_label.setText(error_text(exc))
            mark_problem(self._fields(), error_field(exc))
            self.post_button.setEnabled(True)

        self.workspace.tasks.write(work, self._posted, failed, owner=self,
                                   label="Posting the payment\N{HORIZONTAL ELLIPSIS}",
                                   change=lambda posted: Change("payment_posted", (posted.loan_number,)))

    def _posted(self, posted: Posted) -> None:
        self._posting = False
        overridden, self._override = self._override is not None, None
        a = posted.allocation
        self._last_posted = posted.loan_number
        self.result_label.setText(
            f"<b>Posted</b> entry #{posted.entry_id} to {posted.loan_number}: "
            f"interest {formatting.money(a.interest)}, principal {formatting.money(a.principal)}, "
            f"fees {formatting.money(a.fees)}"
            + (f", suspense {formatting.money(a.suspense)}" if a.suspense else "")
            + (f", refund due {formatting.money(a.refund)}" if a.refund else "")
            + (" (allocation overridden)" if overridden else "")
            + f".<br>Principal now {formatting.money(posted.snapshot.principal)}; "
            f"amount due {formatting.money(posted.snapshot.amount_due)}."
        )
        self.open_account_button.show()
        self.payment_posted.emit(posted)
        # Ready for the next payment: same date and method, new loan.
        self.loan_edit.clear()
        self.loan_info.clear()
        self.amount_edit.clear()
        self.reference_edit.clear()
        self._show_override()
        self._clear_preview()
        self.loan_edit.setFocus()

    def _open_posted(self) -> None:
        window = self.window()
        if self._last_posted and hasattr(window, "open_account"):
            window.open_account(self._last_posted)

    def apply_change(self, change: Change) -> None:
        if self._preview_inputs is not None and change.touches(self._preview_inputs.loan_number):
            self._request_preview()


def _override_key(inputs: Inputs) -> tuple[str, Decimal, date]:
    """What an allocation override was made for: a change to any of these drops it."""
    return (inputs.loan_number, inputs.amount, inputs.effective_date)
