"""Least-privilege PostgreSQL roles (issue 12, item 1): the desk can work but cannot rewrite the books.

The review found that the application's own login owned the tables, so
``ALTER TABLE ... DISABLE TRIGGER`` followed by UPDATE or DELETE rewrote the
ledger and deleted every audit row.  Here an owner role owns and migrates the
schema (``keel db roles`` then ``keel db upgrade``, as docs/security.md says)
and the desks sign in as a desk role: a payment posts (ledger and audit rows
inserted, the loan's cached row updated) and every way of rewriting the books
fails with PostgreSQL's permission error (SQLSTATE 42501).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from app.cli import main
from app.db import migrate, roles
from app.db.models import APPEND_ONLY_TABLES, Base
from app.db.session import make_engine
from app.services import demo, servicing, setup, users, verify
from app.services.context import ServiceContext
from app.services.errors import ServiceError
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed
from tests.services.loans import make_loan

INSUFFICIENT_PRIVILEGE = "42501"


@dataclass(frozen=True)
class Office:
    """One database on the test server with its own owner and desk roles (with passwords, so the
    tests also work on a server that asks for them, and so their outputs can be searched for them)."""

    owner: str
    desk: str
    owner_password: str
    desk_password: str
    owner_url: str
    desk_url: str
    superuser_url: str


def _autocommit(url: str) -> Engine:
    return make_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture
def office(postgres_server_url: str) -> Iterator[Office]:
    tag = uuid.uuid4().hex[:8]
    owner, desk, database = f"keel_owner_{tag}", f"keel_desk_{tag}", f"keel_office_{tag}"
    owner_password, desk_password = secrets.token_hex(8), secrets.token_hex(8)
    admin = _autocommit(postgres_server_url)
    try:
        with admin.connect() as conn:
            # Passwords are set here by the test, the way a DBA would in psql; Keel never sees this SQL.
            conn.exec_driver_sql(f"CREATE ROLE {owner} LOGIN PASSWORD '{owner_password}'")
            conn.exec_driver_sql(f"CREATE ROLE {desk} LOGIN PASSWORD '{desk_password}'")
            conn.exec_driver_sql(f"CREATE DATABASE {database} OWNER {owner}")
        server = make_url(postgres_server_url)
        yield Office(
            owner=owner,
            desk=desk,
            owner_password=owner_password,
            desk_password=desk_password,
            owner_url=server.set(username=owner, password=owner_password, database=database)
            .render_as_string(hide_password=False),
            desk_url=server.set(username=desk, password=desk_password, database=database)
            .render_as_string(hide_password=False),
            superuser_url=server.set(database=database).render_as_string(hide_password=False),
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {desk}")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {owner}")
    finally:
        admin.dispose()


@pytest.fixture
def set_up(office: Office, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Office:
    """The walkthrough of docs/security.md: roles first, then the schema, both as the owner."""
    monkeypatch.delenv(setup.ENV_ALLOW_OWNER, raising=False)
    assert main(["db", "roles", "--desk-role", office.desk, "--owner-role", office.owner, "--apply",
                 "--db", office.owner_url]) == 0
    assert main(["db", "upgrade", "--db", office.owner_url]) == 0
    # ... and applying the roles again once the tables exist changes nothing and succeeds.
    assert main(["db", "roles", "--desk-role", office.desk, "--owner-role", office.owner, "--apply",
                 "--db", office.owner_url]) == 0
    out = capsys.readouterr()
    assert office.owner_password not in out.out + out.err
    assert f"Applied the least-privilege roles at postgresql+psycopg://{office.owner}:***@" in out.out
    return office


def _privileges(url: str, role: str) -> dict[str, set[str]]:
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.relname, p.name FROM pg_class c CROSS JOIN (VALUES ('SELECT'), ('INSERT'), "
                    "('UPDATE'), ('DELETE'), ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) AS p(name) "
                    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' "
                    "AND has_table_privilege(:role, c.oid, p.name)"
                ),
                {"role": role},
            ).all()
    finally:
        engine.dispose()
    found: dict[str, set[str]] = {}
    for table, privilege in rows:
        found.setdefault(table, set()).add(privilege)
    return found


# ---------------------------------------------------------------------------
# The desk at work, and the desk trying to rewrite the books
# ---------------------------------------------------------------------------
@pytest.mark.postgres
def test_the_desk_role_posts_a_payment_but_cannot_rewrite_the_books(
    set_up: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    # The owner sets the book up (keel init's work) and boards a loan.
    owner_factory = setup.open_database(set_up.owner_url, initialize=False, allow_owner=True)
    try:
        number = make_loan(seed(owner_factory)["admin"])
    finally:
        setup.close_database(owner_factory)

    # A desk opens the book as the desk role, with no override, and posts a payment.
    factory = setup.open_database(set_up.desk_url)
    desk = make_engine(set_up.desk_url, poolclass=NullPool)
    try:
        clerk = ServiceContext(factory, users.authenticate(factory, "clerk", PASSWORDS["clerk"]))

        def counts() -> tuple[int, int, int]:
            with desk.connect() as conn:
                return (
                    conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one(),
                    conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one(),
                    conn.execute(text("SELECT s.version FROM loan_states s JOIN loans l ON l.id = s.loan_id "
                                      "WHERE l.loan_number = :n"), {"n": number}).scalar_one(),
                )

        entries, audits, version = counts()
        posted = servicing.post_payment(clerk, number, "633.96", reference="CHK 1")
        after = counts()
        assert after[0] == entries + 1  # the payment's ledger entry (boarding was the first)
        assert after[1] > audits  # its audit record
        assert after[2] > version  # the loan's cached state, an UPDATE on loan_states
        with desk.begin() as conn:  # and the loan row itself, as a terms change or a flag writes it
            assert conn.execute(text("UPDATE loans SET version = version + 1 WHERE loan_number = :n"),
                                {"n": number}).rowcount == 1
        with desk.connect() as conn:
            cents = conn.execute(text("SELECT amount FROM ledger_entries WHERE id = :i"),
                                 {"i": posted.entry_id}).scalar_one()
        assert cents == 63396  # 633.96 stored as integer cents

        attempts = [
            f"UPDATE ledger_entries SET amount = 1 WHERE id = {posted.entry_id}",
            "DELETE FROM audit_events",
            "ALTER TABLE ledger_entries DISABLE TRIGGER ALL",
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
            "DROP TABLE ledger_entries",
            "DROP TABLE loans",
            "TRUNCATE ledger_entries",
            "TRUNCATE audit_events",
            "TRUNCATE loans",
            "UPDATE notes SET loan_id = loan_id",
            "DELETE FROM contacts",
            "UPDATE alembic_version SET version_num = '0001'",
            "CREATE TABLE shadow_ledger (id integer)",
            "DROP FUNCTION keel_refuse_change() CASCADE",
            f"SET ROLE {set_up.owner}",
        ]
        for statement in attempts:
            with pytest.raises(DBAPIError) as refused, desk.begin() as conn:
                conn.exec_driver_sql(statement)
            assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE, (statement, refused.value.orig)

        with desk.connect() as conn:
            assert conn.execute(text("SELECT amount FROM ledger_entries WHERE id = :i"),
                                {"i": posted.entry_id}).scalar_one() == 63396
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == after[1]
    finally:
        desk.dispose()
        setup.close_database(factory)


@pytest.mark.postgres
def test_a_whole_demo_book_lives_as_the_desk_role(set_up: Office, monkeypatch: pytest.MonkeyPatch) -> None:
    """Boarding, payments, reversals, contacts, letters and end of day on a few business days, all
    as the desk role: least privilege takes nothing away that the desks' ordinary work needs."""
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    factory = setup.open_database(set_up.desk_url, initialize=False)
    try:
        built = demo.build_demo(factory, loans=40, seed=3, days=45)
        assert built.loans > 0 and built.payments_posted > 0 and built.contacts > 0
        admin = ServiceContext(factory, users.authenticate(factory, "admin", users.DEMO_PASSWORD))
        report = verify.verify(admin, workers=1)
        assert report.ok and report.loans_checked == built.loans
    finally:
        setup.close_database(factory)


