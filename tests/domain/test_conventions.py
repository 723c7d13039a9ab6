"""Issue 9's servicing conventions: 30/360 installment periods, business days, actual/actual per diem.

Every figure is worked out in the comments.
"""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import holidays
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.domain.business_days import bank_holidays, is_business_day, late_fee_day, next_business_day
from app.domain.daycount import days_360, days_into_period
from app.domain.engine import Event, replay, snapshot
from app.domain.periods import days_360_in_periods
from app.domain.schedule import build_schedule
from app.domain.terms import due_date, terms_from_dict, terms_from_stored, terms_to_dict

CENT = D("0.01")


def terms(**overrides):
    data = {"principal": "10000", "rate": "12", "term": 12, "start": "2026-01-01", "first_due": "2026-02-01"}
    data.update(overrides)
    return terms_from_dict(data)


def pay(event_id, when, amount):
    return Event(event_id, "payment", when, D(amount))


def run(loan, events, as_of):
    state, entries = replay(loan, events, as_of)
    return state, snapshot(state, loan), {entry.id: entry for entry in entries}


# ------------------------------------------------------------ 30/360 installment periods

# The loan due on the 31st: 10,000.00 at 12 %, 4 monthly, start 2025-12-31, first due 2026-01-31.
# Level payment 10,000 x 0.01 / (1 - 1.01^-4) = 2,562.806 -> 2,562.81.
#   1  Dec 31 -> Jan 31, a regular first period (start is one month before the first due date):
#      10,000.00 x 12% / 12 = 100.00; principal 2,462.81; balance 7,537.19.
#   2  Jan 31 -> Feb 28: 7,537.19 x 12% / 12 = 75.3719 -> 75.37 (calendar 30/360 counts 28 days:
#      7,537.19 x 12% x 28/360 = 70.347 -> 70.35); principal 2,487.44; balance 5,049.75.
#   3  Feb 28 -> Mar 31: 5,049.75 x 12% / 12 = 50.4975 -> 50.50 (calendar counts 33 days on its
#      own balance 5,044.73: 5,044.73 x 12% x 33/360 = 55.492 -> 55.49); principal 2,512.31; balance 2,537.44.
#   4  Mar 31 -> Apr 30: 2,537.44 x 1% = 25.3744 -> 25.37; the last payment 2,537.44 + 25.37 = 2,562.81.
MONTH_END = {"principal": "10000", "rate": "12", "term": 4, "start": "2025-12-31", "first_due": "2026-01-31"}
MONTH_END_PAYMENTS = [
    pay("p1", date(2026, 1, 31), "2562.81"),
    pay("p2", date(2026, 2, 28), "2562.81"),
    pay("p3", date(2026, 3, 31), "2562.81"),
    pay("p4", date(2026, 4, 30), "2562.81"),
]


def test_a_loan_due_on_the_31st_bills_each_regular_period_as_a_twelfth_of_a_year():
    loan = terms_from_dict(MONTH_END)
    assert loan.thirty360 == "period"  # the default for new loans
    rows = build_schedule(loan).rows
    assert [row.interest for row in rows] == [D("100.00"), D("75.37"), D("50.50"), D("25.37")]
    assert [row.balance for row in rows] == [D("7537.19"), D("5049.75"), D("2537.44"), D("0.00")]
    assert rows[-1].payment == D("2562.81")
    # The engine bills the same: each on-time payment meets exactly the schedule's interest.
    _, snap, entries = run(loan, MONTH_END_PAYMENTS, date(2026, 5, 5))
    assert [entries[f"p{n}"].interest for n in range(1, 5)] == [D("100.00"), D("75.37"), D("50.50"), D("25.37")]
    assert snap.status == "paid_off" and snap.refund_due == 0


