"""Edit a borrower's name, address, phones, e-mail, time zone and contact flags.

The service (accounts.update_party) validates and audits; a problem names its
field, shown under the form with that field outlined.  If someone changed the
borrower since the form was filled, the service refuses (Conflict): the dialog
says so and reloads the current details to edit again.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.services import accounts, permissions, search
from app.services.errors import Conflict, InvalidInput
from app.services.search import Party
from app.ui import formatting
from app.ui.messages import error_text
from app.ui.workers import Change
from app.ui.workspace import Workspace

LABELS = {
    "first_name": "&First name", "middle_name": "&Middle name", "last_name": "&Last name",
    "organization_name": "&Organisation", "address_line1": "&Address", "address_line2": "Address line &2",
    "city": "&City", "state": "&State", "postal_code": "&ZIP code", "home_phone": "&Home phone",
    "mobile_phone": "Mo&bile phone", "work_phone": "&Work phone", "email": "&E-mail", "time_zone": "&Time zone",
    "cease_contact": "Cease contact: do &not contact", "attorney_represented": "Attorney represented: contact "
                                                                              "the attorne&y only",
}
FLAGS = ("cease_contact", "attorney_represented")


class BorrowerDialog(QDialog):
    #: Emitted with the new version after a save.
    saved = Signal(int)
    #: Emitted when the save was refused because someone else changed the borrower first.
    conflicted = Signal()

    def __init__(self, workspace: Workspace, loan_number: str, party: Party, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("borrowerDialog")
        self.workspace = workspace
        self.loan_number = loan_number
        self.party = party
        self.edits: dict[str, QLineEdit | QCheckBox] = {}
        form = QFormLayout()
        for name in accounts.PARTY_FIELDS:
            if name in FLAGS:
                box = QCheckBox(LABELS.get(name, formatting.words(name)))
                box.setObjectName(f"party_{name}")
                self.edits[name] = box
                form.addRow("", box)
            else:
                edit = QLineEdit()
                edit.setObjectName(f"party_{name}")
                self.edits[name] = edit
                form.addRow(LABELS.get(name, formatting.words(name)) + ":", edit)
        self.error = QLabel()
        self.error.setObjectName("borrowerError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a00000;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("borrowerSave")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._fill(party)
        self.resize(self.fontMetrics().averageCharWidth() * 70, self.sizeHint().height())

    def _fill(self, party: Party) -> None:
        self.party = party
        self.setWindowTitle(f"Edit {formatting.words(party.role).lower()}: {party.name}")
        for name, widget in self.edits.items():
            value = party.fields.get(name)
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
                # Anyone at the desk may set a restriction; lifting one is a manager's (issue 11, item 7).
                locked = bool(value) and not self.workspace.can(permissions.CLEAR_FLAG)
                widget.setEnabled(not locked)
                widget.setToolTip("Only a manager may lift this restriction" if locked else "")
            else:
                widget.setText("" if value is None else str(value))
            widget.setStyleSheet("")

    def changes(self) -> dict[str, Any]:
        """Only what the user changed (so two desks editing different fields clash only on the version)."""
        out: dict[str, Any] = {}
        for name, widget in self.edits.items():
            before = self.party.fields.get(name)
            if isinstance(widget, QCheckBox):
                if widget.isChecked() != bool(before):
                    out[name] = widget.isChecked()
            elif widget.text().strip() != ("" if before is None else str(before)):
                out[name] = widget.text()
        return out

    def save(self) -> None:
        if not self.workspace.can(permissions.EDIT_BORROWER):
            return
        changes = self.changes()
        if not changes:
            self.reject()
            return
        ctx, person_id, version, number = self.workspace.ctx, self.party.person_id, self.party.version, self.loan_number
        self.save_button.setEnabled(False)
        self._mark(None)

        def done(new_version: int) -> None:
            self.saved.emit(new_version)
            self.accept()

        def failed(exc: BaseException) -> None:
            self.save_button.setEnabled(True)
            if isinstance(exc, Conflict):
                self.error.setText("Someone else changed this borrower while you were editing; the form now "
                                   "shows their details. Make your change again and save.")
                self.reload()
                self.conflicted.emit()
            else:
                self._mark(exc.field if isinstance(exc, InvalidInput) else None, error_text(exc))

        self.workspace.tasks.write(
            lambda: accounts.update_party(ctx, person_id, changes, expected_version=version), done, failed,
            owner=self, label="Saving the borrower\N{HORIZONTAL ELLIPSIS}",
            change=Change("borrower_updated", (number,)))

    def reload(self) -> None:
        """Read the borrower again (after a conflict) and fill the form with what is there now."""
        ctx, number, person_id = self.workspace.ctx, self.loan_number, self.party.person_id

        def done(parties: list[Party]) -> None:
            for party in parties:
                if party.person_id == person_id:
                    self._fill(party)

        def failed(exc: BaseException) -> None:
            self.error.setText(error_text(exc))

        self.workspace.tasks.read(lambda: search.loan_parties(ctx, number), done, failed, owner=self)

    def _mark(self, field: str | None, text: str = "") -> None:
        self.error.setText(text)
        for name, widget in self.edits.items():
            widget.setStyleSheet("border: 1px solid #a00000;" if name == field else "")
            if name == field:
                widget.setFocus()
