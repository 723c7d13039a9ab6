"""Reading and writing the ``system_settings`` rows (business date, database kind, lender)."""

from __future__ import annotations

import datetime as _dt

from sqlalchemy.orm import Session

from app.db.models import (
    DATABASE_KINDS,
    SETTING_BUSINESS_DATE,
    SETTING_DATABASE_KIND,
    SystemSetting,
)


def get_setting(session: Session, key: str) -> str | None:
    row = session.get(SystemSetting, key)
    return None if row is None else row.value


def set_setting(session: Session, key: str, value: str | None) -> None:
    """Insert or update one setting (versioned: a concurrent change raises StaleDataError)."""
    row = session.get(SystemSetting, key)
    if row is None:
        session.add(SystemSetting(key=key, value=value))
    else:
        row.value = value
    session.flush()


def get_business_date(session: Session) -> _dt.date | None:
    """The open business day shared by every desk (None before the database is set up)."""
    value = get_setting(session, SETTING_BUSINESS_DATE)
    return None if value is None else _dt.date.fromisoformat(value)


def set_business_date(session: Session, day: _dt.date) -> None:
    set_setting(session, SETTING_BUSINESS_DATE, day.isoformat())


def get_database_kind(session: Session) -> str | None:
    return get_setting(session, SETTING_DATABASE_KIND)


def set_database_kind(session: Session, kind: str) -> None:
    if kind not in DATABASE_KINDS:
        raise ValueError(f"database kind must be one of {', '.join(DATABASE_KINDS)}; got {kind!r}")
    set_setting(session, SETTING_DATABASE_KIND, kind)
