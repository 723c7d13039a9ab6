"""Administration: end of day with progress and summary, products with versions, users; starting the app."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

from app.services import accounts, products, users
from app.ui.dialogs.eod_dialog import EodDialog, time_left
from app.ui.dialogs.product_dialog import ProductDialog
from app.ui.dialogs.sign_in_dialog import SignInDialog
from app.ui.dialogs.user_dialog import NEW, UserDialog
from app.ui.main_window import MainWindow
from tests.services.loans import make_loan
from tests.ui.conftest import PASSWORDS
from tests.ui.helpers import settle, visible

pytestmark = pytest.mark.qt


def test_end_of_day_with_progress_and_summary(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("admin")
    assert window.admin_view is not None
    dialog = EodDialog(window.workspace, window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.through_edit.value() == date(2026, 6, 1)
    progress: list[tuple[int, int]] = []
    dialog.progress.valueChanged.connect(lambda v: progress.append((v, dialog.progress.maximum())))
    with qtbot.waitSignal(dialog.finished_run, timeout=60_000) as finished:
        dialog.start_button.click()
        assert visible(dialog.cancel_button) and not dialog.close_button.isEnabled()
    summary = finished.args[0]
    assert [day.business_date for day in summary.days] == [date(2026, 6, 1)]
    assert summary.business_date == date(2026, 6, 2)
    assert progress and progress[-1][0] == progress[-1][1] == 1
    assert "business date is now 2026-06-02" in dialog.result.text()
    # The intro says the new open date, not the day just closed (issue 11: it showed a stale one).
    assert "open business date is <b>2026-06-02" in dialog.intro.text()
    assert dialog.model.rowCount() == 1 and dialog.close_button.isEnabled()
    settle(qtbot, window.workspace.tasks)
    # Every desk moves on: the status bar and the services agree.
    qtbot.waitUntil(lambda: "2026-06-02" in window.date_label.text(), timeout=10_000)
    assert window.workspace.business_date == date(2026, 6, 2)
    assert accounts.account(contexts["clerk"], number).business_date == date(2026, 6, 2)


def test_time_left_estimate() -> None:
    assert time_left(0, 100, 1.0) == ""
    assert time_left(50, 100, 10.0) == "about 10 s left"
    assert time_left(10, 100, 60.0) == "about 9 min 00 s left"


def test_a_product_and_a_new_version(qtbot, desk, open_window) -> None:
    _, contexts = desk
    window = open_window("admin")
    dialog = ProductDialog(window.workspace, None, window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.save_button.isEnabled() and "Code: required" in dialog.problems.text()
    dialog.code_edit.setText("auto48")
    dialog.name_edit.setText("Auto loan, 48 months")
    dialog.charge_off.setValue(60)  # before default (90): refused, every problem listed
    assert "charge off days" in dialog.problems.text() and not dialog.save_button.isEnabled()
    dialog.charge_off.setValue(120)
    assert not dialog.late_fee_check.isChecked()  # a new product starts without a late fee
    dialog.late_fee_check.setChecked(True)
    dialog.percent_radio.setChecked(True)
    dialog.percent.setText("5")
    dialog.fee_min.set_value(D("15.00"))
    dialog.fee_max.set_value(D("10.00"))
    assert "above max" in dialog.problems.text(), dialog.problems.text()
    assert not dialog.save_button.isEnabled()
    dialog.fee_max.set_value(D("40.00"))
    assert dialog.save_button.isEnabled(), dialog.problems.text()
    qtbot.keyClicks(dialog.max_principal, "40,000")  # the product's own limits, typed as a clerk would
    qtbot.keyClicks(dialog.max_rate, "18.5")
    with qtbot.waitSignal(dialog.saved, timeout=15_000):
        dialog.save_button.click()
    info = next(p for p in products.list_products(contexts["admin"]) if p.code == "AUTO48")
    rules = info.versions[0].rules
    assert info.versions[0].effective_date == date(2026, 6, 1)
    assert rules.late_fee is not None and rules.late_fee.percent == D("5") and rules.late_fee.maximum == D("40.00")
    assert rules.max_principal == D("40000.00") and rules.max_rate == D("18.5")

    again = ProductDialog(window.workspace, info, window)
    qtbot.addWidget(again)
    assert not again.code_edit.isEnabled() and again.effective_edit.value() == date(2026, 6, 2)
    assert again.max_principal.value() == D("40000.00") and again.max_rate.text() == "18.5"
    again.grace.setValue(15)
    with qtbot.waitSignal(again.saved, timeout=15_000):
        again.save_button.click()
    info = next(p for p in products.list_products(contexts["admin"]) if p.code == "AUTO48")
    assert [v.rules.late_fee.grace_days for v in info.versions] == [10, 15]
    assert [v.rules.max_principal for v in info.versions] == [D("40000.00"), D("40000.00")]  # kept, not dropped


def test_users_and_roles(qtbot, desk, open_window) -> None:
    _, contexts = desk
    window = open_window("admin")
    dialog = UserDialog(window.workspace, NEW, None, window)
    qtbot.addWidget(dialog)
    dialog.username.setText("bea")
    dialog.full_name.setText("Bea Clerk")
    dialog.role.setCurrentIndex(dialog.role.findData("clerk"))
    dialog.password.setText("short")
    dialog.repeat.setText("short")
    dialog.buttons.accepted.emit()
    settle(qtbot, window.workspace.tasks)
    assert "at least 8" in dialog.message.text()
    dialog.password.setText("long-enough-1")
    dialog.repeat.setText("long-enough-1")
    with qtbot.waitSignal(dialog.saved, timeout=15_000):
        dialog.buttons.accepted.emit()
    assert any(u.username == "bea" and u.role == "clerk" for u in users.list_users(contexts["admin"]))


def test_administration_is_for_administrators(qtbot, desk, open_window) -> None:
    for role in ("clerk", "collector", "manager"):
        window = open_window(role)
        assert window.admin_view is None
        assert all(view.title != "Administration" for view in window.views)
    collector = open_window("collector")
    assert collector.batch_view is None  # collectors do not post deposits
    assert not collector.payment_view.post_button.isVisibleTo(collector)


def test_run_gui_signs_in_and_quits(qtbot, desk, db_file_url, monkeypatch, tmp_path) -> None:
    import app.ui.application as application

    monkeypatch.setattr(application.platformdirs, "user_log_dir", lambda *a, **k: str(tmp_path / "logs"))
    seen: dict[str, object] = {}

    def sign_in() -> None:
        dialog = next((w for w in QApplication.topLevelWidgets() if isinstance(w, SignInDialog) and w.isVisible()),
                      None)
        if dialog is None or not dialog.ok_button.isEnabled():
            QTimer.singleShot(50, sign_in)
            return
        dialog.username.setText("manager")
        dialog.password.setText(PASSWORDS["manager"])
        dialog.ok_button.click()
        QTimer.singleShot(50, look)

    def look() -> None:
        window = next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()),
                      None)
        if window is None:
            QTimer.singleShot(50, look)
            return
        seen["user"] = window.user_label.text()
        seen["date"] = window.date_label.text()
        window.findChild(QAction, "signOutAction").trigger()
        QTimer.singleShot(50, signed_out)

    def signed_out() -> None:
        dialog = next((w for w in QApplication.topLevelWidgets() if isinstance(w, SignInDialog) and w.isVisible()),
                      None)
        if dialog is None:
            QTimer.singleShot(50, signed_out)
            return
        seen["again"] = dialog.username.text()  # the last user, remembered
        dialog.reject()  # cancelling sign-in quits

    QTimer.singleShot(0, sign_in)
    assert application.run_gui(db_file_url, demo=False) == 0
    assert seen == {"user": "Signed in: Manager User (manager)", "date": "Business date: 2026-06-01",
                    "again": "manager"}
    assert (tmp_path / "logs" / "keel.log").exists()


def test_boarding_from_the_desk_checks_then_boards_and_lists_exceptions(qtbot, desk, open_window, tmp_path) -> None:
    import csv
    import shutil

    from app.services import boarding, search
    from tests.services.test_boarding import NEW_CSV, SAMPLES, seasoned_records, write_json

    _, contexts = desk
    products.load_products_file(contexts["admin"], SAMPLES / "products.json")
    window = open_window("admin")
    panel = window.admin_view.boarding
    assert panel is not None
    window.admin_view.tabs.setCurrentWidget(panel)
    # A file with one bad principal: every problem listed, nothing boarded, Board stays off.
    rows = list(csv.DictReader(NEW_CSV.open(newline="")))
    rows[0]["principal"] = "abc"
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    panel.check(bad)
    settle(qtbot, window.workspace.tasks)
    assert panel.problems.rowCount() == 1 and "1 problem in this file" in panel.result.text()
    assert not panel.board_button.isEnabled()
    # The sample file: five loans would be boarded; clicking Board boards them.
    good = tmp_path / "boarding-new.csv"
    shutil.copy(NEW_CSV, good)
    panel.check(good)
    settle(qtbot, window.workspace.tasks)
    assert panel.loans.rowCount() == 5 and "Would board 5 loans" in panel.result.text()
    assert panel.board_button.isEnabled()
    qtbot.mouseClick(panel.board_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    assert "Boarded 5 loans: KL-000001" in panel.result.text()
    assert search.find_loan(contexts["clerk"], "KL-000005") is not None
    # A history loan that does not tie out is held back and listed below.
    records = seasoned_records()
    records[1]["conversion"]["principal"] = "12103.56"
    panel.check(write_json(tmp_path / "history.json", records[:2]))
    settle(qtbot, window.workspace.tasks)
    qtbot.mouseClick(panel.board_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window.workspace.tasks)
    assert panel.exceptions.rowCount() == 1
    assert [e.field for e in boarding.list_boarding_exceptions(contexts["admin"])] == ["principal"]


def test_boarding_is_an_admin_tab_only_for_those_who_may_board(desk, open_window) -> None:
    window = open_window("manager")
    assert window.admin_view is None or window.admin_view.boarding is None


def test_the_statement_cycle_settings_from_the_desk(qtbot, desk, open_window) -> None:
    """The product dialog edits the statement and reminder days; Administration > Statement cycle the exemptions."""
    from app.services import statements
    from app.ui.views.statements_view import StatementsPanel

    _, contexts = desk
    window = open_window("admin")
    dialog = ProductDialog(window.workspace, None, window)
    qtbot.addWidget(dialog)
    dialog.code_edit.setText("bill10")
    dialog.name_edit.setText("Billed ten days ahead")
    assert dialog.statement_days.value() == 15 and dialog.reminder_days.value() == 0  # the defaults: 15, off
    dialog.statement_days.setValue(10)
    dialog.reminder_days.setValue(3)
    assert dialog.save_button.isEnabled(), dialog.problems.text()
    with qtbot.waitSignal(dialog.saved, timeout=15_000):
        dialog.save_button.click()
    rules = next(p for p in products.list_products(contexts["admin"]) if p.code == "BILL10").versions[0].rules
    assert (rules.statement_days_before_due, rules.reminder_days_before_due) == (10, 3)

    admin = window.admin_view
    window.show_view(admin)
    panel = admin.statements
    assert isinstance(panel, StatementsPanel)
    admin.tabs.setCurrentWidget(panel)
    with qtbot.waitSignal(panel.settings_shown, timeout=15_000):
        panel.refresh()
    assert panel.small_servicer.currentData() is None and not panel.coupon_books.isChecked()
    assert "0 active mortgage loans" in panel.count_label.text()
    panel.small_servicer.setCurrentIndex(panel.small_servicer.findData("own_loans"))
    panel.coupon_books.setChecked(True)
    panel.save_button.click()
    qtbot.waitUntil(lambda: panel.message.text().startswith("Saved"), timeout=15_000)
    saved = statements.statement_settings(contexts["clerk"]).settings
    assert (saved.small_servicer, saved.coupon_books) == ("own_loans", True)
    for role in ("clerk", "manager"):  # only those who manage settings see the tab
        assert all(getattr(v, "statements", None) is None for v in open_window(role).views)
