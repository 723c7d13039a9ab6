"""The dashboard figures (app/services/dashboard.py) on a small hand-built portfolio.

Three loans of 10,000.00 at 12 % for 12 months (888.49 a month, first due
2026-02-01; business date 2026-06-01):

* A paid installments 1-5 on their due dates: current.
* B paid installments 1-3: installment 4 (May 1) unpaid, 31 days past due (30-59).
* C paid nothing: 120 days past due (120+).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from app.services import accounts, dashboard, servicing
from app.services.errors import InvalidInput

from .loans import make_loan

DUES = [date(2026, m, 1) for m in (2, 3, 4, 5, 6)]


@pytest.fixture
def portfolio(contexts):
    manager = contexts["manager"]
    a, b, c = make_loan(manager), make_loan(manager), make_loan(manager)
    for day in DUES:
        servicing.post_payment(manager, a, "888.49", day, reference=f"a-{day}", confirm_backdated=True)
    for day in DUES[:3]:
        servicing.post_payment(manager, b, "888.49", day, reference=f"b-{day}", confirm_backdated=True)
    return a, b, c


def test_kpis_match_the_accounts(contexts, portfolio):
    clerk = contexts["clerk"]
    board = dashboard.dashboard(clerk)
    snaps = [accounts.account(clerk, n).snapshot for n in portfolio]
    k = board.kpis
    assert k.as_of == k.business_date == date(2026, 6, 1)
    assert k.outstanding_principal == sum((s.principal for s in snaps), D("0"))
    assert k.open_loans == 3
    late = [s for s in snaps if s.days_past_due >= 30]
    assert k.delinquent_30_loans == 2
    assert k.delinquent_30_principal == sum((s.principal for s in late), D("0"))
    assert k.delinquency_rate_30 == (k.delinquent_30_principal * 100 / k.outstanding_principal).quantize(D("0.01"))
    assert k.collected_this_month == D("888.49")  # A's June 1 payment
    assert k.collected_last_month == D("888.49")  # A's May 1 payment
    assert k.promise_kept_rate is None


def test_series_add_up(contexts, portfolio):
    board = dashboard.dashboard(contexts["clerk"])
    payments = {f.month: f for f in board.payments_by_month}
    assert len(board.payments_by_month) == 12
    assert payments[date(2026, 2, 1)].amount == D("888.49") * 2 and payments[date(2026, 2, 1)].count == 2
    assert payments[date(2026, 5, 1)].amount == D("888.49")
    assert payments[date(2026, 1, 1)].amount == D("0.00")
    principal = {f.month: f.amount for f in board.principal_by_month}
    assert principal[date(2026, 6, 1)] == board.kpis.outstanding_principal
    assert principal[date(2025, 12, 1)] == D("0.00")  # before the loans were funded
    assert principal[date(2026, 1, 1)] == D("30000.00")  # funded Jan 1, nothing paid in January
    # February: A and B paid installment 1 (788.49 principal each).
    assert principal[date(2026, 2, 1)] == D("30000.00") - 2 * D("788.49")
    buckets = {b.bucket: b for b in board.delinquency_by_bucket}
    assert [b.bucket for b in board.delinquency_by_bucket] == ["current", "1-29", "30-59", "60-89", "90-119", "120+"]
    assert buckets["current"].loans == 1 and buckets["30-59"].loans == 1 and buckets["120+"].loans == 1
    assert sum((b.principal for b in board.delinquency_by_bucket), D("0")) == board.kpis.outstanding_principal


def test_as_of_a_past_date_rolls_principal_back(contexts, portfolio):
    board = dashboard.dashboard(contexts["clerk"], date(2026, 3, 15))
    assert board.kpis.outstanding_principal == D("30000.00") - 2 * D("788.49") - 2 * D("796.37")
    assert board.kpis.collected_this_month == 2 * D("888.49")
    assert board.principal_by_month[-1].month == date(2026, 3, 1)
    with pytest.raises(InvalidInput):
        dashboard.dashboard(contexts["clerk"], date(2026, 6, 2))


def test_reversal_nets_out_of_collected(contexts, portfolio):
    a, _, _ = portfolio
    manager = contexts["manager"]
    posted = servicing.post_payment(manager, a, "100.00", reference="extra")
    servicing.reverse_payment(manager, posted.entry_id, "nsf")
    board = dashboard.dashboard(contexts["clerk"])
    assert board.kpis.collected_this_month == D("888.49")
    june = board.payments_by_month[-1]
    assert june.amount == D("888.49") and june.count == 2


def test_the_loans_behind_a_bar(contexts, portfolio):
    a, b, c = portfolio
    clerk = contexts["clerk"]
    assert [line.loan_number for line in dashboard.loans_in_bucket(clerk, "30-59")] == [b]
    behind = dashboard.loans_paid_in_month(clerk, date(2026, 2, 1))
    assert [line.loan_number for line in behind] == sorted([a, b])
    assert all(line.amount == D("888.49") for line in behind)
    assert sum((line.amount for line in behind), D("0")) == dashboard.dashboard(clerk).payments_by_month[-5].amount
    with pytest.raises(InvalidInput):
        dashboard.loans_in_bucket(clerk, "31-60")


def test_month_to_date_is_compared_like_for_like(contexts, portfolio):
    """Issue 11: "Collected this month" against the same days of last month, not all of it."""
    _, _, c = portfolio
    manager = contexts["manager"]
    # A payment on Feb 20, after the 15th: in all of February, not in February 1-15.
    servicing.post_payment(manager, c, "100.00", date(2026, 2, 20), reference="c-feb20", confirm_backdated=True)
    k = dashboard.dashboard(contexts["clerk"], date(2026, 3, 15)).kpis
    assert k.collected_this_month == 2 * D("888.49")  # A and B on Mar 1
    assert k.last_month_to == date(2026, 2, 15)
    assert k.collected_last_month_to_date == 2 * D("888.49")  # A and B on Feb 1; not the Feb 20 payment
    assert k.collected_last_month == 2 * D("888.49") + D("100.00")  # 1,876.98
    # March 31 compares with February 1-28 (February has no 31st).
    assert dashboard.dashboard(contexts["clerk"], date(2026, 3, 31)).kpis.last_month_to == date(2026, 2, 28)
