"""The amount field, formatting, and the background worker (no database)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

from app.ui import formatting
from app.ui.widgets.money_edit import MoneyEdit
from app.ui.workers import PROGRESS_DELAY_MS, Change, TaskRunner
from tests.ui.helpers import settle

pytestmark = pytest.mark.qt


@pytest.mark.parametrize(
    ("typed", "shown", "value"),
    [
        ("1234.5", "1234.5", Decimal("1234.50")),
        ("1,234.56", "1,234.56", Decimal("1234.56")),
        ("$12", "$12", Decimal("12.00")),
        ("12.345", "12.34", Decimal("12.34")),  # the third decimal is refused as it is typed
        ("12a.3b", "12.3", Decimal("12.30")),  # letters never get in
        ("-5", "5", Decimal("5.00")),  # no minus sign in a payment amount
        ("", "", None),
        (".", ".", None),
    ],
)
def test_money_edit_filters_keys_and_returns_a_decimal(qtbot, typed, shown, value) -> None:
    edit = MoneyEdit()
    qtbot.addWidget(edit)
    qtbot.keyClicks(edit, typed)
    assert edit.text() == shown
    assert edit.value() == value
    assert value is None or isinstance(edit.value(), Decimal)
    assert edit.alignment() & Qt.AlignmentFlag.AlignRight


def test_money_edit_negative_when_allowed_and_reformats_on_leaving(qtbot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    edit = MoneyEdit(parent, allow_negative=True)
    parent.show()
    edit.setFocus()
    qtbot.keyClicks(edit, "-1234567.8")
    assert edit.value() == Decimal("-1234567.80")
    QApplication.sendEvent(edit, QFocusEvent(QEvent.Type.FocusOut, Qt.FocusReason.TabFocusReason))
    assert edit.text() == "-1,234,567.80"
    seen: list[object] = []
    edit.value_changed.connect(seen.append)
    edit.set_value(Decimal("0.10"))
    assert edit.text() == "0.10" and seen[-1] == Decimal("0.10")


def test_formatting() -> None:
    assert formatting.money(Decimal("1234.5")) == "$1,234.50"
    assert formatting.money(Decimal("-3")) == "-$3.00"
    assert formatting.money(None) == "\u2014"
    assert formatting.days_past_due_text(0, "current") == "Current"
    assert formatting.days_past_due_text(1, "1-29") == "1 day past due (1-29)"
    assert formatting.days_past_due_text(45, "30-59") == "45 days past due (30-59)"
    assert formatting.words("promise_to_pay") == "Promise to pay"


def test_worker_runs_off_the_gui_thread_and_reports_back(qtbot) -> None:
    import threading

    runner = TaskRunner()
    gui = threading.get_ident()
    results: list[object] = []
    changes: list[Change] = []
    runner.changed.connect(changes.append)
    runner.read(lambda: threading.get_ident(), results.append)
    runner.write(lambda: "written", results.append, change=lambda r: Change("payment_posted", ("KL-1",)))
    settle(qtbot, runner)
    assert results[0] != gui and "written" in results
    assert changes == [Change("payment_posted", ("KL-1",))]
    assert changes[0].touches("KL-1") and not changes[0].touches("KL-2")
    assert Change("day_closed").touches("KL-9")


def test_worker_failures_go_to_the_failure_callback(qtbot) -> None:
    runner = TaskRunner()
    failures: list[BaseException] = []

    def boom() -> None:
        raise ValueError("no")

    runner.read(boom, lambda _r: pytest.fail("must not succeed"), failures.append)
    settle(qtbot, runner)
    assert isinstance(failures[0], ValueError)
    unhandled: list[BaseException] = []
    runner.default_failure = lambda owner, exc: unhandled.append(exc)
    runner.write(boom)
    settle(qtbot, runner)
    assert isinstance(unhandled[0], ValueError)


def test_a_bug_handled_by_a_views_callback_is_still_logged_but_a_refusal_is_not(qtbot, caplog) -> None:
    from app.services.errors import InvalidInput

    runner = TaskRunner()
    seen: list[BaseException] = []

    def bug() -> None:
        raise ZeroDivisionError("a bug")

    def refusal() -> None:
        raise InvalidInput("amount", "must be more than zero")

    with caplog.at_level("ERROR", logger="keel.ui.workers"):
        runner.read(bug, None, seen.append, label="Loading the account")
        runner.read(refusal, None, seen.append)
        settle(qtbot, runner)
    assert sorted(type(e).__name__ for e in seen) == ["InvalidInput", "ZeroDivisionError"]
    logged = [r for r in caplog.records if r.name == "keel.ui.workers"]
    assert len(logged) == 1 and "Loading the account" in logged[0].getMessage()
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is ZeroDivisionError


def test_progress_dialog_only_for_slow_work(qtbot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    runner = TaskRunner()
    runner.write(lambda: None, owner=parent, label="Quick")
    settle(qtbot, runner)
    qtbot.wait(PROGRESS_DELAY_MS + 100)
    assert not [d for d in parent.window().findChildren(QProgressDialog) if d.isVisible()]

    runner.write(lambda: time.sleep((PROGRESS_DELAY_MS + 400) / 1000), owner=parent, label="Slow")
    qtbot.waitUntil(lambda: any(d.isVisible() for d in parent.window().findChildren(QProgressDialog)), timeout=3000)
    settle(qtbot, runner)
    assert not [d for d in parent.window().findChildren(QProgressDialog) if d.isVisible()]


def test_one_writer_thread(qtbot) -> None:
    import threading

    runner = TaskRunner()
    running: list[int] = []
    overlap: list[bool] = []
    lock = threading.Lock()

    def write() -> None:
        with lock:
            running.append(1)
            overlap.append(len(running) > 1)
        time.sleep(0.02)
        with lock:
            running.pop()

    for _ in range(5):
        runner.write(write)
    settle(qtbot, runner)
    assert overlap == [False] * 5


def test_the_ledger_tab_names_adjusting_entries_and_links_them_to_their_cause(qapp):
    """Issue 9: an adjusting entry reads in plain words, says why, and points at its cause."""
    import datetime as dt

    from app.services.accounts import LedgerLine
    from app.ui.models.ledger_table_model import LedgerTableModel, type_name

    def line(entry_id, kind, **extra):
        base = dict(entry_id=entry_id, engine_id=str(entry_id), seq=entry_id, type=kind,
                    effective_date=dt.date(2026, 6, 16), posted_at=None, amount=Decimal("25.00"),
                    interest=Decimal("0"), principal=Decimal("0"), fees=Decimal("-25.00"), suspense=Decimal("0"),
                    refund=Decimal("0"), reversed=False, reverses_id=None, method=None, reference=None, user="clerk",
                    note=None)
        base.update(extra)
        return LedgerLine(**base)

    model = LedgerTableModel()
    reversal = line(9, "late_fee_reversal", reverses_id=4, cause_id=8, note="late_fee:1 is no longer assessed")
    moved = line(10, "reallocation", cause_id=8, reapplies_id=6, note="payment 6 re-applied")
    model.set_rows([reversal, moved])
    assert type_name("late_fee_reversal") == "Late fee reversed" and type_name("reallocation") == "Payment re-applied"
    assert model._link(reversal) == "reverses #4"
    assert model._link(moved) == "re-applies #6, caused by #8"
