"""Tables out of Keel: CSV, XLSX and the clipboard's tab-separated text (issue 13, item 3).

Every report, every desktop table and the general-ledger journal leave Keel
through this module, so each does the same things the same way:

* a :class:`Table` is a title, the filters it was made with, typed columns and
  rows of plain values (``Decimal`` money, ``date``, ``int``, ``str``, None);
* CSV: UTF-8 with a BOM (Excel opens it as UTF-8), the title and filters as
  ``# ...`` lines above the header only when asked (``with_header_rows``),
  money as exact two-decimal text, dates ISO;
* XLSX (openpyxl, write-only so 100,000 rows stream): the title and filters in
  the first rows, a bold header row frozen under them, money as numbers
  formatted as currency, dates as dates, percentages as numbers with ``%``;
* every text cell that a spreadsheet would read as a formula (it starts with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is neutralised with a
  leading apostrophe (OWASP's CSV-injection advice);
* long writes report progress and stop when cancelled, leaving no half file.

Pure Python and openpyxl: no Qt, no SQL.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

Kind = Literal["text", "money", "date", "datetime", "int", "decimal", "percent", "bool"]

#: ``progress(done, total)``; ``cancelled()`` True stops the write.
ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MONEY_FORMAT = '"$"#,##0.00;-"$"#,##0.00'
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
PERCENT_FORMAT = "0.00%"
_EVERY = 2000  # rows between progress calls


class ExportCancelled(Exception):
    """The user cancelled a long export; nothing was written."""


@dataclass(frozen=True)
class Column:
    """A column: its header (also the JSON field name), its kind and its width in characters."""

    name: str
    kind: Kind = "text"
    width: int | None = None


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    #: What the table was made with, shown above it: ("As of", "2026-11-30"), ("Product", "AUTO60").
    filters: Sequence[tuple[str, str]] = field(default_factory=tuple)
    #: A totals row, shown under the rows (same columns; None where there is no total).
    totals: Sequence[Any] | None = None


def neutralise(text: str) -> str:
    """Text a spreadsheet will show, never run: a leading ``'`` before a formula-like start."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _text_value(value: Any, kind: Kind) -> str:
    """One cell as exact text (CSV, the clipboard, JSON)."""
    if value is None:
        return ""
    if kind == "money" and isinstance(value, Decimal):
        return f"{value:.2f}"
    if kind == "percent" and isinstance(value, Decimal):
        return f"{value * 100:.2f}%"  # a percent column holds fractions: 0.25 is 25.00%
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, _dt.datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):  # pragma: no cover - money is never float; a stray float is a bug
        raise TypeError("tabular: a float reached an export; money and rates are Decimal")
    return neutralise(str(value))


def text_rows(table: Table) -> list[list[str]]:
    """The header and every row (and the totals) as text, as CSV and the clipboard write them."""
    kinds = [c.kind for c in table.columns]
    out = [[c.name for c in table.columns]]
    out += [[_text_value(v, k) for v, k in zip(row, kinds, strict=True)] for row in table.rows]
    if table.totals is not None:
        out.append([_text_value(v, k) for v, k in zip(table.totals, kinds, strict=True)])
    return out


