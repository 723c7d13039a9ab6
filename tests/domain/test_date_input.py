"""Typed dates: one parser for every date field (issue 11, item 1).  No Qt."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.date_input import distance_in_words, in_words, parse_typed_date
from app.domain.errors import InputError


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-11-20", date(2026, 11, 20)),
        ("2026-1-5", date(2026, 1, 5)),
        ("2026/11/20", date(2026, 11, 20)),
        ("  2026-11-20 ", date(2026, 11, 20)),
        ("11/20/2026", date(2026, 11, 20)),
        ("1/5/2026", date(2026, 1, 5)),
        ("01/05/2026", date(2026, 1, 5)),
        ("11-20-2026", date(2026, 11, 20)),
        ("11202026", date(2026, 11, 20)),
        ("01052026", date(2026, 1, 5)),
        ("20261120", date(2026, 11, 20)),  # no month 20: read as YYYYMMDD
        ("02292028", date(2028, 2, 29)),  # a leap day
        ("12/31/1999", date(1999, 12, 31)),
    ],
)
def test_accepted_forms(typed: str, expected: date) -> None:
    assert parse_typed_date(typed, "effective_date") == expected


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("2026-13-01", "there is no month 13"),
        ("13/01/2026", "there is no month 13"),
        ("02/30/2026", "February 2026 has no day 30"),
        ("02292026", "February 2026 has no day 29"),
        ("2026-11", "is not a date"),
        ("11/20", "is not a date"),
        ("11/20/26", "two-digit year"),
        ("112026", "is not a date"),
        ("2026-11-20x", "is not a date"),
        ("tomorrow", "is not a date"),
        ("00/10/2026", "there is no month 0"),
        ("11/00/2026", "has no day 0"),
        ("01/01/0999", "out of range"),
        ("1120202", "is not a date"),
    ],
)
def test_refused_forms_name_the_field_and_say_why(typed: str, says: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_typed_date(typed, "effective_date")
    assert raised.value.field == "effective_date"
    assert says in raised.value.problem


@pytest.mark.parametrize(
    ("day", "words"),
    [
        (date(2026, 11, 20), "Friday, November 20, 2026"),
        (date(2026, 6, 1), "Monday, June 1, 2026"),
        (date(2028, 2, 29), "Tuesday, February 29, 2028"),
    ],
)
def test_in_words(day: date, words: str) -> None:
    assert in_words(day) == words


@pytest.mark.parametrize(
    ("day", "reference", "words"),
    [
        (date(2026, 11, 20), date(2026, 12, 3), "13 days before"),
        (date(2026, 12, 2), date(2026, 12, 3), "1 day before"),
        (date(2026, 12, 3), date(2026, 12, 3), "the same day as"),
        (date(2026, 12, 4), date(2026, 12, 3), "1 day after"),
    ],
)
def test_distance_in_words(day: date, reference: date, words: str) -> None:
    assert distance_in_words(day, reference) == words


@pytest.mark.parametrize("typed", ["\uff12\uff10\uff12\uff16-11-20", "11/20/\uff12\uff10\uff12\uff16",
                                   "\u0661\u0661\u0662\u0660\u0662\u0660\u0662\u0666"])
def test_digits_other_than_0_to_9_are_refused(typed):
    # Issue 12: "\d" matched full-width and Arabic-Indic digits, and int() read them.
    with pytest.raises(InputError) as caught:
        parse_typed_date(typed, "--date")
    assert caught.value.field == "--date" and caught.value.problem.endswith("has digits other than 0-9")


@pytest.mark.parametrize(("text", "problem"), [
    ("20260601", "'20260601' is not a date (YYYY-MM-DD)"),  # date.fromisoformat takes these two
    ("2026-W22-1", "'2026-W22-1' is not a date (YYYY-MM-DD)"),
    ("\uff12\uff10\uff12\uff16-06-01", "'\uff12\uff10\uff12\uff16-06-01' is not a date (YYYY-MM-DD)"),
    ("9999-12-31", "9999-12-31 is outside the years 1900 to 2199"),  # a schedule from it overflows datetime
    ("0001-01-01", "0001-01-01 is outside the years 1900 to 2199"),
    (20260601, "20260601 is not a date (YYYY-MM-DD)"),
])
def test_dates_in_files_are_yyyy_mm_dd(text, problem):
    from app.domain.terms import parse_date

    with pytest.raises(InputError) as caught:
        parse_date(text, "start")
    assert caught.value.problem == problem
    assert parse_date("2026-06-01", "start") == date(2026, 6, 1)
