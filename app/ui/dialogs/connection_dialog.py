"""Which database this desk works on: the local file (the default) or a shared server.

A server URL is tested in the background before it is saved -- connected to
and looked at, changing nothing (setup.test_connection: no upgrade, no set-up;
that happens only when the desk signs in to it); a URL that does not work is
never saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.services import setup
from app.ui.messages import error_text
from app.ui.workers import TaskRunner

KIND_KEY = "connection/kind"
URL_KEY = "connection/url"
LOCAL = "local"
SERVER = "server"

_PASSWORD_IN_URL = re.compile(r"(://[^:/@]+:)([^@]*)(@)")


def masked(url: str) -> str:
    """A URL fit to show: its password, if any, as ***."""
    return _PASSWORD_IN_URL.sub(r"\1***\3", url)


@dataclass(frozen=True)
class Connection:
    """Where to connect: ``url`` None means the local default database."""

    kind: str
    url: str | None
    label: str

    @classmethod
    def local(cls, local_url: str | None) -> Connection:
        where = local_url.removeprefix("sqlite:///") if local_url else "the default file"
        return cls(LOCAL, None, f"Local database ({where})")

    @classmethod
    def server(cls, url: str) -> Connection:
        return cls(SERVER, url, f"Shared server ({masked(url)})")


def saved_connection(settings: QSettings, local_url: str | None) -> Connection:
    if settings.value(KIND_KEY, LOCAL) == SERVER:
        url = str(settings.value(URL_KEY, "") or "").strip()
        if url:
            return Connection.server(url)
    return Connection.local(local_url)


def save_connection(settings: QSettings, connection: Connection) -> None:
    settings.setValue(KIND_KEY, connection.kind)
    if connection.kind == SERVER and connection.url:
        settings.setValue(URL_KEY, connection.url)
    settings.sync()


class ConnectionDialog(QDialog):
    """Choose the local database or a shared server; a server is tested before it is saved."""

    def __init__(self, settings: QSettings, tasks: TaskRunner, local_url: str | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Database connection")
        self.setObjectName("connectionDialog")
        self._settings = settings
        self._tasks = tasks
        self._local_url = local_url
        self._tested_url: str | None = None
        self.chosen: Connection | None = None

        current = saved_connection(settings, local_url)
        self.local_radio = QRadioButton("Local database on this computer (recommended for one desk)")
        self.local_radio.setObjectName("localRadio")
        self.server_radio = QRadioButton("Shared server (PostgreSQL) for several desks")
        self.server_radio.setObjectName("serverRadio")
        group = QButtonGroup(self)
        group.addButton(self.local_radio)
        group.addButton(self.server_radio)
        local_hint = QLabel(Connection.local(local_url).label)
        local_hint.setWordWrap(True)
        local_hint.setIndent(24)
        local_hint.setEnabled(False)

        self.url_edit = QLineEdit(str(settings.value(URL_KEY, "") or ""))
        self.url_edit.setObjectName("serverUrl")
        self.url_edit.setPlaceholderText("postgresql+psycopg://user:password@host:5432/keel")
        self.test_button = QPushButton("&Test connection")
        self.test_button.setObjectName("testConnection")
        self.result_label = QLabel()
        self.result_label.setObjectName("connectionResult")
        self.result_label.setWordWrap(True)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url_edit, 1)
        url_row.addWidget(self.test_button)
        server_form = QFormLayout()
        server_form.addRow("Server &URL:", url_row)
        server_form.addRow("", self.result_label)
        self._server_box = QWidget()
        self._server_box.setLayout(server_form)
        server_form.setContentsMargins(24, 0, 0, 0)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.local_radio)
        layout.addWidget(local_hint)
        layout.addSpacing(8)
        layout.addWidget(self.server_radio)
        layout.addWidget(self._server_box)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        (self.server_radio if current.kind == SERVER else self.local_radio).setChecked(True)
        self.local_radio.toggled.connect(self._update)
        self.url_edit.textChanged.connect(self._url_edited)
        self.test_button.clicked.connect(self._test)
        self._update()
        # Wide enough for a server URL, in characters so it scales with the font (200 % too).
        self.resize(self.fontMetrics().averageCharWidth() * 90, self.sizeHint().height())

    def _update(self) -> None:
        server = self.server_radio.isChecked()
        self._server_box.setEnabled(server)
        url = self.url_edit.text().strip()
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(not server or (bool(url) and url == self._tested_url))

    def _url_edited(self) -> None:
        if self.url_edit.text().strip() != self._tested_url:
            self.result_label.setText("Test the connection before saving it.")
        self._update()

    def _test(self) -> None:
        url = self.url_edit.text().strip()
        if not url:
            self.result_label.setText("Enter the server's URL first.")
            return
        self.result_label.setText("Testing the connection\N{HORIZONTAL ELLIPSIS}")
        self.test_button.setEnabled(False)

        def done(text: str) -> None:
            self._tested_url = url
            self.test_button.setEnabled(True)
            self.result_label.setText(text)
            self._update()

        def failed(exc: BaseException) -> None:
            self._tested_url = None
            self.test_button.setEnabled(True)
            self.result_label.setText(f"Cannot connect: {error_text(exc)}")
            self._update()

        self._tasks.read(lambda: setup.test_connection(url), done, failed, owner=self)

    def _save(self) -> None:
        if self.server_radio.isChecked():
            url = self.url_edit.text().strip()
            if url != self._tested_url:
                return
            self.chosen = Connection.server(url)
        else:
            self.chosen = Connection.local(self._local_url)
        save_connection(self._settings, self.chosen)
        self.accept()
