"""No input gives a traceback, and no refused input changes the book (issue 12, finding 6).

The review fed about 6,400 inputs to Keel's commands; 218 ended in a traceback (``1e33`` or
``1E+400`` as an amount or a control total, an amount too large to store, deeply nested JSON,
a ``conversion`` of the wrong type, a NUL ...) and full-width digits were taken as amounts.
Here hypothesis feeds amounts, dates and text of that kind to the commands a clerk and a
boarding job run -- ``keel board`` (a JSON file), ``keel pay``, ``keel batch`` (a lockbox
file) and ``keel search`` -- in this process, as ``keel`` is run from a terminal, and checks:

* the command succeeds (exit 0), or it exits non-zero with exactly one ``keel: error:``
  line as its last line on stderr (a file's problem list, one problem a line, or a
  back-dated entry's preview may come before it), never a traceback and never the "did not
  expect" line the last line of defence prints for a bug;
* a refused command leaves the book as it was: a hash of every row of ledger_entries,
  audit_events (less the sign-ins, which are their own transaction), loans, their cached
  state, people and payment batches.

SQLite here (a book file, as a desk has); ``tests/services/test_bad_input.py`` runs
the NUL and huge-amount cases on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import cli, cli_support
from app.services import boarding, products, setup, users
from tests.services.conftest import FAST_HASHER, PASSWORDS, seed

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
#: 60 examples a command in the normal suite; KEEL_FUZZ_EXAMPLES=2000 for a longer hunt.
FUZZ = settings(max_examples=int(os.environ.get("KEEL_FUZZ_EXAMPLES", "60")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# ---------------------------------------------------------------------------- strategies

#: The review's own inputs, and their neighbours.
NASTY_AMOUNTS = ["1e33", "1E+400", "1e-400", "\uff11\uff12\uff13", "\u0661\u0662", "NaN", "nan", "Infinity", "-inf",
                 "9" * 16, "9" * 40, "1" * 400, "92233720368547758.08", "999999999999999.99", "100000000.01",
                 "0.001", "12.345678901234", "1,2,3", "1,234.56", "$1,234.50", "-$5", "0x10", "1_000", "+.5", "",
                 " ", "-0", "0", "12\x00", "\x00", "1.2.3", "--5", "5-", "\u202e12"]
NASTY_TEXT = ["\x00", "a\x00b", "\u202eSmith", "\u200b", "\ufeff", "\u2028", "%", "_", "\\", "'; DROP TABLE loans; --",
              "x" * 100_000, "\n", "\t", "\udcff", "KL-000001\x00", "\u0661\u0662\u0663\u0664"]
NASTY_DATES = ["2026-02-30", "2026-13-01", "0001-01-01", "9999-12-31", "\uff12\uff10\uff12\uff16-06-01", "20260601",
               "2026-W22-1", "06/01/26", "2026-06-01T00:00", "", "yesterday", "2026-06-01\x00", "1899-12-31"]

amounts = st.one_of(
    st.sampled_from(NASTY_AMOUNTS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers().map(str),
    st.decimals(min_value=-1000, max_value=100_000, places=2).map(str),
    st.text(alphabet="0123456789.,-+eE$ \uff10\uff11\u0660\u0661_", max_size=24),
)
dates = st.one_of(st.sampled_from(NASTY_DATES), st.dates().map(lambda d: d.isoformat()),
                  st.text(alphabet="0123456789-/ W\uff10", max_size=14))
texts = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=80),
                  st.text(alphabet=st.characters(codec="utf-8", categories=("Cc", "Cf", "Zl", "Zp", "Lu", "Nd")),
                          max_size=20))
#: Text that can be written to a UTF-8 file (no lone surrogates).
file_texts = texts.filter(lambda t: not any("\ud800" <= ch <= "\udfff" for ch in t))
#: A JSON value of the wrong kind for any field: the review's ``"conversion": 5``, a list for an object, ...
wrong_kinds = st.one_of(st.none(), st.booleans(), st.integers(), st.lists(st.integers(), max_size=3),
                        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2), st.just("x"),
                        st.recursive(st.just([]), lambda inner: st.lists(inner, min_size=1, max_size=1),
                                     max_leaves=40))


# ---------------------------------------------------------------------------- the book and the command


@pytest.fixture(scope="module")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A book with users, the sample products and five boarded loans (KL-000001 to KL-000005), on disk."""
    path = tmp_path_factory.mktemp("fuzz") / "book.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "HASHER", FAST_HASHER)
        factory = setup.open_database(f"sqlite:///{path}", initialize=False)
        try:
            contexts = seed(factory)
            products.load_products_file(contexts["admin"], SAMPLES / "products.json")
            boarding.board_file(contexts["admin"], SAMPLES / "boarding-new.csv")
        finally:
            setup.close_database(factory)
    # Everything into the main file, so a copy of it alone is the whole book.
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path


