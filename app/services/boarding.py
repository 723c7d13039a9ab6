"""Boarding loans from the origination system's handoff files (CSV or JSON).

The format is documented in ``docs/boarding.md``; sample files are in
``resources/samples/boarding-*``.  One record per loan; ``los_reference`` is
the idempotency key: a record whose reference is already on a loan is
skipped ("already boarded"), so boarding the same file twice creates nothing.

* :func:`check_file` reads and validates the whole file and returns a
  :class:`BoardingPlan` listing every problem (file, row, field, reason) —
  the whole file, not the first error — plus what would be boarded.
* :func:`board_file` boards a valid file in ONE transaction: people, loans,
  parties, collateral, the opening ledger entries, the cached state and one
  audit record per loan.  Any problem raises :class:`FileRejected` and writes
  nothing; a cancel (checked between loans) raises :class:`BoardingCancelled`
  and rolls the whole file back; ``dry_run`` writes nothing.

Three kinds of loan:

``new``       funded recently: a ``boarding`` entry (amount = principal) dated
              the funding date records the disbursement; the engine starts
              from the note (it does not replay ``boarding`` entries).
``seasoned``  from another servicer with its balances: one ``conversion``
              entry whose payload is the opening state the ledger reads
              (:func:`app.services.ledger.origin_state`).
``history``   from another servicer with its payment history: a ``boarding``
              entry plus one ``payment`` entry per historical payment.  Keel
              replays them with the engine and ties the result out to the
              prior servicer's stated principal (within a tolerance, default
              0.01), paid-through and next due dates (exactly).  A loan that
              does not tie out is NOT boarded: it goes to the boarding
              exceptions list (audit events ``boarding.exception``) with the
              difference, and the rest of the file boards.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.db import chain
from app.db.models import (
    COLLATERAL_KINDS,
    AuditEvent,
    Collateral,
    LedgerEntry,
    Loan,
    LoanParty,
    Person,
)
from app.domain.engine import (
    Event,
    Snapshot,
    converted_state,
    initial_state,
    replay,
    snapshot,
)
from app.domain.engine import LoanState as EngineState
from app.domain.errors import InputError
from app.domain.money import ZERO, to_decimal, to_money, to_rate
from app.domain.terms import (
    MAX_PRINCIPAL,
    MAX_RATE,
    MAX_TERM,
    Terms,
    parse_choice,
    parse_date,
    parse_int,
    terms_to_dict,
)
from app.domain.text import check_plain_text
from app.services import audit, permissions
from app.services.context import CancelToken, Progress, ServiceContext, no_progress
from app.services.errors import Conflict, FileRejected, InvalidInput, Problem, ServiceError
from app.services.json_input import MAX_DEPTH, MAX_FILE_BYTES, parse_json, read_file_bytes
from app.services.ledger import Book, business_date, snapshot_dict, store_cache
from app.services.products import (
    ProductRules,
    engine_terms,
    product_version_on,
    rules_of,
)

BOARDING_TYPES = ("new", "seasoned", "history")

# ---------------------------------------------------------------- the record layout

LOAN_FIELDS = ("los_reference", "product", "loan_number", "boarding_type", "principal", "rate", "term", "start",
               "first_due", "payment")
PARTY_FIELDS = ("first_name", "middle_name", "last_name", "organization_name", "address_line1", "address_line2",
                "city", "state", "postal_code", "home_phone", "mobile_phone", "work_phone", "email", "date_of_birth",
                "tax_id", "time_zone")
COLLATERAL_FIELDS = ("kind", "address_line1", "address_line2", "city", "state", "postal_code", "vin", "year", "make",
                     "model", "description", "value")
CONVERSION_FIELDS = ("date", "principal", "accrued_interest", "fees", "suspense", "paid_through", "next_due",
                     "payment", "interest_paid_ytd", "tolerance")
HISTORY_FIELDS = ("date", "amount", "reference")
GROUPS: dict[str, tuple[str, ...]] = {
    "borrower": PARTY_FIELDS,
    "co_borrower": PARTY_FIELDS,
    "collateral": COLLATERAL_FIELDS,
    "conversion": CONVERSION_FIELDS,
}
#: CSV column -> path in the record (the JSON layout); groups are flattened with a prefix.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in LOAN_FIELDS},
    **{f"{group}_{name}": (group, name) for group, names in GROUPS.items() for name in names},
    "history": ("history",),
}

DEFAULT_TOLERANCE = Decimal("0.01")
MAX_REFERENCE = 64
_LOAN_NUMBER_RE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,19}")
_GENERATED_RE = re.compile(r"KL-(\d+)")
_ZIP_RE = re.compile(r"\d{5}(-\d{4})?")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_VIN_RE = re.compile(r"[A-HJ-NPR-Z0-9]{17}")  # no I, O or Q (49 CFR 565)

# US states, DC, territories and military addresses, with the time zone most of
# each observes.  A borrower's time zone decides when a collector may call
# (FDCPA 805(a)(1): 8 a.m. to 9 p.m. local); a file may name another zone for
# borrowers in the part of a state that differs.
STATE_ZONES: dict[str, str] = {
    **dict.fromkeys(("CT", "DE", "DC", "FL", "GA", "KY", "ME", "MD", "MA", "NH", "NJ", "NY", "NC", "OH", "PA", "RI",
                     "SC", "VT", "VA", "WV", "AA", "AE"), "America/New_York"),
    "IN": "America/Indiana/Indianapolis",
    "MI": "America/Detroit",
    **dict.fromkeys(("AL", "AR", "IL", "IA", "KS", "LA", "MN", "MS", "MO", "NE", "ND", "OK", "SD", "TN", "TX", "WI"),
                    "America/Chicago"),
    **dict.fromkeys(("CO", "MT", "NM", "UT", "WY"), "America/Denver"),
    "ID": "America/Boise",
    "AZ": "America/Phoenix",
    **dict.fromkeys(("CA", "NV", "OR", "WA"), "America/Los_Angeles"),
    "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
    "PR": "America/Puerto_Rico",
    "VI": "America/St_Thomas",
    "GU": "Pacific/Guam",
    "MP": "Pacific/Saipan",
    "AS": "Pacific/Pago_Pago",
    "AP": "America/Los_Angeles",
}
US_ZONES = frozenset(STATE_ZONES.values()) | {"America/Adak", "America/Juneau", "America/Nome",
                                              "America/Kentucky/Louisville", "America/Indiana/Knox",
                                              "America/North_Dakota/Center", "America/Menominee"}


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class BoardingException:
    """A history loan whose replay does not tie out to the prior servicer's figures."""

    los_reference: str
    row: int | None
    field: str  # principal, paid_through or next_due
    stated: str | None
    derived: str | None
    difference: str | None  # stated - derived: money, or days for dates

    def as_dict(self) -> dict[str, Any]:
        return {"los_reference": self.los_reference, "row": self.row, "field": self.field, "stated": self.stated,
                "derived": self.derived, "difference": self.difference}

    def __str__(self) -> str:
        return (f"{self.los_reference}: {self.field} stated {self.stated}, Keel derives {self.derived} "
                f"(difference {self.difference})")