@pytest.mark.postgres
def test_every_table_gets_the_desk_grants_though_the_roles_came_before_the_tables(set_up: Office) -> None:
    """The fixture applied the roles to an empty schema: default privileges gave each new table the
    desk's ordinary rights, and the upgrade took UPDATE and DELETE back from the append-only ones."""
    granted = _privileges(set_up.superuser_url, set_up.desk)
    tables = set(Base.metadata.tables)
    assert tables <= set(granted)
    for table in tables:
        expected = {"SELECT", "INSERT"} if table in APPEND_ONLY_TABLES else {"SELECT", "INSERT", "UPDATE", "DELETE"}
        assert granted[table] == expected, table
    assert granted["alembic_version"] == {"SELECT"}


@pytest.mark.postgres
def test_a_later_migration_s_tables_get_the_desk_grants(set_up: Office) -> None:
    """0008 creates loan_flag_events (append-only).  Taken down to 0006 and up again, as a newer
    Keel's upgrade would create a table, it gets SELECT and INSERT only; a table the owner creates
    outside a migration gets the desk's ordinary rights from the default privileges."""
    owner = make_engine(set_up.owner_url, poolclass=NullPool)
    try:
        assert migrate.downgrade(owner, "0006") == "0006"
        assert "loan_flag_events" not in _privileges(set_up.superuser_url, set_up.desk)
        assert migrate.upgrade(owner) == migrate.head_revision()
        with owner.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE later_things (id integer)")
    finally:
        owner.dispose()
    granted = _privileges(set_up.superuser_url, set_up.desk)
    assert granted["loan_flag_events"] == {"SELECT", "INSERT"}
    assert granted["later_things"] == {"SELECT", "INSERT", "UPDATE", "DELETE"}


