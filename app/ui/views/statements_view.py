"""Administration > Statement cycle: the lender's exemptions from Regulation Z's periodic statements (issue 13).

The product's days (statement and reminder) are edited with the product's
rules; this panel holds what belongs to the lender: the small-servicer and
coupon-book exemptions of 12 CFR 1026.41(e)(4) and (e)(3), which stop end of
day queuing periodic statements for the lender's mortgages.  The service
validates and audits each save.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services import permissions, statements
from app.services.statements import SMALL_SERVICER_WORDS, StatementSettings, StatementSettingsInfo
from app.ui.messages import error_field, error_text, mark_problem
from app.ui.workspace import Workspace

INTRO = (
    "End of day queues a billing statement for every active loan with the other letters: a consumer loan's "
    "the number of days its product sets before each due date (15 unless changed), a mortgage's (a loan secured "
    "by real estate) within four days after the previous due date's grace period ends, as Regulation Z "
    "12 CFR 1026.41(b) asks. Print them with the letter queue. A lender that qualifies for an exemption below "
    "may stop the mortgages' periodic statements; Keel cannot check ownership, affiliates or coupon books, so "
    "claim one only if you meet every condition."
)
SMALL_SERVICER_HELP = (
    "Small servicer, 12 CFR 1026.41(e)(4): you service, with your affiliates, 5,000 or fewer mortgage loans and "
    "own or originated every one of them (servicing, for pay, even one loan you neither own nor originated disqualifies you); or you are "
    "a Housing Finance Agency; or a 501(c)(3) nonprofit servicing 5,000 or fewer, all originated by you or an "
    "associated nonprofit. Count as of January 1, for the rest of that year; loans serviced for free for a "
    "non-affiliate, reverse mortgages and timeshares are not counted."
)
COUPON_HELP = (
    "Coupon books, 12 CFR 1026.41(e)(3), for fixed-rate loans (every Keel loan): each coupon shows the payment due "
    "date, the amount due and the late fee and its date; the book shows the principal balance, interest rate and "
    "prepayment penalty, the housing-counselor contacts, your toll-free number and how to ask for the rest, which "
    "you give on request. A borrower more than 45 days late must still get the delinquency information in "
    "writing: Keel keeps queuing those borrowers' statements, which carry it."
)


class StatementsPanel(QWidget):
    """Edit the lender's periodic-statement exemptions (settings.manage)."""

    #: Emitted after settings were shown (loaded or saved): a StatementSettingsInfo.
    settings_shown = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statementsPanel")
        self.workspace = workspace
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.small_servicer = QComboBox()
        self.small_servicer.setObjectName("smallServicer")
        self.small_servicer.addItem("No: send the periodic statements", None)
        for basis, words in SMALL_SERVICER_WORDS.items():
            self.small_servicer.addItem(f"Yes: {words}", basis)
        small_help = QLabel(SMALL_SERVICER_HELP)
        small_help.setWordWrap(True)
        self.coupon_books = QCheckBox("We give our mortgage borrowers coupon books instead of statements")
        self.coupon_books.setObjectName("couponBooks")
        coupon_help = QLabel(COUPON_HELP)
        coupon_help.setWordWrap(True)
        self.count_label = QLabel()
        self.count_label.setObjectName("mortgageCount")
        self.count_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Small servicer:", self.small_servicer)
        form.addRow("", small_help)
        form.addRow("Coupon books:", self.coupon_books)
        form.addRow("", coupon_help)
        self.message = QLabel()
        self.message.setObjectName("statementsMessage")
        self.message.setWordWrap(True)
        self.save_button = QPushButton("&Save statement settings")
        self.save_button.setObjectName("saveStatements")
        self.save_button.setAutoDefault(False)
        self.save_button.clicked.connect(self.save)
        self.save_button.setEnabled(workspace.can(permissions.MANAGE_SETTINGS))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.count_label)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def refresh(self) -> None:
        ctx = self.workspace.ctx
        self.workspace.tasks.read(lambda: statements.statement_settings(ctx), self.show_settings,
                                  lambda exc: self.message.setText(error_text(exc)), owner=self)

    def show_settings(self, info: StatementSettingsInfo) -> None:
        self.small_servicer.setCurrentIndex(max(0, self.small_servicer.findData(info.settings.small_servicer)))
        self.coupon_books.setChecked(info.settings.coupon_books)
        text = f"Keel services {info.mortgage_loans:,} active mortgage loan{'s' if info.mortgage_loans != 1 else ''}."
        if info.warnings:
            text += " " + " ".join(info.warnings)
        self.count_label.setText(text)
        self.count_label.setStyleSheet("color: #a00000;" if info.warnings else "")
        self.settings_shown.emit(info)

    def settings(self) -> StatementSettings:
        return StatementSettings(self.small_servicer.currentData(), self.coupon_books.isChecked())

    def save(self) -> None:
        chosen = self.settings()
        ctx = self.workspace.ctx
        self.save_button.setEnabled(False)
        fields: dict[str, QWidget] = {"small_servicer": self.small_servicer, "coupon_books": self.coupon_books}

        def done(saved: StatementSettingsInfo) -> None:
            self.save_button.setEnabled(True)
            mark_problem(fields, None)
            self.message.setStyleSheet("")
            self.message.setText("Saved. End of day follows these settings from its next close.")
            self.show_settings(saved)

        def failed(exc: BaseException) -> None:
            self.save_button.setEnabled(True)
            self.message.setStyleSheet("color: #a00000;")
            self.message.setText(error_text(exc))
            mark_problem(fields, error_field(exc))

        self.workspace.tasks.write(lambda: statements.save_statement_settings(ctx, chosen), done, failed, owner=self,
                                   label="Saving the statement settings\N{HORIZONTAL ELLIPSIS}")