def test_calendar_counting_is_kept_for_loans_boarded_before_the_rule():
    loan = terms_from_dict({**MONTH_END, "thirty360": "calendar"})
    rows = build_schedule(loan).rows
    # 28 days in February and 33 in March, as Keel counted before issue 9; the last payment
    # absorbs the difference: 2,537.41 + 25.37 = 2,562.78.
    assert [row.interest for row in rows] == [D("100.00"), D("70.35"), D("55.49"), D("25.37")]
    assert rows[-1].payment == D("2562.78")
    _, _, entries = run(loan, MONTH_END_PAYMENTS[:3], date(2026, 3, 31))
    assert (entries["p2"].interest, entries["p3"].interest) == (D("70.35"), D("55.49"))


def test_the_flag_round_trips_through_the_terms_readers_and_writer():
    for value in ("period", "calendar"):
        loan = terms_from_dict({**MONTH_END, "thirty360": value})
        stored = terms_to_dict(loan)
        assert stored["thirty360"] == value
        assert terms_from_stored(stored) == loan and terms_from_dict(stored) == loan
    assert terms_to_dict(terms_from_dict(MONTH_END))["thirty360"] == "period"
    # A stored document without the key is a new-style document (migration 0004 marks old ones).
    stored = terms_to_dict(terms_from_dict(MONTH_END))
    del stored["thirty360"]
    assert terms_from_stored(stored).thirty360 == "period"


def test_a_bad_flag_names_the_field():
    from app.domain.errors import InputError

    with pytest.raises(InputError) as caught:
        terms_from_dict({**MONTH_END, "thirty360": "actual"})
    assert caught.value.field == "terms.thirty360"
    stored = {**terms_to_dict(terms_from_dict(MONTH_END)), "thirty360": "actual"}
    with pytest.raises(InputError):
        terms_from_stored(stored)


def test_interest_inside_a_regular_period_counts_from_its_start_capped_at_30():
    loan = terms_from_dict(MONTH_END)
    paid = MONTH_END_PAYMENTS[:1]  # balance 7,537.19 from Jan 31
    # Feb 27: Jan 31 -> Feb 27 is 27 days (D1 31 -> 30: 30 + 27 - 30):
    #   7,537.19 x 12% x 27/360 = 67.8347 -> 67.83.
    _, snap, _ = run(loan, paid, date(2026, 2, 27))
    assert snap.accrued_interest == D("67.83")
    assert snap.payoff == D("7537.19") + D("67.83")
    # Feb 28, the due date, counts as the period's last day: 30 days, exactly the installment's 75.37.
    _, snap, _ = run(loan, paid, date(2026, 2, 28))
    assert snap.accrued_interest == D("75.37")
    assert snap.payoff == D("7612.56")
    _, snap, entries = run(loan, paid + [pay("off", date(2026, 2, 28), "7612.56")], date(2026, 2, 28))
    assert snap.status == "paid_off"
    assert (entries["off"].interest, entries["off"].principal, entries["off"].refund) == (
        D("75.37"),
        D("7537.19"),
        D("0.00"),
    )
    # March: Feb 28 -> Mar 15 is 17 days (30 + 15 - 28) on 5,049.75: x 12% x 17/360 = 28.6152 -> 28.62;
    # from Mar 28 on the count is capped at 30 (Feb 28 -> Mar 28 is 30): 50.50, as on the due date.
    paid = MONTH_END_PAYMENTS[:2]
    _, snap, _ = run(loan, paid, date(2026, 3, 15))
    assert snap.accrued_interest == D("28.62")
    for day in (28, 29, 30, 31):
        _, snap, _ = run(loan, paid, date(2026, 3, day))
        assert snap.accrued_interest == D("50.50"), day


def test_a_curtailment_mid_period_splits_the_period_exactly():
    # Scheduled interest: a rate change on Feb 10 folds the interest to Feb 10 in and counts the rest
    # of the period from it.  7,537.19 at 12 % Jan 31 -> Feb 10 is 10 days (30 + 10 - 30): 25.1240;
    # at 6 % Feb 10 -> Feb 28 is the remaining 30 - 10 = 20 days: 7,537.19 x 6% x 20/360 = 25.1240;
    # together 50.2479... -> 50.25 billed on Feb 28.
    loan = terms_from_dict(MONTH_END)
    change = Event("rate", "terms_change", date(2026, 2, 10), rate=D("6"))
    state, _, _ = run(loan, MONTH_END_PAYMENTS[:1] + [change], date(2026, 2, 28))
    assert state.installments[-1].due == date(2026, 2, 28)
    assert state.installments[-1].interest == D("50.25")