@pytest.mark.postgres
def test_the_desk_role_cannot_upgrade_a_schema_and_says_who_can(set_up: Office) -> None:
    owner = make_engine(set_up.owner_url, poolclass=NullPool)
    try:
        migrate.downgrade(owner, "-1")
        behind = migrate.current_revision(owner)
    finally:
        owner.dispose()
    with pytest.raises(migrate.MigrationError, match="the owner role runs keel db upgrade") as refused:
        migrate.prepare_database(set_up.desk_url)
    assert f"{set_up.desk} cannot upgrade it" in str(refused.value)
    with pytest.raises(ServiceError, match="the owner role runs keel db upgrade"):
        setup.open_database(set_up.desk_url)
    owner = make_engine(set_up.owner_url, poolclass=NullPool)
    try:
        assert migrate.current_revision(owner) == behind  # nothing was touched
    finally:
        owner.dispose()


# ---------------------------------------------------------------------------
# The desk refuses to work as the owner
# ---------------------------------------------------------------------------
@pytest.mark.postgres
def test_the_desk_refuses_to_open_as_the_owner_or_a_superuser_without_the_override(
    set_up: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(setup.ENV_ALLOW_OWNER, raising=False)
    with pytest.raises(ServiceError) as refused:
        setup.open_database(set_up.owner_url)
    message = str(refused.value)
    assert "\n" not in message
    assert f"as {set_up.owner}, the owner of the books' tables" in message
    assert "keel db roles" in message and "--allow-owner" in message and "KEEL_ALLOW_OWNER=1" in message
    assert set_up.owner_password not in message and ":***@" in message

    with pytest.raises(ServiceError, match=r"as postgres, a superuser"):
        setup.open_database(set_up.superuser_url)

    # Told to: by the set-up verbs' parameter, or by the environment.
    setup.close_database(setup.open_database(set_up.owner_url, allow_owner=True))
    monkeypatch.setenv(setup.ENV_ALLOW_OWNER, "1")
    setup.close_database(setup.open_database(set_up.owner_url))


@pytest.mark.postgres
def test_keel_init_runs_as_the_owner_and_desk_commands_need_allow_owner(
    set_up: Office, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    monkeypatch.delenv(setup.ENV_ALLOW_OWNER, raising=False)
    monkeypatch.setenv("KEEL_ADMIN_PASSWORD", PASSWORDS["admin"])
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["admin"])
    assert main(["init", "--user", "admin", "--db", set_up.owner_url]) == 0
    capsys.readouterr()

    assert main(["user", "list", "--user", "admin", "--db", set_up.owner_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keel: error: Keel will not do desk work on ") and len(err.strip().splitlines()) == 1
    assert set_up.owner_password not in err

    assert main(["user", "list", "--user", "admin", "--db", set_up.owner_url, "--allow-owner"]) == 0
    assert main(["user", "list", "--user", "admin", "--db", set_up.desk_url]) == 0
    assert "admin" in capsys.readouterr().out


@pytest.mark.postgres
def test_keel_demo_on_postgresql_does_not_print_the_password(
    office: Office, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(setup.ENV_ALLOW_OWNER, raising=False)  # building a book is the owner's work
    assert main(["demo", "--loans", "2", "--days", "1", "--db", office.owner_url]) == 0
    out = capsys.readouterr()
    assert office.owner_password not in out.out + out.err
    assert f"loans on postgresql+psycopg://{office.owner}:***@" in out.out


# ---------------------------------------------------------------------------
# keel db roles: the script, its names, its refusals
# ---------------------------------------------------------------------------
def test_keel_db_roles_prints_the_script_without_any_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg://keel_owner:s3cret@db.example.com/keel"
    assert main(["db", "roles", "--desk-role", "keel_desk", "--owner-role", "keel_owner", "--db", url]) == 0
    script = capsys.readouterr().out
    assert "s3cret" not in script
    assert not re.search(r"PASSWORD\s+'", script, re.IGNORECASE)
    assert script.splitlines()[3] == "BEGIN;" and script.rstrip().endswith("COMMIT;")
    for expected in (
        'ALTER SCHEMA "public" OWNER TO "keel_owner";',
        'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC;',
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public" TO "keel_desk";',
        'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "public" TO "keel_desk";',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "keel_owner" IN SCHEMA "public" '
        'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "keel_desk";',
        "EXECUTE 'REVOKE UPDATE, DELETE ON TABLE \"public\".' || quote_ident(t) || ' FROM \"keel_desk\"';",
    ):
        assert expected in script, expected
    for table in APPEND_ONLY_TABLES:
        assert f"'{table}'" in script
    assert "TRUNCATE" not in script.replace("REVOKE ALL", "")  # never granted


@pytest.mark.parametrize(
    "name", ["Keel_desk", "1desk", "desk-role", 'de"sk', "de'sk", "pg_desk", "public", "current_user", "x" * 64, ""]
)
def test_role_names_are_plain_lower_case_identifiers(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(roles.RoleNameError):
        roles.role_statements(name, "keel_owner")
    assert main(["db", "roles", "--desk-role", name, "--owner-role", "keel_owner"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keel: error: desk role name") and len(err.strip().splitlines()) == 1


def test_the_desk_and_owner_roles_must_differ() -> None:
    with pytest.raises(roles.RoleNameError, match="must differ"):
        roles.role_statements("keel", "keel")
    assert roles.validate_name("x" * 63) == "x" * 63


def test_keel_db_roles_apply_is_for_postgresql_only(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'book.sqlite3'}"
    assert main(["db", "roles", "--desk-role", "d", "--owner-role", "o", "--apply", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "is not PostgreSQL" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "book.sqlite3").exists()


@pytest.mark.postgres
def test_keel_db_roles_apply_refuses_in_one_line_and_changes_nothing(
    office: Office, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["db", "roles", "--desk-role", office.desk, "--owner-role", office.owner, "--apply"]
    # As the desk role: it may not.
    assert main([*args, "--db", office.desk_url]) == 2
    err = capsys.readouterr().err
    assert f"run this as a superuser or as {office.owner}, not as {office.desk}" in err
    assert len(err.strip().splitlines()) == 1 and office.desk_password not in err
    # A role that does not exist.
    assert main(["db", "roles", "--desk-role", "keel_nobody_here", "--owner-role", office.owner, "--apply",
                 "--db", office.owner_url]) == 2
    assert "role keel_nobody_here does not exist" in capsys.readouterr().err
    # The owner named is not the tables' owner: the superuser migrated them.
    superuser = make_engine(office.superuser_url, poolclass=NullPool)
    try:
        migrate.upgrade(superuser)
    finally:
        superuser.dispose()
    assert main([*args, "--db", office.superuser_url]) == 2
    assert f"the tables are owned by postgres, not {office.owner}" in capsys.readouterr().err
    assert _privileges(office.superuser_url, office.desk) == {}  # one transaction: nothing was granted


@pytest.mark.postgres
def test_a_desk_role_that_could_bypass_the_grants_is_refused(office: Office, capsys: pytest.CaptureFixture[str]) -> None:
    admin = make_engine(office.superuser_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"ALTER ROLE {office.desk} CREATEROLE")
            assert main(["db", "roles", "--desk-role", office.desk, "--owner-role", office.owner, "--apply",
                         "--db", office.owner_url]) == 2
            assert "may bypass the grants" in capsys.readouterr().err
            conn.exec_driver_sql(f"ALTER ROLE {office.desk} NOCREATEROLE")
            # A desk made a member of the owner loses that membership (revoked by whoever may: the
            # superuser here, who granted it).
            conn.exec_driver_sql(f"GRANT {office.owner} TO {office.desk}")
            assert main(["db", "roles", "--desk-role", office.desk, "--owner-role", office.owner, "--apply",
                         "--db", office.superuser_url]) == 0
            member = conn.exec_driver_sql(f"SELECT pg_has_role('{office.desk}', '{office.owner}', 'MEMBER')").scalar()
            assert member is False
    finally:
        admin.dispose()


def test_the_roles_know_the_same_append_only_tables_as_the_open_check() -> None:
    assert set(APPEND_ONLY_TABLES) == set(setup.APPEND_ONLY_TABLES)
