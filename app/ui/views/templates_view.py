"""Administration > Letter templates: edit a letter's text with a live preview (issue 11).

Pick a kind of letter, edit its text, and a moment after typing stops the
letter is rendered for a sample loan (the letters service picks one that
would get this letter today, or the loan typed) and its pages are drawn by
the same renderer as the letter preview dialog.  Saving makes a new version
(the old ones stay listed; picking one loads its text to restore it).  A
template that names an unknown placeholder or section is refused in words
naming it, and nothing is saved.

Edits are kept per kind while the window is open, so switching kinds never
loses typing; quitting with an unsaved edit asks first (``unsaved_work``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.services import letters, permissions
from app.services.errors import InvalidInput
from app.services.letters import RenderedLetter, TemplateInfo
from app.ui import formatting
from app.ui.dialogs.letter_preview_dialog import PdfPagesView
from app.ui.messages import PROBLEM_OUTLINE, error_text
from app.ui.pdf_pages import PrintFailed
from app.ui.workers import Change
from app.ui.workspace import Workspace

#: Milliseconds after the last key before the preview is rendered again.
PREVIEW_DELAY_MS = 450

KIND_NAMES = {
    "late-notice": "Late notice",
    "default-notice": "Default notice (notice of right to cure)",
    "validation-notice": "Validation notice (Regulation F)",
    "payoff": "Payoff statement",
    "statement": "Periodic statement",
    "paid-in-full": "Paid-in-full letter",
    "payment-reminder": "Payment reminder",
}


def problem_sentence(exc: BaseException) -> str:
    """A refusal in words: ``Letter text: unknown placeholder {amount_owed}.``"""
    if isinstance(exc, InvalidInput) and exc.field == "body":
        text = f"Letter text: {exc.problem}"
        return text if text.endswith(".") else text + "."
    if isinstance(exc, InvalidInput) and exc.field == "loan_number":
        text = f"Sample loan: {exc.problem}"
        return text if text.endswith(".") else text + "."
    return error_text(exc)


class LetterTemplatesPanel(QWidget):
    """Edit, preview and save letter templates (saving needs MANAGE_SETTINGS, as the service does)."""

    #: A preview was drawn: the RenderedLetter.
    preview_shown = Signal(object)
    #: The preview could not be drawn: the sentence shown.
    preview_refused = Signal(str)
    #: A version was saved: the TemplateInfo.
    template_saved = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templatesPanel")
        self.workspace = workspace
        self.can_save = workspace.can(permissions.MANAGE_SETTINGS)
        #: The saved text of each kind as loaded, and unsaved edits kept per kind.
        self.loaded: dict[str, TemplateInfo] = {}
        self.edits: dict[str, str] = {}
        self._generation = 0
        self._showing_kind: str | None = None
        self._versions_kind: str | None = None
        self.pages: PdfPagesView | None = None
        self.last_preview: RenderedLetter | None = None

        # ------------------------------------------------------------ left: kind, sample, versions, placeholders
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("templateKind")
        for kind in letters.KINDS:
            self.kind_combo.addItem(KIND_NAMES.get(kind, kind), kind)
        self.sample_edit = QLineEdit()
        self.sample_edit.setObjectName("templateSample")
        self.sample_edit.setPlaceholderText("chosen for you")
        self.sample_edit.setToolTip("The loan the preview is drawn for; leave empty and Keel picks one that would "
                                    "get this letter today")
        self.versions = QListWidget()
        self.versions.setObjectName("templateVersions")
        self.versions.setToolTip("Pick a version to load its text; Save makes it the newest again")
        self.placeholder_list = QListWidget()
        self.placeholder_list.setObjectName("templatePlaceholders")
        self.placeholder_list.setToolTip("Double-click (or Enter) to insert the placeholder at the cursor")
        self.placeholder_list.setWordWrap(True)
        self.placeholder_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.placeholder_list.setSpacing(1)
        form = QFormLayout()
        form.addRow("&Letter:", self.kind_combo)
        form.addRow("Sample l&oan:", self.sample_edit)
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addLayout(form)
        left.addWidget(QLabel("Saved versions:"))
        left.addWidget(self.versions, 1)
        left.addWidget(QLabel("Placeholders (double-click to insert):"))
        left.addWidget(self.placeholder_list, 3)
        left_box = QWidget()
        left_box.setLayout(left)

        # ------------------------------------------------------------ middle: the text
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("templateBody")
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.editor.setReadOnly(not self.can_save)
        self.editor.setAccessibleName("Letter text")
        help_label = QLabel("[subject], [opening], [middle] and [closing] start sections; a blank line starts a "
                            "paragraph; **words** print bold; {name} is a placeholder. Tables and required "
                            "disclosures are laid out by Keel.")
        help_label.setWordWrap(True)
        help_label.setStyleSheet("color: #3c4650;")
        self.problem = QLabel()
        self.problem.setObjectName("templateProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #a00000;")
        self.status = QLabel()
        self.status.setObjectName("templateStatus")
        self.status.setWordWrap(True)
        self.revert_button = QPushButton("Re&vert")
        self.revert_button.setObjectName("revertTemplate")
        self.revert_button.setToolTip("Throw away the edit and show the text in use")
        self.save_button = QPushButton("&Save as new version")
        self.save_button.setObjectName("saveTemplate")
        for button in (self.revert_button, self.save_button):
            button.setAutoDefault(False)
            button.setVisible(self.can_save)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        middle = QVBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addWidget(help_label)
        middle.addWidget(self.editor, 1)
        middle.addWidget(self.problem)
        middle.addLayout(buttons)
        middle_box = QWidget()
        middle_box.setLayout(middle)

        # ------------------------------------------------------------ right: the preview
        self.preview_label = QLabel("Preview")
        self.preview_label.setObjectName("templatePreviewLabel")
        self.preview_label.setWordWrap(True)
        self.preview_holder = QVBoxLayout()
        self.preview_holder.setContentsMargins(0, 0, 0, 0)
        self.preview_empty = QLabel("The preview appears here.")
        self.preview_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_empty.setStyleSheet("background: #5f6670; color: white;")
        self.preview_holder.addWidget(self.preview_empty, 1)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.preview_label)
        right.addLayout(self.preview_holder, 1)
        right_box = QWidget()
        right_box.setLayout(right)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left_box)
        self.splitter.addWidget(middle_box)
        self.splitter.addWidget(right_box)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 3)
        self.splitter.setSizes([250, 480, 480])
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(PREVIEW_DELAY_MS)
        self.timer.timeout.connect(self.render_preview)
        self.editor.textChanged.connect(self._typed)
        self.sample_edit.editingFinished.connect(self.timer.start)
        self.kind_combo.currentIndexChanged.connect(lambda _i: self._show_kind())
        self.versions.itemActivated.connect(self._load_version)
        self.versions.itemClicked.connect(self._load_version)
        self.placeholder_list.itemActivated.connect(self._insert_placeholder)
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.revert)
        self._update_buttons()

    # ------------------------------------------------------------ loading
    @property
    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def refresh(self) -> None:
        """Reload the text in use and the versions of the kind shown (unsaved edits are kept)."""
        kind, ctx = self.kind, self.workspace.ctx

        def read() -> tuple[TemplateInfo, list[TemplateInfo]]:
            return letters.template(ctx, kind), letters.template_versions(ctx, kind)

        def done(found: tuple[TemplateInfo, list[TemplateInfo]]) -> None:
            current, versions = found
            self.loaded[kind] = current
            if kind == self.kind:
                self._fill_versions(kind, versions)
                self._show_kind()

        self.workspace.tasks.read(read, done, self._failed, owner=self)

    def _fill_versions(self, kind: str, versions: list[TemplateInfo]) -> None:
        if kind != self.kind:
            return
        self._versions_kind = kind
        self.versions.clear()
        for info in versions:
            who = info.created_by or "someone"
            when = formatting.instant(info.created_at) if info.created_at else ""
            item = QListWidgetItem(f"Version {info.version} \N{EM DASH} {who}, {when}".rstrip(", "))
            item.setData(Qt.ItemDataRole.UserRole, info.body)
            self.versions.addItem(item)
        shipped = QListWidgetItem("The text shipped with Keel")
        shipped.setData(Qt.ItemDataRole.UserRole, None)
        self.versions.addItem(shipped)

    def _show_kind(self) -> None:
        kind = self.kind
        if self._showing_kind is not None and self._showing_kind != kind:
            self._keep_edit(self._showing_kind)
        if kind not in self.loaded:
            self._showing_kind = None
            self.refresh()
            return
        if self._showing_kind != kind:
            self._showing_kind = kind
            self.placeholder_list.clear()
            for name, meaning in self.loaded[kind].placeholders.items():
                item = QListWidgetItem(f"{{{name}}} \N{EM DASH} {meaning}")
                item.setData(Qt.ItemDataRole.UserRole, name)
                item.setToolTip(meaning)
                self.placeholder_list.addItem(item)
            self.editor.blockSignals(True)
            self.editor.setPlainText(self.edits.get(kind, self.loaded[kind].body))
            self.editor.blockSignals(False)
            if self._versions_kind != kind:
                self.refresh_versions()
            self._mark(None)
            self.status.setText(self._version_words())
            self._update_buttons()
            self.render_preview()

    def refresh_versions(self) -> None:
        kind, ctx = self.kind, self.workspace.ctx
        self.workspace.tasks.read(lambda: letters.template_versions(ctx, kind),
                                  lambda found: self._fill_versions(kind, found), self._failed, owner=self)

    def _version_words(self) -> str:
        info = self.loaded.get(self.kind)
        if info is None:
            return ""
        if info.version is None:
            return "In use: the text shipped with Keel."
        return f"In use: version {info.version}, saved by {info.created_by or 'someone'}."

    def _keep_edit(self, kind: str) -> None:
        text = self.editor.toPlainText()
        info = self.loaded.get(kind)
        if info is not None and text != info.body:
            self.edits[kind] = text
        else:
            self.edits.pop(kind, None)

    # ------------------------------------------------------------ editing
    def dirty(self) -> bool:
        info = self.loaded.get(self.kind)
        return info is not None and self.editor.toPlainText() != info.body

    def unsaved_work(self) -> str | None:
        if self._showing_kind is not None:
            self._keep_edit(self._showing_kind)
        if not self.can_save or not self.edits:
            return None
        names = ", ".join(KIND_NAMES.get(kind, kind).split(" (")[0].lower() for kind in self.edits)
        return f"an unsaved edit of the letter template{'s' if len(self.edits) > 1 else ''} ({names})"

    def _typed(self) -> None:
        self._update_buttons()
        self.status.setText("Not saved." if self.dirty() else self._version_words())
        self.timer.start()

    def _update_buttons(self) -> None:
        dirty = self.dirty()
        self.save_button.setEnabled(self.can_save and dirty)
        self.revert_button.setEnabled(self.can_save and dirty)

    def _insert_placeholder(self, item: QListWidgetItem) -> None:
        if self.editor.isReadOnly():
            return
        self.editor.insertPlainText("{" + str(item.data(Qt.ItemDataRole.UserRole)) + "}")
        self.editor.setFocus()

    def _load_version(self, item: QListWidgetItem) -> None:
        body = item.data(Qt.ItemDataRole.UserRole)
        if body is None:
            ctx, kind = self.workspace.ctx, self.kind
            self.workspace.tasks.read(lambda: letters.shipped_template(ctx, kind).body,
                                      self._set_text, self._failed, owner=self)
        else:
            self._set_text(str(body))

    def _set_text(self, text: str) -> None:
        self.editor.setPlainText(text)  # textChanged: buttons, status, preview

    def revert(self) -> None:
        info = self.loaded.get(self.kind)
        if info is not None:
            self.edits.pop(self.kind, None)
            self._set_text(info.body)

    # ------------------------------------------------------------ the preview
    def render_preview(self) -> None:
        self.timer.stop()
        self._generation += 1
        generation, kind, body = self._generation, self.kind, self.editor.toPlainText()
        sample = self.sample_edit.text().strip() or None
        ctx = self.workspace.ctx

        def done(rendered: RenderedLetter) -> None:
            if generation != self._generation:
                return  # the text changed again meanwhile; a newer preview is on its way
            self._mark(None)
            self._show_pages(rendered)

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            text = problem_sentence(exc)
            self._mark(getattr(exc, "field", None), text)
            self.preview_refused.emit(text)

        self.workspace.tasks.read(lambda: letters.preview_template(ctx, kind, body, sample), done, failed,
                                  owner=self)

    def _show_pages(self, rendered: RenderedLetter) -> None:
        try:
            pages = PdfPagesView(rendered.pdf_bytes, self)
        except PrintFailed as exc:
            self._mark(None, str(exc))
            return
        # PDFium's document is freed with its widget (also when the window closes), once.
        document = pages.pages
        pages.destroyed.connect(lambda *_args: document.close())
        old = self.pages
        if old is not None:
            self.preview_holder.removeWidget(old)
            old.deleteLater()
        else:
            self.preview_holder.removeWidget(self.preview_empty)
            self.preview_empty.hide()
        self.pages = pages
        self.preview_holder.addWidget(pages, 1)
        self.last_preview = rendered
        count = rendered.pages
        self.preview_label.setText(
            f"Preview for {rendered.loan_number}, dated {formatting.day(rendered.letter_date)} "
            f"({count} page{'s' if count != 1 else ''}; not recorded)")
        self.preview_shown.emit(rendered)

    # ------------------------------------------------------------ saving
    def save(self) -> None:
        if not self.can_save or not self.dirty():
            return
        kind, body, ctx = self.kind, self.editor.toPlainText(), self.workspace.ctx
        self.save_button.setEnabled(False)

        def done(info: TemplateInfo) -> None:
            self.loaded[kind] = info
            self.edits.pop(kind, None)
            if kind == self.kind:
                self._update_buttons()
                self._mark(None)
                self.status.setText(f"Saved as version {info.version}; new letters use it.")
                self.refresh_versions()
            self.template_saved.emit(info)

        def failed(exc: BaseException) -> None:
            self._update_buttons()
            self._mark(getattr(exc, "field", None), problem_sentence(exc))

        self.workspace.tasks.write(lambda: letters.save_template(ctx, kind, body), done, failed, owner=self,
                                   label="Saving the letter template\N{HORIZONTAL ELLIPSIS}",
                                   change=Change("template_saved"))

    # ------------------------------------------------------------ problems
    def _failed(self, exc: BaseException) -> None:
        self._mark(None, error_text(exc))

    def _mark(self, field: str | None, text: str = "") -> None:
        self.problem.setText(text)
        self.editor.setStyleSheet(f"QPlainTextEdit {{ {PROBLEM_OUTLINE} }}" if field == "body" else "")
        self.sample_edit.setStyleSheet(f"QLineEdit {{ {PROBLEM_OUTLINE} }}" if field == "loan_number" else "")