def test_semi_monthly_periods_are_15_days():
    # 12,000.00 at 12 %, semi-monthly, 4 installments, start Jan 30, first due Feb 15 (then Feb 28,
    # Mar 15, Mar 30).  Each period is 1/24 of a year: x 0.5 %.
    #   1  Jan 30 -> Feb 15 (regular: one half-month): 12,000 x 0.5% = 60.00; balance 9,022.41
    #      (level payment 12,000 x 0.005 / (1 - 1.005^-4) = 3,037.594 -> 3,037.59).
    #   2  Feb 15 -> Feb 28: 9,022.41 x 0.5% = 45.112 -> 45.11 (calendar: 13 days,
    #      9,022.41 x 12% x 13/360 = 39.097 -> 39.10).
    #   3  Feb 28 -> Mar 15: 6,029.93 x 0.5% = 30.1497 -> 30.15 (calendar: 17 days).
    loan = terms(principal="12000", term=4, start="2026-01-30", first_due="2026-02-15", frequency="semi-monthly")
    rows = build_schedule(loan).rows
    assert [row.due for row in rows] == [date(2026, 2, 15), date(2026, 2, 28), date(2026, 3, 15), date(2026, 3, 30)]
    assert [row.interest for row in rows] == [D("60.00"), D("45.11"), D("30.15"), D("15.11")]
    calendar = build_schedule(
        terms(principal="12000", term=4, start="2026-01-30", first_due="2026-02-15", frequency="semi-monthly",
              thirty360="calendar")
    ).rows
    assert [row.interest for row in calendar][:3] == [D("60.00"), D("39.10"), D("34.14")]


def test_an_odd_first_period_keeps_the_days_between_its_dates():
    # Start Jan 10, first due Mar 31: not one month, so it counts Jan 10 -> Mar 31 = 60 + 31 - 10 = 81
    # days: 10,000 x 12% x 81/360 = 270.00.  Then Mar 31 -> Apr 30 is a regular 30 days.
    loan = terms(term=3, start="2026-01-10", first_due="2026-03-31")
    rows = build_schedule(loan).rows
    assert rows[0].interest == D("270.00")
    assert rows[1].interest == D("68.70")  # 6,869.78 x 1% = 68.6978
    assert rows == build_schedule(terms(term=3, start="2026-01-10", first_due="2026-03-31", thirty360="calendar")).rows


@pytest.mark.parametrize("frequency", ["biweekly", "weekly"])
def test_biweekly_and_weekly_schedules_are_unchanged(frequency):
    new = terms(term=26, start="2026-01-16", first_due="2026-01-31", frequency=frequency)
    old = terms(term=26, start="2026-01-16", first_due="2026-01-31", frequency=frequency, thirty360="calendar")
    assert build_schedule(new).rows == build_schedule(old).rows


def test_a_loan_due_on_the_first_is_unchanged():
    # The base loan of the hand-worked engine tests: every period is 30 days either way.
    assert build_schedule(terms()).rows == build_schedule(terms(thirty360="calendar")).rows


@pytest.mark.parametrize(
    ("start", "end", "on", "days"),
    [
        (date(2026, 1, 31), date(2026, 2, 28), date(2026, 2, 28), 30),  # the due date is the last day
        (date(2026, 1, 31), date(2026, 2, 28), date(2026, 2, 27), 27),
        (date(2026, 2, 28), date(2026, 3, 31), date(2026, 3, 27), 29),  # 30 + 27 - 28
        (date(2026, 2, 28), date(2026, 3, 31), date(2026, 3, 30), 30),  # 32, capped
        (date(2026, 1, 15), date(2026, 2, 15), date(2026, 1, 31), 16),
        (date(2026, 1, 15), date(2026, 2, 15), date(2026, 1, 15), 0),
        (date(2026, 2, 15), date(2026, 2, 28), date(2026, 2, 27), 12),  # semi-monthly, 15 days
        (date(2026, 2, 15), date(2026, 2, 28), date(2026, 2, 28), 15),
    ],
)
def test_days_into_period(start, end, on, days):
    full = 15 if (end - start).days < 20 else 30
    assert days_into_period(start, end, on, full) == days


