"""Alembic environment for Keel.

The database comes from, in order: a live connection handed over in
``config.attributes["connection"]`` (the app and the tests do this, see
app/db/migrate.py), ``-x url=...`` on the alembic command line,
``KEEL_DATABASE_URL``, or the user's default Keel database.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.types import TypeDecorator

from app.db import types as keel_types
from app.db.migrate import migration_connection
from app.db.models import Base
from app.db.session import make_engine, resolve_url

config = context.config

if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Migrations are frozen history and must not import app code that may change
# later, so autogenerate writes Keel's column types as the plain types they are
# stored as.
_PLAIN_TYPES: dict[type[TypeDecorator[Any]], str] = {
    keel_types.Money: "sa.BigInteger()",
    keel_types.Interest: "sa.BigInteger()",
    keel_types.ExactDecimal: "sa.String(length=40)",
    keel_types.UTCDateTime: "sa.DateTime(timezone=True)",
    keel_types.JSONText: "sa.Text()",
}


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    if type_ == "type" and type(obj) in _PLAIN_TYPES:
        return _PLAIN_TYPES[type(obj)]
    return False


def _configure_options() -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        # Batch mode lets ALTERs work on SQLite (it recreates the table) and is a
        # plain ALTER on PostgreSQL, so one migration serves both databases.
        "render_as_batch": True,
        "render_item": render_item,
    }


def _url() -> str:
    x_url = context.get_x_argument(as_dictionary=True).get("url")
    return resolve_url(x_url)


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_options(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_configure_options())
        with context.begin_transaction():
            context.run_migrations()
        return

    engine = make_engine(_url())
    try:
        with migration_connection(engine) as conn:
            context.configure(connection=conn, **_configure_options())
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
