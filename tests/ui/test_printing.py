"""Previewing and printing letters from the desk (issue 11): the stored PDFs, the system print path."""

from __future__ import annotations

import glob
import io
import os
import tempfile
from datetime import date

import pytest
from pypdf import PdfReader
from PySide6.QtPrintSupport import QPrinter
from sqlalchemy import select

from app.db.models import Contact, Letter, LetterQueueItem, Loan
from app.services import letters
from app.ui.dialogs.letter_preview_dialog import LetterPreviewDialog
from tests.services.loans import make_loan
from tests.ui.helpers import settle
from tests.ui.test_more import lender

pytestmark = pytest.mark.qt


def texts(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def queue_late_notices(ctx, count: int) -> list[str]:
    numbers = [make_loan(ctx) for _ in range(count)]  # nothing paid: well past due
    with ctx.unit() as session:
        for number in numbers:
            loan = session.scalars(select(Loan).where(Loan.loan_number == number)).one()
            session.add(LetterQueueItem(loan_id=loan.id, kind="late-notice", queued_on=date(2026, 6, 1),
                                        reason="15 days past due"))
    return numbers


def pdf_printer(path: str) -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(path)
    return printer


def test_preview_renders_the_stored_letters_pages(qtbot, desk) -> None:
    _, contexts = desk
    lender(contexts["admin"])
    number = make_loan(contexts["admin"])
    record = letters.issue_letter(contexts["admin"], "statement", number)
    dialog = LetterPreviewDialog(None, letters.reprint(contexts["admin"], record.id), "Statement")
    qtbot.addWidget(dialog)
    dialog.resize(1366, 768)
    dialog.show()
    qtbot.waitUntil(lambda: bool(dialog.view.rendered_pages()), timeout=10_000)
    assert len(dialog.view.pages) == PdfReader(io.BytesIO(record.pdf_bytes)).get_num_pages()
    image = dialog.view.page_image(0, 48)
    assert image.width() > 100
    dark = sum(1 for x in range(0, image.width(), 4) for y in range(0, image.height(), 4)
               if image.pixelColor(x, y).lightness() < 128)
    assert dark > 50  # text was drawn, not a blank page
    dialog.close()


def test_print_the_queue_to_pdf_prints_the_stored_letters_and_marks_them(qtbot, desk, open_window,
                                                                        tmp_path) -> None:
    _, contexts = desk
    lender(contexts["admin"])
    numbers = queue_late_notices(contexts["admin"], 2)
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "keel-print-*")))
    window = open_window("collector")
    view = window.collections_view
    settle(qtbot, window.workspace.tasks)
    assert view.print_queue_button.isVisibleTo(view)
    view.print_queue()
    settle(qtbot, window.workspace.tasks)
    dialog = view.preview_dialog
    target = tmp_path / "queue.pdf"
    assert dialog.print_to(pdf_printer(str(target)))
    settle(qtbot, window.workspace.tasks)
    with contexts["admin"].unit(write=False) as session:
        stored = [bytes(row.pdf) for row in session.scalars(select(Letter).order_by(Letter.id))]
        items = list(session.scalars(select(LetterQueueItem)))
        assert {item.status for item in items} == {"printed"}
        contacts = list(session.scalars(select(Contact).where(Contact.channel == "letter")))
        assert len(contacts) == 2
    assert len(stored) == 2
    printed = texts(target.read_bytes())
    assert sorted(printed) == sorted(t for pdf in stored for t in texts(pdf))
    assert all(any(n in t for t in printed) for n in numbers)
    assert "Sent 2 pages" in dialog.status_label.text()
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "keel-print-*"))) == before
    dialog.close()


def test_a_failing_printer_says_so_and_marks_nothing(qtbot, desk, open_window, tmp_path) -> None:
    _, contexts = desk
    lender(contexts["admin"])
    queue_late_notices(contexts["admin"], 1)
    window = open_window("collector")
    view = window.collections_view
    settle(qtbot, window.workspace.tasks)
    view.print_queue()
    settle(qtbot, window.workspace.tasks)
    dialog = view.preview_dialog
    failures: list[str] = []
    dialog.print_failed.connect(failures.append)
    assert not dialog.print_to(pdf_printer(str(tmp_path / "no such folder" / "queue.pdf")))
    settle(qtbot, window.workspace.tasks)
    assert failures and failures[0].count(". ") == 0 and failures[0].startswith("Could not write")
    assert dialog.status_label.text() == failures[0]
    with contexts["admin"].unit(write=False) as session:
        assert {i.status for i in session.scalars(select(LetterQueueItem))} == {"issued"}
        assert not list(session.scalars(select(Contact).where(Contact.channel == "letter")))
    # The next try prints the same stored letter.
    assert letters.queued_batch(contexts["admin"]).letter_ids == dialog_ids(contexts["admin"])
    dialog.close()


def dialog_ids(ctx) -> tuple[int, ...]:
    with ctx.unit(write=False) as session:
        return tuple(session.scalars(select(Letter.id).order_by(Letter.id)))


def test_payoff_good_through_chosen_in_the_dialog_is_printed(qtbot, desk, open_window) -> None:
    _, contexts = desk
    lender(contexts["admin"])
    number = make_loan(contexts["admin"])
    window = open_window("manager")
    window.open_account(number)
    view = window.account_view
    qtbot.waitUntil(lambda: view.data is not None, timeout=15_000)
    view.letter_kind.setCurrentIndex(view.letter_kind.findData("payoff"))
    view.preview_letter_button.click()
    chooser = view.options_dialog
    chooser.good_through.set_value(date(2026, 6, 25))
    chooser._accept()
    settle(qtbot, window.workspace.tasks)
    dialog = view.preview_dialog
    text = "\n".join(texts(dialog.data))
    assert "June 25, 2026" in text
    assert not dialog.print_button.isVisibleTo(dialog)  # a preview is not recorded, so not printed
    assert letters.letter_history(contexts["manager"], number) == []
    dialog.close()


def test_default_notice_cure_days_chosen_in_the_dialog(qtbot, desk, open_window) -> None:
    _, contexts = desk
    lender(contexts["admin"])
    number = make_loan(contexts["admin"])
    window = open_window("manager")
    window.open_account(number)
    view = window.account_view
    qtbot.waitUntil(lambda: view.data is not None, timeout=15_000)
    view.letter_kind.setCurrentIndex(view.letter_kind.findData("default-notice"))
    view.issue_letter_button.click()
    view.options_dialog.cure_days.setValue(45)
    view.options_dialog._accept()
    settle(qtbot, window.workspace.tasks)
    record = letters.letter_history(contexts["manager"], number)[0]
    business = window.workspace.business_date
    assert record.figures["cure_by_date"] == (business.fromordinal(business.toordinal() + 45)).isoformat()
    view.preview_dialog.close()
