"""Errors services raise.  Each says who it is for (STYLE.md, Electrum).

* :class:`ServiceError` and its subclasses are shown to the user as written:
  one sentence naming the field and the problem.  The database is unchanged.
* Anything else is a bug: the UI logs it with its traceback and shows a
  generic message.
"""

from __future__ import annotations

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
        where = f"{self.file}" + (f", row {self.row}" if self.row is not None else "")
        return f"{where}, {self.field}: {self.reason}"


class FileRejected(ServiceError):
    """A file with problems; nothing from it was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "no problems listed"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}")
