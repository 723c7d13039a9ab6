"""Telling the user things: errors, confirmations, notices.

Errors say who they are for (STYLE.md, Electrum): a
:class:`~app.services.errors.ServiceError` is shown as written; a file with
problems lists every problem; anything else is a bug, logged with its
traceback and shown as a short apology naming the log file.

Every box here is window-modal and opened with ``open()``, not ``exec()``:
the event loop keeps running (background work finishes, tests can answer the
box), and the answer arrives through a callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from app.services.errors import FileRejected, NeedsConfirmation, ServiceError

log = logging.getLogger("keel.ui")

#: Where the log file is; application.py sets it when it configures logging.
LOG_FILE: str | None = None

TITLE = "Keel"


def _box(parent: QWidget | None, icon: QMessageBox.Icon, text: str, detail: str | None = None) -> QMessageBox:
    box = QMessageBox(parent.window() if parent is not None else None)
    box.setObjectName("messageBox")
    box.setIcon(icon)
    box.setWindowTitle(TITLE)
    box.setText(text)
    box.setTextFormat(Qt.TextFormat.PlainText)
    if detail:
        box.setDetailedText(detail)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    return box


def error_text(exc: BaseException) -> str:
    """The sentence to show for ``exc`` (ServiceErrors as written)."""
    if isinstance(exc, ServiceError):
        return str(exc)
    where = f" The details are in the log file {LOG_FILE}." if LOG_FILE else " The details are in the log."
    return f"Something went wrong that Keel did not expect ({type(exc).__name__}).{where}"


def show_error(parent: QWidget | None, exc: BaseException) -> QMessageBox:
    """Show ``exc`` the way it should be shown; log it when it is a bug."""
    if isinstance(exc, FileRejected):
        lines = [str(problem) for problem in exc.problems]
        count = len(lines)
        text = f"{count} problem{'s' if count != 1 else ''} found; nothing was written.\n\n" + "\n".join(lines[:8])
        if count > 8:
            text += f"\n... and {count - 8} more (Show Details)."
        box = _box(parent, QMessageBox.Icon.Warning, text, "\n".join(lines))
    elif isinstance(exc, ServiceError):
        log.info("refused: %s", exc)
        box = _box(parent, QMessageBox.Icon.Warning, str(exc))
    else:
        log.error("unexpected error", exc_info=exc)
        box = _box(parent, QMessageBox.Icon.Critical, error_text(exc))
    box.open()
    return box


def inform(parent: QWidget | None, text: str, detail: str | None = None) -> QMessageBox:
    box = _box(parent, QMessageBox.Icon.Information, text, detail)
    box.open()
    return box


def confirm(
    parent: QWidget | None,
    text: str,
    on_yes: Callable[[], None],
    *,
    detail: str | None = None,
    yes_text: str = "Continue",
    on_no: Callable[[], None] | None = None,
) -> QMessageBox:
    """Ask a yes/no question; ``on_yes`` runs only on an explicit yes.  No is the default."""
    box = _box(parent, QMessageBox.Icon.Question, text, detail)
    yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
    no = box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
    yes.setObjectName("confirmYes")
    no.setObjectName("confirmNo")
    box.setDefaultButton(no)
    box.setEscapeButton(no)

    def answered() -> None:
        if box.clickedButton() is yes:
            on_yes()
        elif on_no is not None:
            on_no()

    box.finished.connect(lambda _result: answered())
    box.open()
    return box


def preview_detail(exc: NeedsConfirmation) -> str | None:
    """What a back-dated entry would change, from the preview a service attached."""
    preview = exc.preview
    changes = getattr(preview, "changes", None)
    if not changes:
        return None
    lines = ["What changes on the account:"]
    for name, before, after in changes:
        lines.append(f"  {name.replace('_', ' ')}: {before} -> {after}")
    return "\n".join(lines)
