"""Errors services raise.  Each says who it is for (STYLE.md, Electrum).

* :class:`ServiceError` and its subclasses are shown to the user as written:
  one sentence naming the field and the problem.  The database is unchanged.
* Anything else is a bug: the UI logs it with its traceback and shows a
  generic message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class ServiceError(Exception):
    """A problem the user can understand and act on."""


class InvalidInput(ServiceError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class PermissionDenied(ServiceError):
    def __init__(self, username: str, permission: str, description: str | None = None) -> None:
        if description and description != permission:
            what = f"{description[:1].lower()}{description[1:]}"
            message = (f"{username}'s role does not allow this ({what}: permission {permission}); "
                       "ask a manager or an administrator")
        else:
            message = f"{username} does not have the permission '{permission}'"
        super().__init__(message)
        self.permission = permission


class SessionEnded(ServiceError):
    """The signed-in user was deactivated, demoted or changed since signing in: sign in again."""


class NeedsApproval(ServiceError):
    """Allowed, but above a limit: a different user who holds the permission must approve it.

    ``permission`` is what the approver must hold (besides approval.grant);
    ``reasons`` are the limits crossed, in words.
    """

    def __init__(self, message: str, permission: str, reasons: tuple[str, ...]) -> None:
        super().__init__(message)
        self.permission = permission
        self.reasons = reasons


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    """Someone else changed the same record first: reload and retry."""

    def __init__(self, what: str = "This loan") -> None:
        super().__init__(f"{what} was changed by someone else at the same moment; reload it and retry")


class DatabaseBusy(ServiceError):
    """Another desk has held SQLite's write lock for longer than this desk would wait (issue 12).

    Not a :class:`Conflict`: nobody changed the record, the database was only
    busy.  Nothing was written; trying again later will do.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        shown = f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"
        super().__init__(f"The database is busy: another desk has held it for {shown} s; try again")


#: Told "the database is busy — retrying ..." while a unit waits for SQLite's write lock: the
#: CLI prints it on stderr, the desktop's worker shows it in the status bar.  Per thread (a
#: context variable), so each desktop worker job reports to its own window.
_busy_notice: ContextVar[Callable[[str], None] | None] = ContextVar("keel_busy_notice", default=None)


@contextmanager
def busy_notices(tell: Callable[[str], None]) -> Iterator[None]:
    """While the block runs on this thread, ``tell(text)`` hears about each busy retry."""
    token = _busy_notice.set(tell)
    try:
        yield
    finally:
        _busy_notice.reset(token)


def notify_busy(text: str) -> None:
    """Pass a busy-retry notice to whoever listens on this thread (nobody: nothing happens)."""
    tell = _busy_notice.get()
    if tell is not None:
        tell(text)


class NeedsConfirmation(ServiceError):
    """The action is allowed but must be confirmed (a likely duplicate, a back-dated entry)."""

    def __init__(self, message: str, preview: object | None = None) -> None:
        super().__init__(message)
        self.preview = preview


@dataclass(frozen=True)
class Problem:
    """One problem found while checking a file: where and why."""

    file: str
    row: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{_printable(self.file)}" + (f", row {self.row}" if self.row is not None else "")
        return f"{where}, {_printable(self.field)}: {' '.join(self.reason.split())}"


def _printable(text: str) -> str:
    """A file or field name from a file, fit for one line: quoted when it holds a new line or a control character."""
    if text.isprintable():
        return text if len(text) <= 80 else text[:77] + "..."
    shown = repr(text)
    return shown if len(shown) <= 80 else shown[:77] + "..."


class FileRejected(ServiceError):
    """A file with problems; nothing from it was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "no problems listed"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}")


# ---------------------------------------------------------------- storage

_ENOSPC_TEXTS = ("database or disk is full", "no space left on device", "could not extend file", "disk full")
_DAMAGED_TEXTS = ("database disk image is malformed", "file is not a database", "file is encrypted or is not a database")


def storage_problem(exc: BaseException) -> str | None:
    """One line for a full disk, a damaged database file or a value the database cannot hold, else None.

    These arrive as driver errors (SQLite's ``database or disk is full``, PostgreSQL's SQLSTATE 53100,
    an ``OSError`` ENOSPC writing a file, a NUL refused by PostgreSQL's text columns) from deep inside a
    write; the unit of work has already rolled back, so the message says nothing was saved (issue 12).
    """
    import errno

    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            where = f" ({current.filename})" if current.filename else ""
            return (f"the disk is full: {current.strerror or 'no space left on device'}{where}; nothing was saved. "
                    "Free some space and try again")
        text = str(current).lower()
        sqlstate = getattr(current, "sqlstate", None) or getattr(getattr(current, "orig", None), "sqlstate", None)
        if sqlstate == "53100" or any(t in text for t in _ENOSPC_TEXTS):
            return ("the disk is full: the database could not grow (database or disk is full); nothing was saved. "
                    "Free some space and try again")
        if any(t in text for t in _DAMAGED_TEXTS):
            return ("the database file is damaged (database disk image is malformed); nothing was saved. "
                    "Run 'keel verify' and restore the latest backup")
        if "cannot contain nul" in text:
            return ("a value contains a NUL character (U+0000), which the database cannot store; nothing was saved. "
                    "Retype it")
        pending.extend((getattr(current, "orig", None), current.__cause__, current.__context__))
    return None