@pytest.fixture
def book(built_book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A copy of the built book for one test, the CLI acting as its admin (no terminal to ask on)."""
    path = tmp_path / "book.sqlite3"
    shutil.copy(built_book, path)
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)
    monkeypatch.setattr(cli_support, "interactive", lambda: False)
    for name in ("KEEL_DATABASE_URL", "KEEL_ADMIN_PASSWORD", "KEEL_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # where a bug's traceback would be logged
    monkeypatch.setenv("KEEL_USER", "admin")
    monkeypatch.setenv("KEEL_PASSWORD", PASSWORDS["admin"])
    # A command's process exit closes its connections; here each run closes its own.
    real_open = setup.open_database

    def tracking_open(*args: object, **kwargs: object) -> object:
        factory = real_open(*args, **kwargs)  # type: ignore[arg-type]
        _OPENED.append(factory)
        return factory

    monkeypatch.setattr(setup, "open_database", tracking_open)
    yield f"sqlite:///{path}"
    _close_opened()


_OPENED: list[object] = []


def _close_opened() -> None:
    while _OPENED:
        setup.close_database(_OPENED.pop())  # type: ignore[arg-type]


def keel(url: str, verb: str, *options: str, args: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """``keel VERB --db URL OPTIONS -- ARGS`` in this process: (exit status, stdout, stderr).

    ``--`` keeps a fuzzed positional that starts with ``-`` a positional.  Any exception that
    escapes is what a terminal would have shown as a traceback, and fails the test.
    """
    out, err = io.StringIO(), io.StringIO()
    argv = [verb, "--db", url, *options, *(("--", *args) if args else ())]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse's --help; never an error
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        _close_opened()
    return code, out.getvalue(), err.getvalue()


def fingerprint(url: str) -> str:
    """A hash of every row of the book's ledger, audit trail (less sign-ins), loans, their cached state, people
    and batches, in order."""
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        digest = hashlib.sha256()
        for query in ("SELECT * FROM ledger_entries ORDER BY id",
                      "SELECT * FROM audit_events WHERE action NOT IN ('user.signed_in') ORDER BY id",
                      "SELECT * FROM loans ORDER BY id", "SELECT * FROM loan_states ORDER BY loan_id",
                      "SELECT * FROM persons ORDER BY id", "SELECT * FROM payment_batches ORDER BY id"):
            for row in connection.execute(query):
                digest.update(repr(row).encode("utf-8", "backslashreplace"))
        return digest.hexdigest()
    finally:
        connection.close()


def assert_answered(url: str, before: str, result: tuple[int, str, str]) -> None:
    """Success; or one ``keel: error:`` line, last, with nothing written."""
    code, _, err = result
    assert "Traceback" not in err
    assert "did not expect" not in err, err
    if code == 0:
        return
    lines = err.splitlines()
    assert lines, "a refusal says why"
    errors = [line for line in lines if line.startswith("keel: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert fingerprint(url) == before, f"a refused command changed the book: {err}"


# ---------------------------------------------------------------------------- the commands


LOANS = ["KL-000001", "KL-000002", "kl-000003", "000004", "5"]


@FUZZ
@given(loan=st.one_of(st.sampled_from(LOANS), texts), amount=amounts, day=st.none() | dates,
       reference=st.none() | texts, method=st.none() | st.sampled_from(["check", "ach", "\x00", "wire", "CASH"]))
def test_keel_pay(book, loan, amount, day, reference, method) -> None:
    options: list[str] = []
    for flag, value in (("--date", day), ("--reference", reference), ("--method", method)):
        if value is not None:
            options.append(f"{flag}={value}")
    before = fingerprint(book)
    assert_answered(book, before, keel(book, "pay", *options, args=(loan, amount)))


def _boarding_record() -> dict[str, object]:
    record = json.loads((SAMPLES / "boarding-seasoned.json").read_text())["loans"][0]
    assert record["boarding_type"] == "seasoned"
    return record


SEASONED = _boarding_record()
#: Where each kind of fuzzed value goes in a boarding record.
AMOUNT_FIELDS = [("principal",), ("rate",), ("term",), ("conversion", "principal"), ("conversion", "accrued_interest"),
                 ("conversion", "fees"), ("conversion", "payment"), ("collateral", "value")]
DATE_FIELDS = [("start",), ("first_due",), ("conversion", "date"), ("conversion", "next_due"),
               ("conversion", "paid_through"), ("borrower", "date_of_birth")]
TEXT_FIELDS = [("los_reference",), ("product",), ("loan_number",), ("borrower", "first_name"), ("borrower", "last_name"),
               ("borrower", "address_line1"), ("borrower", "city"), ("borrower", "tax_id"), ("collateral", "description")]
ANY_FIELDS = [("conversion",), ("borrower",), ("collateral",), ("history",), ("boarding_type",), *AMOUNT_FIELDS,
              *DATE_FIELDS[:2]]


def _put(record: dict[str, object], path: tuple[str, ...], value: object) -> None:
    target = record
    for part in path[:-1]:
        inner = target.get(part)
        if not isinstance(inner, dict):
            inner = target[part] = {}
        target = inner  # type: ignore[assignment]
    target[path[-1]] = value


@FUZZ
@given(changes=st.lists(st.one_of(
    st.tuples(st.sampled_from(AMOUNT_FIELDS), amounts),
    st.tuples(st.sampled_from(DATE_FIELDS), dates),
    st.tuples(st.sampled_from(TEXT_FIELDS), file_texts),
    st.tuples(st.sampled_from(ANY_FIELDS), wrong_kinds),
), min_size=1, max_size=4), wrap=st.sampled_from(["loans", "list", "deep", "bare"]))
def test_keel_board_json(book, tmp_path, changes, wrap) -> None:
    record = copy.deepcopy(SEASONED)
    record["los_reference"] = "FUZZ-1"  # a new loan unless a change says otherwise
    for path, value in changes:
        _put(record, path, value)
    document: object = {"loans": [record]} if wrap == "loans" else [record] if wrap == "list" else record
    if wrap == "deep":
        for _ in range(40):
            document = [document]
    text = json.dumps(document, ensure_ascii=False, default=str)
    path = tmp_path / "board.json"
    path.write_text(text, encoding="utf-8")
    before = fingerprint(book)
    assert_answered(book, before, keel(book, "board", args=(str(path),)))


@FUZZ
@given(rows=st.lists(st.tuples(st.one_of(st.sampled_from(LOANS), file_texts), amounts, st.none() | file_texts,
                               st.none() | dates), min_size=0, max_size=4),
       control=amounts, extra_cell=st.booleans())
def test_keel_batch_lockbox(book, tmp_path, rows, control, extra_cell) -> None:
    import csv

    path = tmp_path / "lockbox.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["loan_number", "amount", "reference", "effective_date"])
        for loan, amount, reference, day in rows:
            writer.writerow([loan, amount, reference or "", day or ""] + (["surplus"] if extra_cell else []))
    before = fingerprint(book)
    assert_answered(book, before, keel(book, "batch", f"--control-total={control}", args=(str(path),)))


@FUZZ
@given(text=st.one_of(texts, amounts, dates), limit=st.none() | amounts)
def test_keel_search(book, text, limit) -> None:
    options = [f"--limit={limit}"] if limit is not None else []
    before = fingerprint(book)
    result = keel(book, "search", *options, args=(text,))
    assert_answered(book, before, result)
    assert fingerprint(book) == before  # a search never writes


# ---------------------------------------------------------------------------- the review's own cases, by name


@pytest.mark.parametrize(("argv", "field"), [
    (["pay", "KL-000001", "1e33"], "amount: '1e33' is not a plain amount"),
    (["pay", "KL-000001", "1E+400"], "amount: '1E+400' is not a plain amount"),
    (["pay", "KL-000001", "\uff11\uff12\uff13"], "amount: '\uff11\uff12\uff13' has digits other than 0-9"),
    (["pay", "KL-000001", "92233720368547758.08"], "amount: '92233720368547758.08' is too large"),
    (["pay", "KL-000001", "100000000.01"], "amount: $100,000,000.01 is more than Keel's limit"),
    (["pay", "--reference", "CHK\x001", "KL-000001", "10.00"], "reference: contains an invisible or control "
                                                                "character U+0000"),
    (["pay", "--date", "\uff12\uff10\uff12\uff16-06-01", "KL-000001", "10.00"], "has digits other than 0-9"),
    (["search", "Kim\u202e"], "search: contains an invisible or control character U+202E"),
    (["audit", "--page", "99999999999999999999"], "argument --page: 99999999999999999999 is outside 1 to 1000000000"),
    (["queue", "--limit", "\uff11\uff12"], "argument --limit: '\uff11\uff12' has digits other than 0-9"),
])
def test_the_reviews_inputs_are_refused_by_name(book, argv, field) -> None:
    before = fingerprint(book)
    code, _, err = keel(book, *argv)
    assert code == 2 and err.count("\n") == 1 and field in err, err
    assert fingerprint(book) == before


def test_a_control_total_of_1e33(book, tmp_path) -> None:
    path = tmp_path / "lockbox.csv"
    path.write_text("loan_number,amount\nKL-000001,10.00\n")
    before = fingerprint(book)
    code, _, err = keel(book, "batch", str(path), "--control-total", "1e33")
    assert code == 2 and err == "keel: error: lockbox.csv, control_total: '1e33' is not a plain amount: write it " \
                                "out without an exponent\n"
    assert fingerprint(book) == before


@pytest.mark.parametrize(("document", "message"), [
    # The review's "conversion" of the wrong type, and a list where the loan's object goes.
    ({"loans": [{**SEASONED, "conversion": 5}]}, "board.json, row 1, conversion: must be an object"),
    ({"loans": [{**SEASONED, "conversion": []}]}, "board.json, row 1, conversion: must be an object"),
    ({"loans": [[SEASONED]]}, "board.json, row 1, (loan): must be an object"),
    ({"loans": [{**SEASONED, "principal": "1e33"}]}, "board.json, row 1, principal: '1e33' is not a plain amount"),
    ({"loans": [{**SEASONED, "rate": "1E+400"}]}, "board.json, row 1, rate: '1E+400' is not a plain amount"),
    ({"loans": [{**SEASONED, "principal": "90000000000000.00"}]},
     "board.json, row 1, principal: 90000000000000.00 is more than Keel's limit"),
    ({"loans": [{**SEASONED, "los_reference": "x" * 20_000}]},
     "board.json, loans[1].los_reference: is longer than 10,000 characters"),
])
def test_boarding_files_the_review_sent(book, tmp_path, document, message) -> None:
    path = tmp_path / "board.json"
    path.write_text(json.dumps(document))
    before = fingerprint(book)
    code, _, err = keel(book, "board", str(path))
    # Every problem on its own line, then the summary (the boarding command's contract).
    assert code == 2 and message in err.splitlines()[0] and err.splitlines()[-1].startswith("keel: error: 1 problem in")
    assert len(err.splitlines()) == 2, err
    assert fingerprint(book) == before


def test_deeply_nested_json_is_one_line(book, tmp_path) -> None:
    # 100,000 levels: json.loads alone raises RecursionError; 21 levels: past Keel's bound of 20.
    for depth, where in ((100_000, "board.json, file"), (21, "board.json, file")):
        path = tmp_path / "board.json"
        path.write_text("[" * depth + "]" * depth)
        code, _, err = keel(book, "board", str(path))
        assert code == 2 and err.splitlines() == [f"{where}: is nested more than 20 levels deep",
                                                  f"keel: error: 1 problem in {path}; nothing was written"], err
