"""Users, roles and signing in (issue 3, item 6).

* Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher``, its
  RFC 9106 "low memory" defaults).  A stored hash made with weaker parameters
  is rehashed on the next successful sign-in.
* Usernames are 3-64 characters of letters, digits and ``. _ -``, kept in
  lower case so ``Alice`` and ``alice`` cannot be two people; sign-in is
  therefore case-insensitive on the name (never on the password).
* A failed sign-in says "Unknown user or wrong password" whether the name or
  the password was wrong, so the message does not reveal who has an account.
* The demo database's users share the password ``demo`` (README).  That
  password is refused on any database whose kind is not ``demo``, and so is
  any user created as a demo user, so a copied demo account never opens a
  production book.
* Every change writes its audit record in the change's own transaction.
  Sign-in failures for a known user are audited in a transaction of their
  own, committed even though the sign-in itself fails.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.db.base import utc_now
from app.db.models import USER_ROLES, User
from app.db.settings import get_database_kind
from app.services import audit, permissions
from app.services.context import Actor, ServiceContext, unit_of_work
from app.services.errors import Conflict, DatabaseBusy, InvalidInput, NotFound, ServiceError
from app.services.fields import text_field

#: The hasher every function here uses, looked up at call time so tests can
#: swap in cheap parameters (``monkeypatch.setattr(users, "HASHER", ...)``).
#: Production keeps argon2-cffi's defaults (argon2id, t=3, m=64 MiB, p=4).
HASHER = PasswordHasher()

DEMO_PASSWORD = "demo"
DEMO_KIND = "demo"
MIN_PASSWORD_LENGTH = 8
# argon2 takes any length; the cap stops a megabyte "password" from being a
# cheap way to make the server hash for a long time.
MAX_PASSWORD_LENGTH = 1024

BAD_CREDENTIALS = "Unknown user or wrong password"
DEMO_REFUSED = "Demo passwords only work on the demo database"

# pg_advisory_xact_lock key for creating the first admin ("kusr" in ASCII).
_PG_BOOTSTRAP_LOCK = 0x6B757372

_USERNAME_RE = re.compile(r"[A-Za-z0-9._-]{3,64}")


@dataclass(frozen=True)
class UserInfo:
    username: str
    full_name: str
    role: str
    active: bool
    last_login_at: _dt.datetime | None
    locked_until: _dt.datetime | None = None
    must_change_password: bool = False

    def locked(self, now: _dt.datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utc_now())


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
def normalize_username(username: str) -> str:
    """The stored form of a username (stripped, lower case); refuses a malformed one."""
    name = (username or "").strip()
    if not _USERNAME_RE.fullmatch(name):
        raise InvalidInput(
            "username", "must be 3 to 64 characters: letters, digits, '.', '_' or '-'"
        )
    return name.lower()


def _check_role(role: str) -> str:
    if role not in USER_ROLES:
        shown = repr(role) if len(repr(role)) <= 42 else repr(role)[:39] + "..."
        raise InvalidInput("role", f"must be one of {', '.join(USER_ROLES)}; got {shown}")
    return role


def _check_full_name(full_name: str) -> str:
    value = (full_name or "").strip()
    if not value:
        raise InvalidInput("full name", "is required")
    if len(value) > 200:
        raise InvalidInput("full name", "must be at most 200 characters")
    return text_field(value, "full name", max_len=200) or value


def _is_demo_database(session: Session) -> bool:
    return get_database_kind(session) == DEMO_KIND


def _check_password(session: Session, password: str) -> bool:
    """Refuse a weak password; return True if it is the demo password on a demo database."""
    if not isinstance(password, str) or password == "":
        raise InvalidInput("password", "is required")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if _is_demo_database(session):
        # The demo database is for trying Keel out; its users share "demo".
        return password == DEMO_PASSWORD
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    return False


def _find(session: Session, username: str) -> User | None:
    statement = select(User).where(User.username == normalize_username(username))
    return session.scalars(statement).one_or_none()


def _get(session: Session, username: str) -> User:
    user = _find(session, username)
    if user is None:
        raise NotFound(f"No user named {username.strip()!r}")
    return user


def _info(user: User) -> UserInfo:
    return UserInfo(user.username, user.full_name, user.role, user.active, user.last_login_at, user.locked_until,
                    user.must_change_password)


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, username=user.username, role=user.role, full_name=user.full_name,
                 must_change_password=user.must_change_password)


def _lock_admins(session: Session) -> list[User]:
    """Every active admin, locked (in id order, so two desks cannot deadlock) and
    re-read, before a change that could leave the database without one.

    On PostgreSQL this stops two admins deactivating each other at the same
    moment; SQLite's write unit of work already holds the single write lock.
    """
    return list(
        session.scalars(
            select(User)
            .where(User.role == "admin", User.active.is_(True))
            .order_by(User.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _is_last_admin(session: Session, user: User) -> bool:
    if user.role != "admin" or not user.active:
        return False
    admins = _lock_admins(session)
    # The target was re-read by the locking query if it is still an active admin.
    return user.role == "admin" and user.active and all(a.id == user.id for a in admins)


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("This user") from None


def _add_user(
    session: Session, username: str, full_name: str, role: str, password: str
) -> User:
    name = normalize_username(username)
    full_name = _check_full_name(full_name)
    role = _check_role(role)
    is_demo = _check_password(session, password)
    if _find(session, name) is not None:
        raise InvalidInput("username", f"{name!r} is already taken")
    user = User(
        username=name,
        full_name=full_name,
        role=role,
        password_hash=HASHER.hash(password),
        is_demo=is_demo,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another desk created the same name between our check and insert.
        raise InvalidInput("username", f"{name!r} is already taken") from None
    return user


# ---------------------------------------------------------------------------
# Signing in
# ---------------------------------------------------------------------------
def authenticate(factory: sessionmaker[Session], username: str, password: str, *, reading: bool = False) -> Actor:
    """Check a name and password; return the signed-in Actor or raise ServiceError.

    After the security setting's number of wrong passwords in a row the
    account is locked for its minutes: every sign-in is refused until then,
    the right password too (issue 11, item 7).  The lock and each failure are
    audited in a transaction of their own.

    ``reading=True`` is a command that only reads (``keel account``, ``keel
    verify``; issue 12): when another desk holds SQLite's write lock, it does
    not wait for it just to record the sign-in.  The password is then checked
    in a read transaction (the same checks, lockout included) and this
    sign-in is not recorded (no ``user.signed_in`` row, no last sign-in
    time).  A wrong password, or a user with failures to clear, still takes
    the ordinary path, waiting for the lock to count it: a guess is never
    free, and while the database is busy each costs the whole wait.
    """
    if reading:
        try:
            return _check_credentials(factory, username, password, purpose="sign-in", wait=False)
        except DatabaseBusy:
            actor = _check_without_writing(factory, username, password)
            if actor is not None:
                return actor
    return _check_credentials(factory, username, password, purpose="sign-in")


def verify_approver(factory: sessionmaker[Session], username: str, password: str) -> Actor:
    """Check an approver's name and password as a sign-in does (lockout included), without signing in."""
    return _check_credentials(factory, username, password, purpose="approval")


