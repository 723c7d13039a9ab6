"""Batch drafts: saved as typed, per user, deleted with their batch's posting (issue 11, item 2)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from app.db.models import AuditEvent, BatchDraft, LedgerEntry
from app.services import batch_drafts, batches
from app.services.batch_drafts import DraftRow
from app.services.errors import FileRejected, InvalidInput, NotFound, PermissionDenied
from tests.services.loans import make_loan


def audit_count(ctx, action: str, draft_id: int) -> int:
    with ctx.unit(write=False) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.entity_id == str(draft_id))) or 0


def test_a_draft_is_created_saved_listed_and_deleted_with_audit(contexts) -> None:
    clerk = contexts["clerk"]
    draft = batch_drafts.create_draft(clerk, control_total="1000.00", deposit_date=date(2026, 6, 1))
    assert draft.control_total == D("1000.00") and draft.rows == () and draft.count == 0
    assert audit_count(clerk, "batch_draft.created", draft.id) == 1

    rows = [DraftRow("KL-1", "600.00", "CHK 1"), DraftRow("KL-2", "3o0", "CHK 2", "cash", "05/20/2026"), DraftRow()]
    saved = batch_drafts.save_draft(clerk, draft.id, control_total=D("1000.00"), deposit_date=date(2026, 5, 29),
                                    method="ach", rows=rows)
    assert saved.version > draft.version
    assert saved.rows == tuple(rows[:2])  # the blank row is not kept; the mistyped amount is, as typed
    assert saved.count == 2 and saved.total == D("600.00")
    assert saved.method == "ach" and saved.deposit_date == date(2026, 5, 29)
    assert audit_count(clerk, "batch_draft.created", draft.id) == 1  # saves are not audited one by one

    listed = batch_drafts.list_drafts(clerk)
    assert [d.id for d in listed] == [draft.id] and listed[0].rows == saved.rows
    assert batch_drafts.get_draft(clerk, draft.id) == listed[0]

    batch_drafts.delete_draft(clerk, draft.id)
    assert batch_drafts.list_drafts(clerk) == []
    assert audit_count(clerk, "batch_draft.deleted", draft.id) == 1
    with pytest.raises(NotFound):
        batch_drafts.get_draft(clerk, draft.id)


def test_drafts_are_private_to_their_user(contexts) -> None:
    mine = batch_drafts.create_draft(contexts["clerk"], rows=[DraftRow("KL-1", "5.00")])
    theirs = batch_drafts.create_draft(contexts["manager"])
    assert [d.id for d in batch_drafts.list_drafts(contexts["clerk"])] == [mine.id]
    assert [d.id for d in batch_drafts.list_drafts(contexts["manager"])] == [theirs.id]
    with pytest.raises(NotFound):
        batch_drafts.save_draft(contexts["manager"], mine.id, rows=[])
    with pytest.raises(NotFound):
        batch_drafts.delete_draft(contexts["manager"], mine.id)
    assert batch_drafts.get_draft(contexts["clerk"], mine.id).count == 1


def test_drafts_need_the_batch_permission(contexts) -> None:
    for call in (lambda c: batch_drafts.create_draft(c), batch_drafts.list_drafts):
        with pytest.raises(PermissionDenied):
            call(contexts["collector"])


def test_a_draft_refuses_what_is_not_money_or_a_method(contexts) -> None:
    clerk = contexts["clerk"]
    with pytest.raises(InvalidInput) as raised:
        batch_drafts.create_draft(clerk, control_total="12.345")
    assert raised.value.field == "control_total"
    with pytest.raises(InvalidInput) as raised:
        batch_drafts.create_draft(clerk, method="barter")
    assert raised.value.field == "method"
    with pytest.raises(InvalidInput, match="float"):
        batch_drafts.create_draft(clerk, control_total=12.5)  # never a float


def test_posting_the_batch_deletes_its_draft_in_the_same_transaction(contexts) -> None:
    admin, clerk = contexts["admin"], contexts["clerk"]
    number = make_loan(admin)
    draft = batch_drafts.create_draft(clerk, control_total=D("100.00"), rows=[DraftRow(number, "100.00", "CHK 9")])
    # A failed post keeps the draft.
    with pytest.raises(FileRejected):
        batches.post_batch(clerk, [batches.BatchRow(number, D("90.00"), "CHK 9")], D("100.00"), draft_id=draft.id)
    assert [d.id for d in batch_drafts.list_drafts(clerk)] == [draft.id]
    result = batches.post_batch(clerk, [batches.BatchRow(number, D("100.00"), "CHK 9")], D("100.00"),
                                draft_id=draft.id)
    assert result.count == 1
    assert batch_drafts.list_drafts(clerk) == []
    assert audit_count(clerk, "batch_draft.posted", draft.id) == 1
    with clerk.unit(write=False) as session:
        assert session.get(BatchDraft, draft.id) is None
        entry = session.get(LedgerEntry, result.posted[0].entry_id)
        assert entry.amount == D("100.00") and entry.batch_id == result.batch_id


def test_control_total_problem_reads_as_a_sentence(contexts) -> None:
    number = make_loan(contexts["admin"])
    problems = batches.check_batch(contexts["clerk"], [batches.BatchRow(number, D("900.00"))], D("1000.00"))
    assert [p.reason for p in problems] == [
        "the payments add up to $900.00, not $1,000.00 (difference -$100.00)"]
