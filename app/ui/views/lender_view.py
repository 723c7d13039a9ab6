"""Lender settings: the name, address, telephone, website, e-mail and logo printed on every letter."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services import lender, permissions
from app.services.errors import InvalidInput
from app.services.lender import LenderSettings
from app.ui.messages import error_text
from app.ui.workspace import Workspace

#: The preview's box, in pixels at 100 %; the logo keeps its proportions inside it.
PREVIEW_WIDTH, PREVIEW_HEIGHT = 240, 96


class LenderPanel(QWidget):
    """Edit the lender's details (MANAGE_SETTINGS); every save is validated by the service and audited."""

    #: Emitted after the settings have been shown (loaded or saved): a LenderSettings.
    settings_shown = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lenderPanel")
        self.workspace = workspace
        self.logo_png: bytes | None = None
        self.loaded: LenderSettings | None = None

        note = QLabel("These details head every letter Keel prints. Changes are recorded in the audit trail.")
        note.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("lenderName")
        self.address_edit = QPlainTextEdit()
        self.address_edit.setObjectName("lenderAddress")
        self.address_edit.setPlaceholderText("1 Main Street\nSpringfield, IL 62701")
        self.address_edit.setTabChangesFocus(True)
        self.address_edit.setFixedHeight(self.address_edit.fontMetrics().lineSpacing() * 4 + 14)
        self.phone_edit = QLineEdit()
        self.phone_edit.setObjectName("lenderPhone")
        self.phone_edit.setPlaceholderText("217-555-0100")
        self.website_edit = QLineEdit()
        self.website_edit.setObjectName("lenderWebsite")
        self.website_edit.setPlaceholderText("https://www.example.com (optional)")
        self.email_edit = QLineEdit()
        self.email_edit.setObjectName("lenderEmail")
        self.email_edit.setPlaceholderText("servicing@example.com (optional)")
        self.logo_preview = QLabel("No logo")
        self.logo_preview.setObjectName("lenderLogoPreview")
        self.logo_preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.logo_preview.setFixedSize(PREVIEW_WIDTH, PREVIEW_HEIGHT)
        self.logo_preview.setStyleSheet("border: 1px solid #b0b0b0; background: white; color: #606060;")
        self.choose_logo_button = QPushButton("&Choose PNG\N{HORIZONTAL ELLIPSIS}")
        self.choose_logo_button.setObjectName("chooseLogo")
        self.clear_logo_button = QPushButton("&No logo")
        self.clear_logo_button.setObjectName("clearLogo")
        logo_buttons = QVBoxLayout()
        logo_buttons.addWidget(self.choose_logo_button)
        logo_buttons.addWidget(self.clear_logo_button)
        logo_buttons.addStretch(1)
        logo_row = QHBoxLayout()
        logo_row.addWidget(self.logo_preview)
        logo_row.addLayout(logo_buttons)
        logo_row.addStretch(1)

        form = QFormLayout()
        form.addRow("Lender &name:", self.name_edit)
        form.addRow("&Address:", self.address_edit)
        form.addRow("&Telephone:", self.phone_edit)
        form.addRow("&Website:", self.website_edit)
        form.addRow("&E-mail:", self.email_edit)
        form.addRow("Logo:", logo_row)
        self.error = QLabel()
        self.error.setObjectName("lenderError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a00000;")
        self.status = QLabel()
        self.status.setObjectName("lenderStatus")
        self.save_button = QPushButton("&Save lender settings")
        self.save_button.setObjectName("saveLender")
        self.revert_button = QPushButton("Re&vert")
        self.revert_button.setObjectName("revertLender")
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        layout.addStretch(1)

        self._fields = {"name": self.name_edit, "address": self.address_edit, "phone": self.phone_edit,
                        "website": self.website_edit, "email": self.email_edit, "logo": self.logo_preview}
        allowed = workspace.can(permissions.MANAGE_SETTINGS)
        for widget in (self.save_button, self.revert_button, self.choose_logo_button, self.clear_logo_button):
            widget.setVisible(allowed)
        for edit in (self.name_edit, self.phone_edit, self.website_edit, self.email_edit):
            edit.setReadOnly(not allowed)
        self.address_edit.setReadOnly(not allowed)
        self.choose_logo_button.clicked.connect(self.choose_logo)
        self.clear_logo_button.clicked.connect(lambda: self.set_logo(None))
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.refresh)

    # ------------------------------------------------------------ loading
    def refresh(self) -> None:
        ctx = self.workspace.ctx

        def failed(exc: BaseException) -> None:
            self.error.setText(error_text(exc))

        self.workspace.tasks.read(lambda: lender.lender_settings(ctx), self._show, failed, owner=self)

    def _show(self, settings: LenderSettings) -> None:
        self.loaded = settings
        self.name_edit.setText(settings.name)
        self.address_edit.setPlainText(settings.address)
        self.phone_edit.setText(settings.phone)
        self.website_edit.setText(settings.website)
        self.email_edit.setText(settings.email)
        self.set_logo(settings.logo_png)
        self._mark(None)
        self.settings_shown.emit(settings)

    # ------------------------------------------------------------ the logo
    def choose_logo(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Choose the lender's logo", "", "PNG images (*.png)")
        if path:
            self.load_logo(path)

    def load_logo(self, path: str | Path) -> bool:
        """Read a PNG file into the form (saved only with Save); False, with the reason shown, if it is not one."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            self._mark("logo", f"logo: cannot read {path}: {exc.strerror or exc}")
            return False
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            self._mark("logo", f"logo: {Path(path).name} is not a PNG image")
            return False
        if len(data) > lender.MAX_LOGO_BYTES:
            self._mark("logo", f"logo: {Path(path).name} is {len(data) // 1024} KB; keep it under "
                               f"{lender.MAX_LOGO_BYTES // 1024} KB")
            return False
        self._mark(None)
        self.set_logo(data)
        return True

    def set_logo(self, data: bytes | None) -> None:
        self.logo_png = data
        pixmap = QPixmap()
        if data and pixmap.loadFromData(data, "PNG"):
            self.logo_preview.setPixmap(pixmap.scaled(
                PREVIEW_WIDTH - 8, PREVIEW_HEIGHT - 8, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        else:
            self.logo_preview.setPixmap(QPixmap())
            self.logo_preview.setText("No logo")
        self.clear_logo_button.setEnabled(data is not None)

    # ------------------------------------------------------------ saving
    def current(self) -> LenderSettings:
        return LenderSettings(
            name=self.name_edit.text(), address=self.address_edit.toPlainText(), phone=self.phone_edit.text(),
            website=self.website_edit.text(), email=self.email_edit.text(), logo_png=self.logo_png)

    def save(self) -> None:
        if not self.workspace.can(permissions.MANAGE_SETTINGS):
            return
        ctx, settings = self.workspace.ctx, self.current()
        self.save_button.setEnabled(False)
        self.status.setText("")

        def done(saved: LenderSettings) -> None:
            self.save_button.setEnabled(True)
            self._show(saved)
            self.status.setText("Saved.")

        def failed(exc: BaseException) -> None:
            self.save_button.setEnabled(True)
            self._mark(exc.field if isinstance(exc, InvalidInput) else None, error_text(exc))

        self.workspace.tasks.write(lambda: lender.save_lender_settings(ctx, settings), done, failed, owner=self,
                                   label="Saving the lender settings\N{HORIZONTAL ELLIPSIS}")

    def _mark(self, field: str | None, text: str = "") -> None:
        """Show ``text`` under the form and outline the field it names (None clears both)."""
        self.error.setText(text)
        for name, widget in self._fields.items():
            if name == "logo":
                continue
            widget.setStyleSheet("border: 1px solid #a00000;" if name == field else "")
            if name == field:
                widget.setFocus()
