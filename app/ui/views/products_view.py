"""Loan products and their versions: what rules each version holds, and from when."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.services import permissions, products
from app.services.products import ProductInfo, ProductRules, ProductVersionInfo
from app.ui import formatting
from app.ui.dialogs.product_dialog import ProductDialog
from app.ui.export import add_export
from app.ui.messages import show_error
from app.ui.models.record_table_model import Column, RecordTableModel
from app.ui.widgets.table import fit_columns, make_table
from app.ui.workspace import Workspace


class ProductTableModel(RecordTableModel[ProductInfo]):
    columns = (
        Column("Code", lambda r: r.code),
        Column("Name", lambda r: r.name),
        Column("Versions", lambda r: len(r.versions), "int"),
        Column("Latest from", lambda r: r.versions[-1].effective_date if r.versions else None, "date"),
        Column("Active", lambda r: r.active, text=lambda r: "Yes" if r.active else "No"),
    )


class VersionTableModel(RecordTableModel[ProductVersionInfo]):
    columns = (
        Column("Effective from", lambda r: r.effective_date, "date"),
        Column("Interest", lambda r: r.rules.interest, "words"),
        Column("Day count", lambda r: r.rules.day_count),
        Column("Late fee", lambda r: r.rules.late_fee, text=lambda r: late_fee_text(r.rules)),
        Column("Charge-off", lambda r: r.rules.charge_off_days, "int"),
        Column("Statement", lambda r: r.rules.statement_days_before_due, "int",
               text=lambda r: f"{r.rules.statement_days_before_due} days before due"
               if r.rules.statement_days_before_due else "None"),
        Column("Reminder", lambda r: r.rules.reminder_days_before_due or 0, "int",
               text=lambda r: f"{r.rules.reminder_days_before_due} days before due"
               if r.rules.reminder_days_before_due else "Off"),
    )


def late_fee_text(rules: ProductRules) -> str:
    fee = rules.late_fee
    if fee is None:
        return "None"
    if fee.fixed is not None:
        return f"{formatting.money(fee.fixed)} after {fee.grace_days} days"
    bounds = ""
    if fee.minimum is not None or fee.maximum is not None:
        bounds = f" ({formatting.money(fee.minimum)}\N{EN DASH}{formatting.money(fee.maximum)})"
    return f"{fee.percent} %{bounds} after {fee.grace_days} days"


def rules_rows(rules: ProductRules) -> list[tuple[str, str]]:
    return [
        ("Interest method", formatting.words(rules.interest)),
        ("Day count", rules.day_count),
        ("30/360 months", formatting.words(rules.thirty360)),
        ("Frequency", formatting.words(rules.frequency)),
        ("Amortization", formatting.words(rules.amortization)),
        ("Waterfall", " \N{RIGHTWARDS ARROW} ".join(formatting.words(p) for p in rules.waterfall)),
        ("Excess", formatting.words(rules.excess)),
        ("Short payment", formatting.words(rules.partial)),
        ("Tolerance", formatting.money(rules.tolerance)),
        ("Late fee", late_fee_text(rules)),
        ("Delinquent after", f"{rules.delinquent_days} days"),
        ("Default after", f"{rules.default_days} days"),
        ("Non-accrual after", f"{rules.non_accrual_days} days"),
        ("Cash on non-accrual", formatting.words(rules.non_accrual_cash)),
        ("Back on accrual after", f"{rules.accrual_after_months} months current"),
        ("Charge off after", f"{rules.charge_off_days} days"),
        ("Small-balance write-off", formatting.money(rules.small_balance_threshold)),
        ("Letters", ", ".join(f"{t.letter} at {t.days_past_due} days" for t in rules.letter_triggers) or "None"),
    ]


class ProductsPanel(QWidget):
    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("productsPanel")
        self.workspace = workspace
        self.model = ProductTableModel(self)
        self.table = make_table(self.model, name="productsTable")
        self.versions = VersionTableModel(self)
        self.versions_table = make_table(self.versions, name="versionsTable", sortable=False)
        self.rules_box = QGroupBox("Rules of the selected version")
        self.rules_form = QFormLayout(self.rules_box)
        self.new_button = QPushButton("&New product\N{HORIZONTAL ELLIPSIS}")
        self.new_button.setObjectName("newProduct")
        self.version_button = QPushButton("New &version\N{HORIZONTAL ELLIPSIS}")
        self.version_button.setObjectName("newProductVersion")
        self.version_button.setEnabled(False)
        allowed = workspace.can(permissions.MANAGE_PRODUCTS)
        self.new_button.setVisible(allowed)
        self.version_button.setVisible(allowed)
        # Copy and Export... on both tables (issue 13); the versions' file names their product.
        self.table_export = add_export(self.table, workspace, "Products")
        add_export(self.versions_table, workspace,
                   lambda: f"Product versions {self.selected().code if self.selected() else ''}".strip(),
                   lambda: [("Product", f"{p.code} {p.name}")] if (p := self.selected()) is not None else [])
        buttons = QHBoxLayout()
        buttons.addWidget(self.table_export.button())
        buttons.addStretch(1)
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.version_button)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.versions_table)
        right_layout.addWidget(self.rules_box)
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(right)
        note = QLabel("Products and their rules. A new version applies to loans boarded after it.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)

        self.table.selectionModel().selectionChanged.connect(self._product_selected)
        self.versions_table.selectionModel().selectionChanged.connect(self._version_selected)
        self.new_button.clicked.connect(lambda: self._edit(None))
        self.version_button.clicked.connect(lambda: self._edit(self.selected()))

    def refresh(self) -> None:
        ctx = self.workspace.ctx
        keep = self.selected().code if self.selected() else None

        def done(found: list[ProductInfo]) -> None:
            self.model.set_rows(found)
            fit_columns(self.table)
            codes = [p.code for p in found]
            if found:
                self.table.selectRow(codes.index(keep) if keep in codes else 0)

        self.workspace.tasks.read(lambda: products.list_products(ctx), done, lambda e: show_error(self, e),
                                  owner=self)

    def selected(self) -> ProductInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _product_selected(self) -> None:
        product = self.selected()
        self.version_button.setEnabled(product is not None)
        self.versions.set_rows(list(product.versions) if product else [])
        fit_columns(self.versions_table)
        if product and product.versions:
            self.versions_table.selectRow(len(product.versions) - 1)
        else:
            self._show_rules(None)

    def _version_selected(self) -> None:
        rows = self.versions_table.selectionModel().selectedRows()
        self._show_rules(self.versions.row_at(rows[0].row()) if rows else None)

    def _show_rules(self, version: ProductVersionInfo | None) -> None:
        while self.rules_form.rowCount():
            self.rules_form.removeRow(0)
        if version is None:
            return
        self.rules_box.setTitle(f"Rules effective from {formatting.day(version.effective_date)}")
        for label, value in rules_rows(version.rules):
            text = QLabel(value)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.rules_form.addRow(label, text)

    def _edit(self, product: ProductInfo | None) -> None:
        dialog = ProductDialog(self.workspace, product, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda _info: self.refresh())
        dialog.open()
