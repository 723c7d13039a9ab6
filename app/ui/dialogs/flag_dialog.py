"""Set or clear a loan's hardship, dispute or Regulation F flag, dated and with a reason (``keel flag``).

The dialog reads the loan's flags (flags.loan_flags) to say what holds now and
what the change does; the service checks the permission and writes the flag,
its dated event and the audit record in one transaction.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QHBoxLayout,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.services import flags
from app.services.flags import FlagSet, LoanFlags
from app.ui import formatting
from app.ui.forms import no_default_buttons
from app.ui.messages import error_field, error_text, mark_problem
from app.ui.widgets.date_edit import DateEdit
from app.ui.workers import Change
from app.ui.workspace import Workspace

FLAG_TEXT = {"hardship": "Hardship", "dispute": "Dispute", "reg_f": "Regulation F applies"}
#: What each flag does while it is set, in the words the dialog shows.
EFFECT = {
    "hardship": "While set, late fees are waived at end of day and collection letters stop.",
    "dispute": "While set, late fees are waived at end of day and collection letters stop; a written dispute "
               "inside the validation period also stops collection until verification is sent (12 CFR 1006.38).",
    "reg_f": "While set, the Regulation F contact guardrails apply and the validation notice can be sent.",
}


class FlagDialog(QDialog):
    flag_set = Signal(object)  # FlagSet

    def showEvent(self, event: QShowEvent) -> None:  # Qt's name
        super().showEvent(event)
        no_default_buttons(self)

    def __init__(self, workspace: Workspace, loan_number: str, flag: str = "hardship",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("flagDialog")
        self.setWindowTitle(f"Flags on {loan_number}")
        self.workspace = workspace
        self.loan_number = loan_number
        self.state: LoanFlags | None = None

        self.flag_combo = QComboBox()
        self.flag_combo.setObjectName("flagKind")
        for code, text in FLAG_TEXT.items():
            if workspace.can(flags.FLAG_PERMISSIONS[code]):
                self.flag_combo.addItem(text, code)
        index = self.flag_combo.findData(flag)
        self.flag_combo.setCurrentIndex(max(index, 0))
        self.set_radio = QRadioButton("&Set")
        self.set_radio.setObjectName("flagSet")
        self.clear_radio = QRadioButton("C&lear")
        self.clear_radio.setObjectName("flagClear")
        self.set_radio.setChecked(True)
        action = QHBoxLayout()
        action.addWidget(self.set_radio)
        action.addWidget(self.clear_radio)
        action.addStretch(1)
        self.effective_edit = DateEdit(field="Effective date")
        self.effective_edit.setObjectName("flagEffective")
        self.effective_edit.set_range(None, workspace.business_date, maximum_name="the open business date")
        self.effective_edit.set_value(workspace.business_date)
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("flagReason")
        self.reason_edit.setPlaceholderText("Required: what the borrower said, the document received, ...")
        self.form_combo = QComboBox()
        self.form_combo.setObjectName("disputeForm")
        self.form_combo.setPlaceholderText("Choose\N{HORIZONTAL ELLIPSIS}")
        self.form_combo.addItem("Written", "written")
        self.form_combo.addItem("Oral (by phone or in person)", "oral")
        self.form_combo.setCurrentIndex(-1)
        self.within_combo = QComboBox()
        self.within_combo.setObjectName("disputeWithin")
        self.within_combo.setPlaceholderText("Choose\N{HORIZONTAL ELLIPSIS}")
        self.within_combo.addItem("Yes: inside the validation period", True)
        self.within_combo.addItem("No: after the validation period ended", False)
        self.within_combo.setCurrentIndex(-1)
        #: The validation notice's period, read with the flags; it pre-selects the answer until one is chosen.
        self.validation_note = QLabel()
        self.validation_note.setObjectName("validationNote")
        self.validation_note.setWordWrap(True)
        self.validation_note.setStyleSheet("color: #3c4650;")
        self._within_chosen = False
        self.within_combo.activated.connect(lambda _i: setattr(self, "_within_chosen", True))
        self.basis_combo = QComboBox()
        self.basis_combo.setObjectName("regFBasis")
        self.basis_combo.setPlaceholderText("Choose why we are a debt collector for this loan\N{HORIZONTAL ELLIPSIS}")
        for code, text in flags.REG_F_BASIS_TEXT.items():
            self.basis_combo.addItem(text, code)
        self.basis_combo.setCurrentIndex(-1)

        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.addRow("&Flag:", self.flag_combo)
        self.form.addRow("", action)
        self.form.addRow("&Effective date:", self.effective_edit)
        self.form.addRow("Rea&son:", self.reason_edit)
        self.form.addRow("Dispute &received:", self.form_combo)
        self.form.addRow("Inside &validation period:", self.within_combo)
        self.form.addRow("", self.validation_note)
        self.form.addRow("Regulation F &ground:", self.basis_combo)

        self.current = QLabel("Reading the loan's flags\N{HORIZONTAL ELLIPSIS}")
        self.current.setObjectName("flagCurrent")
        self.current.setWordWrap(True)
        self.effect = QLabel()
        self.effect.setObjectName("flagEffect")
        self.effect.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("flagError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a00000;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("&Record", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("flagApply")
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.current)
        layout.addLayout(self.form)
        layout.addWidget(self.effect)
        layout.addStretch(1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 84, self.sizeHint().height())

        for signal in (self.flag_combo.currentIndexChanged, self.form_combo.currentIndexChanged,
                       self.within_combo.currentIndexChanged, self.basis_combo.currentIndexChanged):
            signal.connect(lambda *_a: self._update())
        self.set_radio.toggled.connect(lambda _on: self._update())
        self.reason_edit.textChanged.connect(lambda _t: self._update())
        self.effective_edit.value_changed.connect(lambda _d: self._update())
        self._update()
        ctx = workspace.ctx
        workspace.tasks.read(lambda: flags.loan_flags(ctx, loan_number), self._loaded, self._failed, owner=self)

    def flag(self) -> str | None:
        return self.flag_combo.currentData()

    def _loaded(self, state: LoanFlags) -> None:
        self.state = state
        on = [FLAG_TEXT[code] for code, value in (("hardship", state.hardship), ("dispute", state.dispute),
                                                   ("reg_f", state.reg_f)) if value]
        text = "Set now: " + (", ".join(on) if on else "no flag") + "."
        if state.reg_f_all_loans:
            text += " The lender applies Regulation F to all consumer loans."
        last = state.history[0] if state.history else None
        if last is not None:
            text += (f" Last change: {FLAG_TEXT[last.flag]} {'set' if last.on else 'cleared'} "
                     f"{formatting.day(last.effective_date)} by {last.user} ({last.reason}).")
        self.current.setText(text)
        flag = self.flag()
        if flag is not None and self.workspace.can(flags.flag_permission(flag, False)):
            self.clear_radio.setChecked(bool(getattr(state, flag)))
        self._update()

    def _failed(self, exc: BaseException) -> None:
        self.current.setText("")
        self.error.setText(error_text(exc))

    def _update(self) -> None:
        flag = self.flag()
        # Clearing a hardship or a dispute is a manager's (issue 11, item 7): others may only set it.
        may_clear = flag is not None and self.workspace.can(flags.flag_permission(flag, False))
        self.clear_radio.setEnabled(may_clear)
        self.clear_radio.setToolTip("" if may_clear else "Clearing this flag needs a manager")
        if not may_clear and self.clear_radio.isChecked():
            self.set_radio.setChecked(True)
        on = self.set_radio.isChecked()
        dispute_on, reg_f_on = flag == "dispute" and on, flag == "reg_f" and on
        for widget, show in ((self.form_combo, dispute_on), (self.within_combo, dispute_on),
                             (self.validation_note, dispute_on), (self.basis_combo, reg_f_on)):
            widget.setVisible(show)
            label = self.form.labelForField(widget)
            if label is not None:
                label.setVisible(show)
        if dispute_on:
            self._show_validation_period()
        if flag is None:
            self.effect.setText("You may not change any flag on this loan.")
        else:
            now = bool(getattr(self.state, flag)) if self.state is not None else None
            same = now is not None and now == on
            self.effect.setText(("It is already " + ("set" if on else "clear") + "; the change is still recorded. "
                                 if same else "") + (EFFECT[flag] if on else "Clearing it ends that."))
        ready = (
            flag is not None
            and self.state is not None
            and bool(self.reason_edit.text().strip())
            and self.effective_edit.value() is not None
            and (not dispute_on or (self.form_combo.currentIndex() >= 0 and self.within_combo.currentIndex() >= 0))
            and (not reg_f_on or self.basis_combo.currentIndex() >= 0)
        )
        self.ok.setEnabled(ready)

    def _show_validation_period(self) -> None:
        """Say which validation period the dispute's date falls in, and pre-select the answer (1006.34(b)(5))."""
        state, day = self.state, self.effective_edit.value()
        if state is None:
            return
        if state.validation_notice_date is None or state.validation_period_ends is None:
            self.validation_note.setText("Keel has sent no validation notice on this loan; answer from the notice "
                                         "the borrower received.")
            return
        notice = (f"The validation notice of {formatting.day(state.validation_notice_date)} gave until "
                  f"{formatting.day(state.validation_period_ends)}")
        within = state.within_validation_period(day) if day is not None else None
        if within is None:
            self.validation_note.setText(notice + ".")
            return
        self.validation_note.setText(f"{notice}: a dispute dated {formatting.day(day)} is "
                                     + ("inside it." if within else "not inside it."))
        if not self._within_chosen:
            index = self.within_combo.findData(within)
            if index != self.within_combo.currentIndex():
                self.within_combo.blockSignals(True)
                self.within_combo.setCurrentIndex(index)
                self.within_combo.blockSignals(False)

    def fields(self) -> dict[str, QWidget]:
        return {"reason": self.reason_edit, "effective_date": self.effective_edit, "dispute_form": self.form_combo,
                "within_validation_period": self.within_combo, "reg_f_basis": self.basis_combo,
                "flag": self.flag_combo}

    def inputs(self) -> dict[str, Any]:
        flag, on = self.flag(), self.set_radio.isChecked()
        return {
            "flag": flag,
            "on": on,
            "reason": self.reason_edit.text().strip(),
            "effective_date": self.effective_edit.value(),
            "dispute_form": self.form_combo.currentData() if flag == "dispute" and on else None,
            "within_validation_period": self.within_combo.currentData() if flag == "dispute" and on else None,
            "reg_f_basis": self.basis_combo.currentData() if flag == "reg_f" and on else None,
        }

    def apply(self) -> None:
        self._update()
        if not self.ok.isEnabled():
            return
        ctx, number, inputs = self.workspace.ctx, self.loan_number, self.inputs()
        flag, on = inputs.pop("flag"), inputs.pop("on")
        self.ok.setEnabled(False)

        def done(result: FlagSet) -> None:
            self.flag_set.emit(result)
            self.accept()

        def failed(exc: BaseException) -> None:
            self.error.setText(error_text(exc))
            mark_problem(self.fields(), error_field(exc))
            self._update()

        self.workspace.tasks.write(
            lambda: flags.set_flag(ctx, number, flag, on, **inputs), done, failed,
            owner=self, label="Recording the flag\N{HORIZONTAL ELLIPSIS}", change=Change("flags_changed", (number,)))
