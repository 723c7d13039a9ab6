"""The in-app preview of a letter or a batch, and printing it (issue 11).

The pages shown and printed are the document's own (the stored PDF whose
SHA-256 the letters service keeps, or the letter a preview would issue),
drawn by :mod:`app.ui.pdf_pages`.  Print opens the system print dialog
(printer, copies, pages, two-sided); Print to PDF in that dialog writes the
stored bytes.  The dialog says in one sentence whether printing worked and
emits :attr:`LetterPreviewDialog.printed` only when it did, so the caller
marks letters printed only then.  No file is written anywhere else.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QResizeEvent, QShortcut, QShowEvent
from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.ui.forms import no_default_buttons
from app.ui.pdf_pages import PdfPages, PrintFailed, print_pdf

log = logging.getLogger("keel.ui")

#: Screen resolution the zoom factor is relative to (100 % = the page at 96 dpi).
SCREEN_DPI = 96.0
ZOOM_STEPS = (0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0)


class PdfPagesView(QScrollArea):
    """The pages one under another on a grey desk; only the pages in view are rendered."""

    def __init__(self, data: bytes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pdfPages")
        self.pages = PdfPages(data)
        self.zoom = 1.0
        self.fit_width = True
        self._rendered: dict[int, float] = {}
        self.setWidgetResizable(True)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.setStyleSheet("QScrollArea#pdfPages, QWidget#pdfDesk { background: #5f6670; }")
        desk = QWidget()
        desk.setObjectName("pdfDesk")
        self._layout = QVBoxLayout(desk)
        self._layout.setContentsMargins(24, 18, 24, 18)
        self._layout.setSpacing(18)
        self.labels: list[QLabel] = []
        for index in range(len(self.pages)):
            label = QLabel()
            label.setObjectName(f"pdfPage{index + 1}")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("background: white; border: 1px solid #3a3f46;")
            label.setAccessibleName(f"Page {index + 1} of {len(self.pages)}")
            self._layout.addWidget(label, 0, Qt.AlignmentFlag.AlignHCenter)
            self.labels.append(label)
        self._layout.addStretch(1)
        self.setWidget(desk)
        self.verticalScrollBar().valueChanged.connect(lambda _v: self._render_visible())
        self._sized_for: float | None = None

    # ------------------------------------------------------------ zoom
    def dpi(self) -> float:
        if self.fit_width and self.pages.sizes:
            widest = max(width for width, _ in self.pages.sizes)
            room = max(self.viewport().width() - 2 * 24 - 4, 200)
            # Fit the width, but no larger than 125 %: a page blown up to a wide screen reads worse.
            return min(max(room / widest * 72, 24.0), SCREEN_DPI * 1.25)
        return SCREEN_DPI * self.zoom

    def set_zoom(self, zoom: float | None) -> None:
        """A zoom factor (1.0 = 100 %), or None to fit the page width."""
        self.fit_width = zoom is None
        if zoom is not None:
            self.zoom = zoom
        self._resize_pages()

    def step_zoom(self, direction: int) -> None:
        current = self.dpi() / SCREEN_DPI
        if direction > 0:
            bigger = [z for z in ZOOM_STEPS if z > current + 0.01]
            self.set_zoom(bigger[0] if bigger else ZOOM_STEPS[-1])
        else:
            smaller = [z for z in ZOOM_STEPS if z < current - 0.01]
            self.set_zoom(smaller[-1] if smaller else ZOOM_STEPS[0])

    def _resize_pages(self) -> None:
        dpi = self.dpi()
        if self._sized_for is not None and abs(self._sized_for - dpi) < 0.5:
            self._render_visible()
            return
        self._sized_for = dpi
        self._rendered.clear()
        for index, label in enumerate(self.labels):
            label.setPixmap(QPixmap())
            label.setFixedSize(self.pages.page_size(index, dpi))
        QTimer.singleShot(0, self, self._render_visible)

    # ------------------------------------------------------------ rendering
    def page_image(self, index: int, dpi: float | None = None) -> QImage:
        """Page ``index`` (0-based) rendered (at the view's resolution by default)."""
        return self.pages.image(index, dpi or self.dpi())

    def _render_visible(self) -> None:
        if not self.labels or self._sized_for is None:
            return
        top = self.verticalScrollBar().value()
        bottom = top + self.viewport().height()
        dpi = self._sized_for
        for index, label in enumerate(self.labels):
            y = label.mapTo(self.widget(), QPoint(0, 0)).y()
            if y + label.height() < top - 200 or y > bottom + 200:
                continue
            if self._rendered.get(index) == dpi:
                continue
            ratio = self.devicePixelRatioF()
            image = self.pages.image(index, dpi * ratio)
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(ratio)
            label.setPixmap(pixmap)
            self._rendered[index] = dpi

    def rendered_pages(self) -> list[int]:
        return sorted(self._rendered)

    def resizeEvent(self, event: QResizeEvent) -> None:  # Qt's name
        super().resizeEvent(event)
        if self.fit_width:
            self._resize_pages()

    def showEvent(self, event: QShowEvent) -> None:  # Qt's name
        super().showEvent(event)
        self._resize_pages()

    def close_document(self) -> None:
        self.pages.close()


class LetterPreviewDialog(QDialog):
    """One document's pages, with Print (system dialog) and, for an unissued letter, Issue."""

    #: Emitted after the printer (or the PDF file) took the document: the pages sent.
    printed = Signal(int)
    #: Emitted when printing failed, with the sentence shown.
    print_failed = Signal(str)
    #: The user asked to issue the previewed letter (only when ``issue_text`` was given).
    issue_requested = Signal()

    def __init__(
        self,
        parent: QWidget | None,
        data: bytes,
        title: str,
        *,
        note: str = "",
        can_print: bool = True,
        issue_text: str | None = None,
        duplex_data: bytes | None = None,
        document_name: str = "Keel letter",
    ) -> None:
        super().__init__(parent)
        self.setObjectName("letterPreviewDialog")
        self.setWindowTitle(f"{title} \N{EM DASH} Keel")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.data = data
        self.duplex_data = duplex_data
        self.document_name = document_name
        self._print_dialog: QPrintDialog | None = None

        self.view = PdfPagesView(data, self)
        count = len(self.view.pages)

        heading = QLabel(title)
        heading.setObjectName("previewTitle")
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        heading.setFont(font)
        self.note_label = QLabel(note)
        self.note_label.setObjectName("previewNote")
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: #3c4650;")
        self.pages_label = QLabel(f"{count} page{'s' if count != 1 else ''}")
        self.pages_label.setObjectName("previewPages")

        self.zoom_out_button = QPushButton("\N{MINUS SIGN}")
        self.zoom_out_button.setToolTip("Smaller (Ctrl+\N{MINUS SIGN})")
        self.zoom_out_button.setAccessibleName("Zoom out")
        self.fit_button = QPushButton("Fit &width")
        self.zoom_in_button = QPushButton("+")
        self.zoom_in_button.setToolTip("Larger (Ctrl++)")
        self.zoom_in_button.setAccessibleName("Zoom in")
        for button in (self.zoom_out_button, self.zoom_in_button):
            button.setFixedWidth(button.fontMetrics().horizontalAdvance("MM") + 16)
        self.zoom_out_button.clicked.connect(lambda: self.view.step_zoom(-1))
        self.zoom_in_button.clicked.connect(lambda: self.view.step_zoom(1))
        self.fit_button.clicked.connect(lambda: self.view.set_zoom(None))
        QShortcut(QKeySequence.StandardKey.ZoomIn, self, lambda: self.view.step_zoom(1))
        QShortcut(QKeySequence.StandardKey.ZoomOut, self, lambda: self.view.step_zoom(-1))

        self.issue_button = QPushButton(issue_text or "")
        self.issue_button.setObjectName("previewIssue")
        self.issue_button.setVisible(issue_text is not None)
        self.issue_button.clicked.connect(self._issue)
        self.save_button = QPushButton("&Save PDF\N{HORIZONTAL ELLIPSIS}")
        self.save_button.setObjectName("previewSave")
        self.save_button.setToolTip("Save the document's PDF exactly as stored")
        self.save_button.setVisible(can_print)
        self.save_button.clicked.connect(self._save)
        self.print_button = QPushButton("&Print\N{HORIZONTAL ELLIPSIS}")
        self.print_button.setObjectName("previewPrint")
        self.print_button.setToolTip("Choose a printer, copies, pages and two-sided printing (Ctrl+P)")
        self.print_button.setVisible(can_print)
        self.print_button.clicked.connect(self.print_document)
        if can_print:
            QShortcut(QKeySequence.StandardKey.Print, self, self.print_document)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("previewClose")
        self.close_button.clicked.connect(self.reject)

        top = QHBoxLayout()
        words = QVBoxLayout()
        words.setSpacing(2)
        words.addWidget(heading)
        words.addWidget(self.note_label)
        top.addLayout(words, 1)
        top.addWidget(self.pages_label)
        top.addSpacing(12)
        top.addWidget(self.zoom_out_button)
        top.addWidget(self.fit_button)
        top.addWidget(self.zoom_in_button)

        self.status_label = QLabel()
        self.status_label.setObjectName("previewStatus")
        self.status_label.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.issue_button)
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.print_button)
        bottom.addWidget(self.close_button)

        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.HLine)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(rule)
        layout.addLayout(bottom)
        no_default_buttons(self)
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is not None:
            self.resize(min(980, screen.width() - 40), screen.height() - 60)

    # ------------------------------------------------------------ printing
    def print_document(self) -> None:
        """Open the system print dialog; print when the user accepts it."""
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setDocName(self.document_name)
        count = len(self.view.pages)
        printer.setFromTo(1, count)
        dialog = QPrintDialog(printer, self)
        dialog.setObjectName("systemPrintDialog")
        dialog.setMinMax(1, count)
        dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintPageRange, True)
        dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintToFile, True)
        dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintCollateCopies, True)
        dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintShowPageSize, True)
        dialog.accepted.connect(lambda: self.print_to(printer))
        self._print_dialog = dialog
        dialog.open()

    def print_to(self, printer: QPrinter) -> bool:
        """Send the document to ``printer``; say in one sentence whether it worked."""
        two_sided = printer.duplex() != QPrinter.DuplexMode.DuplexNone
        data = self.duplex_data if two_sided and self.duplex_data else self.data
        try:
            pages = print_pdf(data, printer)
        except PrintFailed as exc:
            return self._failed(str(exc))
        except Exception:  # a printer driver or PDF fault: logged with its traceback, told in a sentence
            log.exception("printing %s failed", self.document_name)
            return self._failed("Printing failed for a reason Keel did not expect; nothing was marked printed.")
        where = (f"to {printer.outputFileName()}" if printer.outputFormat() == QPrinter.OutputFormat.PdfFormat
                 else f"to {printer.printerName()}" if printer.printerName() else "to the printer")
        self.status_label.setStyleSheet("color: #1e5a2a;")
        self.status_label.setText(f"Sent {pages} page{'s' if pages != 1 else ''} {where}.")
        self.printed.emit(pages)
        return True

    def _failed(self, text: str) -> bool:
        self.status_label.setStyleSheet("color: #a00000; font-weight: bold;")
        self.status_label.setText(text)
        self.print_failed.emit(text)
        return False

    def _save(self) -> None:
        dialog = QFileDialog(self, "Save the PDF", f"{self.document_name}.pdf", "PDF files (*.pdf)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("pdf")
        dialog.fileSelected.connect(self.save_to)
        dialog.open()

    def save_to(self, path: str) -> bool:
        try:
            with open(path, "wb") as out:
                out.write(self.data)
        except OSError as exc:
            self.status_label.setStyleSheet("color: #a00000; font-weight: bold;")
            self.status_label.setText(f"Could not save {path}: {exc.strerror or exc}.")
            return False
        self.status_label.setStyleSheet("")
        self.status_label.setText(f"Saved {path}; saving is not printing, so nothing was marked printed.")
        return True

    def _issue(self) -> None:
        self.issue_button.setEnabled(False)
        self.issue_requested.emit()

    def showEvent(self, event: QShowEvent) -> None:  # Qt's name
        super().showEvent(event)
        no_default_buttons(self)

    def done(self, result: int) -> None:  # Qt's name
        self.view.close_document()
        super().done(result)

    def show_preview(self) -> None:
        """Show it window-modal (the event loop keeps running; see app.ui.messages)."""
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.open()


__all__ = ["LetterPreviewDialog", "PdfPagesView"]