def confirm_identity(factory: sessionmaker[Session], username: str, password: str) -> Actor:
    """The signed-in user's password again (unlocking an idle desk); counts towards the lockout."""
    return _check_credentials(factory, username, password, purpose="unlock")


def _refusal(session: Session, user: User | None, name: str, password: str) -> tuple[str, str] | None:
    """Why these credentials are refused, as (message, audit reason); None when they are good."""
    demo_db = _is_demo_database(session)
    if password == DEMO_PASSWORD and not demo_db:
        # Refused whoever asks, before any check, so the answer is the
        # same for every name.
        HASHER.hash(password)
        return DEMO_REFUSED, "demo password outside the demo database"
    if user is None:
        # Spend the time a real check takes, so timing does not reveal
        # which names exist.
        HASHER.hash(password)
        return BAD_CREDENTIALS, ""
    if user.locked_until is not None and user.locked_until > utc_now():
        HASHER.hash(password)
        until = user.locked_until.astimezone().strftime("%H:%M")
        return (f"The user {name} is locked after too many wrong passwords until {until}; "
                "try again then or ask an administrator to unlock it"), "locked"
    if not _verify(user.password_hash, password):
        return BAD_CREDENTIALS, "wrong password"
    if user.is_demo and not demo_db:
        return DEMO_REFUSED, "demo user outside the demo database"
    if not user.active:
        return f"The user {name} is deactivated; ask an administrator", "inactive"
    return None


def _check_without_writing(factory: sessionmaker[Session], username: str, password: str) -> Actor | None:
    """A read command's sign-in while the database is busy: the Actor if the credentials are good and
    nothing about the user needs writing (no failures to clear); otherwise None (take the ordinary path)."""
    try:
        name = normalize_username(username)
    except InvalidInput:
        return None
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return None
    with unit_of_work(factory, write=False) as session:
        user = session.scalars(select(User).where(User.username == name)).one_or_none()
        if user is None or user.failed_sign_ins or _refusal(session, user, name, password) is not None:
            return None
        return _actor(user)


