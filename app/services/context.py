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
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.db import session as db_session
from app.db.keys import BookKeyProblem
from app.db.session import is_busy
from app.services.errors import DatabaseBusy, ServiceError, SessionEnded, notify_busy

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


#: A write unit that finds SQLite's write lock held tries this many times in all, each
#: attempt waiting up to the busy timeout (``KEEL_BUSY_TIMEOUT``), with these pauses
#: between attempts: at most 3 x the timeout + 0.75 s before DatabaseBusy.
BUSY_ATTEMPTS = 3
BUSY_PAUSES = (0.25, 0.5)


@contextmanager
def unit_of_work(
    factory: sessionmaker[Session], *, write: bool = True, snapshot: bool = False, wait: bool = True
) -> Iterator[Session]:
    """:func:`app.db.session.unit_of_work`, with a busy SQLite database retried and reported (issue 12).

    Only the *start* of a unit is retried: SQLite's BEGIN IMMEDIATE failing to
    get the write lock happens before the block has run, so there is nothing
    half done to run twice.  Each retry tells the thread's listener "the
    database is busy — retrying" (:func:`app.services.errors.busy_notices`);
    when every attempt found the lock held the unit raises
    :class:`DatabaseBusy`, never Conflict.  A lock refused later, inside the
    block (a read unit that writes), rolls the unit back and is DatabaseBusy
    too, not retried.  ``wait=False``: one attempt that does not wait (a
    command that can do without writing, such as a read command's sign-in).
    """
    began = time.monotonic()
    attempts = BUSY_ATTEMPTS if wait else 1
    try:
        with ExitStack() as stack:
            for attempt in range(1, attempts + 1):
                try:
                    session = stack.enter_context(
                        db_session.unit_of_work(factory, write=write, snapshot=snapshot, wait=wait))
                    break
                except OperationalError as exc:
                    if not is_busy(exc):
                        raise
                    if attempt == attempts:
                        raise DatabaseBusy(time.monotonic() - began) from None
                notify_busy(f"The database is busy (another desk is writing) — retrying, attempt {attempt + 1} "
                            f"of {attempts}")
                time.sleep(BUSY_PAUSES[min(attempt, len(BUSY_PAUSES)) - 1])
            yield session
    except OperationalError as exc:
        # Refused the lock after the unit began (its statement or its commit): rolled back, not retried.
        if is_busy(exc):
            raise DatabaseBusy(time.monotonic() - began) from None
        raise
    except BookKeyProblem as exc:
        # The book's key is missing or wrong on this machine (the seal needs it as the unit commits).
        raise ServiceError(str(exc)) from None


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
        """One unit of work; ``snapshot=True``: every statement sees the same moment; a busy
        SQLite database is retried, then DatabaseBusy (:func:`unit_of_work`)."""
        with unit_of_work(self.factory, write=write, snapshot=snapshot) as session:
            check_actor(session, self.actor)
            yield session


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
