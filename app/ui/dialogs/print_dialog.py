"""Hand PDFs (letters, notices) to the desk's PDF viewer to print.

PySide6-Essentials has no PDF renderer (QtPdf is a separate wheel), so Keel
does not draw the PDF itself: it writes the file and opens it with the
system's viewer, whose Print is the one the desk already knows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QWidget

from app.ui.messages import inform


def write_pdfs(pdfs: list[bytes], stem: str) -> list[Path]:
    folder = Path(tempfile.mkdtemp(prefix="keel-print-"))
    paths = []
    for index, pdf in enumerate(pdfs, start=1):
        path = folder / f"{stem}-{index:03d}.pdf"
        path.write_bytes(pdf)
        paths.append(path)
    return paths


def print_pdfs(parent: QWidget | None, pdfs: list[bytes], title: str) -> list[Path]:
    paths = write_pdfs(pdfs, "keel-letter")
    for path in paths:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
    if paths:
        inform(parent, f"{title}: {len(paths)} PDF file(s) opened in your PDF viewer for printing.",
               "\n".join(str(p) for p in paths))
    return paths
