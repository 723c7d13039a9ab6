"""The desk while another desk holds SQLite's write lock (issue 12, item 5), driven offscreen.

The payment preview (a read) still answers; posting retries, the status bar says "the database
is busy — retrying", and the clerk then reads "The database is busy: ... try again" under the
form -- never "changed by someone else" -- with nothing posted.  The busy timeout is 0.2 s.
The loan is the textbook one of tests/services/loans.py (10,000.00 at 12 % for 12 months).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.db.session import ENV_BUSY_TIMEOUT, sqlite_path
from app.services import accounts
from app.services.errors import DatabaseBusy
from app.ui.messages import error_text
from tests.services.loans import make_loan
from tests.ui.helpers import settle

pytestmark = pytest.mark.qt


@pytest.fixture(autouse=True)
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Autouse, so it is set before the desk's engine is made.
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "0.2")


def test_the_busy_message_is_shown_as_written() -> None:
    assert error_text(DatabaseBusy(16.04)) == "The database is busy: another desk has held it for 16 s; try again."
    assert error_text(DatabaseBusy(1.36)) == "The database is busy: another desk has held it for 1.4 s; try again."


def test_posting_while_another_desk_holds_the_lock_says_busy_and_posts_nothing(
    qtbot, desk, open_window, db_file_url
) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = window.payment_view
    window.show_view(view)
    notices: list[str] = []
    window.workspace.tasks.notice.connect(notices.append)
    path = sqlite_path(db_file_url)
    assert isinstance(path, Path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another desk, in the middle of a long write
    try:
        view.loan_edit.setText(number)
        view.amount_edit.setText("888.49")
        view.reference_edit.setText("CHK 77")
        view._inputs_changed()
        # The preview is a read: it answers although the write lock is held.
        qtbot.waitUntil(view.preview_is_current, timeout=15_000)
        assert view.allocation["interest"].text() == "$100.00"  # 10,000.00 x 12 % / 12
        view.reference_edit.setFocus()
        qtbot.keyClick(view.reference_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # post
        qtbot.waitUntil(lambda: "busy" in view.problem_label.text(), timeout=15_000)
        settle(qtbot, window.workspace.tasks)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert re.fullmatch(r"The database is busy: another desk has held it for \d+(\.\d)? s; try again\.",
                        view.problem_label.text()), view.problem_label.text()
    assert "someone else" not in view.problem_label.text()
    assert notices == ["The database is busy (another desk is writing) — retrying, attempt 2 of 3",
                       "The database is busy (another desk is writing) — retrying, attempt 3 of 3"]
    assert window.statusBar().currentMessage() == (
        "The database is busy (another desk is writing) — retrying, attempt 3 of 3.")
    assert view.post_button.isEnabled()  # the clerk can try again
    assert [line for line in accounts.account(contexts["clerk"], number).lines if line.type == "payment"] == []
