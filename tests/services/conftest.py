"""Fixtures for service tests (on SQLite and PostgreSQL, like ``tests/conftest.py``).

* ``factory``: a sessionmaker on the test's rolled-back ``connection``.  Its
  sessions join with ``join_transaction_mode="create_savepoint"``, so a
  service's own ``unit_of_work`` commit is a savepoint release and its
  rollback a savepoint rollback; the whole test is undone at the end.
  (``unit_of_work(write=True)`` asks SQLite for BEGIN IMMEDIATE; on a joined
  connection no BEGIN is issued -- the outer transaction is already open --
  so the option is harmless here.)
* ``contexts``: the database initialized (business date 2026-06-01, kind
  ``production``) with one user per role; a dict role -> ServiceContext, e.g.
  ``contexts["clerk"]``.  ``seed(factory)`` does the same for a test that
  wants its own factory.
* Password hashing uses cheap argon2 parameters in these tests (autouse
  ``fast_hashing``); production keeps argon2-cffi's defaults.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from app.services import setup, users
from app.services.context import ServiceContext

BUSINESS_DATE = dt.date(2026, 6, 1)
ROLES = ("admin", "manager", "clerk", "collector")
#: Each seeded user is named after its role and has this password.
PASSWORDS = {role: f"{role}-secret-1" for role in ROLES}

# Cheap but real argon2id: about a millisecond a hash instead of ~50 ms.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)


@pytest.fixture
def factory(connection: Connection) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's connection; everything they commit is rolled back after the test."""
    yield sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def seed(
    factory: sessionmaker[Session],
    *,
    kind: str = "production",
    business_date: dt.date = BUSINESS_DATE,
) -> dict[str, ServiceContext]:
    """Initialize the database and add users admin, manager, clerk and collector.

    Returns role -> ServiceContext, each signed in through ``authenticate``
    (so the audit trail also holds their sign-ins).
    """
    setup.initialize_database(factory, kind=kind, business_date=business_date)
    users.bootstrap_admin(factory, "admin", "Ada Admin", PASSWORDS["admin"])
    admin = ServiceContext(factory, users.authenticate(factory, "admin", PASSWORDS["admin"]))
    for role in ROLES[1:]:
        users.create_user(admin, role, f"{role.title()} User", role, PASSWORDS[role])
    return {
        role: ServiceContext(factory, users.authenticate(factory, role, PASSWORDS[role]))
        for role in ROLES
    }


@pytest.fixture
def contexts(factory: sessionmaker[Session]) -> dict[str, ServiceContext]:
    return seed(factory)
