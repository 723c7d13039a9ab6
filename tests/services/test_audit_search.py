"""The global audit search (app/services/audit_search.py) and ``keel audit``, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from app.db.models import AuditEvent
from app.services import accounts, servicing
from app.services.audit_search import audit_choices, search_audit
from app.services.errors import InvalidInput, PermissionDenied

from .loans import make_loan


def _history(contexts) -> tuple[str, str]:
    admin, clerk = contexts["admin"], contexts["clerk"]
    first, second = make_loan(admin), make_loan(admin)
    servicing.post_payment(clerk, first, "888.49", date(2026, 2, 1), reference="CHK 1", confirm_backdated=True)
    servicing.post_payment(clerk, second, "250.00", method="ach")
    accounts.add_note(contexts["collector"], first, "Called; will pay Friday.")
    return first, second


def test_filters_by_user_action_loan_and_date(contexts):
    first, second = _history(contexts)
    manager = contexts["manager"]

    by_clerk = search_audit(manager, user="clerk", action="payment")
    # Two payments by the clerk, newest first: the second loan's (posted last), then the first's.
    assert [line.loan_number for line in by_clerk.lines] == [second, first]
    assert by_clerk.total == 2 and by_clerk.pages == 1
    assert by_clerk.lines[0].sentence == "Clerk User posted a $250.00 ACH payment effective Jun 1, 2026."
    assert by_clerk.lines[1].sentence == ("Clerk User posted an $888.49 check payment effective Feb 1, 2026, "
                                         "back-dated (confirmed) (reference CHK 1).")

    on_first = search_audit(manager, loan=first)
    assert {line.action for line in on_first.lines} == {"payment.posted", "note.added"}
    # The loan by its digits alone, as payment entry takes it (make_loan numbers loans T-000001, ...).
    assert search_audit(manager, loan=first[2:].lstrip("0")).total == on_first.total
    assert [line.sentence for line in search_audit(manager, loan=first.lower(), action="note.added").lines] == [
        "Collector User added a note (24 characters)."]  # len("Called; will pay Friday.") == 24

    # Dates: a record made ten days ago (as a restored backup would hold it) is the only one
    # in a range ending before today; today's range holds everything else.
    with manager.unit() as session:
        session.add(AuditEvent(at=datetime.now().astimezone() - timedelta(days=10), user_id=None,
                               action="user.deactivated", entity="user", entity_id="99",
                               details={"username": "former"}))
    today = datetime.now().astimezone().date()
    old = search_audit(manager, start=today - timedelta(days=11), end=today - timedelta(days=9))
    assert [line.sentence for line in old.lines] == ["Keel deactivated the user former."]
    assert search_audit(manager, start=today, end=today, action="user.deactivated").total == 0
    assert search_audit(manager, start=today, action="note").total == 1

    choices = audit_choices(manager)
    assert ("clerk", "Clerk User") in choices.users and "payment.posted" in choices.actions


def test_paging(contexts):
    _history(contexts)
    manager = contexts["manager"]
    everything = search_audit(manager, page_size=500)
    page_one = search_audit(manager, page_size=2)
    page_two = search_audit(manager, page_size=2, page=2)
    assert page_one.total == everything.total and page_one.pages == -(-everything.total // 2)
    assert [line.at for line in page_one.lines + page_two.lines] == [line.at for line in everything.lines[:4]]


def test_refusals_name_the_field(contexts):
    manager = contexts["manager"]
    for kwargs, field in (({"user": "nobody"}, "user"), ({"loan": "T-999999"}, "loan"),
                          ({"start": date(2026, 6, 2), "end": date(2026, 6, 1)}, "to"),
                          ({"page_size": 0}, "page size"), ({"page": 0}, "page")):
        with pytest.raises(InvalidInput) as refused:
            search_audit(manager, **kwargs)
        assert refused.value.field == field
    for role in ("clerk", "collector"):
        with pytest.raises(PermissionDenied):
            search_audit(contexts[role])
