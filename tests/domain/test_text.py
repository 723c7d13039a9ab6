"""Text fit to store and print (issue 12: NUL and right-to-left override characters were stored in names)."""

from __future__ import annotations

import pytest

from app.domain.errors import InputError
from app.domain.text import check_plain_text, unsafe_character


@pytest.mark.parametrize(("text", "found"), [
    ("O'Hara-Smith", None),
    ("José Núñez", None),  # letters of any language are fine
    ("李小龍", None),
    ("Ann\x00", "U+0000"),
    ("\u202eSmith", "U+202E (right-to-left override)"),
    ("Bo\u200bb", "U+200B (zero width space)"),
    ("line\nbreak", "U+000A"),
])
def test_unsafe_characters_are_named(text, found):
    assert unsafe_character(text) == found


def test_new_lines_only_where_a_field_takes_several():
    assert unsafe_character("1 Main St\nApt 2", multiline=True) is None
    with pytest.raises(InputError) as info:
        check_plain_text("Smith\u202e", "borrower_last_name")
    assert info.value.field == "borrower_last_name" and "U+202E" in info.value.problem
