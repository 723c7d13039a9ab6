"""Administration > Letter templates: edit with a live preview, refusals naming the placeholder, versions (issue 11)."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt

from app.services import flags, letters
from tests.services.loans import make_loan
from tests.ui.helpers import settle
from tests.ui.test_more import lender

pytestmark = pytest.mark.qt


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def open_templates(qtbot, desk, open_window):
    lender(desk[1]["admin"])
    window = open_window("admin")
    admin = window.admin_view
    assert admin is not None and admin.templates is not None
    window.show_view(admin)
    admin.tabs.setCurrentWidget(admin.templates)
    panel = admin.templates
    settle(qtbot, window.workspace.tasks)
    return window, panel


def test_typing_previews_refuses_an_unknown_placeholder_and_saves_a_version(qtbot, desk, open_window) -> None:
    _, contexts = desk
    # Nothing paid since 2026-01-01 on either loan; on 2026-06-01 the first has 4 missed installments,
    # the second (starting a month later) 3, so the first is the most past due -- but it is disputed,
    # so the preview's sample is the second.
    disputed = make_loan(contexts["admin"])
    sample = make_loan(contexts["admin"], start="2026-02-01", first_due="2026-03-01")
    flags.set_flag(contexts["admin"], disputed, "dispute", True, reason="borrower wrote in", dispute_form="written",
                   within_validation_period=False)
    window, panel = open_templates(qtbot, desk, open_window)
    assert panel.kind == "late-notice"
    qtbot.waitUntil(lambda: panel.last_preview is not None or bool(panel.problem.text()), timeout=15_000)
    assert panel.problem.text() == ""
    assert panel.last_preview.loan_number == sample
    assert sample in panel.preview_label.text()
    assert panel.pages is not None and len(panel.pages.pages) >= 1
    assert not panel.save_button.isEnabled()  # nothing typed yet

    # A placeholder the late notice does not know: refused in words naming it, Save refuses too.
    panel.editor.setFocus()
    panel.editor.moveCursor(panel.editor.textCursor().MoveOperation.End)
    qtbot.keyClicks(panel.editor, " {amount_owed}")
    qtbot.waitUntil(lambda: "amount_owed" in panel.problem.text(), timeout=15_000)
    assert panel.problem.text() == "Letter text: unknown placeholder {amount_owed}."
    assert "border" in panel.editor.styleSheet()  # the text is outlined
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    assert panel.problem.text() == "Letter text: unknown placeholder {amount_owed}."
    assert letters.template_versions(contexts["admin"], "late-notice") == []

    # Corrected: 14 backspaces take " {amount_owed}" away again; a known placeholder previews.
    for _ in range(len(" {amount_owed}")):
        qtbot.keyClick(panel.editor, Qt.Key.Key_Backspace)
    qtbot.keyClick(panel.editor, Qt.Key.Key_Return)
    qtbot.keyClick(panel.editor, Qt.Key.Key_Return)
    qtbot.keyClicks(panel.editor, "Call us today, {borrower_name}.")
    qtbot.waitUntil(lambda: panel.problem.text() == "" and panel.last_preview is not None
                    and "Call us today" in pdf_text(panel.last_preview.pdf_bytes), timeout=15_000)
    assert "Not saved." in panel.status.text()
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    assert "Saved as version 1" in panel.status.text()
    saved = letters.template_versions(contexts["admin"], "late-notice")
    assert [v.version for v in saved] == [1] and saved[0].created_by == "admin"
    assert saved[0].body.endswith("Call us today, {borrower_name}.")
    qtbot.waitUntil(lambda: panel.versions.count() == 2)  # version 1 and the shipped text
    assert panel.versions.item(0).text().startswith("Version 1 \N{EM DASH} admin")
    # New letters use it: the borrower's name filled in.
    issued = letters.render_letter(contexts["admin"], "late-notice", sample)
    assert issued.template_version == 1
    assert f"Call us today, Pat Borrower{sample[-3:]}." in pdf_text(issued.pdf_bytes)

    # Loading the shipped text puts it back in the editor (saving it would make version 2).
    panel.versions.itemClicked.emit(panel.versions.item(1))
    settle(qtbot, window.workspace.tasks)
    assert "Call us today" not in panel.editor.toPlainText() and panel.save_button.isEnabled()


def test_an_edit_survives_switching_kinds_and_is_unsaved_work(qtbot, desk, open_window) -> None:
    _, contexts = desk
    make_loan(contexts["admin"])
    window, panel = open_templates(qtbot, desk, open_window)
    panel.editor.setFocus()
    qtbot.keyClicks(panel.editor, "Hello ")
    panel.kind_combo.setCurrentIndex(panel.kind_combo.findData("payoff"))
    settle(qtbot, window.workspace.tasks)
    qtbot.waitUntil(lambda: panel.kind == "payoff" and "[subject]" in panel.editor.toPlainText())
    assert not panel.editor.toPlainText().startswith("Hello ")
    assert window.unsaved_work() and "late notice" in " ".join(window.unsaved_work())
    panel.kind_combo.setCurrentIndex(panel.kind_combo.findData("late-notice"))
    settle(qtbot, window.workspace.tasks)
    assert panel.editor.toPlainText().startswith("Hello ")
    qtbot.mouseClick(panel.revert_button, Qt.MouseButton.LeftButton)
    assert not panel.editor.toPlainText().startswith("Hello ") and window.unsaved_work() == []


def test_a_typed_sample_loan_that_would_not_get_the_letter_is_named(qtbot, desk, open_window) -> None:
    _, contexts = desk
    current = make_loan(contexts["admin"], start="2026-05-15", first_due="2026-06-15")  # nothing due yet
    _window, panel = open_templates(qtbot, desk, open_window)
    # No loan is past due, so the sample Keel would pick is missing, and says so.
    qtbot.waitUntil(lambda: panel.problem.text() != "", timeout=15_000)
    assert panel.problem.text() == ("Sample loan: no loan on file would get a late-notice today; type a loan "
                                    "number to preview the letter for it.")
    panel.sample_edit.setFocus()
    qtbot.keyClicks(panel.sample_edit, current)
    qtbot.keyClick(panel.sample_edit, Qt.Key.Key_Tab)  # editing finished: the preview is asked for again
    qtbot.waitUntil(lambda: current in panel.problem.text(), timeout=15_000)
    assert panel.problem.text() == f"Sample loan: no late-notice for {current}: the loan is current."
    assert panel.sample_edit.styleSheet()


def test_templates_are_edited_by_administrators_only(desk, open_window) -> None:
    window = open_window("manager")
    assert window.admin_view is None or window.admin_view.templates is None
