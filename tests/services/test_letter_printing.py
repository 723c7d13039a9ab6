"""Printing the stored letters (issue 11): the queue's file is the hashed PDFs joined, printed marks once."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.db.models import AuditEvent, Contact, Letter, LetterQueueItem
from app.services import letters
from app.services.context import ServiceContext
from app.services.errors import InvalidInput, PermissionDenied
from tests.services.test_letters import ctx, current_loan, delinquent_loan, queue  # noqa: F401  (fixture)

__all__ = ["ctx"]


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_run_file_is_the_stored_letters_joined(ctx: ServiceContext) -> None:
    numbers = [delinquent_loan(ctx) for _ in range(3)]
    for number in numbers:
        queue(ctx, number, "late-notice")
    run = letters.run_queued(ctx)
    with ctx.unit(write=False) as session:
        stored = [bytes(session.get(Letter, r.id).pdf) for r in run.records]  # type: ignore[union-attr]
    assert page_texts(run.pdf_bytes) == [t for pdf in stored for t in page_texts(pdf)]
    batch = letters.queued_batch(ctx)
    assert batch.letter_ids == tuple(r.id for r in run.records)
    assert page_texts(batch.pdf_bytes) == page_texts(run.pdf_bytes) and batch.pages == run.pages == 3


def test_mark_printed_marks_the_queue_and_logs_collection_letters_as_contacts(ctx: ServiceContext) -> None:
    late, other = delinquent_loan(ctx), current_loan(ctx)
    late_item = queue(ctx, late, "late-notice")
    statement_item = queue(ctx, other, "statement")
    run = letters.run_queued(ctx)
    assert len(run.records) == 2
    batch = letters.queued_batch(ctx)
    done = letters.mark_printed(ctx, batch.letter_ids)
    assert done.queue_items == 2 and done.contacts == 1
    with ctx.unit(write=False) as session:
        assert session.get(LetterQueueItem, late_item).status == "printed"  # type: ignore[union-attr]
        assert session.get(LetterQueueItem, statement_item).status == "printed"  # type: ignore[union-attr]
        contacts = list(session.scalars(select(Contact).where(Contact.channel == "letter")))
        assert len(contacts) == 1 and "Late notice" in (contacts[0].note or "")
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.action == "letter.printed")))
        assert len(actions) == 2
    # Nothing waits any more.
    assert letters.queued_batch(ctx).letter_ids == ()


def test_unprinted_letters_stay_issued_and_print_again_from_the_stored_bytes(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    item = queue(ctx, number, "late-notice")
    first = letters.run_queued(ctx)
    # The print failed: nothing was marked.  The next batch is the same stored letter, not a new one.
    again = letters.run_queued(ctx)
    assert again.records == ()
    batch = letters.queued_batch(ctx)
    assert batch.letter_ids == (first.records[0].id,)
    with ctx.unit(write=False) as session:
        row = session.get(Letter, first.records[0].id)
        assert row is not None and hashlib.sha256(bytes(row.pdf)).hexdigest() == row.file_hash
        assert page_texts(batch.pdf_bytes) == page_texts(bytes(row.pdf))
        assert session.get(LetterQueueItem, item).status == "issued"  # type: ignore[union-attr]


def test_duplex_join_starts_each_letter_on_a_sheet() -> None:
    from reportlab.pdfgen import canvas

    def pdf(pages: int) -> bytes:
        out = io.BytesIO()
        c = canvas.Canvas(out)
        for n in range(pages):
            c.drawString(72, 720, f"page {n + 1}")
            c.showPage()
        c.save()
        return out.getvalue()

    data, pages = letters._join_pdfs([pdf(1), pdf(2), pdf(1)], duplex=True)
    assert pages == 5 and len(PdfReader(io.BytesIO(data)).pages) == 5
    assert letters._join_pdfs([]) == (b"", 0)


def test_mark_printed_needs_letters_and_the_permission(ctx: ServiceContext,
                                                       contexts: dict[str, ServiceContext]) -> None:
    with pytest.raises(InvalidInput):
        letters.mark_printed(ctx, [])
    with pytest.raises(PermissionDenied):
        letters.mark_printed(contexts["clerk"], [1])


def test_issued_letter_outside_the_queue_is_not_in_the_batch(ctx: ServiceContext) -> None:
    number = delinquent_loan(ctx)
    record = letters.issue_letter(ctx, "late-notice", number, dt.date(2026, 6, 1))
    assert letters.queued_batch(ctx).letter_ids == ()
    assert letters.mark_printed(ctx, [record.id]).contacts == 1