def _check_credentials(factory: sessionmaker[Session], username: str, password: str, *, purpose: str,
                       wait: bool = True) -> Actor:
    from app.services import security

    failed_user: int | None = None
    try:
        name = normalize_username(username)
    except InvalidInput:
        raise ServiceError(_for(purpose, BAD_CREDENTIALS)) from None
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        raise ServiceError(_for(purpose, BAD_CREDENTIALS))
    with unit_of_work(factory, write=True, wait=wait) as session:
        user = session.scalars(select(User).where(User.username == name)).one_or_none()
        now = utc_now()
        refused = _refusal(session, user, name, password)
        if refused is None:
            assert user is not None
            values: dict[str, object] = {"failed_sign_ins": 0, "locked_until": None}
            if purpose == "sign-in":
                values["last_login_at"] = now
            if HASHER.check_needs_rehash(user.password_hash):
                values["password_hash"] = HASHER.hash(password)
            # A plain UPDATE, not a versioned ORM change: signing in is not an
            # edit of the user, and two desks signing in as the same person
            # must not make each other's edits "stale".
            session.execute(
                update(User).where(User.id == user.id).values(**values),
                execution_options={"synchronize_session": False},
            )
            actor = _actor(user)
            if purpose == "sign-in":
                audit.record(session, actor, "user.signed_in", entity="user", entity_id=user.id,
                             details={"username": user.username, "rehashed": "password_hash" in values})
            return actor
        failure, reason = refused
        if user is not None:
            failed_user = user.id
    if failed_user is not None:
        with unit_of_work(factory, write=True) as session:
            user = session.get(User, failed_user)
            assert user is not None
            rules = security.read(session)
            details: dict[str, object] = {"username": user.username, "reason": reason, "purpose": purpose}
            if reason == "wrong password":
                count = user.failed_sign_ins + 1
                values = {"failed_sign_ins": count}
                if count >= rules.lockout_attempts:
                    values = {"failed_sign_ins": 0,
                              "locked_until": utc_now() + _dt.timedelta(minutes=rules.lockout_minutes)}
                session.execute(update(User).where(User.id == user.id).values(**values),
                                execution_options={"synchronize_session": False})
                details["failures_in_a_row"] = count
                if count >= rules.lockout_attempts:
                    audit.record(session, None, "user.locked_out", entity="user", entity_id=user.id,
                                 details={"username": user.username, "attempts": count,
                                          "minutes": rules.lockout_minutes})
            audit.record(session, None, "user.sign_in_failed", entity="user", entity_id=user.id, details=details)
    raise ServiceError(_for(purpose, failure or BAD_CREDENTIALS))


