"""A record of what left Keel: every export from the desk is an audit record (issue 13, item 3).

Exports change nothing in the books, but they take borrowers' names, addresses and balances out
of Keel (SSNs never: they are masked in every table), so a lender can answer "who exported
what, when".  The file's name is kept, never its folder (a user's own path).
"""

from __future__ import annotations

from pathlib import PurePath

from app.services import audit, permissions
from app.services.context import ServiceContext
from app.services.fields import text_field


def record_export(ctx: ServiceContext, what: str, rows: int, file_name: str) -> None:
    """Record that ``what`` (a view or report title) was exported, ``rows`` rows, to a file named ``file_name``."""
    permissions.require(ctx.actor, permissions.VIEW)
    title = text_field(what, "what", max_len=200) or "a table"
    name = PurePath(file_name).name[:200]
    with ctx.unit() as session:
        audit.record(session, ctx.actor, "data.exported", entity="export", entity_id=None,
                     details={"what": title, "rows": max(0, int(rows)), "file": name})


__all__ = ["record_export"]
