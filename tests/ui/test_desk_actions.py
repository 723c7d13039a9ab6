"""The desk actions wired to the new services: notes, borrower edits, lender settings, terms changes,
and a connection test that changes nothing."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QPushButton

from app.services.account_page import account_page
from app.ui.dialogs.borrower_dialog import BorrowerDialog
from app.ui.dialogs.connection_dialog import ConnectionDialog
from app.ui.workers import TaskRunner
from tests.services.loans import make_loan
from tests.ui.helpers import settle, visible

pytestmark = pytest.mark.qt


def open_account(qtbot, window, number: str):
    view = window.account_view
    with qtbot.waitSignal(view.account_shown, timeout=15_000):
        window.open_account(number)
    settle(qtbot, window.workspace.tasks)
    return view


def test_a_note_is_added_and_the_list_refreshes(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = open_account(qtbot, window, number)
    view.tabs.setCurrentIndex(4)
    assert visible(view.note_edit) and visible(view.add_note_button)
    assert not view.add_note_button.isEnabled()  # nothing typed yet
    assert view.notes_model.rowCount() == 0
    view.note_edit.setPlainText("Borrower called: will pay Friday.")
    assert view.add_note_button.isEnabled()
    with qtbot.waitSignal(view.account_shown, timeout=15_000):
        view.add_note_button.click()
    settle(qtbot, window.workspace.tasks)
    assert [note.text for note in view.notes_model.rows()] == ["Borrower called: will pay Friday."]
    assert view.note_edit.toPlainText() == "" and not view.note_error.isVisible()
    assert [n.user for n in account_page(contexts["clerk"], number).notes] == ["clerk"]


def test_a_note_box_is_hidden_without_the_permission(qtbot, desk, open_window, monkeypatch) -> None:
    from app.services import permissions

    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    monkeypatch.setattr(window.workspace, "can", lambda permission: permission != permissions.ADD_NOTE)
    from app.ui.views.account_view import AccountView

    view = AccountView(window.workspace)
    qtbot.addWidget(view)
    view.show()
    assert not visible(view.note_edit) and not visible(view.add_note_button)


def test_testing_a_connection_changes_nothing(qtbot, tmp_path) -> None:
    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).close()  # an empty database file
    tasks = TaskRunner()
    dialog = ConnectionDialog(QSettings(), tasks, None)
    qtbot.addWidget(dialog)
    dialog.server_radio.setChecked(True)
    dialog.url_edit.setText(f"sqlite:///{path}")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.result_label.text().startswith("Connected"), timeout=30_000)
    assert "empty database" in dialog.result_label.text()
    with sqlite3.connect(path) as connection:  # no tables: nothing was set up or upgraded
        assert connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    assert dialog.buttons.button(dialog.buttons.StandardButton.Save).isEnabled()
    tasks.wait_for_all(5000)


def _png(path, width: int = 40, height: int = 20) -> bytes:
    from PySide6.QtGui import QColor, QImage

    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("navy"))
    assert image.save(str(path), "PNG")
    return path.read_bytes()


def test_lender_settings_are_edited_with_a_logo(qtbot, desk, open_window, tmp_path) -> None:
    from app.services import lender

    _, contexts = desk
    window = open_window("admin")
    admin = window.admin_view
    assert admin is not None and admin.lender is not None
    panel = admin.lender
    window.show_view(admin)
    settle(qtbot, window.workspace.tasks)
    tab = [admin.tabs.tabText(i) for i in range(admin.tabs.count())].index("&Lender settings")
    admin.tabs.setCurrentIndex(tab)
    assert visible(panel.save_button)

    panel.name_edit.setText("Prairie Lending")
    panel.address_edit.setPlainText("1 Main St\nSpringfield, IL 62701")
    panel.phone_edit.setText("217-555")  # too short: the service names the field
    panel.save_button.click()
    qtbot.waitUntil(lambda: panel.error.text().startswith("Phone:"), timeout=15_000)
    assert "border" in panel.phone_edit.styleSheet()

    assert not panel.load_logo(tmp_path / "missing.png") and panel.error.text().startswith("logo:")
    logo = _png(tmp_path / "logo.png")
    assert panel.load_logo(tmp_path / "logo.png")
    assert not panel.logo_preview.pixmap().isNull()
    panel.phone_edit.setText("217-555-0100")
    panel.website_edit.setText("https://prairie.example")
    with qtbot.waitSignal(panel.settings_shown, timeout=15_000):
        panel.save_button.click()
    settle(qtbot, window.workspace.tasks)
    assert panel.error.text() == "" and panel.status.text() == "Saved."
    saved = lender.lender_settings(contexts["admin"])
    assert (saved.name, saved.address, saved.phone, saved.website) == (
        "Prairie Lending", "1 Main St\nSpringfield, IL 62701", "217-555-0100", "https://prairie.example")
    assert saved.logo_png == logo


def test_lender_settings_are_only_for_administrators(qtbot, desk, open_window) -> None:
    window = open_window("manager")
    assert window.admin_view is None or window.admin_view.lender is None


def test_a_borrower_is_edited_with_field_errors_and_conflicts(qtbot, desk, open_window) -> None:
    from app.services import accounts

    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = open_account(qtbot, window, number)
    view.tabs.setCurrentIndex(3)
    party = view.data.parties[0]
    assert party.person_id and party.version and "postal_code" in party.fields
    button = view.parties_box.findChild(QPushButton, f"editParty{party.person_id}")
    assert button is not None and visible(button)
    button.click()
    dialogs = view.findChildren(BorrowerDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    dialog = dialogs[0]

    # A problem names its field, shown under the form with the field outlined.
    dialog.edits["postal_code"].setText("1234")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.error.text().startswith("Postal code:"), timeout=15_000)
    assert "border" in dialog.edits["postal_code"].styleSheet()
    dialog.edits["postal_code"].setText(party.fields["postal_code"])

    # Someone else changes the borrower meanwhile: the save is refused and the form reloads.
    accounts.update_party(contexts["admin"], party.person_id, {"city": "Bangor"}, expected_version=party.version)
    dialog.edits["mobile_phone"].setText("(207) 555 0142")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: "changed this borrower" in dialog.error.text(), timeout=15_000)
    qtbot.waitUntil(lambda: dialog.edits["city"].text() == "Bangor", timeout=15_000)
    assert dialog.party.version > party.version

    dialog.edits["mobile_phone"].setText("(207) 555 0142")
    with qtbot.waitSignal(view.account_shown, timeout=15_000):
        with qtbot.waitSignal(dialog.saved, timeout=15_000):
            dialog.save_button.click()
    settle(qtbot, window.workspace.tasks)
    shown = view.data.parties[0]
    assert shown.mobile_phone == "207-555-0142" and shown.fields["city"] == "Bangor"


def test_the_edit_button_needs_the_permission(qtbot, desk, open_window, monkeypatch) -> None:
    from app.services import permissions

    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    monkeypatch.setattr(window.workspace, "can", lambda permission: permission != permissions.EDIT_BORROWER)
    view = open_account(qtbot, window, number)
    assert not view.parties_box.findChildren(QPushButton)


def test_a_terms_change_is_previewed_then_applied(qtbot, desk, open_window) -> None:
    from app.services import accounts
    from app.ui.dialogs.terms_dialog import TermsDialog

    _, contexts = desk
    number = make_loan(contexts["admin"], start="2026-05-15", first_due="2026-06-15")  # nothing billed yet
    window = open_window("manager")
    view = open_account(qtbot, window, number)
    assert visible(view.terms_button)
    view.terms_button.click()
    dialog = view.findChild(TermsDialog, "termsDialog")
    assert dialog is not None and dialog.isVisible() and not dialog.ok.isEnabled()
    with qtbot.waitSignal(dialog.previewed, timeout=15_000, check_params_cb=lambda p: p is not None):
        dialog.rate_edit.setText("6")
    rows = {dialog.changes_table.item(r, 0).text(): (dialog.changes_table.item(r, 1).text(),
                                                   dialog.changes_table.item(r, 2).text())
            for r in range(dialog.changes_table.rowCount())}
    assert rows["Next payment"] == ("$888.49", "$860.66")  # before and after, as money
    assert not dialog.ok.isEnabled()  # a reason is required
    dialog.reason_edit.setText("Hardship modification")
    assert dialog.ok.isEnabled()
    with qtbot.waitSignal(view.account_shown, timeout=15_000):
        with qtbot.waitSignal(dialog.applied, timeout=15_000):
            dialog.ok.click()
    settle(qtbot, window.workspace.tasks)
    assert view.figures["next_payment"].text() == "$860.66"
    assert accounts.account(contexts["manager"], number).snapshot.next_payment == D("860.66")


def test_change_terms_is_hidden_from_a_clerk(qtbot, desk, open_window) -> None:
    _, contexts = desk
    number = make_loan(contexts["admin"])
    window = open_window("clerk")
    view = open_account(qtbot, window, number)
    assert not visible(view.terms_button)
    assert view.change_terms() is None


def test_a_manager_shows_the_full_ssn_and_birth_date_a_clerk_cannot(qtbot, desk, open_window) -> None:
    import datetime as dt

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel
    from sqlalchemy import select

    from app.db.models import AuditEvent, Loan, LoanParty, Person

    _, contexts = desk
    admin = contexts["admin"]
    number = make_loan(admin)
    with admin.unit() as session:
        loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
        person = session.scalars(select(Person).join(LoanParty).where(LoanParty.loan_id == loan.id)).one()
        person.tax_id, person.date_of_birth = "987-65-4320", dt.date(1975, 3, 14)
        person_id = person.id

    clerk_window = open_window("clerk")
    view = open_account(qtbot, clerk_window, number)
    assert view.parties_box.findChild(QLabel, f"taxId{person_id}").text() == "***-**-4320"
    assert view.parties_box.findChild(QLabel, f"birth{person_id}").text() == "1975-**-**"
    assert view.parties_box.findChild(QPushButton, f"revealParty{person_id}") is None  # clerks may not look

    window = open_window("manager")
    view = open_account(qtbot, window, number)
    view.tabs.setCurrentIndex(3)
    button = view.parties_box.findChild(QPushButton, f"revealParty{person_id}")
    assert button is not None and visible(button)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    tax = view.parties_box.findChild(QLabel, f"taxId{person_id}")
    qtbot.waitUntil(lambda: tax.text() == "987-65-4320", timeout=15_000)
    assert view.parties_box.findChild(QLabel, f"birth{person_id}").text() == "1975-03-14"
    assert not button.isEnabled()
    with admin.unit(write=False) as session:
        looks = list(session.scalars(select(AuditEvent.user_id).where(AuditEvent.action == "person.revealed")))
    assert looks == [contexts["manager"].actor.user_id]