def _for(purpose: str, message: str) -> str:
    return f"Approval refused: {message[:1].lower()}{message[1:]}" if purpose == "approval" else message


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(HASHER.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------------------
# Managing users
# ---------------------------------------------------------------------------
def bootstrap_admin(
    factory: sessionmaker[Session], username: str, full_name: str, password: str
) -> Actor:
    """Create the first admin of a database that has no user at all.

    The first run of a new database has nobody to grant the permission, so
    this is the one way in; it refuses once any user exists.
    """
    with unit_of_work(factory, write=True) as session:
        if session.get_bind().dialect.name == "postgresql":
            # Two desks starting a new shared database at the same moment:
            # the second waits here, then sees the first's admin and stops.
            # (SQLite's BEGIN IMMEDIATE already lets one writer in at a time.)
            session.execute(text(f"SELECT pg_advisory_xact_lock({_PG_BOOTSTRAP_LOCK})"))
        if session.scalar(select(func.count()).select_from(User)):
            raise ServiceError("This database already has users; sign in as an administrator")
        user = _add_user(session, username, full_name, "admin", password)
        audit.record(
            session,
            None,
            "user.created",
            entity="user",
            entity_id=user.id,
            details={"username": user.username, "role": "admin", "first_admin": True},
        )
        return _actor(user)


def create_user(
    ctx: ServiceContext, username: str, full_name: str, role: str, password: str
) -> UserInfo:
    permissions.require(ctx.actor, permissions.MANAGE_USERS)
    with ctx.unit(write=True) as session:
        user = _add_user(session, username, full_name, role, password)
        audit.record(
            session,
            ctx.actor,
            "user.created",
            entity="user",
            entity_id=user.id,
            details={"username": user.username, "role": user.role, "full_name": user.full_name},
        )
        return _info(user)


def set_password(ctx: ServiceContext, username: str, new_password: str) -> None:
    """Set a password: an administrator for anyone (a reset: the user must choose their own at the next
    sign-in, and a lockout is lifted), anyone for themself (prefer :func:`change_own_password`)."""
    target = normalize_username(username)
    reset = target != ctx.actor.username
    if reset:
        permissions.require(ctx.actor, permissions.MANAGE_USERS)
    with ctx.unit(write=True) as session:
        user = _get(session, target)
        user.is_demo = _check_password(session, new_password)
        user.password_hash = HASHER.hash(new_password)
        user.must_change_password = reset and not user.is_demo
        user.failed_sign_ins, user.locked_until = 0, None
        _flush(session)
        audit.record(
            session,
            ctx.actor,
            "user.password_reset" if reset else "user.password_changed",
            entity="user",
            entity_id=user.id,
            details={"username": user.username, "must_change": user.must_change_password},
        )


def change_own_password(ctx: ServiceContext, current_password: str, new_password: str) -> Actor:
    """The signed-in user chooses a new password, giving the current one; returns the refreshed Actor."""
    with ctx.unit(write=True) as session:
        user = _get(session, ctx.actor.username)
        if not _verify(user.password_hash, current_password or ""):
            raise InvalidInput("current password", "is not your current password")
        if new_password == current_password:
            raise InvalidInput("new password", "must differ from the current one")
        user.is_demo = _check_password(session, new_password)
        user.password_hash = HASHER.hash(new_password)
        user.must_change_password = False
        _flush(session)
        audit.record(session, ctx.actor, "user.password_changed", entity="user", entity_id=user.id,
                     details={"username": user.username, "must_change": False})
        return _actor(user)


def unlock_user(ctx: ServiceContext, username: str) -> UserInfo:
    """Lift a sign-in lockout before its minutes are up (audited)."""
    permissions.require(ctx.actor, permissions.MANAGE_USERS)
    with ctx.unit(write=True) as session:
        user = _get(session, username)
        was = user.locked_until
        user.failed_sign_ins, user.locked_until = 0, None
        _flush(session)
        audit.record(session, ctx.actor, "user.unlocked", entity="user", entity_id=user.id,
                     details={"username": user.username, "was_locked_until": was.isoformat() if was else None})
        return _info(user)


def set_role(ctx: ServiceContext, username: str, role: str) -> UserInfo:
    permissions.require(ctx.actor, permissions.MANAGE_USERS)
    role = _check_role(role)
    with ctx.unit(write=True) as session:
        user = _get(session, username)
        if user.role == role:
            return _info(user)
        if _is_last_admin(session, user):
            raise InvalidInput("role", f"{user.username} is the last active admin; make another admin first")
        before = user.role  # read after the lock, which may have refreshed it
        user.role = role
        _flush(session)
        audit.record(
            session,
            ctx.actor,
            "user.role_changed",
            entity="user",
            entity_id=user.id,
            details={"username": user.username, "before": before, "after": role},
        )
        return _info(user)


def deactivate_user(ctx: ServiceContext, username: str) -> UserInfo:
    """Stop a user signing in.  Users are never deleted: the ledger and the
    audit trail keep pointing at them."""
    permissions.require(ctx.actor, permissions.MANAGE_USERS)
    with ctx.unit(write=True) as session:
        user = _get(session, username)
        if not user.active:
            return _info(user)
        if _is_last_admin(session, user):
            raise InvalidInput("username", f"{user.username} is the last active admin and cannot be deactivated")
        user.active = False
        _flush(session)
        audit.record(
            session,
            ctx.actor,
            "user.deactivated",
            entity="user",
            entity_id=user.id,
            details={"username": user.username},
        )
        return _info(user)


def reactivate_user(ctx: ServiceContext, username: str) -> UserInfo:
    permissions.require(ctx.actor, permissions.MANAGE_USERS)
    with ctx.unit(write=True) as session:
        user = _get(session, username)
        if user.active:
            return _info(user)
        user.active = True
        _flush(session)
        audit.record(
            session,
            ctx.actor,
            "user.reactivated",
            entity="user",
            entity_id=user.id,
            details={"username": user.username},
        )
        return _info(user)


def list_users(ctx: ServiceContext) -> list[UserInfo]:
    """Every user, active or not, by username (administrators only: it shows
    who signed in when)."""
    permissions.require(ctx.actor, permissions.MANAGE_USERS)
    with ctx.unit(write=False) as session:
        return [_info(u) for u in session.scalars(select(User).order_by(User.username))]


__all__ = [
    "BAD_CREDENTIALS",
    "DEMO_PASSWORD",
    "DEMO_REFUSED",
    "HASHER",
    "MIN_PASSWORD_LENGTH",
    "UserInfo",
    "authenticate",
    "bootstrap_admin",
    "change_own_password",
    "confirm_identity",
    "create_user",
    "deactivate_user",
    "list_users",
    "normalize_username",
    "reactivate_user",
    "set_password",
    "set_role",
    "unlock_user",
    "verify_approver",
]