@dataclass(frozen=True)
class BoardedLoan:
    """A loan boarded (in a plan or a dry run: that would be boarded), with its opening figures."""

    row: int
    los_reference: str
    loan_number: str
    product: str
    boarding_type: str
    borrower: str
    principal: Decimal
    next_due: date | None
    next_payment: Decimal
    amount_due: Decimal
    payoff: Decimal
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "los_reference": self.los_reference, "loan_number": self.loan_number,
                "product": self.product, "boarding_type": self.boarding_type, "borrower": self.borrower,
                "principal": str(self.principal), "next_due": self.next_due.isoformat() if self.next_due else None,
                "next_payment": str(self.next_payment), "amount_due": str(self.amount_due),
                "payoff": str(self.payoff), "status": self.status}


@dataclass(frozen=True)
class BoardingPlan:
    """What checking a file found: the loans it would board, skips, exceptions and problems."""

    file: str
    business_date: date | None
    loans: tuple[BoardedLoan, ...]
    skipped: tuple[str, ...]
    exceptions: tuple[BoardingException, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class BoardingResult:
    file: str
    business_date: date
    dry_run: bool
    boarded: tuple[BoardedLoan, ...]
    skipped: tuple[str, ...]  # los_reference of records already boarded
    exceptions: tuple[BoardingException, ...]

    @property
    def loan_numbers(self) -> tuple[str, ...]:
        return tuple(loan.loan_number for loan in self.boarded)

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "business_date": self.business_date.isoformat(), "dry_run": self.dry_run,
                "boarded": [loan.as_dict() for loan in self.boarded], "skipped": list(self.skipped),
                "exceptions": [exc.as_dict() for exc in self.exceptions]}


class BoardingCancelled(ServiceError):
    """The user cancelled; the whole file was rolled back and nothing was boarded."""

    def __init__(self) -> None:
        super().__init__("Boarding cancelled; the file was rolled back and nothing was boarded")


# ---------------------------------------------------------------- reading the file


@dataclass
class _Source:
    name: str
    kind: str  # "csv" or "json"
    records: list[tuple[int, dict[str, Any]]]
    problems: list[Problem]
    digest: str


