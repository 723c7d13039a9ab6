"""Who is acting, on which database: what every service takes first.

Services are plain functions ``verb(ctx, ...)`` that open one unit of work,
check the actor's permission, do the work and write the audit record inside
the same transaction, and return frozen values (never ORM objects).

Every unit re-reads the actor's user row first (issue 11, item 7): a user
deactivated, demoted or promoted since signing in is refused with
:class:`~app.services.errors.SessionEnded` before anything is read or
written, so the permission checked against ``ctx.actor.role`` is the role the
database holds in that same transaction.  The desktop signs such a user out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.session import unit_of_work
from app.services.errors import SessionEnded

#: ``progress(done, total, label)`` for long jobs.
Progress = Callable[[int, int, str], None]


def no_progress(done: int, total: int, label: str) -> None:
    return None


class CancelToken:
    """Set from another thread (the desktop's Cancel button); long jobs stop between loans."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    role: str
    full_name: str = ""
    #: An administrator reset the password: the desk asks for a new one before anything else.
    must_change_password: bool = False


@dataclass(frozen=True)
class ServiceContext:
    factory: sessionmaker[Session]
    actor: Actor

    @contextmanager
    def unit(self, *, write: bool = True, snapshot: bool = False) -> Iterator[Session]:
        """One unit of work; ``snapshot=True``: every statement sees the same moment (unit_of_work).

        A book whose key is missing or wrong on this machine (the seal needs it
        as the unit commits) is a ServiceError saying what to do.
        """
        from app.db.keys import BookKeyProblem
        from app.services.errors import ServiceError

        try:
            with unit_of_work(self.factory, write=write, snapshot=snapshot) as session:
                check_actor(session, self.actor)
                yield session
        except BookKeyProblem as exc:
            raise ServiceError(str(exc)) from None


def check_actor(session: Session, actor: Actor) -> None:
    """Refuse (SessionEnded) unless ``actor`` is still an active user with the same role."""
    if actor.user_id == 0:  # the CLI's "nobody" before sign-in: it holds no permission at all
        return
    # Imported here, not at the top: the models import nothing from services, and this module is imported early.
    from app.db.models import User

    row = session.execute(select(User.active, User.role).where(User.id == actor.user_id)).one_or_none()
    if row is None or not row.active:
        raise SessionEnded(f"{actor.username} has been deactivated by an administrator; "
                           "nothing was changed. Sign in again as an active user")
    if row.role != actor.role:
        raise SessionEnded(f"{actor.username}'s role was changed from {actor.role} to {row.role}; "
                           "nothing was changed. Sign in again to work with the new role")
