"""Who is acting, on which database: what every service takes first.

Services are plain functions ``verb(ctx, ...)`` that open one unit of work,
check the actor's permission, do the work and write the audit record inside
the same transaction, and return frozen values (never ORM objects).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.db.session import unit_of_work

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


@dataclass(frozen=True)
class ServiceContext:
    factory: sessionmaker[Session]
    actor: Actor

    @contextmanager
    def unit(self, *, write: bool = True) -> Iterator[Session]:
        with unit_of_work(self.factory, write=write) as session:
            yield session