def test_days_over_several_periods_add_up():
    # A simple-interest loan due on the 31st that pays nothing: Jan 31 -> Apr 15 crosses
    # Feb 28 and Mar 31: 30 + 30 + 15 = 75 days (calendar 30/360: 75 as well, but split
    # differently: 28 + 33 + 14... only the total is the plain count).
    grid = dict(frequency="monthly", loan_start=date(2025, 12, 31), anchor_n=1, anchor_due=date(2026, 1, 31), last_n=12)
    assert days_360_in_periods(date(2026, 1, 31), date(2026, 4, 15), hint=1, **grid) == 75
    assert days_360_in_periods(date(2026, 1, 31), date(2026, 2, 28), hint=9, **grid) == 30
    # After the last installment there are no periods: plain 30/360 days.
    short = {**grid, "last_n": 2}
    assert days_360_in_periods(date(2026, 2, 28), date(2026, 3, 31), hint=3, **short) == 33


# ------------------------------------------------------------ properties

_DAY = st.integers(min_value=1, max_value=31)
_MONTH = st.integers(min_value=1, max_value=12)
_YEAR = st.integers(min_value=2024, max_value=2030)
_PRINCIPAL = st.integers(min_value=100_00, max_value=5_000_000_00).map(lambda cents: D(cents) / 100)
_RATE = st.integers(min_value=1, max_value=3000).map(lambda bp: D(bp) / 100)


def _clamped(year: int, month: int, day: int) -> date:
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


def _regular_loan(principal, rate, year, month, day, term, frequency="monthly"):
    first_due = _clamped(year, month, day)
    start = due_date(frequency, first_due, -1)  # exactly one period before: a regular first period
    return terms(principal=str(principal), rate=str(rate), term=term, start=start.isoformat(),
                 first_due=first_due.isoformat(), frequency=frequency)


@settings(max_examples=150, deadline=None)
@given(principal=_PRINCIPAL, rate=_RATE, year=_YEAR, month=_MONTH, day=_DAY,
       frequency=st.sampled_from(["monthly", "semi-monthly"]))
def test_a_regular_period_bills_balance_times_rate_over_12_whatever_the_due_day(
    principal, rate, year, month, day, frequency
):
    loan = _regular_loan(principal, rate, year, month, day, 6, frequency)
    per_year = 12 if frequency == "monthly" else 24
    rows = build_schedule(loan).rows
    balance = loan.principal
    for row in rows:
        expected = (balance * rate / 100 / per_year).quantize(CENT, rounding=ROUND_HALF_UP)
        assert row.interest == expected, row
        balance = row.balance
    # The engine bills the same installments when each is paid on its due date.
    events = [pay(f"p{row.n}", row.due, str(row.payment)) for row in rows]
    _, _, entries = run(loan, events, rows[-1].due)
    assert [entries[f"p{row.n}"].interest for row in rows] == [row.interest for row in rows]


@settings(max_examples=150, deadline=None)
@given(principal=_PRINCIPAL, rate=_RATE, year=_YEAR, month=_MONTH, day=_DAY,
       k=st.integers(min_value=1, max_value=5), simple=st.booleans())
