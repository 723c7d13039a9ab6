"""Export… and Copy on the desk's tables (issue 13, item 3), through the real actions, offscreen.

The loans are the textbook one of tests/ui/test_workflows.py: 10,000.00 at 12 % for 12 months,
888.49 a month from 2026-02-01, late fee 25.00 after 10 days; the business date is 2026-06-01.
"Late" paid installments 1-3 on their due dates: 31 days past due (May 1 open), amount due
2 x 888.49 + 25.00 = 1,801.98, principal 7,610.80.  "Other" paid nothing: 120 days past due.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import threading
import types
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QProgressDialog, QPushButton
from sqlalchemy import select

from app.db.models import Loan, LoanParty, Person
from app.reports import tabular
from app.services import collections, servicing
from app.ui import export
from app.ui.export import FILE_FILTERS, ExportOutcome
from app.ui.models.queue_table_model import QueueTableModel
from app.ui.models.record_table_model import Column, export_getter
from tests.services.conftest import PASSWORDS
from tests.services.loans import make_loan
from tests.ui.helpers import message_boxes, settle

pytestmark = pytest.mark.qt

EVIL = '=HYPERLINK("http://evil.example/","Pay here")'
QUEUE_HEADER = ["Loan", "Borrower", "DPD", "Amount due", "Principal", "Score", "Bucket", "Next due", "Last contact",
                "Last outcome", "Broken", "Promise due", "Collector", "Product", "Flags"]


def three_paid(ctx) -> str:
    number = make_loan(ctx)
    for day in (dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)):
        servicing.post_payment(ctx, number, "888.49", day, reference=f"chk-{day}", confirm_backdated=True)
    return number


def rename(ctx, number: str, organization: str) -> None:
    """The borrower of ``number`` becomes an organisation named ``organization`` (test set-up)."""
    with ctx.unit() as session:
        person = session.scalars(select(Person).join(LoanParty, LoanParty.person_id == Person.id)
                                 .join(Loan, Loan.id == LoanParty.loan_id).where(Loan.loan_number == number)).one()
        person.organization_name = organization


@pytest.fixture
def save_as(monkeypatch):
    """The save dialog answers with the path (and filter) the test sets; it records what it was offered."""
    answer: dict[str, object] = {}

    def fake(parent, caption, suggested, filters, selected):
        answer["offered"] = (caption, suggested, filters, selected)
        return str(answer["path"]), FILE_FILTERS["csv" if str(answer["path"]).endswith(".csv") else "xlsx"]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))
    return answer


def queue_window(qtbot, desk, open_window):
    _, contexts = desk
    late = three_paid(contexts["admin"])
    other = make_loan(contexts["admin"])
    rename(contexts["admin"], other, EVIL)
    window = open_window("collector")
    view = window.collections_view
    settle(qtbot, window.workspace.tasks)
    assert [item.loan_number for item in view.model.rows()] == [other, late]
    return window, view, late, other


def run_export(qtbot, table_export, button=None):
    with qtbot.waitSignal(table_export.exported, timeout=20_000) as done:
        if button is not None:
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        else:
            table_export.export_action.trigger()
    outcome = done.args[0]
    assert isinstance(outcome, ExportOutcome)
    return outcome


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


# ---------------------------------------------------------------- the collections queue


def test_export_the_queue_to_xlsx_with_typed_cells_and_the_filters(qtbot, desk, open_window, save_as, tmp_path):
    window, view, late, other = queue_window(qtbot, desk, open_window)
    target = tmp_path / "out" / "queue.xlsx"
    target.parent.mkdir()
    save_as["path"] = target
    button = window.findChild(type(view.refresh_button), "queueTableExport")
    assert button is not None and button.isVisible() and button.text() == "Export\N{HORIZONTAL ELLIPSIS}"
    outcome = run_export(qtbot, view.queue_export, button)
    assert outcome.ok and outcome.rows == 2
    # The dialog offered both formats and a name from the view and the business date.
    caption, suggested, filters, selected = save_as["offered"]
    assert Path(suggested).name == "Collections queue 2026-06-01.xlsx"
    assert filters == "Excel workbook (*.xlsx);;CSV, comma-separated (*.csv)" and selected == FILE_FILTERS["xlsx"]
    assert window.statusBar().currentMessage() == f"Exported 2 rows to {target}."

    ws = openpyxl.load_workbook(target).active
    assert ws["A1"].value == "Collections queue"
    assert [ws.cell(row, 1).value for row in range(2, 8)] == [
        "Bucket: All past due", "Collector: All collectors", "Product: All products",
        "Accounts with a live promise: left out", "Business date: 2026-06-01", "Exported by: collector"]
    assert ws["A8"].value is None  # a blank line, then the header, frozen under it
    assert [c.value for c in ws[9]] == QUEUE_HEADER
    assert ws.freeze_panes == "A10"
    rows = {ws.cell(r, 1).value: [c for c in ws[r]] for r in (10, 11)}
    first = rows[late]
    # Money is a number formatted as currency, never text: 2 x 888.49 + 25.00 = 1,801.98 due; 7,610.80 owed.
    assert first[3].value == pytest.approx(1801.98) and first[3].data_type == "n"
    assert first[3].number_format == tabular.MONEY_FORMAT
    assert first[4].value == pytest.approx(7610.80) and first[4].number_format == tabular.MONEY_FORMAT
    assert first[2].value == 31 and first[2].data_type == "n"  # May 1 to June 1
    assert first[7].value == dt.datetime(2026, 5, 1) and first[7].number_format == tabular.DATE_FORMAT
    assert first[6].value == "30-59"
    # The borrower named like a formula is shown, never run.
    evil = rows[other][1]
    assert evil.value == "'" + EVIL and evil.data_type == "s"
    # The other figures are the service's own, cell for cell.
    item = next(i for i in collections.queue(window.workspace.ctx) if i.loan_number == other)
    assert rows[other][3].value == pytest.approx(float(item.amount_due))
    assert rows[other][2].value == 120 and rows[other][5].value == item.score


def test_export_the_queue_to_csv_with_the_filters_on_top(qtbot, desk, open_window, save_as, tmp_path):
    window, view, late, other = queue_window(qtbot, desk, open_window)
    view.promised_check.setChecked(True)  # a filter in force: it reloads and says so in the file
    settle(qtbot, window.workspace.tasks)
    save_as["path"] = tmp_path / "queue.csv"
    outcome = run_export(qtbot, view.queue_export)
    assert outcome.ok
    rows = read_csv(tmp_path / "queue.csv")
    assert rows[:7] == [["# Collections queue"], ["# Bucket: All past due"], ["# Collector: All collectors"],
                        ["# Product: All products"], ["# Accounts with a live promise: shown"],
                        ["# Business date: 2026-06-01"], ["# Exported by: collector"]]
    assert rows[7] == QUEUE_HEADER
    body = {row[0]: row for row in rows[8:]}
    assert set(body) == {late, other}
    assert body[late][2:5] == ["31", "1801.98", "7610.80"] and body[late][7] == "2026-05-01"
    assert body[other][1] == "'" + EVIL
    # The format chosen is remembered for the next export.
    assert window.workspace.settings.value(export.FORMAT_KEY) == "csv"
    # What left Keel is an audit record: who, what, how many rows, the file's name (not its folder).
    settle(qtbot, window.workspace.tasks)
    assert _exports(window) == [{"what": "Collections queue", "rows": 2, "file": "queue.csv"}]


def test_ctrl_c_copies_two_selected_rows_as_tab_separated_text(qtbot, desk, open_window):
    window, view, late, other = queue_window(qtbot, desk, open_window)
    table = view.table
    selection = table.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    selection.select(view.model.index(0, 0), flags)
    selection.select(view.model.index(1, 0), flags)
    settle(qtbot, window.workspace.tasks)
    table.setFocus()
    QApplication.clipboard().clear()
    with qtbot.waitSignal(view.queue_export.copied, timeout=5_000):
        qtbot.keyClick(table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    lines = QApplication.clipboard().text().split("\n")
    assert lines[0].split("\t") == QUEUE_HEADER
    assert lines[3] == "" and len(lines) == 4  # the header, two rows, the final newline
    first, second = (line.split("\t") for line in lines[1:3])
    assert first[:5] == [other, "'" + EVIL, "120", first[3], "10000.00"]
    assert second[:5] == [late, "Pat Borrower" + late[-3:], "31", "1801.98", "7610.80"]
    assert second[6:8] == ["30-59", "2026-05-01"]
    assert window.statusBar().currentMessage() == "Copied 2 rows."


def test_a_failing_write_says_so_in_one_line_and_never_claims_success(qtbot, desk, open_window, save_as, tmp_path,
                                                                      monkeypatch):
    window, view, _late, _other = queue_window(qtbot, desk, open_window)
    missing = tmp_path / "no such folder" / "queue.xlsx"
    save_as["path"] = missing
    outcome = run_export(qtbot, view.queue_export)
    assert not outcome.ok and not missing.exists()
    boxes = message_boxes()
    assert [b.text() for b in boxes] == [f"Could not write {missing}: the folder does not exist. Nothing was written."]
    assert "\n" not in boxes[0].text() and not boxes[0].detailedText()
    assert "Exported" not in window.statusBar().currentMessage()
    boxes[0].accept()

    # A full disk: the file is written to its temporary name, and moving it into place fails.
    def full(_source, _target):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tabular, "os", types.SimpleNamespace(getpid=lambda: 7, replace=full))
    folder = tmp_path / "exports"
    folder.mkdir()
    save_as["path"] = folder / "queue.csv"
    outcome = run_export(qtbot, view.queue_export)
    assert outcome.problem == f"Could not write {folder / 'queue.csv'}: the disk is full. Nothing was written."
    assert list(folder.iterdir()) == []  # no file, no half file
    assert [b.text() for b in message_boxes()] == [outcome.problem]
    assert "Exported" not in window.statusBar().currentMessage()
    settle(qtbot, window.workspace.tasks)
    assert _exports(window) == []  # nothing was written, so nothing is recorded as exported


def _exports(window) -> list[dict]:
    from app.services.audit_search import search_audit
    from app.services.context import ServiceContext
    from app.services.users import authenticate

    factory = window.workspace.ctx.factory
    manager = ServiceContext(factory, authenticate(factory, "manager", PASSWORDS["manager"]))
    return [line.details for line in search_audit(manager, action="data.exported").lines]


# ---------------------------------------------------------------- the account's ledger


def test_export_the_ledger_as_filtered_to_xlsx_and_csv(qtbot, desk, open_window, save_as, tmp_path):
    _, contexts = desk
    number = three_paid(contexts["admin"])
    window = open_window("clerk")
    view = window.account_view
    with qtbot.waitSignal(view.account_shown, timeout=15_000):
        window.open_account(number)
    view.tabs.setCurrentIndex(2)
    view.ledger_kind.setCurrentIndex(view.ledger_kind.findData("money"))  # payments, reversals and refunds
    assert view.ledger_proxy.rowCount() == 3
    ledger_export = view.exports["ledger"]
    button = window.findChild(type(view.today_button), "ledgerTableExport")
    assert button is not None and button.isVisible()

    save_as["path"] = tmp_path / "ledger.xlsx"
    outcome = run_export(qtbot, ledger_export, button)
    assert outcome.ok and outcome.rows == 3
    assert Path(save_as["offered"][1]).name == f"Ledger {number} 2026-06-01.xlsx"
    ws = openpyxl.load_workbook(tmp_path / "ledger.xlsx").active
    assert ws["A1"].value == f"Ledger {number}"
    top = [ws.cell(r, 1).value for r in range(2, 9)]
    assert top == [f"Loan: {number}", f"Borrower: Pat Borrower{number[-3:]}", "Product: TEST", "As of: 2026-06-01",
                   "Show: Payments, reversals and refunds", "Business date: 2026-06-01", "Exported by: clerk"]
    header = [c.value for c in ws[10]]
    # Suspense and Refund are hidden on a loan that never used them: the file has the columns shown.
    assert header == ["#", "Effective", "Type", "Amount", "Interest", "Principal", "Balance", "Fees", "Link",
                      "Method", "Reference", "By", "Posted", "Note"]
    lines = [[c.value for c in ws[r]] for r in range(11, 14)]
    assert [line[1] for line in lines] == [dt.datetime(2026, 2, 1), dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 1)]
    assert [line[2] for line in lines] == ["Payment"] * 3  # the words, not the code
    assert [line[3] for line in lines] == [pytest.approx(888.49)] * 3
    # The first payment: a month's interest on 10,000.00 at 12 % is 100.00; 788.49 goes to principal.
    assert lines[0][4] == pytest.approx(100.00) and lines[0][5] == pytest.approx(788.49)
    assert lines[0][10] == "chk-2026-02-01" and isinstance(lines[0][0], int)
    assert ws.cell(11, 4).number_format == tabular.MONEY_FORMAT
    assert isinstance(lines[0][12], dt.datetime)  # when it was posted, a date-time cell

    save_as["path"] = tmp_path / "ledger.csv"
    assert run_export(qtbot, ledger_export).ok
    rows = read_csv(tmp_path / "ledger.csv")
    assert rows[5] == ["# Show: Payments, reversals and refunds"]
    assert rows[8] == header
    assert [r[1:6] for r in rows[9:]] == [
        ["2026-02-01", "Payment", "888.49", "100.00", "788.49"],
        # 9,211.51 x 12 % / 12 = 92.12 interest; 796.37 principal.
        ["2026-03-01", "Payment", "888.49", "92.12", "796.37"],
        # 8,415.14 x 1 % = 84.15; 804.34 principal (10,000.00 - 2,389.20 = 7,610.80 left).
        ["2026-04-01", "Payment", "888.49", "84.15", "804.34"],
    ]
    assert [r[6] for r in rows[9:]] == ["9211.51", "8415.14", "7610.80"]


# ---------------------------------------------------------------- large exports


@dataclass(frozen=True)
class FakeFlags:
    cease_contact: bool = False
    attorney: bool = False
    dispute: bool = False
    hardship: bool = False
    reg_f: bool = False


class FakeItem:
    """A queue row; reading its borrower off the GUI thread can be held at a gate (to cancel mid-export)."""

    gate: threading.Event | None = None
    threads: set[str] = set()

    def __init__(self, n: int) -> None:
        self.n = n
        self.loan_number = f"BIG-{n:06d}"
        self.days_past_due, self.bucket = 45, "30-59"
        self.amount_due, self.principal = D("100.00") + n, D("5000.00")
        self.score, self.next_due = n, dt.date(2026, 5, 1)
        self.last_contact = self.last_outcome = self.promise_due = self.collector = None
        self.broken_promises, self.product, self.flags = 0, "AUTO", FakeFlags()

    @property
    def borrower(self) -> str:
        if threading.current_thread() is not threading.main_thread():
            FakeItem.threads.add(threading.current_thread().name)
            if self.n == 0 and FakeItem.gate is not None:
                FakeItem.gate.wait(20)
        return f"Borrower {self.n}"


def big_queue(qtbot, desk, open_window, count: int):
    window = open_window("collector")
    view = window.collections_view
    settle(qtbot, window.workspace.tasks)
    view.model.set_rows([FakeItem(n) for n in range(count)])
    return window, view


def test_a_large_export_runs_off_the_gui_thread(qtbot, desk, open_window, save_as, tmp_path):
    FakeItem.threads = set()
    window, view = big_queue(qtbot, desk, open_window, export.LARGE_EXPORT + 1000)
    save_as["path"] = tmp_path / "big.csv"
    outcome = run_export(qtbot, view.queue_export)
    assert outcome.ok and outcome.rows == 6000
    assert FakeItem.threads and threading.main_thread().name not in FakeItem.threads
    rows = read_csv(tmp_path / "big.csv")
    assert len(rows) == 8 + 6000 and rows[8][:5] == ["BIG-000000", "Borrower 0", "45", "100.00", "5000.00"]
    assert rows[-1][3] == "6099.00"  # 100.00 + 5,999
    assert window.statusBar().currentMessage() == f"Exported 6,000 rows to {tmp_path / 'big.csv'}."


def test_cancel_on_a_large_export_leaves_no_file(qtbot, desk, open_window, save_as, tmp_path):
    window, view = big_queue(qtbot, desk, open_window, export.LARGE_EXPORT + 1000)
    folder = tmp_path / "exports"
    folder.mkdir()
    save_as["path"] = folder / "big.xlsx"
    FakeItem.gate = threading.Event()
    try:
        with qtbot.waitSignal(view.queue_export.exported, timeout=30_000) as done:
            view.queue_export.export_action.trigger()

            def progress_shown() -> QProgressDialog | None:
                found = [w for w in QApplication.topLevelWidgets() + window.findChildren(QProgressDialog)
                         if isinstance(w, QProgressDialog) and w.isVisible()]
                return found[0] if found else None

            qtbot.waitUntil(lambda: progress_shown() is not None, timeout=10_000)
            dialog = progress_shown()
            assert dialog.labelText() == "Exporting 6,000 rows to big.xlsx\N{HORIZONTAL ELLIPSIS}"
            (cancel,) = dialog.findChildren(QPushButton)
            assert cancel.text() == "Cancel"
            qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
            FakeItem.gate.set()
    finally:
        FakeItem.gate.set()
        FakeItem.gate = None
    outcome = done.args[0]
    assert outcome.cancelled and not outcome.ok
    assert list(folder.iterdir()) == []  # no file, no half-written temporary
    assert window.statusBar().currentMessage() == "Export cancelled; no file was written."
    assert message_boxes() == []


# ---------------------------------------------------------------- one call for a report


def test_export_table_is_one_call_for_any_table(qtbot, desk, make_workspace, save_as, tmp_path):
    from PySide6.QtWidgets import QWidget

    workspace = make_workspace("manager")
    parent = QWidget()
    qtbot.addWidget(parent)
    table = tabular.Table("Trial balance", [tabular.Column("Loan"), tabular.Column("Principal", "money")],
                          [["KL-1", D("10.25")], ["KL-2", D("-0.25")]], filters=[("As of", "2026-05-31")],
                          totals=["Total", D("10.00")])
    save_as["path"] = tmp_path / "tb"  # no suffix typed: the chosen format's is added
    finished: list[ExportOutcome] = []
    assert export.export_table(parent, workspace, table, on_finished=finished.append)
    assert finished[0].ok and finished[0].path == tmp_path / "tb.xlsx"
    ws = openpyxl.load_workbook(tmp_path / "tb.xlsx").active
    assert ws["A2"].value == "As of: 2026-05-31" and ws["B7"].value == pytest.approx(10.00)
    boxes = message_boxes()  # no main window: the message is a box
    assert [b.text() for b in boxes] == [f"Exported 2 rows to {tmp_path / 'tb.xlsx'}."]
    boxes[0].accept()


# ---------------------------------------------------------------- the typed values of a column


def test_columns_export_typed_values_and_the_words_shown() -> None:
    record = types.SimpleNamespace(rate=D("12.50"), code="promise_to_pay", when=None, n=True, due="soon")
    assert export_getter(Column("Rate", lambda r: r.rate, "percent"))(record) == D("0.125")
    assert export_getter(Column("Outcome", lambda r: r.code, "words"))(record) == "Promise to pay"
    assert export_getter(Column("When", lambda r: r.when, "datetime"))(record) is None
    assert export_getter(Column("Gone", lambda r: r.when, "words"))(record) is None  # not an em dash
    assert export_getter(Column("Masked", lambda r: "1234", text=lambda r: "***-**-1234"))(record) == "***-**-1234"
    # A bool is no count, and a string is no date: each falls back to the text the desk shows.
    assert export_getter(Column("Count", lambda r: r.n, "int"))(record) == "1"  # as the desk shows it
    assert export_getter(Column("Due", lambda r: r.due, "date"))(record) == "soon"
    assert [c.kind for c in QueueTableModel().export_columns()][:5] == ["text", "text", "int", "money", "money"]


def test_a_moment_exports_in_the_desks_local_time() -> None:
    at = dt.datetime(2026, 11, 1, 15, 18, tzinfo=dt.timezone.utc)
    got = export_getter(Column("When", lambda r: r, "datetime"))(at)
    assert got == at.astimezone().replace(tzinfo=None) and got.tzinfo is None


def test_every_table_on_the_desk_has_copy_and_export(qtbot, desk, open_window) -> None:
    from PySide6.QtWidgets import QTableView, QTableWidget

    window = open_window("admin")
    for view in window.views:
        window.show_view(view)
        settle(qtbot, window.workspace.tasks)
    tables = [t for t in window.findChildren(QTableView) if not isinstance(t, QTableWidget)]
    tables.append(window.search_box.table)  # the results pop up in the window when there are some
    names = sorted(t.objectName() for t in tables)
    assert {"queueTable", "ledgerTable", "scheduleTable", "auditTable", "lettersTable", "notesTable",
            "contactsTable", "promisesTable", "batchGrid", "auditSearchTable", "requestsTable", "usersTable",
            "productsTable", "versionsTable", "searchTable", "bucketTable", "boardingLoans", "boardingProblems",
            "boardingExceptions", "recentContacts", "accountPromises"} <= set(names)
    missing = [t.objectName() for t in tables
               if {a.objectName() for a in t.actions()} != {"copyRowsAction", "exportTableAction"}]
    assert missing == []
    # The one table left out is the permissions matrix: words and ticks about roles, not rows of records.
    assert [t.objectName() for t in window.findChildren(QTableWidget)] == ["permissionsTable"]