def clipboard_text(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> str:
    """Selected rows as tab-separated text with a header line, for pasting into a spreadsheet."""
    table = Table("", columns, list(rows))
    lines = text_rows(table)
    return "\n".join("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in line) for line in lines) + "\n"


def json_rows(table: Table) -> list[dict[str, Any]]:
    """Rows as objects keyed by the CSV header's names; money as two-decimal strings, dates ISO."""
    names = [c.name for c in table.columns]
    out = []
    for row in table.rows:
        item: dict[str, Any] = {}
        for name, column, value in zip(names, table.columns, row, strict=True):
            if value is None or isinstance(value, (bool, int)) and column.kind != "money":
                item[name] = value
            elif column.kind in ("text",):
                item[name] = str(value)  # JSON is not a spreadsheet: no apostrophe
            else:
                item[name] = _text_value(value, column.kind)
        out.append(item)
    return out


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write to a temporary file beside ``path`` and move it into place: a cancel or a crash leaves no half file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _tick(done: int, total: int, progress: ProgressFn | None, cancelled: CancelledFn | None) -> None:
    if done % _EVERY == 0:
        if cancelled is not None and cancelled():
            raise ExportCancelled("export cancelled; nothing was written")
        if progress is not None:
            progress(done, total)


def write_csv(table: Table, path: Path, *, with_header_rows: bool = False,
              progress: ProgressFn | None = None, cancelled: CancelledFn | None = None, bom: bool = True) -> Path:
    """The table as CSV (UTF-8 with BOM).  ``with_header_rows``: the title and filters first, as ``#`` lines.

    ``bom=False``: plain UTF-8, for a file another program imports by its header
    names (a journal import), where a BOM could cling to the first heading.
    """
    kinds = [c.kind for c in table.columns]
    total = len(table.rows)

    def write(target: Path) -> None:
        with open(target, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
            writer = csv.writer(handle)
            if with_header_rows:
                writer.writerow([f"# {table.title}"])
                for name, value in table.filters:
                    writer.writerow([f"# {name}: {value}"])
            writer.writerow([c.name for c in table.columns])
            for done, row in enumerate(table.rows, 1):
                writer.writerow([_text_value(v, k) for v, k in zip(row, kinds, strict=True)])
                _tick(done, total, progress, cancelled)
            if table.totals is not None:
                writer.writerow([_text_value(v, k) for v, k in zip(table.totals, kinds, strict=True)])
        if progress is not None:
            progress(total, total)

    return _atomic(path, write)


def csv_text(table: Table) -> str:
    """The table as CSV text (no BOM, no header rows): for ``--format csv`` on stdout."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for line in text_rows(table):
        writer.writerow(line)
    return buffer.getvalue()


def write_xlsx(table: Table, path: Path, *, progress: ProgressFn | None = None,
               cancelled: CancelledFn | None = None, sheet: str = "Report", header_rows: bool = True) -> Path:
    """The table as an XLSX workbook: title and filters on top, a frozen bold header, typed cells.

    ``header_rows=False``: the column headings in the first row, nothing above
    them (a workbook another program imports, such as a journal import).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    total = len(table.rows)

    def write(target: Path) -> None:
        book = Workbook(write_only=True)
        ws = book.create_sheet(_sheet_name(sheet))
        for index, column in enumerate(table.columns, 1):
            width = column.width or _default_width(column)
            ws.column_dimensions[get_column_letter(index)].width = width
        top = 1 + len(table.filters) + 1 if header_rows else 0  # title, filters, a blank line
        ws.freeze_panes = f"A{top + 2}"
        if header_rows:
            title = WriteOnlyCell(ws, value=neutralise(table.title))
            title.font = Font(bold=True, size=13)
            ws.append([title])
            for name, value in table.filters:
                ws.append([neutralise(f"{name}: {value}")])
            ws.append([])
        bold = Font(bold=True)
        header = []
        for column in table.columns:
            cell = WriteOnlyCell(ws, value=neutralise(column.name))
            cell.font = bold
            header.append(cell)
        ws.append(header)
        try:
            for done, row in enumerate(table.rows, 1):
                ws.append([_xlsx_cell(ws, WriteOnlyCell, value, column.kind)
                           for value, column in zip(row, table.columns, strict=True)])
                _tick(done, total, progress, cancelled)
            if table.totals is not None:
                cells = []
                for value, column in zip(table.totals, table.columns, strict=True):
                    cell = _xlsx_cell(ws, WriteOnlyCell, value, column.kind)
                    if not isinstance(cell, (str, type(None))):
                        cell.font = bold
                    cells.append(cell)
                ws.append(cells)
            book.save(target)
        except BaseException:
            # End the sheet's streaming writer now, not at garbage collection (a cancel, or a save that
            # could not open its file: a full disk, a missing folder).
            if not ws.closed:
                with contextlib.suppress(Exception):
                    ws.close()
            raise
        if progress is not None:
            progress(total, total)

    return _atomic(path, write)


def _xlsx_cell(ws: Any, cell_type: Any, value: Any, kind: Kind) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, float):  # pragma: no cover
        raise TypeError("tabular: a float reached an export; money and rates are Decimal")
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        value = value.astimezone().replace(tzinfo=None)  # Excel has no time zones: the desk's local time
    cell = cell_type(ws, value=value)
    if kind == "money":
        cell.number_format = MONEY_FORMAT
    elif kind == "percent":
        cell.number_format = PERCENT_FORMAT
    elif kind == "datetime" or isinstance(value, _dt.datetime):
        cell.number_format = DATETIME_FORMAT
    elif kind == "date" or isinstance(value, _dt.date):
        cell.number_format = DATE_FORMAT
    return cell


def _default_width(column: Column) -> int:
    return {"money": 15, "date": 12, "datetime": 17, "int": 9, "percent": 9, "bool": 7}.get(
        column.kind, max(10, min(40, len(column.name) + 4)))


def _sheet_name(name: str) -> str:
    cleaned = "".join(ch for ch in name if ch not in "[]:*?/\\")[:31]
    return cleaned or "Report"


def write(table: Table, path: Path, *, progress: ProgressFn | None = None,
          cancelled: CancelledFn | None = None, with_header_rows: bool = False, sheet: str = "Report") -> Path:
    """CSV or XLSX by the file's suffix (``.csv``, ``.xlsx``).

    ``with_header_rows``: a CSV starts with the title and filters too (an XLSX always does); the
    desktop's exports ask for it, so a file says what it was made with (issue 13).  ``sheet``: the
    XLSX sheet's name.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".xlsx":
        return write_xlsx(table, path, progress=progress, cancelled=cancelled, sheet=sheet)
    if suffix == ".csv":
        return write_csv(table, path, with_header_rows=with_header_rows, progress=progress, cancelled=cancelled)
    raise ValueError(f"{Path(path).name}: export as .csv or .xlsx")


__all__ = ["Column", "ExportCancelled", "Kind", "Table", "clipboard_text", "csv_text", "json_rows", "neutralise",
           "text_rows", "write", "write_csv", "write_xlsx"]
