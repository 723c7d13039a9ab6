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
import re
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from app.services.errors import FileRejected, NeedsConfirmation, Problem, ServiceError, storage_problem

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


#: Field codes services name in their errors, as a clerk reads them on the form.
FIELD_LABELS = {
    "loan_number": "Loan number", "loan": "Loan number", "amount": "Amount", "effective_date": "Effective date", "method": "Method",
    "reference": "Reference", "control_total": "Control total", "deposit_date": "Deposit date",
    "rows": "Payments", "file": "File", "split": "Allocation", "note": "Note", "reason": "Reason",
    "rate": "Rate", "payment": "Payment", "next_due": "Next due date", "term": "Remaining term",
    "through": "Through date", "name": "Name", "draft": "Draft",
}
_LEADING_FIELD = re.compile(r"^([a-z][a-z_]*(?:\.[a-z_]+)*): ")


def field_label(code: str) -> str:
    """``control_total`` -> ``Control total`` (the label on the form)."""
    return FIELD_LABELS.get(code) or (code.replace("_", " ").replace(".", " ")[:1].upper()
                                      + code.replace("_", " ").replace(".", " ")[1:])


def clerk_text(message: str) -> str:
    """A service message as a sentence: a leading field code becomes its label, and it ends with a stop."""
    text = message.strip()
    match = _LEADING_FIELD.match(text)
    if match:
        text = f"{field_label(match.group(1))}: {text[match.end():]}"
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def error_field(exc: BaseException) -> str | None:
    """The field a service error is about (its ``field``, or the code its message starts with)."""
    field = getattr(exc, "field", None)
    if isinstance(field, str):
        return field
    match = _LEADING_FIELD.match(str(exc)) if isinstance(exc, ServiceError) else None
    return match.group(1) if match else None


def problem_text(problem: Problem) -> str:
    """One problem of a batch or file as a clerk reads it: ``Row 3 — Amount: must be more than zero.``"""
    where = "" if problem.file in ("batch", "") else f"{problem.file}, "
    where += f"row {problem.row} — " if problem.row is not None else ""
    where = where[:1].upper() + where[1:]
    return f"{where}{clerk_text(f'{field_label(problem.field)}: {problem.reason}')}"


#: The outline a field with a problem gets (with the sentence beside or below it).
PROBLEM_OUTLINE = "border: 2px solid #a00000; border-radius: 2px;"


def mark_problem(fields: dict[str, QWidget], field: str | None) -> None:
    """Outline the widget of ``field`` (a service's field code) and clear the others' outline."""
    chosen = fields.get(field) if field is not None else None
    for widget in dict.fromkeys(fields.values()):
        marked = widget is chosen
        if bool(widget.property("problemOutline")) != marked:
            widget.setProperty("problemOutline", marked)
            # The Qt class's selector, so the outline does not spill into child widgets (a combo's list).
            base = next((c.__name__ for c in type(widget).__mro__ if c.__module__.startswith("PySide6")), "QWidget")
            widget.setStyleSheet(f"{base} {{ {PROBLEM_OUTLINE} }}" if marked else "")


def error_text(exc: BaseException) -> str:
    """The sentence to show for ``exc`` (ServiceErrors as written, field codes as their labels)."""
    if isinstance(exc, FileRejected) and exc.problems:
        more = len(exc.problems) - 1
        return problem_text(exc.problems[0]) + (f" (and {more} more problem{'s' if more != 1 else ''})" if more else "")
    if isinstance(exc, ServiceError):
        return clerk_text(str(exc))
    known = storage_problem(exc)
    if known is not None:  # a full disk, a damaged file: not a bug, and nothing was saved (issue 12)
        return clerk_text(known)
    where = f" The details are in the log file {LOG_FILE}." if LOG_FILE else " The details are in the log."
    return f"Something went wrong that Keel did not expect ({type(exc).__name__}).{where}"


def show_error(parent: QWidget | None, exc: BaseException) -> QMessageBox:
    """Show ``exc`` the way it should be shown; log it when it is a bug."""
    if isinstance(exc, FileRejected):
        lines = [problem_text(problem) for problem in exc.problems]
        count = len(lines)
        text = f"{count} problem{'s' if count != 1 else ''} found; nothing was written.\n\n" + "\n".join(lines[:8])
        if count > 8:
            text += f"\n... and {count - 8} more (Show Details)."
        box = _box(parent, QMessageBox.Icon.Warning, text, "\n".join(lines))
    elif isinstance(exc, ServiceError):
        log.info("refused: %s", exc)
        box = _box(parent, QMessageBox.Icon.Warning, error_text(exc))
    elif storage_problem(exc) is not None:
        log.warning("storage: %s", exc)
        box = _box(parent, QMessageBox.Icon.Warning, error_text(exc))
    else:
        log.error("unexpected error", exc_info=exc)
        box = _box(parent, QMessageBox.Icon.Critical, error_text(exc))
    box.open()
    return box


def warn(parent: QWidget | None, text: str) -> QMessageBox:
    """A sentence the user must see that is no bug, such as a file that could not be written."""
    box = _box(parent, QMessageBox.Icon.Warning, text)
    box.open()
    return box


def inform(parent: QWidget | None, text: str, detail: str | None = None) -> QMessageBox:
    box = _box(parent, QMessageBox.Icon.Information, text, detail)
    box.open()
    return box


def show_recovery_key(parent: QWidget | None, recovery_key: str) -> QMessageBox:
    """The book's recovery key, once, when its key was just made: to be written down and kept apart."""
    box = _box(parent, QMessageBox.Icon.Information,
               "This book's key was just made. It seals the audit trail and encrypts borrowers' SSNs and dates "
               "of birth, and it is kept on this computer, not in the database.\n\n"
               "Write down the recovery key below and keep it somewhere safe, apart from this computer: a backup "
               "of the book can be read on another computer only with it (keel keys restore). Keel will not show "
               "it again.\n\n" + recovery_key)
    box.setObjectName("recoveryKeyBox")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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
