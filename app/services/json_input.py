"""JSON a user hands Keel (a boarding file, a products file, collection rules), read within bounds (issue 12).

``json.loads`` alone takes a file of any size, nests as deep as the interpreter's stack
allows (``[[[[...]]]]`` ends in a RecursionError) and strings of any length.  Here a
file, a nesting level or a string beyond its limit is one field-named
:class:`InvalidInput`, before anything reads the document's fields; numbers are
Decimal (``parse_float=Decimal``), never float.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.services.errors import InvalidInput

#: Deeper than any file Keel reads (a boarding file's history payment is 4 levels down).
MAX_DEPTH = 20
#: The longest string a JSON file may carry (a collateral description is at most 2,000).
MAX_STRING = 10_000
#: A boarding file of tens of thousands of loans with years of payment history fits.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Products, collection rules and similar small documents.
MAX_SMALL_FILE_BYTES = 1024 * 1024


def read_json_file(path: str | Path, field: str = "file", *, max_bytes: int = MAX_SMALL_FILE_BYTES,
                   max_depth: int = MAX_DEPTH, max_string: int = MAX_STRING) -> Any:
    """The JSON document in ``path``; InvalidInput naming ``field`` when it cannot be read or is out of bounds."""
    raw = read_file_bytes(path, field, max_bytes=max_bytes)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(field, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_json(text, field, max_depth=max_depth, max_string=max_string)


def read_file_bytes(path: str | Path, field: str = "file", *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a file a user named, at most ``max_bytes`` of them."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise InvalidInput(field, f"is {_size(size)}, more than the {_size(max_bytes)} Keel reads")
        with file.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidInput(field, f"cannot be read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:  # it grew while we read it
        raise InvalidInput(field, f"is more than the {_size(max_bytes)} Keel reads")
    return raw


def parse_json(text: str, field: str = "file", *, max_depth: int = MAX_DEPTH, max_string: int = MAX_STRING) -> Any:
    """``text`` as JSON (numbers as Decimal), nested at most ``max_depth`` deep, strings at most ``max_string`` long."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except RecursionError:
        raise InvalidInput(field, f"is nested more than {max_depth} levels deep") from None
    except ValueError as exc:  # JSONDecodeError, and an integer of more than 4,300 digits
        detail = " ".join(str(exc).split())
        raise InvalidInput(field, f"is not JSON: {detail[:200]}") from None
    _check_bounds(data, field, max_depth=max_depth, max_string=max_string)
    return data


def _check_bounds(data: Any, field: str = "file", *, max_depth: int = MAX_DEPTH, max_string: int = MAX_STRING) -> None:
    """InvalidInput naming the first place ``data`` nests too deep or carries too long a string.

    Walked with a list, not recursion, so a deep document cannot exhaust the stack here either.
    """
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth >= max_depth:
                at = f" (at {where if len(where) <= 60 else where[:57] + '...'})" if where and where[0] != "[" else ""
                raise InvalidInput(field, f"is nested more than {max_depth} levels deep{at}")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    if len(key) > 200:
                        raise InvalidInput(_name(field, where), f"has a key of {len(key):,} characters")
                    inner = f"{where}.{key}" if where else key
                else:
                    inner = f"{where}[{key + 1}]"
                stack.append((item, inner, depth + 1))
        elif isinstance(value, str) and len(value) > max_string:
            raise InvalidInput(_name(field, where), f"is longer than {max_string:,} characters ({len(value):,})")


def _name(field: str, where: str) -> str:
    if not where:
        return field
    return where if where[0] != "[" else f"{field}{where}"


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.0f} MB" if count % (1024 * 1024) == 0 else f"{count / (1024 * 1024):.1f} MB"
    return f"{count:,} bytes"
