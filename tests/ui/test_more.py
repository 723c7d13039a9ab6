"""The connection choice, lockbox files, notices and letters from the desktop."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from PySide6.QtCore import QSettings

from app.services import letters, servicing
from app.ui.dialogs.connection_dialog import KIND_KEY, SERVER, URL_KEY, ConnectionDialog, masked, saved_connection
from app.ui.workers import TaskRunner
from tests.services.loans import make_loan
from tests.ui.helpers import settle

pytestmark = pytest.mark.qt


def lender(ctx) -> None:
    """Letters need the lender's details; no service sets them yet (the demo writes the settings directly)."""
    from app.db.settings import set_setting

    with ctx.unit() as session:
        for key, value in (("lender_name", "Keel Test Lending"), ("lender_address", "1 Main St\nSpringfield, IL 62701"),
                           ("lender_phone", "217-555-0100")):
            set_setting(session, key, value)


def test_a_server_is_tested_before_it_is_saved(qtbot, tmp_path) -> None:
    tasks = TaskRunner()
    settings = QSettings()
    dialog = ConnectionDialog(settings, tasks, "sqlite:////home/me/keel.sqlite3")
    qtbot.addWidget(dialog)
    save = dialog.buttons.button(dialog.buttons.StandardButton.Save)
    assert dialog.local_radio.isChecked() and save.isEnabled()
    dialog.server_radio.setChecked(True)
    dialog.url_edit.setText("postgresql+psycopg://keel:secret@127.0.0.1:1/none")
    assert not save.isEnabled() and "Test the connection" in dialog.result_label.text()
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.result_label.text().startswith("Cannot connect"), timeout=30_000)
    assert not save.isEnabled()
    good = f"sqlite:///{tmp_path / 'shared.sqlite3'}"  # any URL that opens stands in for a server here
    dialog.url_edit.setText(good)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.result_label.text().startswith("Connected"), timeout=30_000)
    assert save.isEnabled()
    save.click()
    assert settings.value(KIND_KEY) == SERVER and settings.value(URL_KEY) == good
    assert saved_connection(settings, None).url == good
    assert masked("postgresql+psycopg://keel:secret@db/keel") == "postgresql+psycopg://keel:***@db/keel"
    tasks.wait_for_all(5000)


def test_a_lockbox_file_fills_the_grid(qtbot, desk, open_window, tmp_path) -> None:
    _, contexts = desk
    first, second = make_loan(contexts["admin"]), make_loan(contexts["admin"])
    path = tmp_path / "lockbox.csv"
    path.write_text(f"loan_number,amount,reference\n{first},100.00,L-1\n{second},250.50,L-2\n", encoding="utf-8")
    window = open_window("clerk")
    view = window.batch_view
    window.show_view(view)
    view.load_file(str(path))
    settle(qtbot, window.workspace.tasks)
    assert [(e.loan_number, e.amount, e.reference) for e in view.model.entries()] == [
        (first, D("100.00"), "L-1"), (second, D("250.50"), "L-2")]
    view.control_edit.set_value(D("350.50"))
    assert view.post_button.isEnabled()
    with qtbot.waitSignal(view.batch_posted, timeout=15_000):
        view.post_button.click()
    settle(qtbot, window.workspace.tasks)
    # The same file again is refused: it was posted already (by its SHA-256).
    view.load_file(str(path))
    settle(qtbot, window.workspace.tasks)
    view.control_edit.set_value(D("350.50"))
    view.post_button.click()
    settle(qtbot, window.workspace.tasks)
    assert "already posted" in view.status_label.text()


def test_print_notices_for_the_selected_accounts(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])  # nothing paid: well past due
    lender(contexts["admin"])
    window = open_window("collector")
    view = window.collections_view
    settle(qtbot, window.workspace.tasks)
    assert view.current_loan() == number and view.print_button.isEnabled()
    view.print_notices("late-notice")
    settle(qtbot, window.workspace.tasks)
    dialog = view.preview_dialog
    assert dialog.data.startswith(b"%PDF") and len(dialog.view.pages) == 1
    assert [r.kind for r in letters.letter_history(contexts["collector"], number)] == ["late-notice"]
    assert "Issued 1 late notice" in view.form_message.text()
    dialog.close()


def test_issue_and_reopen_a_letter(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    lender(contexts["admin"])
    servicing.post_payment(contexts["admin"], number, "888.49", date(2026, 2, 1), confirm_backdated=True)
    window = open_window("manager")
    window.open_account(number)
    view = window.account_view
    qtbot.waitUntil(lambda: view.data is not None, timeout=15_000)
    view.letter_kind.setCurrentIndex(view.letter_kind.findData("statement"))
    view._letter(issue=True)
    settle(qtbot, window.workspace.tasks)
    opened = [view.preview_dialog.data]
    assert opened[0].startswith(b"%PDF") and view.preview_dialog.print_button.isVisibleTo(view.preview_dialog)
    view.preview_dialog.close()
    qtbot.waitUntil(lambda: view.letters_model.rowCount() == 1, timeout=15_000)
    view.letters_table.selectRow(0)
    view._open_letter()
    settle(qtbot, window.workspace.tasks)
    opened.append(view.preview_dialog.data)
    assert opened[1] == opened[0]  # reopened exactly as sent
    view.preview_dialog.close()
