"""Text a person typed or a file carried, fit to store and print (issue 12).

A NUL breaks PostgreSQL's text columns; a right-to-left override (U+202E) makes a
name print reversed on a letter or a screen ("Smith" shown as "htimS"), and other
control and format characters are invisible.  Names, addresses and notes refuse
them with one field-named error; a tab or new line is allowed only where a field
takes several lines.
"""

from __future__ import annotations

import unicodedata

from app.domain.errors import InputError


def unsafe_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character of ``text`` that must not be stored, described in words, or None."""
    for ch in text:
        if multiline and ch in "\n\t":
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn") or ch in "\u2028\u2029":
            name = unicodedata.name(ch, "")
            return f"U+{ord(ch):04X}" + (f" ({name.lower()})" if name else "")
    return None


def check_plain_text(text: str, field: str, *, multiline: bool = False) -> str:
    """``text`` unchanged, or InputError naming ``field`` and the character (a NUL, a direction override, ...)."""
    bad = unsafe_character(text, multiline=multiline)
    if bad is not None:
        raise InputError(field, f"contains an invisible or control character {bad}; retype it")
    return text
