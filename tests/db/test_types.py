"""Money, interest, rates, instants and JSON round-trip exactly on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Connection, Integer, MetaData, Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError

from app.db.types import ExactDecimal, Interest, JSONText, Money, UTCDateTime

SQLITE = sqlite.dialect()
PG = postgresql.dialect()  # type: ignore[no-untyped-call]

# A scratch table created inside the test's transaction (rolled back after), so
# the values really go through a BIGINT / VARCHAR / TIMESTAMP column.
_probe_metadata = MetaData()
probe_table = Table(
    "type_probe",
    _probe_metadata,
    Column("id", Integer, primary_key=True),
    Column("money", Money()),
    Column("interest", Interest()),
    Column("rate", ExactDecimal()),
    Column("at", UTCDateTime()),
    Column("doc", JSONText()),
)

DB_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def probe(connection: Connection) -> Iterator[Table]:
    _probe_metadata.create_all(connection)
    yield probe_table


def _round_trip(conn: Connection, column: str, value: object) -> Any:
    row_id = conn.execute(
        insert(probe_table).values({column: value}).returning(probe_table.c.id)
    ).scalar_one()
    return conn.execute(
        select(probe_table.c[column]).where(probe_table.c.id == row_id)
    ).scalar_one()


# ---------------------------------------------------------------------------
# Money: pure conversions
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (Decimal("12.30"), 1230),
        (Decimal("12.3"), 1230),
        (Decimal("12.300"), 1230),
        (Decimal("0"), 0),
        (Decimal("-0.01"), -1),
        (Decimal("1E+3"), 100000),
        (Decimal("99999999999.99"), 9999999999999),
        (7, 700),
        ("45.67", 4567),
    ],
)
def test_money_binds_cents(value: object, cents: int) -> None:
    assert Money().process_bind_param(value, SQLITE) == cents


@pytest.mark.parametrize(
    ("cents", "text"),
    [(1230, "12.30"), (0, "0.00"), (-1, "-0.01"), (5, "0.05"), (9999999999999, "99999999999.99")],
)
def test_money_result_has_exactly_two_places(cents: int, text: str) -> None:
    result = Money().process_result_value(cents, SQLITE)
    assert isinstance(result, Decimal)
    assert str(result) == text


def test_money_result_accepts_postgres_numeric_sum() -> None:
    # SUM(bigint) is NUMERIC on PostgreSQL and arrives as a Decimal.
    assert str(Money().process_result_value(Decimal("1230"), PG)) == "12.30"


@pytest.mark.parametrize("value", [12.3, 0.0, float("nan")])
def test_money_refuses_float(value: float) -> None:
    with pytest.raises(TypeError, match="float"):
        Money().process_bind_param(value, SQLITE)


def test_money_refuses_bool() -> None:
    with pytest.raises(TypeError):
        Money().process_bind_param(True, SQLITE)


@pytest.mark.parametrize("value", [Decimal("0.005"), Decimal("12.301"), "1.999"])
def test_money_refuses_sub_cent_digits(value: object) -> None:
    with pytest.raises(ValueError, match="decimal places"):
        Money().process_bind_param(value, SQLITE)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), "abc", Decimal("1E+30")])
def test_money_refuses_non_finite_garbage_and_overflow(value: object) -> None:
    with pytest.raises(ValueError):
        Money().process_bind_param(value, SQLITE)


def test_money_ignores_thread_decimal_context() -> None:
    import decimal

    with decimal.localcontext() as ctx:
        ctx.prec = 3  # a worker thread with a strange context must not matter
        assert Money().process_bind_param(Decimal("99999999999.99"), SQLITE) == 9999999999999
        assert str(Money().process_result_value(9999999999999, SQLITE)) == "99999999999.99"


def test_interest_keeps_ten_places() -> None:
    interest = Interest()
    assert interest.process_bind_param(Decimal("0.1234567891"), SQLITE) == 1234567891
    assert str(interest.process_result_value(1234567891, SQLITE)) == "0.1234567891"
    assert str(interest.process_result_value(0, SQLITE)) == "0E-10"
    with pytest.raises(ValueError):
        interest.process_bind_param(Decimal("0.12345678901"), SQLITE)
    with pytest.raises(TypeError):
        interest.process_bind_param(0.1, SQLITE)


def test_exact_decimal_text_and_refusals() -> None:
    rate = ExactDecimal()
    assert rate.process_bind_param(Decimal("12.375"), SQLITE) == "12.375"
    assert rate.process_bind_param("12.50", SQLITE) == "12.50"
    assert rate.process_result_value("12.375", SQLITE) == Decimal("12.375")
    with pytest.raises(TypeError):
        rate.process_bind_param(12.375, SQLITE)


def test_utc_datetime_refuses_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(dt.datetime(2026, 1, 1, 12, 0), SQLITE)


def test_json_text_refuses_float_and_writes_strings() -> None:
    doc = JSONText()
    with pytest.raises(TypeError, match="float"):
        doc.process_bind_param({"rate": 12.375}, SQLITE)
    text = doc.process_bind_param(
        {"rate": Decimal("12.375"), "first_due": dt.date(2027, 1, 1), "b": ["x", 1, True, None]},
        SQLITE,
    )
    assert text == '{"b":["x",1,true,null],"first_due":"2027-01-01","rate":"12.375"}'
    assert doc.process_result_value(text, SQLITE)["rate"] == "12.375"
    assert doc.process_result_value('{"x": 1.10}', SQLITE) == {"x": Decimal("1.10")}


# ---------------------------------------------------------------------------
# Through the database
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    ["0.00", "0.01", "-0.01", "12.30", "1234.56", "99999999999.99", "-99999999999.99"],
)
def test_money_round_trip(probe: Table, connection: Connection, value: str) -> None:
    result = _round_trip(connection, "money", Decimal(value))
    assert isinstance(result, Decimal)
    assert str(result) == value


@DB_SETTINGS
@given(cents=st.integers(min_value=-(10**15), max_value=10**15))
def test_money_round_trip_any_cents(probe: Table, connection: Connection, cents: int) -> None:
    value = Decimal(cents).scaleb(-2)
    result = _round_trip(connection, "money", value)
    assert result == value
    assert result.as_tuple().exponent == -2


@DB_SETTINGS
@given(units=st.integers(min_value=-(10**18), max_value=10**18))
def test_interest_round_trip(probe: Table, connection: Connection, units: int) -> None:
    value = Decimal(units).scaleb(-10)
    result = _round_trip(connection, "interest", value)
    assert result == value
    assert result.as_tuple().exponent == -10


@DB_SETTINGS
@given(value=st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: len(str(d)) <= 40))
def test_exact_decimal_round_trip(probe: Table, connection: Connection, value: Decimal) -> None:
    result = _round_trip(connection, "rate", value)
    assert str(result) == str(value)


@DB_SETTINGS
@given(
    moment=st.datetimes(
        min_value=dt.datetime(1900, 1, 1),
        max_value=dt.datetime(2200, 1, 1),
        timezones=st.builds(
            dt.timezone,
            st.integers(min_value=-14 * 60, max_value=14 * 60).map(
                lambda m: dt.timedelta(minutes=m)
            ),
        ),
    )
)
def test_utc_datetime_round_trip(probe: Table, connection: Connection, moment: dt.datetime) -> None:
    result = _round_trip(connection, "at", moment)
    assert isinstance(result, dt.datetime)
    assert result == moment
    assert result.utcoffset() == dt.timedelta(0)


def test_json_round_trip(probe: Table, connection: Connection) -> None:
    doc = {"waterfall": ["fees", "interest", "principal"], "late_fee": {"fixed": "25.00"}, "n": 3}
    assert _round_trip(connection, "doc", doc) == doc


def test_money_float_refused_by_database_layer(probe: Table, connection: Connection) -> None:
    with pytest.raises(StatementError) as caught:
        connection.execute(insert(probe_table).values(money=12.3))
    assert isinstance(caught.value.orig, TypeError)


def test_money_sub_cent_refused_by_database_layer(probe: Table, connection: Connection) -> None:
    with pytest.raises(StatementError) as caught:
        connection.execute(insert(probe_table).values(money=Decimal("0.001")))
    assert isinstance(caught.value.orig, ValueError)


def test_money_sum_is_exact(probe: Table, connection: Connection) -> None:
    # 0.10 + 0.20 is the classic float failure; ten thousand pennies the slow one.
    values = [Decimal("0.10"), Decimal("0.20")] + [Decimal("0.01")] * 10_000
    connection.execute(insert(probe_table), [{"money": v} for v in values])
    total = connection.execute(select(func.sum(probe_table.c.money))).scalar_one()
    assert isinstance(total, Decimal)
    assert str(total) == "100.30"


def test_money_sum_of_large_values(probe: Table, connection: Connection) -> None:
    values = [Decimal("99999999999.99")] * 50 + [Decimal("-0.01")]
    connection.execute(insert(probe_table), [{"money": v} for v in values])
    total = connection.execute(select(func.sum(probe_table.c.money))).scalar_one()
    assert str(total) == "4999999999999.49"


@DB_SETTINGS
@given(cents=st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=1, max_size=40))
def test_money_sum_matches_decimal_sum(
    probe: Table, connection: Connection, cents: list[int]
) -> None:
    connection.execute(probe_table.delete())
    values = [Decimal(c).scaleb(-2) for c in cents]
    connection.execute(insert(probe_table), [{"money": v} for v in values])
    total = connection.execute(select(func.sum(probe_table.c.money))).scalar_one()
    assert total == sum(values, Decimal("0.00"))
    assert total.as_tuple().exponent == -2


def test_interest_sum_is_exact(probe: Table, connection: Connection) -> None:
    values = [Decimal("0.0000000001")] * 1000 + [Decimal("3.2876712329")]
    connection.execute(insert(probe_table), [{"interest": v} for v in values])
    total = connection.execute(select(func.sum(probe_table.c.interest))).scalar_one()
    assert str(total) == "3.2876713329"  # 1000 x 1e-10 = 0.0000001
