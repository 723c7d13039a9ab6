"""A new loan product, or a new version of one: every rule the engine and end of day use.

Rules are validated as they are typed with the service's own checker
(``products.check_rules``, pure, no database), which lists every problem at
once; saving goes through ``create_product`` / ``add_product_version``.  A
new version applies to loans boarded on or after its effective date and
never rewrites history: one loan's terms change only through a terms change
on that loan.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain import daycount
from app.domain import terms as terms_module
from app.services import products
from app.services.products import ProductInfo, ProductRules
from app.ui import formatting
from app.ui.forms import no_default_buttons
from app.ui.messages import error_text
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workers import Change
from app.ui.workspace import Workspace
from app.ui.widgets.date_edit import DateEdit

WATERFALLS = [tuple(p) for p in itertools.permutations(terms_module.WATERFALL_PARTS)]
_TRIGGER = re.compile(r"^\s*([a-z0-9][a-z0-9_-]*)\s*(?:@|:|\s)\s*(\d{1,5})\s*$", re.ASCII)  # 0-9 only


def _combo(name: str, values: Any, current: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    for value in values:
        combo.addItem(formatting.words(str(value)) if "/" not in str(value) else str(value), value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


def _spin(name: str, value: int, maximum: int = products.MAX_DAYS) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(0, maximum)
    spin.setValue(value)
    spin.setSuffix(" days")
    return spin


class ProductDialog(QDialog):
    saved = Signal(object)  # ProductInfo

    def showEvent(self, event: QShowEvent) -> None:  # Qt's name
        super().showEvent(event)
        no_default_buttons(self)  # Enter in a field must not press the action button (issue 11)

    def __init__(self, workspace: Workspace, product: ProductInfo | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("productDialog")
        self.workspace = workspace
        self.product = product
        self.setWindowTitle(f"New version of {product.code}" if product else "New loan product")
        rules = product.versions[-1].rules if product and product.versions else ProductRules()

        self.code_edit = QLineEdit(product.code if product else "")
        self.code_edit.setObjectName("productCode")
        self.name_edit = QLineEdit(product.name if product else "")
        self.name_edit.setObjectName("productName")
        self.description_edit = QLineEdit(product.description or "" if product else "")
        for widget in (self.code_edit, self.name_edit, self.description_edit):
            widget.setEnabled(product is None)
        self.effective_edit = DateEdit(field="Effective from")
        self.effective_edit.setObjectName("productEffective")
        self.effective_edit.set_value(workspace.business_date + timedelta(days=1 if product else 0))

        self.interest = _combo("ruleInterest", terms_module.INTEREST_METHODS, rules.interest)
        self.day_count = _combo("ruleDayCount", daycount.DAY_COUNTS, rules.day_count)
        self.thirty360 = _combo("ruleThirty360", terms_module.THIRTY360_RULES, rules.thirty360)
        self.frequency = _combo("ruleFrequency", terms_module.FREQUENCIES, rules.frequency)
        self.amortization = _combo("ruleAmortization", terms_module.AMORTIZATIONS, rules.amortization)
        self.waterfall = QComboBox()
        self.waterfall.setObjectName("ruleWaterfall")
        for order in WATERFALLS:
            self.waterfall.addItem(" \N{RIGHTWARDS ARROW} ".join(formatting.words(p) for p in order), list(order))
        self.waterfall.setCurrentIndex(WATERFALLS.index(tuple(rules.waterfall)) if tuple(rules.waterfall)
                                       in WATERFALLS else 0)
        self.excess = _combo("ruleExcess", terms_module.EXCESS_RULES, rules.excess)
        self.partial = _combo("rulePartial", terms_module.PARTIAL_RULES, rules.partial)
        self.tolerance = MoneyEdit()
        self.tolerance.setObjectName("ruleTolerance")
        self.tolerance.set_value(rules.tolerance)
        self.payoff_tolerance = MoneyEdit()
        self.payoff_tolerance.setObjectName("rulePayoffTolerance")
        self.payoff_tolerance.set_value(rules.payoff_tolerance)
        self.payoff_tolerance.setToolTip("A payment short of the payoff by no more than this pays the loan off; "
                                         "the shortfall is written off with its own ledger entry")
        self.waiver_credit = _combo("ruleWaiverCredit", terms_module.WAIVER_CREDITS, rules.waiver_credit)

        fee = rules.late_fee
        self.late_fee_check = QCheckBox("Charge a late fee")
        self.late_fee_check.setObjectName("ruleLateFee")
        self.late_fee_check.setChecked(fee is not None)
        self.grace = _spin("ruleGrace", fee.grace_days if fee else 10, 90)
        self.fixed_radio = QRadioButton("Fixed amount")
        self.percent_radio = QRadioButton("Percent of the installment")
        self.fixed_amount = MoneyEdit()
        self.fixed_amount.setObjectName("ruleFeeFixed")
        self.percent = QLineEdit(str(fee.percent) if fee and fee.percent is not None else "5")
        self.percent.setObjectName("ruleFeePercent")
        self.percent.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.fee_min = MoneyEdit()
        self.fee_max = MoneyEdit()
        self.fixed_amount.set_value(fee.fixed if fee and fee.fixed is not None else None)
        self.fee_min.set_value(fee.minimum if fee else None)
        self.fee_max.set_value(fee.maximum if fee else None)
        (self.percent_radio if fee is not None and fee.percent is not None else self.fixed_radio).setChecked(True)
        if fee is None:
            self.fixed_amount.setText("25.00")

        self.delinquent = _spin("ruleDelinquent", rules.delinquent_days)
        self.default = _spin("ruleDefault", rules.default_days)
        self.non_accrual = _spin("ruleNonAccrual", rules.non_accrual_days)
        self.charge_off = _spin("ruleChargeOff", rules.charge_off_days)
        # Non-accrual books (issue 9): cash on non-accrual as income or to principal; months current to return.
        self.non_accrual_cash = _combo("ruleNonAccrualCash", products.NON_ACCRUAL_CASH, rules.non_accrual_cash)
        self.accrual_after = _spin("ruleAccrualAfterMonths", rules.accrual_after_months, 120)
        self.accrual_after.setMinimum(1)
        self.accrual_after.setSuffix(" months current")
        self.small_balance = MoneyEdit()
        self.small_balance.setObjectName("ruleSmallBalance")
        self.small_balance.set_value(rules.small_balance_threshold)
        # The product's limits (issue 12): boarding refuses a loan above them, a terms change a rate above it.
        self.max_principal = MoneyEdit()
        self.max_principal.setObjectName("ruleMaxPrincipal")
        self.max_principal.setPlaceholderText("no limit of its own")
        if rules.max_principal is not None:
            self.max_principal.set_value(rules.max_principal)
        self.max_rate = QLineEdit("" if rules.max_rate is None else str(rules.max_rate))
        self.max_rate.setObjectName("ruleMaxRate")
        self.max_rate.setPlaceholderText("no limit of its own (%)")
        self.triggers = QLineEdit(", ".join(f"{t.letter} {t.days_past_due}" for t in rules.letter_triggers))
        self.triggers.setObjectName("ruleLetterTriggers")
        self.triggers.setPlaceholderText("late-notice 15, default-notice 30")
        # The statement cycle (issue 13): a statement N days before each due date (0: none; a mortgage's
        # follow Regulation Z 1026.41(b)), a payment reminder R days before an unpaid one (0: off).
        self.statement_days = _spin("ruleStatementDays", rules.statement_days_before_due, products.MAX_STATEMENT_DAYS)
        self.statement_days.setSuffix(" days before each due date")
        self.statement_days.setSpecialValueText("No statements")
        self.statement_days.setToolTip("Mortgages (real-estate collateral) are billed after the previous due date's "
                                       "grace period instead, as Regulation Z 1026.41(b) asks; this sets only "
                                       "their first statement")
        self.reminder_days = _spin("ruleReminderDays", rules.reminder_days_before_due or 0, products.MAX_REMINDER_DAYS)
        self.reminder_days.setSuffix(" days before a due date not yet paid")
        self.reminder_days.setSpecialValueText("No reminders")

        identity = QGroupBox("Product")
        form = QFormLayout(identity)
        form.addRow("&Code:", self.code_edit)
        form.addRow("&Name:", self.name_edit)
        form.addRow("Description:", self.description_edit)
        form.addRow("&Effective from:", self.effective_edit)
        form.addRow("Largest principal:", self.max_principal)
        form.addRow("Highest rate (%):", self.max_rate)
        interest = QGroupBox("Interest and schedule")
        form = QFormLayout(interest)
        form.addRow("Interest method:", self.interest)
        form.addRow("Day count:", self.day_count)
        form.addRow("30/360 months:", self.thirty360)
        form.addRow("Payment frequency:", self.frequency)
        form.addRow("Amortization:", self.amortization)
        payments = QGroupBox("Applying payments")
        form = QFormLayout(payments)
        form.addRow("Waterfall:", self.waterfall)
        form.addRow("Money beyond what is due:", self.excess)
        form.addRow("A short payment:", self.partial)
        form.addRow("Tolerance (counts as paid):", self.tolerance)
        form.addRow("Payoff tolerance (written off):", self.payoff_tolerance)
        form.addRow("Waiving a fee already paid credits:", self.waiver_credit)
        late = QGroupBox("Late fee")
        grid = QGridLayout(late)
        grid.addWidget(self.late_fee_check, 0, 0, 1, 2)
        grid.addWidget(QLabel("Grace period:"), 1, 0)
        grid.addWidget(self.grace, 1, 1)
        grid.addWidget(self.fixed_radio, 2, 0)
        grid.addWidget(self.fixed_amount, 2, 1)
        grid.addWidget(self.percent_radio, 3, 0)
        percent_row = QHBoxLayout()
        percent_row.addWidget(self.percent)
        percent_row.addWidget(QLabel("%  min"))
        percent_row.addWidget(self.fee_min)
        percent_row.addWidget(QLabel("max"))
        percent_row.addWidget(self.fee_max)
        grid.addLayout(percent_row, 3, 1)
        servicing = QGroupBox("Delinquency, charge-off and letters")
        form = QFormLayout(servicing)
        form.addRow("Delinquent after:", self.delinquent)
        form.addRow("Default after:", self.default)
        form.addRow("Non-accrual after:", self.non_accrual)
        form.addRow("Charge off after:", self.charge_off)
        form.addRow("Cash on non-accrual:", self.non_accrual_cash)
        form.addRow("Back on accrual after:", self.accrual_after)
        form.addRow("Small-balance write-off up to:", self.small_balance)
        form.addRow("Letters (letter days past due):", self.triggers)
        form.addRow("Billing statement:", self.statement_days)
        form.addRow("Payment reminder:", self.reminder_days)

        self.problems = QLabel()
        self.problems.setObjectName("productProblems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #a00000;")
        note = QLabel("A new version applies to loans boarded on or after its effective date; loans already "
                      "boarded keep their terms. Change one loan's terms with a terms change on that loan.")
        note.setWordWrap(True)

        page = QWidget()
        columns = QGridLayout(page)
        columns.addWidget(identity, 0, 0)
        columns.addWidget(interest, 1, 0)
        columns.addWidget(payments, 2, 0)
        columns.addWidget(late, 0, 1)
        columns.addWidget(servicing, 1, 1, 2, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(page)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("productSave")
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.problems)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 150, self.fontMetrics().height() * 48)

        for widget in self.findChildren(QLineEdit):
            widget.textChanged.connect(self._validate)
        for widget in self.findChildren(QComboBox):
            widget.currentIndexChanged.connect(self._validate)
        for widget in self.findChildren(QSpinBox):
            widget.valueChanged.connect(self._validate)
        for widget in (self.late_fee_check, self.fixed_radio, self.percent_radio):
            widget.toggled.connect(self._validate)
        self._validate()

    # ------------------------------------------------------------ rules
    def rules(self) -> tuple[dict[str, Any], list[str]]:
        """The rules document as typed, and the problems the form itself finds."""
        problems: list[str] = []
        data: dict[str, Any] = {
            "interest": self.interest.currentData(),
            "day_count": self.day_count.currentData(),
            "frequency": self.frequency.currentData(),
            "amortization": self.amortization.currentData(),
            "waterfall": list(self.waterfall.currentData()),
            "excess": self.excess.currentData(),
            "partial": self.partial.currentData(),
            "waiver_credit": self.waiver_credit.currentData(),
            "thirty360": self.thirty360.currentData(),
            "delinquent_days": self.delinquent.value(),
            "default_days": self.default.value(),
            "non_accrual_days": self.non_accrual.value(),
            "charge_off_days": self.charge_off.value(),
            "non_accrual_cash": self.non_accrual_cash.currentData(),
            "accrual_after_months": self.accrual_after.value(),
            "statement_days_before_due": self.statement_days.value(),
        }
        if self.reminder_days.value():
            data["reminder_days_before_due"] = self.reminder_days.value()
        largest = self.max_principal.value()
        if largest is not None:
            data["max_principal"] = str(largest)
        elif self.max_principal.text().strip():
            problems.append("Largest principal: not an amount")
        if self.max_rate.text().strip():
            data["max_rate"] = self.max_rate.text().strip()  # the service's one rate parser checks it
        for key, edit, label in (("tolerance", self.tolerance, "Tolerance"),
                                 ("payoff_tolerance", self.payoff_tolerance, "Payoff tolerance"),
                                 ("small_balance_threshold", self.small_balance, "Small-balance threshold")):
            value = edit.value()
            if value is None and edit.text().strip():
                problems.append(f"{label}: not an amount")
            data[key] = str(value) if value is not None else "0.00"
        if self.late_fee_check.isChecked():
            fee: dict[str, Any] = {"grace_days": self.grace.value()}
            if self.fixed_radio.isChecked():
                fixed = self.fixed_amount.value()
                if fixed is None:
                    problems.append("Late fee: enter the fixed amount")
                else:
                    fee["fixed"] = str(fixed)
            else:
                fee["percent"] = self.percent.text().strip()
                for key, edit in (("min", self.fee_min), ("max", self.fee_max)):
                    if edit.value() is not None:
                        fee[key] = str(edit.value())
            data["late_fee"] = fee
        triggers = []
        for part in [p for p in self.triggers.text().split(",") if p.strip()]:
            match = _TRIGGER.match(part.strip().lower())
            if match is None:
                problems.append(f"Letters: {part.strip()!r} should look like 'late-notice 15'")
            else:
                triggers.append({"letter": match.group(1), "days_past_due": int(match.group(2))})
        data["letter_triggers"] = triggers
        return data, problems

    def _validate(self, *_args: object) -> bool:
        for widget in (self.grace, self.fixed_radio, self.percent_radio, self.fixed_amount, self.percent,
                       self.fee_min, self.fee_max):
            widget.setEnabled(self.late_fee_check.isChecked())
        if self.late_fee_check.isChecked():
            self.fixed_amount.setEnabled(self.fixed_radio.isChecked())
            for widget in (self.percent, self.fee_min, self.fee_max):
                widget.setEnabled(self.percent_radio.isChecked())
        data, problems = self.rules()
        if not problems:
            _, found = products.check_rules(data)
            problems = [f"{field.removeprefix('rules.').replace('_', ' ')}: {reason}" for field, reason in found]
        if self.product is None and not self.code_edit.text().strip():
            problems.append("Code: required (letters, digits, - or _)")
        if self.product is None and not self.name_edit.text().strip():
            problems.append("Name: required")
        self.problems.setText("\n".join(problems))
        self.save_button.setEnabled(not problems)
        return not problems

    def _save(self) -> None:
        if not self._validate():
            return
        data, _ = self.rules()
        ctx = self.workspace.ctx
        chosen = self.effective_edit.value()
        if chosen is None:
            self.problems.setText(self.effective_edit.problem() or "Effective from: type the date the rules start.")
            self.effective_edit.setFocus()
            return
        effective: date = chosen
        if self.product is None:
            code, name = self.code_edit.text().strip(), self.name_edit.text().strip()
            description = self.description_edit.text().strip() or None

            def work() -> ProductInfo:
                return products.create_product(ctx, code, name, data, effective, description=description)
        else:
            code = self.product.code

            def work() -> ProductInfo:
                return products.add_product_version(ctx, code, data, effective)

        def done(info: ProductInfo) -> None:
            self.saved.emit(info)
            self.accept()

        def failed(exc: BaseException) -> None:
            self.problems.setText(error_text(exc))
            self.save_button.setEnabled(True)

        self.save_button.setEnabled(False)
        self.workspace.tasks.write(work, done, failed, owner=self, label="Saving the product\N{HORIZONTAL ELLIPSIS}",
                                   change=Change("product_saved"))