@example(principal=D("100"), rate=D("0.03"), year=2024, month=1, day=1, k=3, simple=True)  # a carried sub-cent
@example(principal=D("10000"), rate=D("12"), year=2026, month=1, day=31, k=2, simple=False)  # Feb 28: 75.37
def test_a_payoff_on_a_due_date_charges_exactly_the_installments_interest(principal, rate, year, month, day, k, simple):
    loan = _regular_loan(principal, rate, year, month, day, 6)
    if simple:
        loan = terms_from_dict({**terms_to_dict(loan), "interest": "simple"})
    rows = build_schedule(loan).rows
    paid = [pay(f"p{row.n}", row.due, str(row.payment)) for row in rows[: k - 1]]
    state, _, _ = run(loan, paid, rows[k - 1].due - timedelta(days=1))
    balance = state.principal
    # The period's interest, B x rate / 12, plus (simple interest) the sub-cent remainder carried
    # from the last payment, rounded once.
    interest = (state.accrued + balance * rate / 100 / 12).quantize(CENT, rounding=ROUND_HALF_UP)
    due = rows[k - 1].due
    # Every day of the period costs no more than the whole period; the due date costs exactly it.
    assert snapshot(state, loan, due).payoff == balance + interest
    for day_in in (due - timedelta(days=3), due - timedelta(days=1)):
        if day_in > state.accrual_from:
            assert snapshot(state, loan, day_in).accrued_interest <= interest
    _, snap, entries = run(loan, paid + [pay("off", due, str(balance + interest))], due)
    assert snap.status == "paid_off"
    assert entries["off"].interest == interest
    assert entries["off"].refund == 0


# ------------------------------------------------------------ business days


@pytest.mark.parametrize("year", range(1999, 2076))
def test_the_banking_calendar_matches_the_holidays_packages_federal_reserve_calendar(year):
    expected = set(holidays.financial_holidays("FederalReserve", years=year))
    assert bank_holidays(year) == expected


def test_the_banking_calendar_is_the_federal_reserves():
    # Independence Day 2026 is a Saturday: the Reserve Banks open on Friday July 3 (the general US
    # calendar, which closes it, would be wrong here) and are closed Saturday July 4 anyway.
    assert date(2026, 7, 3) in holidays.country_holidays("US", years=2026)
    assert is_business_day(date(2026, 7, 3))
    assert not is_business_day(date(2026, 7, 4))
    # A Sunday holiday closes the Monday after: Juneteenth 2022 (Sunday) -> Monday June 20.
    assert not is_business_day(date(2022, 6, 20))
    assert not is_business_day(date(2026, 2, 16))  # Washington's Birthday
    assert not is_business_day(date(2026, 11, 11))  # Veterans Day: banks close, many businesses do not
    assert is_business_day(date(2026, 11, 27))  # the day after Thanksgiving is open
    assert date(2026, 12, 25) in bank_holidays(2026)
    assert next_business_day(date(2026, 2, 14)) == date(2026, 2, 17)  # Sat -> (Sun, holiday Mon) -> Tue
    assert next_business_day(date(2026, 2, 17)) == date(2026, 2, 17)
    assert late_fee_day(date(2026, 2, 1), 13) == date(2026, 2, 18)
    assert late_fee_day(date(2026, 2, 1), 10) == date(2026, 2, 12)  # Wed Feb 11 is open: unchanged


def test_a_grace_period_ending_on_a_weekend_and_holiday_runs_to_the_next_business_day():
    # Due Feb 1, grace 13 days: the last day on time is Saturday Feb 14; Sunday, then Monday Feb 16
    # (Washington's Birthday) are closed, so a payment on Tuesday Feb 17 is on time.
    loan = terms(late_fee={"grace_days": 13, "fixed": "25.00"})
    _, snap, entries = run(loan, [pay("tue", date(2026, 2, 17), "888.49")], date(2026, 3, 1))
    assert "late_fee:1" not in entries
    # Unpaid, the fee falls on Wednesday Feb 18, not Sunday Feb 15...
    _, snap, entries = run(loan, [], date(2026, 2, 17))
    assert "late_fee:1" not in entries
    # ...while the due date does not move: days past due count from Feb 1.
    assert snap.days_past_due == 16 and snap.next_due == date(2026, 2, 1)
    _, snap, entries = run(loan, [], date(2026, 2, 18))
    assert entries["late_fee:1"].amount == D("25.00") and entries["late_fee:1"].date == date(2026, 2, 18)
    # A payment on Feb 18 is late: the fee is assessed before the day's payments.
    _, snap, entries = run(loan, [pay("wed", date(2026, 2, 18), "888.49")], date(2026, 2, 18))
    assert entries["late_fee:1"].amount == D("25.00")