def _read(path: str | Path) -> _Source:
    """The file's records as (row, record in the JSON layout), and problems with the file as a whole."""
    file = Path(path)
    name = file.name
    suffix = file.suffix.lower()
    kind = "csv" if suffix == ".csv" else "json" if suffix == ".json" else ""
    source = _Source(name, kind or "json", [], [], "")
    if not kind:
        source.problems.append(Problem(name, None, "file", "is neither .csv nor .json"))
        return source
    try:
        raw = read_file_bytes(file, "file", max_bytes=MAX_FILE_BYTES)
    except InvalidInput as exc:
        source.problems.append(Problem(name, None, exc.field, exc.problem))
        return source
    source.digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        source.problems.append(Problem(name, None, "file", f"is not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return source
    if kind == "csv":
        _read_csv(text, source)
    else:
        _read_json(text, source)
    if not source.records and not source.problems:
        source.problems.append(Problem(name, None, "file", "has no loans"))
    return source


#: Stands for a CSV history cell that is not JSON (already reported).
_UNREADABLE = object()


def _read_csv(text: str, source: _Source) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [column.strip().lower() for column in header]
        bad_header = False
        for column in header:
            if column not in CSV_COLUMNS:
                source.problems.append(Problem(source.name, 1, column or "(blank)", "unknown column"))
                bad_header = True
        for column in sorted({c for c in header if header.count(c) > 1}):
            source.problems.append(Problem(source.name, 1, column, "column appears more than once"))
            bad_header = True
        if "los_reference" not in header:
            source.problems.append(Problem(source.name, 1, "los_reference", "column is required"))
            bad_header = True
        if bad_header:
            return
        # Rows are numbered as a spreadsheet shows them: the header is row 1.
        for index, cells in enumerate(reader):
            row = index + 2
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                source.problems.append(Problem(source.name, row, "(row)",
                                               f"has {len(cells)} cells but the header has {len(header)} columns"))
                continue
            record: dict[str, Any] = {}
            for column, cell in zip(header, cells):
                value = cell.strip()
                if not value:
                    continue
                path = CSV_COLUMNS[column]
                if path == ("history",):
                    try:
                        record["history"] = parse_json(value, "history", max_depth=MAX_DEPTH - 2)
                    except InvalidInput as exc:
                        source.problems.append(Problem(source.name, row, exc.field,
                                                       exc.problem.replace("is not JSON", "is not a JSON list")))
                        record["history"] = _UNREADABLE  # reported once, here
                    continue
                if len(path) == 1:
                    record[path[0]] = value
                else:
                    record.setdefault(path[0], {})[path[1]] = value
            source.records.append((row, record))
    except csv.Error as exc:
        source.problems.append(Problem(source.name, reader.line_num or None, "file", f"is not valid CSV: {exc}"))


def _read_json(text: str, source: _Source) -> None:
    try:
        data = parse_json(text, "file")
    except InvalidInput as exc:
        source.problems.append(Problem(source.name, None, exc.field, exc.problem))
        return
    if isinstance(data, dict) and set(data) <= {"loans", "comment"} and "loans" in data:
        data = data["loans"]
    if not isinstance(data, list):
        source.problems.append(Problem(source.name, None, "loans", 'must be a list of loans, or {"loans": [...]}'))
        return
    # Rows are the records' positions in the list, from 1.
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            source.problems.append(Problem(source.name, index + 1, "(loan)", "must be an object"))
            continue
        source.records.append((index + 1, record))


# ---------------------------------------------------------------- checking one record


Path_ = tuple[str | int, ...]


class _Record:
    """One record being checked: reads fields and collects every problem."""

    def __init__(self, data: dict[str, Any], row: int, source: _Source) -> None:
        self.data = data
        self.row = row
        self.source = source
        self.problems: list[Problem] = []

    def name(self, path: Path_) -> str:
        """A field's name as the file spells it: ``borrower_city`` in CSV, ``borrower.city`` in JSON."""
        out = ""
        for position, part in enumerate(path):
            if isinstance(part, int):
                out += f"[{part}]"
            elif position == 0:
                out = part
            elif self.source.kind == "csv" and position == 1 and path[0] in GROUPS:
                out += f"_{part}"
            else:
                out += f".{part}"
        return out

    def bad(self, path: Path_, reason: str) -> None:
        self.problems.append(Problem(self.source.name, self.row, self.name(path), reason))

    def get(self, path: Path_) -> Any:
        value: Any = self.data
        for part in path:
            if isinstance(part, int):
                value = value[part - 1] if isinstance(value, list) and 0 < part <= len(value) else None
            else:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                return None
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def has(self, path: Path_) -> bool:
        return self.get(path) is not None

    def _read(self, path: Path_, required: bool, read: Any) -> Any:
        value = self.get(path)
        if value is None:
            if required:
                self.bad(path, "is required")
            return None
        try:
            return read(value, self.name(path))
        except InputError as exc:
            self.bad(path, exc.problem)
            return None
        except ValueError:
            # terms.parse_int lets int() raise on text such as "--5".
            self.bad(path, f"{value!r} is not valid here")
            return None

    def text(self, path: Path_, *, required: bool = False, max_len: int = 200) -> str | None:
        def read(value: Any, name: str) -> str:
            if not isinstance(value, str):
                raise InputError(name, f"{value!r} must be text")
            if len(value.strip()) > max_len:
                raise InputError(name, f"is longer than {max_len} characters")
            return check_plain_text(value.strip(), name, multiline=max_len > 200)

        result: str | None = self._read(path, required, read)
        return result

    def money(self, path: Path_, *, required: bool = False, positive: bool = False,
              maximum: Decimal | None = MAX_PRINCIPAL) -> Decimal | None:
        """An amount; a loan's own figures are at most the largest principal Keel boards (issue 12: a converted
        principal of 900 billion boarded, and end of day could never store its interest)."""
        def read(value: Any, name: str) -> Decimal:
            amount = to_money(value, name)
            if positive and amount <= 0:
                raise InputError(name, f"{amount} must be more than zero")
            if amount < 0:
                raise InputError(name, f"{amount} must not be negative")
            if maximum is not None and amount > maximum:
                raise InputError(name, f"{amount} is more than Keel's limit of {maximum} for one loan")
            return amount

        result: Decimal | None = self._read(path, required, read)
        return result

    def day(self, path: Path_, *, required: bool = False) -> date | None:
        result: date | None = self._read(path, required, parse_date)
        return result

    def whole(self, path: Path_, low: int, high: int, *, required: bool = False) -> int | None:
        def read(value: Any, name: str) -> int:
            number = parse_int(value, name)
            if not low <= number <= high:
                raise InputError(name, f"{number} is outside {low} to {high}")
            return number

        result: int | None = self._read(path, required, read)
        return result

    def unknown_keys(self) -> None:
        """JSON only (a CSV header is checked once): fields the format does not have."""
        if self.source.kind != "json":
            return
        for key, value in self.data.items():
            if key in GROUPS:
                if not isinstance(value, dict):
                    self.bad((key,), "must be an object")
                    continue
                for inner in value:
                    if inner not in GROUPS[key]:
                        self.bad((key, inner), "unknown field")
            elif key not in LOAN_FIELDS and key != "history":
                self.bad((key,), "unknown field")


@dataclass
class _Candidate:
    """A record that passed every check: everything needed to write it."""

    row: int
    los_reference: str
    loan_number: str | None
    product: str
    version_id: int
    boarding_type: str
    terms: Terms
    borrower: dict[str, Any]
    co_borrower: dict[str, Any] | None
    collateral: dict[str, Any] | None
    conversion: dict[str, Any] | None  # payload of the conversion entry (seasoned)
    history: list[tuple[date, Decimal, str | None]]
    stated: dict[str, Any] | None  # history loans: the prior servicer's figures
    origin: EngineState
    opening: Snapshot | None = None
    allocations: list[dict[str, Decimal]] = field(default_factory=list)
    exceptions: list[BoardingException] = field(default_factory=list)

    @property
    def borrower_name(self) -> str:
        person = self.borrower
        if person.get("organization_name"):
            return str(person["organization_name"])
        return " ".join(str(person[k]) for k in ("first_name", "middle_name", "last_name") if person.get(k))


@dataclass
class _Checker:
    """Checks a whole file against the database as it stands in ``session``."""

    session: Session
    source: _Source
    today: date
    problems: list[Problem] = field(default_factory=list)
    candidates: list[_Candidate] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    references: dict[str, int] = field(default_factory=dict)  # los_reference -> first row
    numbers: dict[str, int] = field(default_factory=dict)  # explicit loan_number -> row
    _products: dict[str, tuple[int, ProductRules] | str] = field(default_factory=dict)

    def product(self, code: str) -> tuple[int, ProductRules] | str:
        key = code.strip().upper()
        if key not in self._products:
            try:
                version = product_version_on(self.session, key, self.today)
            except ServiceError as exc:
                self._products[key] = str(exc).split(": ", 1)[-1]
            else:
                if not version.product.active:
                    self._products[key] = f"{key} is not an active product"
                else:
                    self._products[key] = (version.id, rules_of(version))
        return self._products[key]


def _existing(session: Session, column: Any, values: Iterable[str]) -> set[str]:
    found: set[str] = set()
    chunk: list[str] = []
    for value in [*values, None]:
        if value is not None:
            chunk.append(value)
        if chunk and (value is None or len(chunk) == 500):
            found.update(session.scalars(select(column).where(column.in_(chunk))))
            chunk = []
    return found


def _check(session: Session, source: _Source, progress: Progress, cancel: CancelToken | None) -> _Checker:
    today = business_date(session)
    checker = _Checker(session, source, today, list(source.problems))
    if source.problems and not source.records:
        return checker
    references = [str(r.get("los_reference")).strip() for _, r in source.records if r.get("los_reference")]
    boarded = _existing(session, Loan.los_reference, references)
    numbers = [str(r["loan_number"]).strip().upper() for _, r in source.records if isinstance(r.get("loan_number"), str)]
    taken = _existing(session, Loan.loan_number, numbers)
    total = len(source.records)
    for done, (row, data) in enumerate(source.records, start=1):
        if cancel is not None and cancel.cancelled:
            raise BoardingCancelled()
        record = _Record(data, row, source)
        candidate = _check_record(record, checker, boarded, taken)
        checker.problems.extend(record.problems)
        if candidate is not None and not record.problems:
            checker.candidates.append(candidate)
        progress(done, total, f"checked row {row}")
    _assign_numbers(session, checker)
    return checker


def _check_record(record: _Record, checker: _Checker, boarded: set[str], taken: set[str]) -> _Candidate | None:
    reference = record.text(("los_reference",), required=True, max_len=MAX_REFERENCE)
    if reference is None:
        return None
    if reference in boarded:
        checker.skipped.append(reference)
        return None
    if reference in checker.references:
        record.bad(("los_reference",), f"{reference!r} is also on row {checker.references[reference]}")
    else:
        checker.references[reference] = record.row
    record.unknown_keys()
    today = checker.today

    kind = "new"
    if record.has(("boarding_type",)):
        try:
            kind = parse_choice(record.get(("boarding_type",)), "boarding_type", BOARDING_TYPES)
        except InputError as exc:
            record.bad(("boarding_type",), exc.problem)
            kind = ""

    product_code = record.text(("product",), required=True, max_len=32)
    product: tuple[int, ProductRules] | None = None
    if product_code is not None:
        found = checker.product(product_code)
        if isinstance(found, str):
            record.bad(("product",), found)
        else:
            product = found

    loan_number = None
    if record.has(("loan_number",)):
        raw = record.text(("loan_number",), max_len=20)
        if raw is not None:
            loan_number = raw.upper()
            if not _LOAN_NUMBER_RE.fullmatch(loan_number):
                record.bad(("loan_number",), f"{raw!r} is not a loan number (letters, digits and -, up to 20)")
            elif loan_number in taken:
                record.bad(("loan_number",), f"{loan_number} is already a loan on Keel")
            elif loan_number in checker.numbers:
                record.bad(("loan_number",), f"{loan_number} is also on row {checker.numbers[loan_number]}")
            else:
                checker.numbers[loan_number] = record.row

    # The note's own figures and opening balances; the product supplies everything else.
    marker = len(record.problems)
    note = {
        "principal": record.money(("principal",), required=True, positive=True),
        "rate": record._read(("rate",), True, _read_rate),
        "term": record.whole(("term",), 1, MAX_TERM, required=True),
        "start": record.day(("start",), required=True),
        "first_due": record.day(("first_due",), required=True),
        "payment": record.money(("payment",), positive=True),
    }
    if note["principal"] is not None and note["principal"] > MAX_PRINCIPAL:
        record.bad(("principal",), f"{note['principal']} is more than Keel's limit of {MAX_PRINCIPAL} for one loan")
    start = note["start"]
    if start is not None and start > today:
        record.bad(("start",), f"{start} is after the business date {today}")
    if kind == "new" and note["first_due"] is not None and note["first_due"] < today:
        record.bad(("first_due",), f"{note['first_due']} has already fallen due (business date {today}); "
                                   "board the loan as seasoned or history")
    conversion = stated = None
    history: list[tuple[date, Decimal, str | None]] = []
    if kind == "new":
        for group in ("conversion", "history"):
            if record.get((group,)) not in (None, _UNREADABLE):
                record.bad((group,), "is only for seasoned or history loans")
    elif kind == "seasoned":
        conversion = _check_conversion(record, start, today)
        if record.get(("history",)) not in (None, _UNREADABLE):
            record.bad(("history",), "is only for history loans; a seasoned loan opens with its conversion balances")
    elif kind == "history":
        stated = _check_stated(record, start, today)
        history = _check_history(record, start, stated.get("date"))
    # (A conversion that is not an object was reported with the record's fields, before the marker:
    # issue 12 found ``"conversion": 5`` reaching the engine's checks.)
    figures_ok = (product is not None and kind != "" and len(record.problems) == marker
                  and (kind != "seasoned" or conversion is not None) and (kind != "history" or bool(stated)))

    borrower = _check_party(record, "borrower", today, required=True)
    co_borrower = _check_party(record, "co_borrower", today, required=False) if record.has(("co_borrower",)) else None
    collateral = _check_collateral(record, today) if record.has(("collateral",)) else None

    # The engine's own checks (terms, conversion state, replay) need valid figures,
    # but not valid names and addresses: run them whenever the figures passed.
    if not figures_ok:
        return None
    assert product is not None and product_code is not None
    terms = _terms(record, product[1], note)
    if terms is None:
        return None
    candidate = _Candidate(
        row=record.row, los_reference=reference, loan_number=loan_number, product=product_code.upper(),
        version_id=product[0], boarding_type=kind, terms=terms, borrower=borrower or {},
        co_borrower=co_borrower, collateral=collateral, conversion=conversion, history=history,
        stated=stated, origin=initial_state(terms),
    )
    if kind == "seasoned":
        assert conversion is not None
        origin = _converted(record, terms, conversion)
        if origin is None:
            return None
        candidate.origin = origin
    if kind == "history" and not _tie_out(record, candidate):
        return None
    try:
        events = [Event(f"history:{n}", "payment", day, amount) for n, (day, amount, _) in enumerate(history, 1)]
        state, _ = replay(terms, events, today, start=candidate.origin)
    except InputError as exc:
        record.bad(("history",) if kind == "history" else ("conversion",), exc.problem)
        return None
    candidate.opening = snapshot(state, terms)
    return candidate if not record.problems else None


def _read_rate(value: Any, name: str) -> Decimal:
    return to_rate(value, name, maximum=MAX_RATE)


def _terms(record: _Record, rules: ProductRules, note: dict[str, Any]) -> Terms | None:
    """The loan's own terms: the note's figures with the product's engine rules (the engine's parser)."""
    values = {key: (value.isoformat() if isinstance(value, date) else value) for key, value in note.items()}
    beyond = rules.beyond_limits(note.get("principal"), note.get("rate"))
    for name, problem in beyond:
        record.bad((name,), problem)
    if beyond:
        return None
    try:
        terms, _ = engine_terms(rules, values)
        return terms
    except InputError as exc:
        name = exc.field.removeprefix("terms.")
        record.bad((name,) if name in LOAN_FIELDS else ("product",), exc.problem)
        return None


def _check_party(record: _Record, group: str, today: date, *, required: bool) -> dict[str, Any] | None:
    if not record.has((group,)):
        if required:
            record.bad((group,), "is required (at least last_name or organization_name and the mailing address)")
        return None
    if not isinstance(record.get((group,)), dict):
        return None  # reported by unknown_keys
    before = len(record.problems)
    person: dict[str, Any] = {}
    for name in ("first_name", "middle_name", "last_name", "organization_name", "address_line2"):
        person[name] = record.text((group, name))
    named = {p.field for p in record.problems[before:]}
    if not person["last_name"] and not person["organization_name"] and not named & {
            record.name((group, "last_name")), record.name((group, "organization_name"))}:
        # (a name refused above is already reported; "required" would only repeat it)
        record.bad((group, "last_name"), "is required (or organization_name)")
    person["address_line1"] = record.text((group, "address_line1"), required=required)
    person["city"] = record.text((group, "city"), required=required, max_len=100)
    person["state"] = _state(record, (group, "state"), required=required)
    person["postal_code"] = _postal_code(record, (group, "postal_code"), required=required)
    for name in ("home_phone", "mobile_phone", "work_phone"):
        person[name] = _phone(record, (group, name))
    email = record.text((group, "email"), max_len=254)
    if email is not None and not _EMAIL_RE.fullmatch(email):
        record.bad((group, "email"), f"{email!r} is not an email address")
    person["email"] = email
    birth = record.day((group, "date_of_birth"))
    if birth is not None and not (today - timedelta(days=130 * 366) < birth < today):
        record.bad((group, "date_of_birth"), f"{birth} is not a plausible date of birth")
    person["date_of_birth"] = birth
    # The SSN/TIN is required for the borrower: interest paid is reported on it (IRS Form 1098).
    tax_id = record.text((group, "tax_id"), required=required, max_len=11)
    if tax_id is not None:
        digits = re.sub(r"[\s-]", "", tax_id)
        if not re.fullmatch(r"\d{9}", digits) or digits == "000000000":
            record.bad((group, "tax_id"), "must be nine digits (SSN, ITIN or EIN)")
        tax_id = digits
    person["tax_id"] = tax_id
    zone = record.text((group, "time_zone"), max_len=64)
    if zone is not None and not _known_zone(zone):
        record.bad((group, "time_zone"), f"{zone!r} is not a time zone name such as America/Chicago")
    person["time_zone"] = zone or STATE_ZONES.get(person["state"] or "", "America/New_York")
    return person if len(record.problems) == before else None


def _state(record: _Record, path: Path_, *, required: bool) -> str | None:
    value = record.text(path, required=required, max_len=2)
    if value is None:
        return None
    if value.upper() not in STATE_ZONES:
        record.bad(path, f"{value!r} is not a US state or territory code")
        return None
    return value.upper()


def _postal_code(record: _Record, path: Path_, *, required: bool) -> str | None:
    value = record.text(path, required=required, max_len=10)
    if value is not None and not _ZIP_RE.fullmatch(value):
        record.bad(path, f"{value!r} is not a ZIP code (12345 or 12345-6789)")
    return value


def _phone(record: _Record, path: Path_) -> str | None:
    value = record.text(path, max_len=32)
    if value is None:
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        record.bad(path, f"{value!r} is not a 10-digit US phone number")
        return None
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def _known_zone(name: str) -> bool:
    if name in US_ZONES:
        return True
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def _check_collateral(record: _Record, today: date) -> dict[str, Any] | None:
    group = "collateral"
    if not isinstance(record.get((group,)), dict):
        return None
    before = len(record.problems)
    kind = record.text((group, "kind"), required=True, max_len=32)
    if kind is not None and kind.lower() not in COLLATERAL_KINDS:
        record.bad((group, "kind"), f"{kind!r} is not one of {', '.join(COLLATERAL_KINDS)}")
    kind = (kind or "").lower()
    item: dict[str, Any] = {"kind": kind}
    real_estate = kind == "real_estate"
    item["address_line1"] = record.text((group, "address_line1"), required=real_estate)
    item["address_line2"] = record.text((group, "address_line2"))
    item["city"] = record.text((group, "city"), required=real_estate, max_len=100)
    item["state"] = _state(record, (group, "state"), required=real_estate)
    item["postal_code"] = _postal_code(record, (group, "postal_code"), required=real_estate)
    vin = record.text((group, "vin"), max_len=17)
    if vin is not None:
        vin = vin.upper()
        if not _VIN_RE.fullmatch(vin):
            record.bad((group, "vin"), f"{vin!r} is not a 17-character VIN (letters other than I, O, Q and digits)")
    item["vin"] = vin
    item["year"] = record.whole((group, "year"), 1900, today.year + 2)
    item["make"] = record.text((group, "make"), max_len=64)
    item["model"] = record.text((group, "model"), max_len=64)
    item["description"] = record.text((group, "description"), max_len=2000)
    item["value"] = record.money((group, "value"), maximum=None)  # a house is not a loan figure
    if kind == "vehicle" and vin is None and not (item["year"] and item["make"] and item["model"]):
        record.bad((group, "vin"), "a vehicle needs its VIN, or its year, make and model")
    if kind == "other" and not item["description"]:
        record.bad((group, "description"), "is required for other collateral")
    return item if len(record.problems) == before else None


def _conversion_date(record: _Record, start: date | None, today: date) -> date | None:
    day = record.day(("conversion", "date"), required=True)
    if day is not None:
        if day > today:
            record.bad(("conversion", "date"), f"{day} is after the business date {today}")
        elif start is not None and day <= start:
            record.bad(("conversion", "date"), f"{day} is not after the loan's start {start}")
    return day


def _check_conversion(record: _Record, start: date | None, today: date) -> dict[str, Any] | None:
    """A seasoned loan's opening balances: the payload :func:`ledger.origin_state` reads."""
    if not isinstance(record.get(("conversion",)), dict):
        if not record.has(("conversion",)):
            record.bad(("conversion",), "is required for a seasoned loan (date, principal, next_due, ...)")
        return None
    before = len(record.problems)
    day = _conversion_date(record, start, today)
    principal = record.money(("conversion", "principal"), required=True, positive=True)
    accrued = record._read(("conversion", "accrued_interest"), False, _read_accrued)
    fees = record.money(("conversion", "fees"))
    suspense = record.money(("conversion", "suspense"))
    paid_through = record.day(("conversion", "paid_through"))
    next_due = record.day(("conversion", "next_due"), required=True)
    payment = record.money(("conversion", "payment"), positive=True)
    ytd = record.money(("conversion", "interest_paid_ytd"))
    if record.has(("conversion", "tolerance")):
        record.bad(("conversion", "tolerance"), "is only for history loans")
    if paid_through is not None and next_due is not None and paid_through >= next_due:
        record.bad(("conversion", "paid_through"), f"{paid_through} is not before next_due {next_due}")
    if len(record.problems) != before or day is None:
        return None
    payload: dict[str, Any] = {
        "principal": str(principal),
        "next_due": next_due.isoformat() if next_due else None,
        "accrued_interest": str(accrued if accrued is not None else ZERO),
        "fees": str(fees or ZERO),
        "suspense": str(suspense or ZERO),
        "interest_paid_ytd": str(ytd or ZERO),
        "date": day.isoformat(),
    }
    if payment is not None:
        payload["payment"] = str(payment)
    if paid_through is not None:
        payload["paid_through"] = paid_through.isoformat()
    return payload


def _read_accrued(value: Any, name: str) -> Decimal:
    """Accrued interest may carry up to 10 places, as the engine keeps it."""
    amount = to_decimal(value, name)
    if amount < 0:
        raise InputError(name, f"{amount} must not be negative")
    if amount > MAX_PRINCIPAL:
        raise InputError(name, f"{amount} is more than Keel's limit of {MAX_PRINCIPAL} for one loan")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -10:
        raise InputError(name, f"{value!r} has more than 10 decimal places")
    return amount


def _converted(record: _Record, terms: Terms, payload: dict[str, Any]) -> EngineState | None:
    try:
        return converted_state(
            terms,
            date.fromisoformat(payload["date"]),
            principal=Decimal(payload["principal"]),
            next_due=date.fromisoformat(payload["next_due"]),
            accrued_interest=Decimal(payload["accrued_interest"]),
            fees=Decimal(payload["fees"]),
            suspense=Decimal(payload["suspense"]),
            payment=Decimal(payload["payment"]) if payload.get("payment") else None,
            paid_through=date.fromisoformat(payload["paid_through"]) if payload.get("paid_through") else None,
        )
    except InputError as exc:
        record.bad(("conversion", exc.field) if exc.field in CONVERSION_FIELDS else ("conversion",), exc.problem)
        return None


def _check_stated(record: _Record, start: date | None, today: date) -> dict[str, Any]:
    """A history loan's figures from the prior servicer, as of the start of the conversion date.

    Returns what could be read (the date bounds the history even when another field is bad).
    """
    if not isinstance(record.get(("conversion",)), dict):
        if not record.has(("conversion",)):
            record.bad(("conversion",), "is required for a history loan (date, principal, next_due)")
        return {}
    stated = {
        "date": _conversion_date(record, start, today),
        "principal": record.money(("conversion", "principal"), required=True),
        "paid_through": record.day(("conversion", "paid_through")),
        "next_due": record.day(("conversion", "next_due"), required=True),
        "tolerance": record.money(("conversion", "tolerance")),
    }
    if stated["tolerance"] is None:
        stated["tolerance"] = DEFAULT_TOLERANCE
    for name in ("accrued_interest", "fees", "suspense", "payment", "interest_paid_ytd"):
        if record.has(("conversion", name)):
            record.bad(("conversion", name), "is only for seasoned loans; a history loan's figures come from its replay")
    return stated


def _check_history(record: _Record, start: date | None, cutoff: date | None) -> list[tuple[date, Decimal, str | None]]:
    raw = record.get(("history",))
    if raw is _UNREADABLE:
        return []
    if raw is None:
        record.bad(("history",), "is required for a history loan: a list of {date, amount, reference}")
        return []
    if not isinstance(raw, list):
        record.bad(("history",), "must be a list of {date, amount, reference}")
        return []
    items: list[tuple[date, Decimal, str | None]] = []
    for n, item in enumerate(raw, start=1):
        path: Path_ = ("history", n)
        if not isinstance(item, dict):
            record.bad(path, "must be an object with date, amount and reference")
            continue
        for key in item:
            if key not in HISTORY_FIELDS:
                record.bad((*path, key), "unknown field")
        day = record.day((*path, "date"), required=True)
        amount = record.money((*path, "amount"), required=True, positive=True)
        reference = record.text((*path, "reference"), max_len=MAX_REFERENCE)
        if day is not None and start is not None and day < start:
            record.bad((*path, "date"), f"{day} is before the loan's start {start}")
        if day is not None and cutoff is not None and day >= cutoff:
            record.bad((*path, "date"), f"{day} is not before the conversion date {cutoff}")
        if day is not None and amount is not None:
            items.append((day, amount, reference))
    # Payments apply in date order, in file order within a date (the ledger's order too).
    return sorted(items, key=lambda item: item[0])


def _tie_out(record: _Record, candidate: _Candidate) -> bool:
    """Replay the history to the conversion date and compare with the stated figures."""
    stated = candidate.stated
    assert stated is not None
    cutoff: date = stated["date"]
    events = [Event(f"history:{n}", "payment", day, amount) for n, (day, amount, _) in enumerate(candidate.history, 1)]
    try:
        state, entries = replay(candidate.terms, events, cutoff - timedelta(days=1))
    except InputError as exc:
        record.bad(("history",), exc.problem)
        return False
    snap = snapshot(state, candidate.terms)
    applied = {entry.id: entry for entry in entries}
    candidate.allocations = [
        {"interest": e.interest, "principal": e.principal, "fees": e.fees, "suspense": e.suspense, "refund": e.refund}
        for e in (applied[event.id] for event in events)
    ]
    tolerance: Decimal = stated["tolerance"]
    difference = stated["principal"] - snap.principal
    if abs(difference) > tolerance:
        candidate.exceptions.append(BoardingException(candidate.los_reference, record.row, "principal",
                                                      str(stated["principal"]), str(snap.principal), str(difference)))
    for name, derived in (("paid_through", snap.paid_through), ("next_due", snap.next_due)):
        given: date | None = stated[name]
        if given != derived:
            days = str((given - derived).days) if given is not None and derived is not None else None
            candidate.exceptions.append(BoardingException(
                candidate.los_reference, record.row, name, given.isoformat() if given else None,
                derived.isoformat() if derived else None, f"{days} days" if days is not None else None))
    return True


def _assign_numbers(session: Session, checker: _Checker) -> None:
    """Loans without a loan_number get the next free KL-nnnnnn, in file order."""
    highest = 0
    rows = session.scalars(
        select(Loan.loan_number).where(Loan.loan_number.like("KL-%"))
        .order_by(func.length(Loan.loan_number).desc(), Loan.loan_number.desc()).limit(50)
    )
    for number in [*rows, *checker.numbers]:
        match = _GENERATED_RE.fullmatch(number)
        if match:
            highest = max(highest, int(match.group(1)))
    for candidate in checker.candidates:
        if candidate.loan_number is None and not candidate.exceptions:
            highest += 1
            candidate.loan_number = f"KL-{highest:06d}"


# ---------------------------------------------------------------- results of a check


def _boarded(candidate: _Candidate) -> BoardedLoan:
    snap = candidate.opening
    assert snap is not None and candidate.loan_number is not None
    return BoardedLoan(candidate.row, candidate.los_reference, candidate.loan_number, candidate.product,
                       candidate.boarding_type, candidate.borrower_name, snap.principal, snap.next_due,
                       snap.next_payment, snap.amount_due, snap.payoff, snap.status)


def _plan(checker: _Checker) -> BoardingPlan:
    return BoardingPlan(
        file=checker.source.name,
        business_date=checker.today,
        loans=tuple(_boarded(c) for c in checker.candidates if not c.exceptions),
        skipped=tuple(checker.skipped),
        exceptions=tuple(e for c in checker.candidates for e in c.exceptions),
        problems=tuple(checker.problems),
    )


def check_file(ctx: ServiceContext, path: str | Path) -> BoardingPlan:
    """Read and check a boarding file; every problem in it is listed, nothing is written."""
    permissions.require(ctx.actor, permissions.BOARD)
    source = _read(path)
    with ctx.unit(write=False) as session:
        return _plan(_check(session, source, no_progress, None))


# ---------------------------------------------------------------- writing


def _person(data: dict[str, Any]) -> Person:
    person = Person(**{k: v for k, v in data.items() if k != "tax_id"})
    person.tax_id = data.get("tax_id")
    return person


#: Loans written per flush.  Inserting a batch at once (rather than three
#: flushes a loan) roughly halves the time a large file takes.
WRITE_BATCH = 200


def _write_batch(
    session: Session, ctx: ServiceContext, batch: list[_Candidate], today: date, file_name: str,
    done: int, total: int, report: Progress, cancel: CancelToken | None,
) -> list[BoardedLoan]:
    """Write a batch of loans: rows first, then each loan's cache and audit record, one by one."""
    loans: list[Loan] = []
    for candidate in batch:
        assert candidate.loan_number is not None
        loan = Loan(
            loan_number=candidate.loan_number,
            product_version_id=candidate.version_id,
            los_reference=candidate.los_reference,
            status="active",
            terms=terms_to_dict(candidate.terms),
            boarded_on=today,
            boarded_by_id=ctx.actor.user_id,
        )
        loan.state = None  # known to have no cache yet: store_cache creates it without a query
        loans.append(loan)
    session.add_all(loans)
    session.flush()
    books: list[Book] = []
    for loan, candidate in zip(loans, batch):
        parties = [("borrower", candidate.borrower)]
        if candidate.co_borrower is not None:
            parties.append(("co_borrower", candidate.co_borrower))
        for role, data in parties:
            session.add(LoanParty(loan=loan, person=_person(data), role=role))
        if candidate.collateral is not None:
            session.add(Collateral(loan=loan, **candidate.collateral))
        books.append(Book(loan, candidate.terms, _opening_entries(ctx, loan, candidate, today, file_name),
                          candidate.origin))
    session.flush()
    # The opening entries go in with one bulk INSERT ... RETURNING (a history loan brings years
    # of payments); the books replay plain rows carrying the ids the database gave them.
    pending = [row for book in books for row in book.rows]
    if pending:
        token = chain.tx_token(session)  # the bulk insert skips the ORM's stamp; the seal covers these rows
        session.execute(insert(LedgerEntry), [{**row, "tx": token} for row in pending])
        # (loan_id, seq) is unique: read the new ids back in one query.
        ids = {
            (loan_id, seq): entry_id
            for entry_id, loan_id, seq in session.execute(
                select(LedgerEntry.id, LedgerEntry.loan_id, LedgerEntry.seq).where(
                    LedgerEntry.loan_id.in_([book.loan.id for book in books])
                )
            )
        }
        for row in pending:
            row["id"] = ids[(row["loan_id"], row["seq"])]
        for book in books:
            book.rows = [SimpleNamespace(**row) for row in book.rows]
    boarded: list[BoardedLoan] = []
    for book, candidate in zip(books, batch):
        if cancel is not None and cancel.cancelled:
            raise BoardingCancelled()
        loan = book.loan
        # The book is the loan's whole ledger, just written (what open_book would read back).
        snap = store_cache(session, book, today, rederive=True)
        # The books start equal to the replay: interest earned and late fees assessed before
        # boarding are booked now, pointing at the boarding entry (issue 9).
        from app.services import books as books_service

        books_service.reconcile(session, ctx, book, today, cause=book.rows[0].id if book.rows else None)
        audit.record(
            session, ctx.actor, "loan.boarded", entity="loan", entity_id=loan.loan_number, loan_id=loan.id,
            details={"los_reference": candidate.los_reference, "file": file_name, "row": candidate.row,
                     "boarding_type": candidate.boarding_type, "product": candidate.product,
                     "product_version_id": candidate.version_id, "history_payments": len(candidate.history),
                     "opening": snapshot_dict(snap)},
        )
        boarded.append(BoardedLoan(candidate.row, candidate.los_reference, loan.loan_number, candidate.product,
                                   candidate.boarding_type, candidate.borrower_name, snap.principal, snap.next_due,
                                   snap.next_payment, snap.amount_due, snap.payoff, snap.status))
        report(done + len(boarded), total, f"boarded {loan.loan_number} ({candidate.los_reference})")
    return boarded


def _opening_entries(
    ctx: ServiceContext, loan: Loan, candidate: _Candidate, today: date, file_name: str
) -> list[Any]:
    """The loan's first ledger entries, in replay order (effective date, then seq)."""
    rows: list[dict[str, Any]] = []
    empty = {"interest": ZERO, "principal": ZERO, "fees": ZERO, "escrow": ZERO, "suspense": ZERO, "refund": ZERO,
             "reverses_id": None, "fee_kind": None, "method": None, "reference": None, "reason_code": None,
             "payload": None, "batch_id": None}

    def entry(type_: str, effective: date, amount: Decimal, **columns: Any) -> None:
        rows.append({**empty, "loan_id": loan.id, "seq": len(rows) + 1, "type": type_, "effective_date": effective,
                     "business_date": today, "amount": amount, "user_id": ctx.actor.user_id, **columns})

    origin = {"los_reference": candidate.los_reference, "file": file_name, "boarding_type": candidate.boarding_type}
    if candidate.conversion is not None:
        payload = candidate.conversion
        # The opening state the ledger reads (ledger.origin_state); amount is the converted principal.
        entry("conversion", date.fromisoformat(payload["date"]), Decimal(payload["principal"]),
              payload={**payload, **origin})
    else:
        # The disbursement, for the books; the engine starts from the note's terms, not from this row.
        entry("boarding", candidate.terms.start, candidate.terms.principal, payload=origin)
    for (day, amount, reference), allocation in zip(candidate.history, candidate.allocations):
        entry("payment", day, amount, reference=reference, reason_code="boarding_history",
              payload={"source": "boarding history", "los_reference": candidate.los_reference}, **allocation)
    rows.sort(key=lambda row: (row["effective_date"], row["seq"]))
    return rows


def _record_exceptions(session: Session, ctx: ServiceContext, exceptions: list[BoardingException], file_name: str) -> int:
    """Keep each exception as an audit event, once: boarding the file again records nothing new.

    Returns how many were new.
    """
    if not exceptions:
        return 0
    references = sorted({e.los_reference for e in exceptions})
    known = set()
    for details in session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "boarding.exception", AuditEvent.entity_id.in_(references))
    ):
        known.add(tuple(details.get(k) for k in ("los_reference", "field", "stated", "derived")))
    recorded = 0
    for exc in exceptions:
        if (exc.los_reference, exc.field, exc.stated, exc.derived) in known:
            continue
        audit.record(session, ctx.actor, "boarding.exception", entity="boarding", entity_id=exc.los_reference,
                     details={**exc.as_dict(), "file": file_name})
        recorded += 1
    return recorded


