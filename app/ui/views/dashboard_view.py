"""The portfolio at a glance: KPI tiles and charts, every figure from app.services.dashboard.

``keel dashboard --json`` prints the same :func:`~app.services.dashboard.dashboard`
result, so the screen and the terminal cannot disagree.  Click a payments or
delinquency bar (or double-click a bucket row) to list the loans behind it.
pyqtgraph draws in floats; the Decimals are converted only to place bars,
never for a figure shown as text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QFrame,
    QVBoxLayout,
    QWidget,
)

from app.services import dashboard
from app.services.dashboard import BucketFigure, Dashboard, LoanLine
from app.ui import formatting
from app.ui.dialogs.loan_list_dialog import LoanListDialog
from app.ui.export import add_export
from app.ui.messages import show_error
from app.ui.models.record_table_model import Column, RecordTableModel
from app.ui.views.view import View
from app.ui.widgets.kpi_tile import KpiTile
from app.ui.widgets.table import make_table
from app.ui.workers import Change
from app.ui.workspace import Workspace
from app.ui.widgets.date_edit import DateEdit

PRINCIPAL_COLOUR = QColor("#2f6db5")
PAYMENTS_COLOUR = QColor("#2e7d4f")
BUCKET_COLOURS = {"1-29": "#e0b000", "30-59": "#e07b00", "60-89": "#d04a00", "90-119": "#b01c1c", "120+": "#7a0d3a"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def short_money(value: float) -> str:
    """Axis labels: $1.2M, $350K, $900 (the exact figures are in the tiles and lists)."""
    magnitude = abs(value)
    sign = "-" if value < 0 else ""
    if magnitude >= 1_000_000:
        return f"{sign}${magnitude / 1_000_000:.1f}M"
    if magnitude >= 10_000:
        return f"{sign}${magnitude / 1_000:.0f}K"
    if magnitude >= 1_000:
        return f"{sign}${magnitude / 1_000:.1f}K"
    return f"{sign}${magnitude:.0f}"


class MoneyAxis(pg.AxisItem):
    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # pyqtgraph's name
        return [short_money(v * scale) for v in values]


def month_label(first: date) -> str:
    return f"{MONTHS[first.month - 1]}\n{first.year}"


class BarChart(pg.PlotWidget):
    """Bars at 0..n-1 with text ticks; a click on a bar calls ``on_click(index)``."""

    def __init__(self, name: str, colour: QColor | list[QColor], parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background="w", axisItems={"left": MoneyAxis("left")})
        self.setObjectName(name)
        self.colour = colour
        self.on_click: Callable[[int], None] | None = None
        self.values: list[Decimal] = []
        self.labels: list[str] = []
        font = QFont(self.font())
        for axis in ("left", "bottom"):
            item = self.getAxis(axis)
            item.setTickFont(font)
            item.setTextPen(pg.mkPen("#222222"))
            item.setPen(pg.mkPen("#888888"))
        # Room for two-line month labels ("Dec" over "2025").
        self.getAxis("bottom").setHeight(int(self.fontMetrics().height() * 2.8))
        self.showGrid(x=False, y=True, alpha=0.25)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.scene().sigMouseClicked.connect(self._clicked)
        self._items: list[Any] = []

    def sizeHint(self) -> QSize:  # Qt's name: small, so four charts share the window rather than scroll
        return QSize(self.fontMetrics().averageCharWidth() * 50, self.fontMetrics().height() * 12)

    def set_bars(self, labels: list[str], values: list[Decimal], notes: list[str] | None = None,
                 line: bool = False) -> None:
        for item in self._items:
            self.removeItem(item)
        self._items = []
        self.labels, self.values = labels, values
        xs = list(range(len(values)))
        heights = [float(v) for v in values]
        if line:
            item = pg.PlotDataItem(xs, heights, pen=pg.mkPen(self.colour, width=3), symbol="o", symbolSize=8,
                                   symbolBrush=self.colour, symbolPen=pg.mkPen("w"))
        else:
            brushes = self.colour if isinstance(self.colour, list) else [self.colour] * len(values)
            item = pg.BarGraphItem(x=xs, height=heights, width=0.7, brushes=brushes, pens=[pg.mkPen(None)] * len(xs))
        self.addItem(item)
        self._items.append(item)
        top = max(heights + [0.0])
        for x, note in zip(xs, notes or []):
            text = pg.TextItem(note, color="#222222", anchor=(0.5, 1.0))
            text.setPos(x, heights[x])
            self.addItem(text)
            self._items.append(text)
        self.getAxis("bottom").setTicks([[(x, label) for x, label in zip(xs, labels)]])
        self.setXRange(-0.6, len(values) - 0.4, padding=0)
        if line:
            # A balance line: the range around the values shows the trend; the axis says where it starts.
            low = min(heights + [top])
            span = (top - low) or max(top, 1.0)
            self.setYRange(max(0.0, low - span * 0.25), top + span * 0.25, padding=0)
        else:
            self.setYRange(0, top * 1.15 if top > 0 else 1, padding=0)

    def _clicked(self, event: Any) -> None:
        if self.on_click is None or event.button() != Qt.MouseButton.LeftButton or not self.values:
            return
        point = self.getPlotItem().vb.mapSceneToView(event.scenePos())
        index = round(point.x())
        if 0 <= index < len(self.values) and abs(point.x() - index) <= 0.4:
            self.on_click(index)


class BucketTableModel(RecordTableModel[BucketFigure]):
    columns = (
        Column("Bucket", lambda r: r.bucket, text=lambda r: "Current" if r.bucket == "current" else f"{r.bucket} days"),
        Column("Loans", lambda r: r.loans, "int"),
        Column("Principal", lambda r: r.principal, "money"),
    )


class DashboardView(View):
    title = "Dashboard"
    shortcut = "Ctrl+1"

    dashboard_shown = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(workspace, parent)
        self.setObjectName("dashboardView")
        self.data: Dashboard | None = None

        self.as_of_edit = DateEdit(field="As of")
        self.as_of_edit.setObjectName("dashboardAsOf")
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.setObjectName("dashboardRefresh")
        self.note = QLabel()
        self.note.setObjectName("dashboardNote")
        self.note.setWordWrap(True)
        top = QHBoxLayout()
        heading = QLabel("Portfolio")
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        heading.setFont(font)
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(QLabel("As &of:"))
        top.itemAt(top.count() - 1).widget().setBuddy(self.as_of_edit)  # type: ignore[union-attr]
        top.addWidget(self.as_of_edit)
        top.addWidget(self.refresh_button)

        self.tiles = {
            "principal": KpiTile("Outstanding principal", "principal"),
            "open": KpiTile("Open loans", "open"),
            "delinquency": KpiTile("30+ days delinquent", "delinquency"),
            "collected": KpiTile("Collected this month", "collected"),
            "promises": KpiTile("Promises kept", "promises"),
        }
        tiles = QHBoxLayout()
        for tile in self.tiles.values():
            tiles.addWidget(tile)

        self.principal_chart = BarChart("principalChart", PRINCIPAL_COLOUR)
        self.payments_chart = BarChart("paymentsChart", PAYMENTS_COLOUR)
        self.payments_chart.on_click = self.show_payments_month
        self.bucket_chart = BarChart("bucketChart", [QColor(c) for c in BUCKET_COLOURS.values()])
        self.bucket_chart.on_click = lambda index: self.show_bucket(list(BUCKET_COLOURS)[index])
        self.bucket_model = BucketTableModel(self)
        self.bucket_table = make_table(self.bucket_model, name="bucketTable", sortable=False)
        add_export(self.bucket_table, workspace, "Delinquency by bucket",
                   lambda: [("As of", self.data.kpis.delinquency_as_of.isoformat())] if self.data else [])
        self.bucket_table.activated.connect(lambda index: self.show_bucket(self.bucket_model.row_at(index.row()).bucket))
        self.bucket_table.doubleClicked.connect(
            lambda index: self.show_bucket(self.bucket_model.row_at(index.row()).bucket))

        def box(title: str, widget: QWidget, hint: str = "") -> QGroupBox:
            group = QGroupBox(title)
            layout = QVBoxLayout(group)
            layout.addWidget(widget, 1)
            if hint:
                label = QLabel(hint)
                label.setWordWrap(True)
                layout.addWidget(label)
            widget.setMinimumHeight(self.fontMetrics().height() * 11)
            return group

        charts = QGridLayout()
        charts.addWidget(box("Outstanding principal by month end", self.principal_chart), 0, 0)
        charts.addWidget(box("Payments received by month (net of reversals)", self.payments_chart,
                             "Click a bar for the loans that paid that month."), 0, 1)
        charts.addWidget(box("Past-due principal by bucket (loan counts above the bars)", self.bucket_chart,
                             "Click a bar for the loans in that bucket."), 1, 0)
        charts.addWidget(box("Delinquency by bucket", self.bucket_table,
                             "Double-click or press Enter on a row for its loans."), 1, 1)
        charts.setColumnStretch(0, 1)
        charts.setColumnStretch(1, 1)
        charts.setRowStretch(0, 1)
        charts.setRowStretch(1, 1)

        page = QWidget()
        page_layout = QVBoxLayout(page)
        page_layout.addLayout(top)
        page_layout.addLayout(tiles)
        page_layout.addWidget(self.note)
        page_layout.addLayout(charts, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        self._reset_date()
        self.refresh_button.clicked.connect(self.refresh)
        self.as_of_edit.value_changed.connect(lambda d: self.refresh() if d is not None else None)
        workspace.business_date_changed.connect(self._reset_date)

    def _reset_date(self, _day: object = None) -> None:
        today = self.workspace.business_date
        self.as_of_edit.blockSignals(True)
        self.as_of_edit.set_range(None, today, maximum_name="the open business date")
        self.as_of_edit.set_value(today)
        self.as_of_edit.blockSignals(False)

    def as_of(self) -> date:
        return self.as_of_edit.value() or self.workspace.business_date

    def refresh(self) -> None:
        ctx, day = self.workspace.ctx, self.as_of()
        self.note.setText("Loading\N{HORIZONTAL ELLIPSIS}")
        self.workspace.tasks.read(lambda: dashboard.dashboard(ctx, day), self._show, self._failed, owner=self)

    def _failed(self, exc: BaseException) -> None:
        self.note.setText("")
        show_error(self, exc)

    def _show(self, data: Dashboard) -> None:
        self.data = data
        k = data.kpis
        self.tiles["principal"].set(formatting.money(k.outstanding_principal),
                                    f"as of {formatting.day(k.as_of)}")
        self.tiles["open"].set(f"{k.open_loans:,}", "loans with principal outstanding")
        self.tiles["delinquency"].set(
            formatting.percent(k.delinquency_rate_30),
            f"{k.delinquent_30_loans:,} loans, {formatting.money(k.delinquent_30_principal)} of principal")
        # Like for like (issue 11): this month to date against last month to the same day, never a whole month.
        change = ""
        if k.collected_last_month_to_date:
            delta = (k.collected_this_month - k.collected_last_month_to_date) * 100 / k.collected_last_month_to_date
            change = f" ({delta:+.1f} %)"
        compared = f"{k.last_month_to:%b} 1–{k.last_month_to.day}"
        self.tiles["collected"].set(formatting.money(k.collected_this_month),
                                    f"{k.as_of:%b} 1–{k.as_of.day}; vs {compared} "
                                    f"{formatting.money(k.collected_last_month_to_date)}{change}; "
                                    f"all of last month {formatting.money(k.collected_last_month)}")
        settled = k.promises_kept + k.promises_partly_kept + k.promises_broken
        self.tiles["promises"].set(
            formatting.percent(k.promise_kept_rate) if k.promise_kept_rate is not None else "none settled",
            f"{k.promises_kept:,} kept, {k.promises_partly_kept:,} partly, {k.promises_broken:,} broken "
            f"of {settled:,} due in the last 12 months")
        past = k.as_of < k.business_date
        self.note.setText(
            f"Delinquency figures are as of the open business date {formatting.day(k.delinquency_as_of)}; "
            "principal and payments are as of the chosen date." if past else "")

        self.principal_chart.set_bars([month_label(f.month) for f in data.principal_by_month],
                                      [f.amount for f in data.principal_by_month], line=True)
        self.payments_chart.set_bars([month_label(f.month) for f in data.payments_by_month],
                                     [f.amount for f in data.payments_by_month])
        past_due = [b for b in data.delinquency_by_bucket if b.bucket in BUCKET_COLOURS]
        self.bucket_chart.set_bars([b.bucket for b in past_due], [b.principal for b in past_due],
                                   notes=[f"{b.loans:,}" for b in past_due])
        self.bucket_model.set_rows(list(data.delinquency_by_bucket))
        self.bucket_table.resizeColumnsToContents()
        self.dashboard_shown.emit(data)

    # ------------------------------------------------------------ drill-down
    def _list(self, title: str, amount_title: str, fetch: Callable[[], list[LoanLine]]) -> None:
        window = self.window()

        def done(loans: list[LoanLine]) -> None:
            opener = getattr(window, "open_account", lambda _n: None)
            dialog = LoanListDialog(title, amount_title, loans, opener, self, workspace=self.workspace)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.open()

        self.workspace.tasks.read(fetch, done, owner=self, label="Finding the loans\N{HORIZONTAL ELLIPSIS}")

    def show_bucket(self, bucket: str) -> None:
        ctx = self.workspace.ctx
        name = "current loans" if bucket == "current" else f"loans {bucket} days past due"
        self._list(f"Active {name}", "Principal", lambda: dashboard.loans_in_bucket(ctx, bucket))

    def show_payments_month(self, index: int) -> None:
        if self.data is None or not 0 <= index < len(self.data.payments_by_month):
            return
        month = self.data.payments_by_month[index].month
        ctx = self.workspace.ctx
        self._list(f"Loans that paid in {MONTHS[month.month - 1]} {month.year}", "Received",
                   lambda: dashboard.loans_paid_in_month(ctx, month))

    def apply_change(self, change: Change) -> None:
        if change.kind in ("payment_posted", "payment_reversed", "batch_posted", "day_closed", "contact_logged"):
            if self.isVisible():
                self.refresh()
            else:
                self._loaded = False  # reload next time it is shown
