"""Least-privilege PostgreSQL roles for a shared Keel database (issue 12).

On a shared server the books are protected by who may do what, not by the
application: a login that owns the tables can ``ALTER TABLE ... DISABLE
TRIGGER`` and then rewrite or delete the ledger and the audit trail.  So an
office uses two roles (``docs/security.md`` walks through the set-up):

* the **owner** owns the schema and every table, and runs the migrations
  (``keel db upgrade``, ``keel init``, ``keel demo``).  Nobody works as it day to day;
* the **desk** is the login every desk uses: SELECT and INSERT only on the
  append-only tables (:data:`app.db.models.APPEND_ONLY_TABLES`), SELECT,
  INSERT, UPDATE and DELETE on the others, SELECT only on ``alembic_version``,
  USAGE on the sequences (``nextval`` for new rows).  It has no CREATE on the
  schema, owns nothing and is no member of the owner, so it cannot ALTER,
  DISABLE TRIGGER, DROP or TRUNCATE anything.

:func:`role_statements` is the SQL (``keel db roles`` prints or applies it);
it never holds a password.  Default privileges give tables a later migration
creates the desk's ordinary grants, and :func:`reapply_desk_grants` (run by
every upgrade, inside its transaction) takes UPDATE and DELETE back from the
append-only ones among them.  :func:`owner_privilege` is how the desk notices
that it is connected as the owner.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from app.db.models import APPEND_ONLY_TABLES

#: What a desk may do on an ordinary table; append-only tables get the first two only.
DESK_TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
APPEND_ONLY_PRIVILEGES = ("SELECT", "INSERT")
#: Alembic's bookkeeping: the desk reads the revision, only the owner writes it.
VERSION_TABLE = "alembic_version"

# A lower-case SQL identifier as PostgreSQL folds an unquoted one: what an
# administrator types in a URL and in psql without surprises.  63 bytes is
# PostgreSQL's NAMEDATALEN - 1.
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")
_RESERVED = frozenset({"public", "none", "current_user", "current_role", "session_user", "user", "all"})


class RoleNameError(ValueError):
    """A role or schema name Keel will not put in SQL."""


def validate_name(name: str, what: str = "role") -> str:
    """``name`` if it is a plain lower-case identifier PostgreSQL may use for a role or schema."""
    if not _ROLE_NAME.match(name or ""):
        raise RoleNameError(
            f"{what} name {name!r} must be 1 to 63 lower-case letters, digits or _, not starting with a digit")
    reserved = {"information_schema"} if what == "schema" else _RESERVED
    if name in reserved or name.startswith("pg_"):
        raise RoleNameError(f"{what} name {name!r} is reserved by PostgreSQL")
    return name


@dataclass(frozen=True)
class Statement:
    """One statement of the roles script and why it is there (printed as a comment)."""

    why: str
    sql: str


def _q(*parts: str) -> str:
    """Identifiers, quoted and dotted: ``"public"."ledger_entries"``."""
    return sql.SQL(".").join(sql.Identifier(p) for p in parts).as_string(None)


def _lit(value: str) -> str:
    return sql.Literal(value).as_string(None)


def _do(body: str) -> str:
    # A DO block whose body builds its statements with quote_ident() and ||, never
    # format(): the text then holds no % for a driver to take for a placeholder.
    return f"DO $keel$\nBEGIN\n{body}\nEND\n$keel$"


def _names(desk: str, owner: str, schema: str) -> tuple[str, str, str]:
    desk = validate_name(desk, "desk role")
    owner = validate_name(owner, "owner role")
    schema = validate_name(schema, "schema")
    if desk == owner:
        raise RoleNameError(f"the desk role and the owner role must differ (both are {desk!r})")
    return desk, owner, schema


def role_statements(desk_role: str, owner_role: str, schema: str = "public") -> list[Statement]:
    """The SQL that sets up (or re-asserts) the two roles on one database, in order, for one transaction.

    Both roles must exist already (``CREATE ROLE ... LOGIN`` and a password set
    with psql's ``\\password``: passwords never pass through Keel).  Run it as a
    superuser or as the owner role; it is safe to run again, before or after
    ``keel db upgrade``.
    """
    desk, owner, schema = _names(desk_role, owner_role, schema)
    D, O, S = _q(desk), _q(owner), _q(schema)
    d, o, s = _lit(desk), _lit(owner), _lit(schema)
    checks = _do(
        f"    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {o}) THEN\n"
        f"        RAISE EXCEPTION {_lit(f'role {owner} does not exist; create it first: CREATE ROLE {owner} LOGIN')};\n"
        "    END IF;\n"
        f"    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {d}) THEN\n"
        f"        RAISE EXCEPTION {_lit(f'role {desk} does not exist; create it first: CREATE ROLE {desk} LOGIN')};\n"
        "    END IF;\n"
        "    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)\n"
        f"       AND NOT pg_has_role(current_user, {o}, 'MEMBER') THEN\n"
        f"        RAISE EXCEPTION USING MESSAGE = {_lit(f'run this as a superuser or as {owner}, not as ')} || current_user;\n"
        "    END IF;\n"
        f"    IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = {s}) THEN\n"
        f"        RAISE EXCEPTION {_lit(f'schema {schema} does not exist in this database')};\n"
        "    END IF;\n"
        f"    IF EXISTS (SELECT FROM pg_roles WHERE rolname = {d}\n"
        "               AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls)) THEN\n"
        f"        RAISE EXCEPTION {_lit(f'role {desk} may bypass the grants (superuser, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS); a desk role must not: ALTER ROLE {desk} NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS')};\n"
        "    END IF;\n"
        f"    IF EXISTS (SELECT FROM pg_database WHERE datname = current_database() AND datdba = {d}::regrole) THEN\n"
        f"        RAISE EXCEPTION {_lit(f'role {desk} owns this database; give it to the owner first: ALTER DATABASE ... OWNER TO {owner}')};\n"
        "    END IF;\n"
        f"    IF EXISTS (SELECT FROM pg_class WHERE relnamespace = {s}::regnamespace AND relowner = {d}::regrole) THEN\n"
        f"        RAISE EXCEPTION {_lit(f'role {desk} owns tables in schema {schema}; a desk role must own nothing')};\n"
        "    END IF;\n"
        f"    IF to_regclass({_lit(_q(schema, 'ledger_entries'))}) IS NOT NULL\n"
        f"       AND (SELECT relowner FROM pg_class WHERE oid = to_regclass({_lit(_q(schema, 'ledger_entries'))}))\n"
        f"           <> {o}::regrole THEN\n"
        "        RAISE EXCEPTION USING MESSAGE = 'the tables are owned by ' || (SELECT relowner::regrole::text\n"
        f"            FROM pg_class WHERE oid = to_regclass({_lit(_q(schema, 'ledger_entries'))}))\n"
        f"            || {_lit(f', not {owner}: give that role as the owner role, or migrate a new database as {owner}')};\n"
        "    END IF;\n"
        # A desk that is a member of the owner may SET ROLE to it: membership goes.
        f"    IF EXISTS (SELECT FROM pg_auth_members WHERE roleid = {o}::regrole AND member = {d}::regrole) THEN\n"
        f"        EXECUTE {_lit(f'REVOKE {O} FROM {D}')};\n"
        "    END IF;\n"
        f"    IF pg_has_role({d}, {o}, 'MEMBER') THEN\n"
        f"        RAISE EXCEPTION {_lit(f'role {desk} is a member of {owner} through another role; revoke that membership')};\n"
        "    END IF;"
    )
    statements = [
        Statement(f"Check the roles: {owner} owns the tables; {desk} is an ordinary login that owns nothing "
                  f"and is no member of {owner}.", checks),
        Statement(f"{owner} owns the schema; nobody else may create objects in it.",
                  f"ALTER SCHEMA {S} OWNER TO {O}"),
        Statement("", f"REVOKE CREATE ON SCHEMA {S} FROM PUBLIC"),
        Statement("", f"REVOKE ALL ON SCHEMA {S} FROM {D}"),
        Statement("", f"GRANT USAGE ON SCHEMA {S} TO {D}"),
        *desk_grant_statements(desk, schema),
        Statement(f"Tables and sequences a later migration creates (as {owner}) get the desk's ordinary grants; "
                  "every upgrade then takes UPDATE and DELETE back from the append-only ones.",
                  f"ALTER DEFAULT PRIVILEGES FOR ROLE {O} IN SCHEMA {S} "
                  f"GRANT {', '.join(DESK_TABLE_PRIVILEGES)} ON TABLES TO {D}"),
        Statement("", f"ALTER DEFAULT PRIVILEGES FOR ROLE {O} IN SCHEMA {S} GRANT USAGE ON SEQUENCES TO {D}"),
    ]
    return statements


def desk_grant_statements(desk_role: str, schema: str = "public") -> list[Statement]:
    """The desk's grants on the tables and sequences that exist now (part of :func:`role_statements`)."""
    desk = validate_name(desk_role, "desk role")
    schema = validate_name(schema, "schema")
    D, S = _q(desk), _q(schema)
    tables = ", ".join(_lit(t) for t in APPEND_ONLY_TABLES)
    append_only = _do(
        "    FOR t IN SELECT c.relname FROM pg_class c\n"
        f"             WHERE c.relnamespace = {_lit(schema)}::regnamespace AND c.relkind IN ('r', 'p')\n"
        f"               AND c.relname = ANY (ARRAY[{tables}]) LOOP\n"
        f"        EXECUTE {_lit(f'REVOKE UPDATE, DELETE ON TABLE {S}.')} || quote_ident(t) || {_lit(f' FROM {D}')};\n"
        "    END LOOP;\n"
        f"    IF to_regclass({_lit(_q(schema, VERSION_TABLE))}) IS NOT NULL THEN\n"
        f"        EXECUTE {_lit(f'REVOKE INSERT, UPDATE, DELETE ON TABLE {_q(schema, VERSION_TABLE)} FROM {D}')};\n"
        "    END IF;"
    ).replace("BEGIN\n", "DECLARE t name;\nBEGIN\n", 1)
    return [
        Statement("Whatever the desk held before goes; PUBLIC holds nothing on the books either.",
                  f"REVOKE ALL ON ALL TABLES IN SCHEMA {S} FROM PUBLIC, {D}"),
        Statement("", f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {S} FROM PUBLIC, {D}"),
        Statement("Ordinary rights on every table ...",
                  f"GRANT {', '.join(DESK_TABLE_PRIVILEGES)} ON ALL TABLES IN SCHEMA {S} TO {D}"),
        Statement(f"... then SELECT and INSERT only on the append-only tables ({', '.join(APPEND_ONLY_TABLES)}), "
                  f"SELECT only on {VERSION_TABLE}.", append_only),
        Statement("New rows take their ids from the sequences.",
                  f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {S} TO {D}"),
    ]


def render_script(desk_role: str, owner_role: str, schema: str = "public") -> str:
    """:func:`role_statements` as a psql script: one transaction, each statement after its reason."""
    statements = role_statements(desk_role, owner_role, schema)
    lines = [
        f"-- Keel's least-privilege roles: owner {owner_role} (owns the schema, runs keel db upgrade),",
        f"-- desk {desk_role} (the login the desks use).  Both roles must exist; set their passwords",
        "-- with psql's \\password, never in a script.  Safe to run again.",
        "BEGIN;",
    ]
    for statement in statements:
        if statement.why:
            lines.append("")
            lines += [f"-- {line}" for line in textwrap.wrap(statement.why, 96)]
        lines.append(f"{statement.sql};")
    lines += ["", "COMMIT;"]
    return "\n".join(lines) + "\n"


def execute(connection: Connection, statements: list[Statement]) -> None:
    """Run ``statements`` in ``connection``'s transaction as plain text (the driver binds no
    parameters); a refusal is a DBAPIError like any other statement's."""
    cursor = connection.connection.cursor()
    try:
        for statement in statements:
            try:
                cursor.execute(statement.sql)
            except psycopg.Error as exc:
                raise DBAPIError(statement.sql, None, exc) from exc
    finally:
        cursor.close()


def owner_privilege(connection: Connection) -> str | None:
    """Why the connected user could rewrite the books, or None for a desk role.

    A superuser can do anything; a role that owns ``ledger_entries``, or may
    SET ROLE to its owner, can disable its triggers.  None too when there is no
    ``ledger_entries`` table to own (a database not yet set up).
    """
    row = connection.exec_driver_sql(
        "SELECT current_user, r.rolsuper, c.relowner::regrole::text, pg_has_role(current_user, c.relowner, 'MEMBER') "
        "FROM pg_roles r LEFT JOIN pg_class c ON c.oid = to_regclass('ledger_entries') "
        "WHERE r.rolname = current_user"
    ).one()
    user, superuser, owner, member = row
    if superuser:
        return f"{user}, a superuser"
    if owner is None or not member:
        return None
    if owner == user:
        return f"{user}, the owner of the books' tables"
    return f"{user}, a member of {owner} that owns the books' tables"


def desk_roles_of_current_user(connection: Connection) -> list[str]:
    """The roles the connected user's default privileges give a desk's ordinary table rights in
    the current schema: the desk roles ``keel db roles`` set up for it as owner."""
    wanted = ", ".join(f"'{p}'" for p in DESK_TABLE_PRIVILEGES)
    rows = connection.exec_driver_sql(
        "SELECT g.rolname FROM pg_default_acl d CROSS JOIN LATERAL aclexplode(d.defaclacl) a "
        "JOIN pg_roles g ON g.oid = a.grantee "
        "WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
        "AND d.defaclnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
        "AND d.defaclobjtype = 'r' "
        # Exactly the desk's four: a role given other default rights was set up by someone else.
        f"GROUP BY g.rolname HAVING bool_and(a.privilege_type IN ({wanted})) "
        f"AND count(DISTINCT a.privilege_type) = {len(DESK_TABLE_PRIVILEGES)} "
        "ORDER BY g.rolname"
    ).scalars()
    return [name for name in rows if _ROLE_NAME.match(name)]


def reapply_desk_grants(connection: Connection) -> list[str]:
    """After a migration on PostgreSQL: give the desk roles (:func:`desk_roles_of_current_user`)
    their grants again, so an append-only table the migration created loses UPDATE and DELETE.
    Returns the roles; none (and nothing done) where ``keel db roles`` was never applied."""
    if connection.dialect.name != "postgresql":
        return []
    desks = desk_roles_of_current_user(connection)
    if not desks:
        return []
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    if not _ROLE_NAME.match(schema or ""):
        return []  # not a schema keel db roles accepts, so not one it set up
    for desk in desks:
        execute(connection, desk_grant_statements(desk, schema))
    return desks
