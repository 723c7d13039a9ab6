"""Is a SQLite book file whole?  Checked when it is opened and by ``keel verify`` (issue 12).

A book that was copied half-way, written over by another program or damaged on the disk
must not be worked on: the review overwrote 20 pages of a book with random bytes and it
still accepted payments, and a 0-byte file was silently made into a new, empty book.

* :func:`file_problem` -- before SQLite opens the file: an empty file, or one that is not a
  SQLite database at all (its first 16 bytes are SQLite's header);
* :func:`quick_check` -- ``PRAGMA quick_check``: every page of every table and index is
  readable and well-formed (linear in the file's size; a few hundred milliseconds for a
  large book), run at each open;
* :func:`integrity_check` -- ``PRAGMA integrity_check``: the quick check, and that every
  index holds exactly its table's rows, run by ``keel verify``;
* :func:`latest_backup` -- where to go back to: the newest copy in the ``backups`` folder
  beside the file, where Keel puts the copy it makes before each upgrade
  (:func:`app.db.migrate.backup_sqlite`, ``keel-YYYYMMDD-HHMMSS.sqlite3``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Connection, Engine

SQLITE_HEADER = b"SQLite format 3\x00"
#: The most problems a check lists (SQLite's own default is 100).
MAX_PROBLEMS = 10


def backups_folder(path: Path) -> Path:
    """Where the backups of the book at ``path`` are kept (as :func:`app.db.migrate.prepare_database` puts them)."""
    return path.parent / "backups"


def latest_backup(path: Path) -> Path | None:
    """The newest backup of the book at ``path``, or None when there is none."""
    folder = backups_folder(path)
    try:
        found = [p for p in folder.glob("keel-*.sqlite3") if p.is_file()]
    except OSError:
        return None
    if not found:
        return None
    return max(found, key=lambda p: (p.stat().st_mtime, p.name))


def backup_advice(path: Path) -> str:
    """The end of a refusal: restore the latest backup (named), or where backups would have been."""
    backup = latest_backup(path)
    if backup is not None:
        return f"restore the latest backup, {backup}"
    return f"restore a backup (Keel found none in {backups_folder(path)})"


def file_problem(path: Path) -> str | None:
    """Why the existing file at ``path`` is not a SQLite database, or None (it looks like one, or is missing)."""
    try:
        size = path.stat().st_size
        if size == 0:
            return "is an empty file (0 bytes), not a Keel book"
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if header != SQLITE_HEADER:
        return "is not a Keel book: it is not a SQLite database file"
    return None


def quick_check(path: Path) -> list[str]:
    """``PRAGMA quick_check`` on the file at ``path``: its problems, or [] when it is whole.

    Read on a connection of its own that writes nothing (``query_only``), before the
    engine (and any upgrade) touches the file.
    """
    return _check_file(path, "quick_check")


def integrity_check(bind: Engine | Connection) -> list[str]:
    """``PRAGMA integrity_check`` on a SQLite database: its problems, or [] (nothing to check elsewhere)."""
    if bind.dialect.name != "sqlite":
        return []
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return integrity_check(connection)
    try:
        rows = [str(row[0]) for row in bind.exec_driver_sql(f"PRAGMA integrity_check({MAX_PROBLEMS})")]
    except Exception as exc:  # noqa: BLE001 -- a damaged file can fail the check itself; that is the answer
        return [_first_line(exc)]
    return [] if rows == ["ok"] else rows


def _check_file(path: Path, pragma: str) -> list[str]:
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
    except sqlite3.Error as exc:
        return [_first_line(exc)]
    try:
        connection.execute("PRAGMA query_only = ON")
        rows = [str(row[0]) for row in connection.execute(f"PRAGMA {pragma}({MAX_PROBLEMS})")]
    except sqlite3.Error as exc:
        return [_first_line(exc)]
    finally:
        connection.close()
    return [] if rows == ["ok"] else rows


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