def board_file(
    ctx: ServiceContext,
    path: str | Path,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> BoardingResult:
    """Board every loan in a file, all or nothing.

    Raises :class:`FileRejected` listing every problem (nothing written), or
    :class:`BoardingCancelled` when ``cancel`` is set (checked between loans;
    the whole file rolls back).  ``progress(done, total, label)`` is called
    after each loan is checked and again after each is boarded.
    """
    permissions.require(ctx.actor, permissions.BOARD)
    if dry_run:
        plan = check_file(ctx, path)
        if plan.problems:
            raise FileRejected(list(plan.problems))
        assert plan.business_date is not None
        return BoardingResult(plan.file, plan.business_date, True, plan.loans, plan.skipped, plan.exceptions)
    report = progress or no_progress
    source = _read(path)
    try:
        with ctx.unit() as session:
            checker = _check(session, source, report, cancel)
            if checker.problems:
                raise FileRejected(checker.problems)
            plan = _plan(checker)
            boarded: list[BoardedLoan] = []
            to_board = [c for c in checker.candidates if not c.exceptions]
            for first in range(0, len(to_board), WRITE_BATCH):
                batch = to_board[first:first + WRITE_BATCH]
                boarded += _write_batch(session, ctx, batch, checker.today, source.name, len(boarded),
                                        len(to_board), report, cancel)
            new_exceptions = _record_exceptions(session, ctx, list(plan.exceptions), source.name)
            if boarded or new_exceptions:
                audit.record(session, ctx.actor, "boarding.file", entity="boarding_file", entity_id=source.digest[:16],
                             details={"file": source.name, "sha256": source.digest,
                                      "boarded": [b.loan_number for b in boarded], "skipped": list(plan.skipped),
                                      "exceptions": len(plan.exceptions)})
            return BoardingResult(source.name, checker.today, False, tuple(boarded), plan.skipped, plan.exceptions)
    except StaleDataError:
        raise Conflict("A loan in this file") from None
    except IntegrityError as exc:
        # Another desk boarded a loan from the same file, or took a loan number, at the same moment.
        if "unique" in str(exc.orig).lower() or "duplicate" in str(exc.orig).lower():
            raise Conflict("A loan in this file") from None
        raise
    except OperationalError as exc:
        text = str(exc.orig).lower()
        # A busy SQLite database is DatabaseBusy (services.context.unit_of_work), not a conflict: nobody
        # changed the record (issue 12).
        if "deadlock" in text or "could not serialize" in text:
            raise Conflict("A loan in this file") from None
        raise


def list_boarding_exceptions(ctx: ServiceContext, *, open_only: bool = True) -> list[BoardingException]:
    """Recorded boarding exceptions; ``open_only`` leaves out loans since boarded (a corrected file)."""
    permissions.require(ctx.actor, permissions.VIEW)
    with ctx.unit(write=False) as session:
        rows = list(session.scalars(
            select(AuditEvent).where(AuditEvent.action == "boarding.exception").order_by(AuditEvent.id)))
        boarded = _existing(session, Loan.los_reference, {row.entity_id for row in rows if row.entity_id})
        out = []
        for row in rows:
            d = row.details
            if open_only and d.get("los_reference") in boarded:
                continue
            out.append(BoardingException(d["los_reference"], d.get("row"), d["field"], d.get("stated"),
                                         d.get("derived"), d.get("difference")))
        return out
