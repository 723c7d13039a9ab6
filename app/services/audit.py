"""The audit trail: one record per state-changing action, in the action's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.db import chain
from app.db.models import AuditEvent
from app.services.context import Actor


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    entity: str,
    entity_id: object | None = None,
    loan_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit event; it commits or rolls back with the change it describes.

    The row is inserted as the transaction commits, numbered and sealed into
    the audit chain (:mod:`app.db.chain`), so it is not visible to queries of
    its own transaction.
    """
    chain.pend(
        session,
        AuditEvent(
            user_id=actor.user_id if actor is not None else None,
            action=action,
            loan_id=loan_id,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            details=details or {},
        )
    )
