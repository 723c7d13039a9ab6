"""Drawing a stored PDF's pages: on screen (the preview) and on a printer (issue 11).

Keel prints letters as their stored, hashed PDFs, never a second rendering.
The pages are drawn by PDFium (``pypdfium2``, a small wheel for Windows,
macOS and Linux; the same renderer QtPdf wraps, which PySide6-Essentials does
not ship).  PDFium is not thread-safe, so everything here runs on the GUI
thread; the preview renders only the pages in view.

Printing:

* to a printer, each page is rendered at the printer's resolution (capped at
  :data:`MAX_PRINT_DPI`: a 600 dpi colour page is 130 MB of pixels, and 300
  dpi is what a laser prints text at) and drawn to fill the printable page,
  keeping its proportions;
* to a PDF file (QPrinter's PdfFormat, "Print to PDF" in the dialog), the
  stored bytes themselves are written, the chosen pages picked out with pypdf,
  so the file's text is the letters' text and not a picture of it.

Every failure is raised as :class:`PrintFailed` with one sentence for the user.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pypdfium2 as pdfium
from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QImage, QPainter
from PySide6.QtPrintSupport import QPrinter

#: Highest resolution a page is rendered at for a printer (see the module's note).
MAX_PRINT_DPI = 300


class PrintFailed(Exception):
    """Printing did not happen; the message is one sentence for the user."""


class PdfPages:
    """One PDF opened for drawing (PDFium keeps the document; close() frees it)."""

    def __init__(self, data: bytes) -> None:
        if not data:
            raise PrintFailed("There is nothing to show: the document is empty.")
        self.data = data
        try:
            self._doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            raise PrintFailed("The stored document could not be read as a PDF.") from None
        self.sizes: list[tuple[float, float]] = [self._doc[i].get_size() for i in range(len(self._doc))]

    def __len__(self) -> int:
        return len(self.sizes)

    def page_size(self, index: int, dpi: float) -> QSize:
        """A page's size in pixels at ``dpi`` (PDF points are 1/72 inch)."""
        width, height = self.sizes[index]
        return QSize(max(1, round(width * dpi / 72)), max(1, round(height * dpi / 72)))

    def image(self, index: int, dpi: float) -> QImage:
        """Page ``index`` (0-based) as an image at ``dpi``, white behind it."""
        page = self._doc[index]
        bitmap = page.render(scale=dpi / 72, rev_byteorder=True)
        image = QImage(bitmap.buffer, bitmap.width, bitmap.height, bitmap.stride, QImage.Format.Format_RGB888)
        return image.copy()  # own the pixels: the bitmap's buffer goes away with it

    def close(self) -> None:
        self._doc.close()


def selected_pages(printer: QPrinter, count: int) -> list[int]:
    """The 0-based pages the print dialog chose (all when no range was given)."""
    if printer.printRange() == QPrinter.PrintRange.PageRange and printer.fromPage() > 0:
        first = max(printer.fromPage(), 1)
        last = min(printer.toPage() if printer.toPage() > 0 else count, count)
        return list(range(first - 1, last))
    return list(range(count))


def print_pdf(data: bytes, printer: QPrinter) -> int:
    """Print ``data``'s pages on ``printer``; the number of pages sent.  Raises PrintFailed."""
    pages = PdfPages(data)
    try:
        chosen = selected_pages(printer, len(pages))
        if not chosen:
            raise PrintFailed("The pages chosen are not in the document.")
        if printer.outputFormat() == QPrinter.OutputFormat.PdfFormat:
            _write_pdf(data, chosen, len(pages), printer.outputFileName())
            return len(chosen)
        _paint(pages, chosen, printer)
        return len(chosen)
    finally:
        pages.close()


def _write_pdf(data: bytes, chosen: Sequence[int], count: int, file_name: str) -> None:
    if not file_name:
        raise PrintFailed("Choose a file to print to.")
    out = data
    if list(chosen) != list(range(count)):
        from pypdf import PdfReader, PdfWriter

        reader = PdfReader(io.BytesIO(data))
        writer = PdfWriter()
        for index in chosen:
            writer.add_page(reader.pages[index])
        buffer = io.BytesIO()
        writer.write(buffer)
        out = buffer.getvalue()
    try:
        Path(file_name).write_bytes(out)
    except OSError as exc:
        raise PrintFailed(f"Could not write {file_name}: {exc.strerror or exc}.") from None


def _paint(pages: PdfPages, chosen: Sequence[int], printer: QPrinter) -> None:
    painter = QPainter()
    if not painter.begin(printer):
        name = f"printer {printer.printerName()}" if printer.printerName() else "printer"
        raise PrintFailed(f"The {name} could not be started; check that it is connected and try again.")
    try:
        dpi = min(printer.resolution(), MAX_PRINT_DPI)
        for position, index in enumerate(chosen):
            if position and not printer.newPage():
                raise PrintFailed("The printer stopped taking pages; check it and print again.")
            image = pages.image(index, dpi)
            target = QRectF(painter.viewport())
            scale = min(target.width() / image.width(), target.height() / image.height())
            width, height = image.width() * scale, image.height() * scale
            painter.drawImage(QRectF(target.x() + (target.width() - width) / 2, target.y(), width, height), image)
    finally:
        if not painter.end():
            raise PrintFailed("The printer did not accept the document; check it and print again.")


__all__ = ["MAX_PRINT_DPI", "PdfPages", "PrintFailed", "print_pdf", "selected_pages"]
