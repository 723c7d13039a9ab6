"""Users, roles and signing in (issue 3, item 6), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import AuditEvent, User
from app.services import setup, users
from app.services.context import ServiceContext
from app.services.errors import InvalidInput, NotFound, PermissionDenied, ServiceError

from .conftest import PASSWORDS, seed


def audit_actions(factory: sessionmaker[Session], **where: object) -> list[tuple[str, int | None, str | None]]:
    with factory() as session:
        statement = select(AuditEvent.action, AuditEvent.user_id, AuditEvent.entity_id).order_by(AuditEvent.id)
        for column, value in where.items():
            statement = statement.where(getattr(AuditEvent, column) == value)
        return [tuple(row) for row in session.execute(statement)]


def user_row(factory: sessionmaker[Session], username: str) -> User:
    with factory() as session:
        return session.scalars(select(User).where(User.username == username)).one()


# ---------------------------------------------------------------------------
# Signing in
# ---------------------------------------------------------------------------
def test_authenticate_returns_the_actor_and_records_the_sign_in(factory, contexts):
    actor = users.authenticate(factory, "clerk", PASSWORDS["clerk"])
    row = user_row(factory, "clerk")
    assert (actor.user_id, actor.username, actor.role, actor.full_name) == (row.id, "clerk", "clerk", "Clerk User")
    assert row.last_login_at is not None
    signed_in = audit_actions(factory, action="user.signed_in", entity_id=str(row.id))
    assert signed_in and all(user_id == row.id for _, user_id, _ in signed_in)


def test_usernames_are_case_insensitive_at_sign_in(factory, contexts):
    assert users.authenticate(factory, "  CLERK ", PASSWORDS["clerk"]).username == "clerk"


def test_wrong_password_and_unknown_user_get_the_same_message(factory, contexts):
    with pytest.raises(ServiceError) as wrong:
        users.authenticate(factory, "clerk", "not-the-password")
    with pytest.raises(ServiceError) as unknown:
        users.authenticate(factory, "nobody", "not-the-password")
    with pytest.raises(ServiceError) as malformed:
        users.authenticate(factory, "x", "not-the-password")
    assert str(wrong.value) == str(unknown.value) == str(malformed.value) == "Unknown user or wrong password"
    # Only the known name leaves a trace, and the failure is committed although the sign-in failed.
    clerk_id = user_row(factory, "clerk").id
    failed = audit_actions(factory, action="user.sign_in_failed")
    assert failed == [("user.sign_in_failed", None, str(clerk_id))]


def test_inactive_user_cannot_sign_in(factory, contexts):
    users.deactivate_user(contexts["admin"], "collector")
    with pytest.raises(ServiceError, match="deactivated"):
        users.authenticate(factory, "collector", PASSWORDS["collector"])
    # and with a wrong password the answer reveals nothing more than usual
    with pytest.raises(ServiceError, match="^Unknown user or wrong password$"):
        users.authenticate(factory, "collector", "wrong-password")
    users.reactivate_user(contexts["admin"], "collector")
    assert users.authenticate(factory, "collector", PASSWORDS["collector"]).role == "collector"


def test_demo_password_is_refused_on_a_production_database(factory, contexts):
    # Even a user whose stored hash really is "demo" (copied in by hand).
    with factory.begin() as session:
        session.add(User(username="copied", full_name="Copied", role="clerk",
                         password_hash=users.HASHER.hash("demo"), is_demo=True))
    for name in ("copied", "clerk", "nobody"):
        with pytest.raises(ServiceError, match="Demo passwords only work on the demo database"):
            users.authenticate(factory, name, "demo")


def test_demo_password_works_on_a_demo_database(factory):
    setup.initialize_database(factory, kind="demo", business_date=dt.date(2026, 6, 1))
    users.bootstrap_admin(factory, "admin", "Demo Admin", "demo")
    admin = ServiceContext(factory, users.authenticate(factory, "admin", "demo"))
    users.create_user(admin, "clerk", "Demo Clerk", "clerk", "demo")
    assert users.authenticate(factory, "clerk", "demo").role == "clerk"
    assert user_row(factory, "clerk").is_demo


def test_a_demo_user_is_refused_once_the_database_is_not_a_demo(factory, contexts):
    """is_demo marks the account, not just the password: it stays shut outside a demo database."""
    with factory.begin() as session:
        session.add(User(username="demo-only", full_name="D", role="clerk",
                         password_hash=users.HASHER.hash("long-enough-pw"), is_demo=True))
    with pytest.raises(ServiceError, match="demo database"):
        users.authenticate(factory, "demo-only", "long-enough-pw")


def test_sign_in_rehashes_a_weak_hash(factory, contexts):
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with factory.begin() as session:
        session.add(User(username="old", full_name="Old Hash", role="clerk",
                         password_hash=weak.hash("old-password")))
    old_hash = user_row(factory, "old").password_hash
    users.authenticate(factory, "old", "old-password")
    new_hash = user_row(factory, "old").password_hash
    assert new_hash != old_hash and not users.HASHER.check_needs_rehash(new_hash)
    assert users.authenticate(factory, "old", "old-password").username == "old"


def test_passwords_are_stored_as_argon2id_hashes(factory, contexts):
    stored = user_row(factory, "clerk").password_hash
    assert stored.startswith("$argon2id$") and PASSWORDS["clerk"] not in stored


def test_production_hasher_keeps_strong_defaults(monkeypatch):
    monkeypatch.undo()  # drop this folder's fast test hasher
    assert users.HASHER.type.name == "ID"
    assert users.HASHER.time_cost >= 3 and users.HASHER.memory_cost >= 65536


# ---------------------------------------------------------------------------
# Managing users
# ---------------------------------------------------------------------------
def test_create_user_and_list(factory, contexts):
    info = users.create_user(contexts["admin"], "Pat.Doe", " Pat Doe ", "collector", "long-enough-pw")
    assert (info.username, info.full_name, info.role, info.active, info.last_login_at) == (
        "pat.doe", "Pat Doe", "collector", True, None)
    listed = users.list_users(contexts["admin"])
    assert [u.username for u in listed] == ["admin", "clerk", "collector", "manager", "pat.doe"]
    assert all(isinstance(u, users.UserInfo) for u in listed)
    assert users.authenticate(factory, "pat.doe", "long-enough-pw").role == "collector"
    created = audit_actions(factory, action="user.created", entity_id=str(user_row(factory, "pat.doe").id))
    assert created == [("user.created", contexts["admin"].actor.user_id, str(user_row(factory, "pat.doe").id))]


@pytest.mark.parametrize("role", ["clerk", "collector", "manager"])
def test_only_admins_manage_users(contexts, role):
    ctx = contexts[role]
    with pytest.raises(PermissionDenied):
        users.create_user(ctx, "newbie", "New Bie", "clerk", "long-enough-pw")
    with pytest.raises(PermissionDenied):
        users.list_users(ctx)
    with pytest.raises(PermissionDenied):
        users.set_role(ctx, "collector", "admin")
    with pytest.raises(PermissionDenied):
        users.deactivate_user(ctx, "admin")
    with pytest.raises(PermissionDenied):
        users.set_password(ctx, "admin", "taken-over-pw")


@pytest.mark.parametrize(
    ("username", "full_name", "role", "password", "field"),
    [
        ("ab", "A B", "clerk", "long-enough-pw", "username"),
        ("x" * 65, "A B", "clerk", "long-enough-pw", "username"),
        ("bad name", "A B", "clerk", "long-enough-pw", "username"),
        ("o'neil", "A B", "clerk", "long-enough-pw", "username"),
        ("newbie", "  ", "clerk", "long-enough-pw", "full name"),
        ("newbie", "A B", "boss", "long-enough-pw", "role"),
        ("newbie", "A B", "clerk", "short", "password"),
        ("newbie", "A B", "clerk", "demo", "password"),
        ("CLERK", "A B", "clerk", "long-enough-pw", "username"),  # duplicate, any case
    ],
)
def test_bad_new_users_are_refused_with_the_field_named(factory, contexts, username, full_name, role, password, field):
    before = [u.username for u in users.list_users(contexts["admin"])]
    with pytest.raises(InvalidInput) as refused:
        users.create_user(contexts["admin"], username, full_name, role, password)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")
    assert [u.username for u in users.list_users(contexts["admin"])] == before


def test_duplicate_username_names_the_field(contexts):
    with pytest.raises(InvalidInput, match="already taken") as refused:
        users.create_user(contexts["admin"], "clerk", "Another Clerk", "clerk", "long-enough-pw")
    assert refused.value.field == "username"


def test_set_password_by_admin_and_by_the_user_themself(factory, contexts):
    users.set_password(contexts["admin"], "clerk", "reset-by-admin")
    reset = users.authenticate(factory, "clerk", "reset-by-admin")
    # An administrator's reset: the clerk must choose their own password at this sign-in.
    assert (reset.username, reset.must_change_password) == ("clerk", True)
    users.set_password(contexts["collector"], "collector", "my-own-choice")
    with pytest.raises(ServiceError, match="Unknown user or wrong password"):
        users.authenticate(factory, "collector", PASSWORDS["collector"])
    assert users.authenticate(factory, "collector", "my-own-choice").username == "collector"
    with pytest.raises(InvalidInput) as short:
        users.set_password(contexts["clerk"], "clerk", "short")
    assert short.value.field == "password"
    with pytest.raises(NotFound):
        users.set_password(contexts["admin"], "nobody", "long-enough-pw")
    assert [u for _, u, _ in audit_actions(factory, action="user.password_reset")] == [contexts["admin"].actor.user_id]
    changed = audit_actions(factory, action="user.password_changed")
    assert [user_id for _, user_id, _ in changed] == [contexts["collector"].actor.user_id]


def test_set_role_is_audited_with_before_and_after(factory, contexts):
    info = users.set_role(contexts["admin"], "clerk", "manager")
    assert info.role == "manager"
    assert users.authenticate(factory, "clerk", PASSWORDS["clerk"]).role == "manager"
    with factory() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.role_changed")).one()
        assert event.user_id == contexts["admin"].actor.user_id
        assert event.details == {"username": "clerk", "before": "clerk", "after": "manager"}
    with pytest.raises(InvalidInput) as bad:
        users.set_role(contexts["admin"], "clerk", "owner")
    assert bad.value.field == "role"


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(factory, contexts):
    admin = contexts["admin"]
    with pytest.raises(InvalidInput, match="last active admin"):
        users.deactivate_user(admin, "admin")
    with pytest.raises(InvalidInput, match="last active admin"):
        users.set_role(admin, "admin", "manager")
    assert user_row(factory, "admin").active and user_row(factory, "admin").role == "admin"
    # With a second admin, either may go.
    users.set_role(admin, "manager", "admin")
    users.deactivate_user(admin, "admin")
    assert not user_row(factory, "admin").active
    second = ServiceContext(factory, users.authenticate(factory, "manager", PASSWORDS["manager"]))
    with pytest.raises(InvalidInput, match="last active admin"):
        users.deactivate_user(second, "manager")
    assert [a for a, _, _ in audit_actions(factory, action="user.deactivated")] == ["user.deactivated"]


def test_deactivated_user_is_listed_but_cannot_sign_in(factory, contexts):
    users.deactivate_user(contexts["admin"], "clerk")
    listed = {u.username: u for u in users.list_users(contexts["admin"])}
    assert listed["clerk"].active is False
    assert listed["clerk"].last_login_at is not None  # seed signed everyone in
    with pytest.raises(ServiceError):
        users.authenticate(factory, "clerk", PASSWORDS["clerk"])


# ---------------------------------------------------------------------------
# The first admin
# ---------------------------------------------------------------------------
def test_bootstrap_admin_only_on_an_empty_database(factory):
    setup.initialize_database(factory, business_date=dt.date(2026, 6, 1))
    assert setup.database_is_empty(factory)
    actor = users.bootstrap_admin(factory, "Root", "First Admin", "first-admin-pw")
    assert (actor.username, actor.role) == ("root", "admin")
    assert not setup.database_is_empty(factory)
    assert audit_actions(factory, action="user.created") == [("user.created", None, str(actor.user_id))]
    with pytest.raises(ServiceError, match="already has users"):
        users.bootstrap_admin(factory, "second", "Second Admin", "second-admin-pw")
    assert users.authenticate(factory, "root", "first-admin-pw").role == "admin"


def test_bootstrap_admin_applies_the_password_rule(factory):
    setup.initialize_database(factory, business_date=dt.date(2026, 6, 1))
    with pytest.raises(InvalidInput) as refused:
        users.bootstrap_admin(factory, "root", "First Admin", "demo")
    assert refused.value.field == "password"
    assert setup.database_is_empty(factory)


def test_seed_builds_every_role(contexts):
    assert {role: ctx.actor.role for role, ctx in contexts.items()} == {
        "admin": "admin", "manager": "manager", "clerk": "clerk", "collector": "collector"}


def test_seed_on_a_demo_database(factory):
    ctxs = seed(factory, kind="demo")
    assert set(ctxs) == {"admin", "manager", "clerk", "collector"}
    assert setup.database_info(factory) == setup.DatabaseInfo("demo", dt.date(2026, 6, 1))
