"""The Reports view: choose a report, its date or period and filters, run it, see and export it (issue 13, item 5).

For managers and administrators (``permissions.VIEW_REPORTS``).  Every report
in :data:`app.services.reports.registry.REPORTS` is offered by its
description, and the general ledger journal after them.  The date fields
follow the chosen report: an "as of" date for a report on a date, "from" and
"to" for a period; the product, collector and status filters are offered only
where the report takes them.  Run reads on the task runner's read pool; the
result is shown with typed columns (money right-aligned as the desk shows
money, dates ISO), the totals row in bold under the rows, and the report's
notes under the table.  Export… writes the report's own table (its filters,
notes and totals in the file) as CSV or XLSX; Copy (Ctrl+C) copies the
selected rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.reports import tabular
from app.reports.gl_export import journal_table
from app.services import products
from app.services.reports.common import REPORT_STATUSES
from app.services.gl import journal as gl_journal
from app.services.reports.delinquency import Aging
from app.services.reports.registry import REPORTS, ReportParams, run_report
from app.ui import formatting
from app.ui.export import add_export, export_table
from app.ui.messages import error_field, error_text, mark_problem
from app.ui.views.dashboard_view import BarChart, short_money
from app.ui.views.view import View
from app.ui.widgets.date_edit import DateEdit
from app.ui.widgets.table import fit_columns, make_table
from app.ui.workspace import Workspace

#: The journal is not in REPORTS (it is keel gl journal); the view offers it after them under this name.
JOURNAL = "gl-journal"
JOURNAL_DESCRIPTION = "General ledger journal: balanced double-entry lines by day and product, for the accountant"

Index = QModelIndex | QPersistentModelIndex
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


def cell_text(value: Any, kind: str) -> str:
    """One value as the desk shows it: money as money, dates ISO, percents with their sign."""
    if value is None:
        return ""
    if kind == "money" and isinstance(value, Decimal):
        return formatting.money(value)
    if kind == "percent" and isinstance(value, Decimal):
        return formatting.percent(value * 100)  # a percent column holds fractions: 0.25 is 25.00 %
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "datetime" and hasattr(value, "hour"):
        return formatting.instant(value)
    if isinstance(value, date):
        return formatting.day(value)
    if isinstance(value, int) and kind in ("int", "text"):
        return f"{value:,}" if kind == "int" else str(value)
    return str(value)


class ReportTableModel(QAbstractTableModel):
    """A :class:`tabular.Table` for a table view: its rows, then its totals row in bold.

    It gives :func:`app.ui.export.add_export` typed rows (Copy copies the values, not the display text).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table: tabular.Table | None = None
        self._rows: list[Sequence[Any]] = []
        self._bold = QFont()
        self._bold.setBold(True)

    def set_table(self, table: tabular.Table | None) -> None:
        self.beginResetModel()
        self.table = table
        self._rows = [] if table is None else list(table.rows)
        if table is not None and table.totals is not None:
            self._rows.append(table.totals)
        self.endResetModel()

    @property
    def has_totals(self) -> bool:
        return self.table is not None and self.table.totals is not None

    def columns(self) -> Sequence[tabular.Column]:
        return () if self.table is None else self.table.columns

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # Qt's name
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # Qt's name
        return 0 if parent.isValid() else len(self.columns())

    def value(self, row: int, column: int) -> Any:
        return self._rows[row][column]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = self.columns()[index.column()]
        value = self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(value, column.kind)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column.kind in ("money", "int", "decimal", "percent") else LEFT
        if role == Qt.ItemDataRole.FontRole and self.has_totals and index.row() == len(self._rows) - 1:
            return self._bold
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # Qt's name
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns()):
            column = self.columns()[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return column.name
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return RIGHT if column.kind in ("money", "int", "decimal", "percent") else LEFT
        return None

    # ------------------------------------------------------------ typed rows (app.ui.export.TypedRows)
    def export_columns(self, columns: Sequence[int] | None = None) -> list[tabular.Column]:
        chosen = range(len(self.columns())) if columns is None else columns
        return [self.columns()[c] for c in chosen]

    def export_rows(self, rows: Sequence[int], columns: Sequence[int] | None = None) -> list[list[Any]]:
        chosen = list(range(len(self.columns())) if columns is None else columns)
        return [[self._rows[r][c] for c in chosen] for r in rows]


class ReportsView(View):
    title = "Reports"
    shortcut = "Ctrl+9"

    #: Emitted after a report has been shown (tests): the Table shown.
    report_shown = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(workspace, parent)
        self.setObjectName("reportsView")
        self.result: Any = None
        self.shown_table: tabular.Table | None = None
        self._generation = 0

        intro = QLabel("Choose a report, its date or period and any filters, then Run (Enter). "
                       "Export\N{HORIZONTAL ELLIPSIS} saves it as Excel or CSV with its filters, totals and notes; "
                       "Ctrl+C copies rows.")
        intro.setWordWrap(True)
        self.report_combo = QComboBox()
        self.report_combo.setObjectName("reportChoice")
        for spec in REPORTS.values():
            self.report_combo.addItem(spec.description, spec.name)
            self.report_combo.setItemData(self.report_combo.count() - 1, spec.parameters, Qt.ItemDataRole.ToolTipRole)
        self.report_combo.addItem(JOURNAL_DESCRIPTION, JOURNAL)
        self.report_combo.setMinimumContentsLength(60)
        self.report_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)

        day = workspace.business_date
        self.as_of_edit = DateEdit(field="As of")
        self.as_of_edit.setObjectName("reportAsOf")
        self.as_of_edit.set_value(day)
        self.from_edit = DateEdit(field="From")
        self.from_edit.setObjectName("reportFrom")
        self.from_edit.set_value(day.replace(day=1))
        self.to_edit = DateEdit(field="To")
        self.to_edit.setObjectName("reportTo")
        self.to_edit.set_value(day)
        self.product_combo = QComboBox()
        self.product_combo.setObjectName("reportProduct")
        self.product_combo.addItem("Every product", "")
        self.collector_edit = QLineEdit()
        self.collector_edit.setObjectName("reportCollector")
        self.collector_edit.setPlaceholderText("Any collector (username)")
        self.status_combo = QComboBox()
        self.status_combo.setObjectName("reportStatus")
        self.status_combo.addItem("Any status", "")
        for status in REPORT_STATUSES:
            self.status_combo.addItem(formatting.words(status), status)
        self.run_button = QPushButton("&Run")
        self.run_button.setObjectName("reportRun")
        self.run_button.setDefault(True)
        self.problem_label = QLabel()
        self.problem_label.setObjectName("reportProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #a00000;")
        self.problem_label.hide()

        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        self._labels: dict[str, QLabel] = {}

        def add(row: int, column: int, text: str, widget: QWidget, name: str, span: int = 1) -> None:
            label = QLabel(text)
            label.setBuddy(widget)
            self._labels[name] = label
            grid.addWidget(label, row, column, Qt.AlignmentFlag.AlignRight)
            grid.addWidget(widget, row, column + 1, 1, span)

        add(0, 0, "Re&port:", self.report_combo, "report", 5)
        add(1, 0, "&As of:", self.as_of_edit, "as_of")
        add(1, 2, "F&rom:", self.from_edit, "from")
        add(1, 4, "&To:", self.to_edit, "to")
        add(2, 0, "Pro&duct:", self.product_combo, "product")
        add(2, 2, "Co&llector:", self.collector_edit, "collector")
        add(2, 4, "Stat&us:", self.status_combo, "status")
        grid.addWidget(self.run_button, 2, 6)
        grid.setColumnStretch(7, 1)

        self.title_label = QLabel()
        self.title_label.setObjectName("reportTitle")
        bold = self.title_label.font()
        bold.setBold(True)
        self.title_label.setFont(bold)
        self.model = ReportTableModel(self)
        self.table = make_table(self.model, name="reportTable", sortable=False, multi_select=True)
        # Columns sized to their figures; a wide last column would push its figure far from the others.
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table_export = add_export(self.table, workspace, lambda: self.shown_name(), self.export_filters)
        # Export… writes the report's own table (filters, notes and totals), not the rows as displayed.
        self.table_export.export_action.triggered.disconnect()
        self.table_export.export_action.triggered.connect(self.export)
        self.notes_label = QLabel()
        self.notes_label.setObjectName("reportNotes")
        self.notes_label.setWordWrap(True)
        self.notes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.count_label = QLabel()
        self.count_label.setObjectName("reportCount")
        self.export_button = QPushButton("&Export\N{HORIZONTAL ELLIPSIS}")
        self.export_button.setObjectName("reportExport")
        self.export_button.setToolTip("Save the report as an Excel workbook or a CSV file, with its filters, "
                                      "totals and notes")
        self.export_button.clicked.connect(self.export)
        self.copy_button = QPushButton("&Copy")
        self.copy_button.setObjectName("reportCopy")
        self.copy_button.setToolTip("Copy the selected rows (all rows when none is selected) as tab-separated text")
        self.copy_button.clicked.connect(self.copy)
        for button in (self.export_button, self.copy_button):
            button.setAutoDefault(False)
            button.setEnabled(False)
        # The aging's principal by bucket as bars (pyqtgraph places them in floats; the figures shown are Decimal).
        self.chart = BarChart("reportChart", QColor("#3b6ea8"))
        self.chart.setMinimumHeight(self.fontMetrics().height() * 12)
        self.chart.hide()
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.copy_button)
        bottom.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.title_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.chart)
        layout.addLayout(bottom)

        self.fields: dict[str, QWidget] = {"as_of": self.as_of_edit, "from": self.from_edit, "to": self.to_edit,
                                           "product": self.product_combo, "collector": self.collector_edit,
                                           "status": self.status_combo, "report": self.report_combo}
        self.report_combo.currentIndexChanged.connect(lambda _i: self._follow_report())
        self.run_button.clicked.connect(self.run)
        for line in (self.as_of_edit.line_edit, self.from_edit.line_edit, self.to_edit.line_edit,
                     self.collector_edit):
            line.returnPressed.connect(self.run)
        self._follow_report()

    # ------------------------------------------------------------ choices
    def chosen(self) -> str:
        return str(self.report_combo.currentData() or "")

    def choose(self, name: str) -> None:
        self.report_combo.setCurrentIndex(max(0, self.report_combo.findData(name)))

    def _takes(self) -> tuple[str, tuple[str, ...]]:
        name = self.chosen()
        if name == JOURNAL:
            return "period", ("product",)
        spec = REPORTS[name]
        return spec.takes, spec.filters

    def _follow_report(self) -> None:
        """Show the date fields and filters the chosen report takes, and only those."""
        takes, filters = self._takes()
        visible = {"as_of": takes == "date", "from": takes == "period", "to": takes == "period",
                   "product": "product" in filters, "collector": "collector" in filters,
                   "status": "status" in filters}
        for name, shown in visible.items():
            self.fields[name].setVisible(shown)
            self._labels[name].setVisible(shown)
        self.problem_label.hide()
        mark_problem(self.fields, None)

    def refresh(self) -> None:
        ctx = self.workspace.ctx
        self.workspace.tasks.read(lambda: products.list_products(ctx), self._fill_products, lambda _exc: None,
                                  owner=self)

    def _fill_products(self, found: list[products.ProductInfo]) -> None:
        wanted = self.product_combo.currentData()
        self.product_combo.clear()
        self.product_combo.addItem("Every product", "")
        for product in found:
            self.product_combo.addItem(f"{product.code} \N{EM DASH} {product.name}", product.code)
        self.product_combo.setCurrentIndex(max(0, self.product_combo.findData(wanted)))

    def _refuse(self, field: str, text: str) -> None:
        self.problem_label.setText(text)
        self.problem_label.show()
        mark_problem(self.fields, field)

    # ------------------------------------------------------------ running
    def params(self) -> ReportParams:
        takes, filters = self._takes()
        product = self.product_combo.currentData() or None if "product" in filters else None
        collector = self.collector_edit.text().strip() or None if "collector" in filters else None
        status = self.status_combo.currentData() or None if "status" in filters else None
        if takes == "date":
            return ReportParams(as_of=self.as_of_edit.value(), product=product, collector=collector, status=status)
        return ReportParams(start=self.from_edit.value(), end=self.to_edit.value(), product=product,
                            collector=collector, status=status)

    def run(self) -> None:
        takes, _filters = self._takes()
        edits = (("as_of", self.as_of_edit),) if takes == "date" else (("from", self.from_edit), ("to", self.to_edit))
        for field, edit in edits:
            if edit.problem():
                self._refuse(field, edit.problem() or "")
                return
            if edit.value() is None:
                self._refuse(field, f"{edit.field}: type a date.")
                return
        name, params, ctx = self.chosen(), self.params(), self.workspace.ctx
        self._generation += 1
        generation = self._generation

        def work() -> tuple[Any, tabular.Table]:
            if name == JOURNAL:
                made = gl_journal.journal(ctx, params.start, params.end, product=params.product)
                return made, journal_table(made)
            report = run_report(ctx, name, params)
            return report, report.table()

        def done(result: tuple[Any, tabular.Table]) -> None:
            if generation == self._generation:
                self._show(*result)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                field = error_field(exc) or ""
                self._refuse({"start": "from", "end": "to"}.get(field, field), error_text(exc))

        self.workspace.tasks.read(work, done, failed, owner=self,
                                  label="Running the report\N{HORIZONTAL ELLIPSIS}")

    def _show(self, result: Any, table: tabular.Table) -> None:
        self.result = result
        self.shown_table = table
        self.problem_label.hide()
        mark_problem(self.fields, None)
        self.model.set_table(table)
        fit_columns(self.table)
        self.title_label.setText(table.title)
        notes = [value for key, value in table.filters if key == "Note"]
        given = [f"{key}: {value}" for key, value in table.filters if key != "Note"]
        self.notes_label.setText("\n".join([" \N{MIDDLE DOT} ".join(given), *notes]))
        rows = len(table.rows)
        self.count_label.setText("No rows for these choices." if rows == 0 else
                                 f"{rows:,} row{'s' if rows != 1 else ''}"
                                 + (", then the totals" if table.totals is not None else ""))
        for button in (self.export_button, self.copy_button):
            button.setEnabled(True)
        if isinstance(result, Aging) and result.rows:
            values = [row.principal for row in result.rows]
            self.chart.set_bars([row.bucket for row in result.rows], values, [short_money(float(v)) for v in values])
            self.chart.show()
        else:
            self.chart.hide()
        self.report_shown.emit(table)

    # ------------------------------------------------------------ export and copy
    def shown_name(self) -> str:
        return self.shown_table.title if self.shown_table is not None else "Report"

    def export_filters(self) -> list[tuple[str, str]]:
        return list(self.shown_table.filters) if self.shown_table is not None else []

    def export(self) -> bool:
        """Export…: the report's own table, its filters and notes, the business date and who exported it."""
        table = self.shown_table
        if table is None:
            return False
        actor = self.workspace.ctx.actor
        stamped = tabular.Table(table.title, table.columns, table.rows,
                                filters=(*table.filters, ("Business date", self.workspace.business_date.isoformat()),
                                         ("Exported by", actor.username)),
                                totals=table.totals)
        return export_table(self, self.workspace, stamped, table.title, self.table_export.exported.emit)

    def copy(self) -> str:
        if self.shown_table is None:
            return ""
        if not self.table.selectionModel().selectedRows():
            self.table.selectAll()
        return self.table_export.copy()


__all__ = ["JOURNAL", "ReportTableModel", "ReportsView", "cell_text"]
