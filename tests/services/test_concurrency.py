"""Two desks posting to the same loan at the same moment (issue 3, item 7).

Real connections and real commits on a fresh database: every payment either
posts (in some order) or is refused with "changed by someone else, retry";
none is lost and none is doubled.
"""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from app.db.migrate import upgrade
from app.db.models import LedgerEntry
from app.db.session import make_engine, session_factory
from app.services import servicing, verify
from app.services.context import ServiceContext
from app.services.errors import Conflict

from .conftest import seed
from .loans import make_loan


@pytest.mark.parametrize("fresh_db_url", ["postgresql"], indirect=True)
def test_concurrent_posts_to_one_loan_are_never_lost_or_doubled(fresh_db_url):
    engine = make_engine(fresh_db_url, pool_size=10)
    upgrade(engine)
    factory = session_factory(engine)
    contexts = seed(factory)
    clerk = contexts["clerk"]
    number = make_loan(clerk)
    desks, per_desk = 6, 4
    barrier = threading.Barrier(desks)
    posted: list[int] = []
    conflicts: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def desk(index: int) -> None:
        ctx = ServiceContext(session_factory(engine), clerk.actor)
        barrier.wait()
        for k in range(per_desk):
            try:
                result = servicing.post_payment(ctx, number, D("10.00"), reference=f"desk{index}-{k}")
                with lock:
                    posted.append(result.entry_id)
            except Conflict as exc:
                with lock:
                    conflicts.append(str(exc))
            except BaseException as exc:  # pragma: no cover - reported below
                with lock:
                    failures.append(exc)

    threads = [threading.Thread(target=desk, args=(i,)) for i in range(desks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    assert len(posted) + len(conflicts) == desks * per_desk
    assert all("changed by someone else" in message for message in conflicts)
    with factory() as session:
        payments = session.scalars(select(LedgerEntry).where(LedgerEntry.type == "payment")).all()
        assert sorted(entry.id for entry in payments) == sorted(posted)
        seqs = session.scalars(select(LedgerEntry.seq).where(LedgerEntry.loan_id == payments[0].loan_id)).all()
        assert len(seqs) == len(set(seqs))
        assert session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.type == "payment")) == D("10.00") * len(posted)
    report = verify.verify(contexts["manager"])
    assert report.ok, report.differences
    engine.dispose()