def test_a_due_date_on_a_sunday_without_grace_is_on_time_on_monday():
    # Due Sunday Mar 1, 2026, no grace: Monday Mar 2 is on time (fee Mar 3); still 1 day past due on Mar 2.
    loan = terms(start="2026-01-29", first_due="2026-03-01", late_fee={"grace_days": 0, "fixed": "10.00"})
    _, snap, entries = run(loan, [], date(2026, 3, 2))
    assert "late_fee:1" not in entries and snap.days_past_due == 1
    _, _, entries = run(loan, [], date(2026, 3, 3))
    assert entries["late_fee:1"].date == date(2026, 3, 3)


def test_july_3_2026_is_a_banking_day_so_the_grace_period_does_not_stretch():
    # Due Jul 1, grace 2: the last day on time is Friday Jul 3, when banks are open; a payment on
    # Monday Jul 6 is late and the fee is assessed Saturday Jul 4 (the general US calendar would
    # have closed Jul 3 and let it run to Jul 6).
    loan = terms(start="2026-06-01", first_due="2026-07-01", late_fee={"grace_days": 2, "fixed": "10.00"})
    _, _, entries = run(loan, [pay("fri", date(2026, 7, 3), "888.49")], date(2026, 7, 31))
    assert "late_fee:1" not in entries
    _, _, entries = run(loan, [pay("mon", date(2026, 7, 6), "888.49")], date(2026, 7, 31))
    assert entries["late_fee:1"].date == date(2026, 7, 4)


# ------------------------------------------------------------ actual/actual per diem


def test_actual_actual_per_diem_uses_each_days_own_year_across_a_year_end():
    # 36,600.00 at 10 % simple, actual/actual, start Dec 1, 2027, first due Feb 1, 2028.
    # The per diem of a payoff good on day D is day D's interest (paying on D + 1 adds it):
    #   Dec 31, 2027 (365-day year): 36,600 x 10% / 365 = 10.0274 -> 10.03
    #   Jan 1, 2028 (leap year):     36,600 x 10% / 366 = 10.00
    loan = terms(principal="36600", rate="10", term=12, start="2027-12-01", first_due="2028-02-01",
                 day_count="actual/actual", interest="simple")
    state, _, _ = run(loan, [], date(2027, 12, 31))
    dec31 = snapshot(state, loan)
    state, _, _ = run(loan, [], date(2028, 1, 1))
    jan1 = snapshot(state, loan)
    state, _, _ = run(loan, [], date(2028, 1, 2))
    jan2 = snapshot(state, loan)
    assert (dec31.per_diem, jan1.per_diem, jan2.per_diem) == (D("10.03"), D("10.00"), D("10.00"))
    # Dec 1 -> Dec 31 is 30 days: 36,600 x 10% x 30/365 = 300.8219 -> 300.82; to Jan 1, 31/365
    # = 310.8493 -> 310.85 (+10.03, Dec 31's per diem); to Jan 2, + 1/366 = 320.8493 -> 320.85 (+10.00).
    assert (dec31.payoff, jan1.payoff, jan2.payoff) == (D("36900.82"), D("36910.85"), D("36920.85"))
    assert jan1.payoff - dec31.payoff == dec31.per_diem
    assert jan2.payoff - jan1.payoff == jan1.per_diem


def test_days_360_is_unchanged():
    # The plain count the calendar flag and odd periods keep.
    assert days_360(date(2026, 1, 31), date(2026, 2, 28)) == 28
    assert days_360(date(2026, 2, 28), date(2026, 3, 31)) == 33
