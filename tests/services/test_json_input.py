"""JSON files read within bounds: size, nesting, string length (issue 12: deep JSON was a RecursionError)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.services.errors import InvalidInput, Problem
from app.services.json_input import MAX_DEPTH, _check_bounds, parse_json, read_json_file


def test_numbers_are_decimal_and_shapes_pass():
    assert parse_json('{"loans": [{"principal": 1250.50, "term": 12}]}') == {
        "loans": [{"principal": Decimal("1250.50"), "term": 12}]}
    nested: object = "leaf"
    for _ in range(MAX_DEPTH):
        nested = [nested]
    _check_bounds(nested)  # exactly 20 levels: allowed


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 200_000])
def test_nesting_beyond_the_bound_is_one_refusal(depth):
    # 200,000 levels: json.loads itself raises RecursionError, which must not escape.
    with pytest.raises(InvalidInput) as caught:
        parse_json("[" * depth + "]" * depth, "board.json")
    assert (caught.value.field, caught.value.problem) == ("board.json", "is nested more than 20 levels deep")


def test_the_refusal_says_where_the_nesting_is():
    document = '{"loans": [{"borrower": ' + '{"a": ' * 25 + "1" + "}" * 25 + "}]}"
    with pytest.raises(InvalidInput) as caught:
        parse_json(document, "file")
    assert caught.value.problem.startswith("is nested more than 20 levels deep (at loans[1].borrower.a.a.")


def test_long_strings_and_keys():
    with pytest.raises(InvalidInput) as caught:
        parse_json('{"loans": [{"los_reference": "' + "x" * 10_001 + '"}]}', "file")
    assert (caught.value.field, caught.value.problem) == ("loans[1].los_reference",
                                                          "is longer than 10,000 characters (10,001)")
    with pytest.raises(InvalidInput, match="has a key of 300 characters"):
        parse_json('{"' + "k" * 300 + '": 1}', "file")


def test_not_json_and_absurd_numbers():
    with pytest.raises(InvalidInput, match=r"^file: is not JSON: Expecting"):
        parse_json("{not json")
    with pytest.raises(InvalidInput, match=r"^file: is not JSON: Exceeds the limit \(4300 digits\)"):
        parse_json('{"term": ' + "9" * 5000 + "}")


def test_file_size_and_reading(tmp_path):
    big = tmp_path / "big.json"
    big.write_text("[" + "1," * 600_000 + "1]")
    with pytest.raises(InvalidInput) as caught:
        read_json_file(big, "big.json")
    assert caught.value.problem == "is 1.1 MB, more than the 1 MB Keel reads"  # 1,200,003 bytes
    with pytest.raises(InvalidInput, match=r"^gone.json: cannot be read: No such file or directory$"):
        read_json_file(tmp_path / "gone.json", "gone.json")
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"name": "Jos\xe9"}')
    with pytest.raises(InvalidInput, match=r"^latin.json: is not UTF-8 text \(invalid continuation byte at byte 13\)$"):
        read_json_file(latin, "latin.json")


def test_a_problem_is_one_line_whatever_the_file_named():
    problem = Problem("board.json", 3, "borrower.na\nme", "unknown\n field")
    assert str(problem) == "board.json, row 3, 'borrower.na\\nme': unknown field"
