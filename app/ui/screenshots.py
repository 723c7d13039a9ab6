"""Screenshots of every view on the demo portfolio, for the README: ``python -m app.ui.screenshots``.

Re-runnable by anyone: it opens the demo database (``keel demo`` builds it;
``--db`` for another), signs in through the same services as the desktop,
shows each view, waits for its background work, and saves
``docs/screenshots/<name>.png``.  It runs offscreen (no display needed);
``--scale 2`` renders at 200 % to check readability on high-DPI screens.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: the demo database)")
    parser.add_argument("--out", default=str(OUT), help="folder for the PNG files")
    parser.add_argument("--scale", default="1", help="QT_SCALE_FACTOR, e.g. 2 for 200 %%")
    parser.add_argument("--only", nargs="*", help="names of the screenshots to take")
    parser.add_argument("--size", default="1366x768", help="window size, WIDTHxHEIGHT (issue 11: a 1366x768 laptop)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["QT_SCALE_FACTOR"] = args.scale

    from PySide6.QtCore import QCoreApplication, QSettings, QTimer
    from PySide6.QtWidgets import QDialog, QWidget

    from app.services import demo, setup, users
    from app.services.context import ServiceContext
    from app.ui.application import prepare_application
    from app.ui.main_window import MainWindow
    from app.ui.workers import TaskRunner
    from app.ui.workspace import Workspace

    url = args.db or demo.demo_database_url()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.scale in ("1", "1.0") else f"@{args.scale}x"
    app = prepare_application()
    QCoreApplication.setOrganizationName("KeelScreenshots")  # never the user's own window layout
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(out / ".settings"))
    QSettings().clear()
    factory = setup.open_database(url)
    tasks = TaskRunner()

    def wait(seconds: float = 0.3) -> None:
        deadline = time.monotonic() + 30
        while not tasks.idle and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def shoot(name: str, widget: QWidget) -> None:
        if args.only and name not in args.only:
            return
        wait()
        path = out / f"{name}{suffix}.png"
        widget.grab().save(str(path))
        print(f"wrote {path}")

    def window_for(role: str) -> MainWindow:
        password = users.DEMO_PASSWORD if setup.database_info(factory).kind == "demo" else os.environ["KEEL_PASSWORD"]
        actor = users.authenticate(factory, role, password)
        info = setup.database_info(factory)
        workspace = Workspace(ServiceContext(factory, actor), tasks, QSettings(), info.business_date,
                              database_label="Demo database (keel-demo.sqlite3) \N{EM DASH} demo",
                              database_kind=info.kind)
        window = MainWindow(workspace)
        width, height = (int(part) for part in args.size.lower().split("x"))
        window.resize(width, height)
        window.show()
        wait()
        return window

    # ---------------------------------------------------------- signing in
    from app.ui.dialogs.connection_dialog import Connection, ConnectionDialog
    from app.ui.dialogs.sign_in_dialog import SignInDialog

    sign_in = SignInDialog(QSettings(), tasks, Connection("demo", url, "Demo database (keel-demo.sqlite3)"))
    sign_in.username.setText("clerk")
    sign_in.show()
    wait()
    sign_in.username.setText("clerk")
    sign_in.password.setText("demo")
    shoot("sign-in", sign_in)
    connection = ConnectionDialog(QSettings(), tasks, "sqlite:////home/you/.local/share/Keel/keel.sqlite3")
    connection.server_radio.setChecked(True)
    connection.url_edit.setText("postgresql+psycopg://keel:***@db.example.com:5432/keel")
    connection.show()
    shoot("connection", connection)
    sign_in.reject()
    connection.reject()

    # ---------------------------------------------------------- a manager's desk
    window = window_for("manager")
    window.show_view(window.dashboard_view)
    shoot("dashboard", window)

    queue = window.collections_view
    window.show_view(queue)
    wait()
    # The account view on a delinquent loan with history: the top of the queue.
    number = queue.current_loan()
    if number is None:
        print("no past-due loan in the queue; skipping the account screenshots", file=sys.stderr)
    else:
        window.open_account(number)
        wait()
        shoot("account-summary", window)
        account = window.account_view
        account.tabs.setCurrentIndex(2)
        lines = account.ledger_model.rows()
        payments = [i for i, line in enumerate(lines) if line.type == "payment" and not line.reversed]
        if payments:
            account.select_ledger_row(payments[-1])
        shoot("account-ledger", window)
        account.tabs.setCurrentIndex(1)
        shoot("account-schedule", window)
        account.tabs.setCurrentIndex(3)
        shoot("account-borrower", window)
        account.tabs.setCurrentIndex(4)
        shoot("account-contacts", window)
        account.tabs.setCurrentIndex(5)
        shoot("account-letters", window)
        account.tabs.setCurrentIndex(6)
        shoot("account-audit", window)
        account.tabs.setCurrentIndex(2)
        if payments:
            account.select_ledger_row(payments[-1])
            account.reverse_selected()
            wait(0.6)
            dialogs = [w for w in window.findChildren(QDialog) if w.isVisible()]
            if dialogs:
                shoot("reverse-dialog", dialogs[0])
                dialogs[0].reject()

    # Search as you type.
    window.focus_search()
    window.search_box.setText("smi")
    window.search_box.search_now()
    wait()
    shoot("search", window)
    window.search_box.hide_results()
    window.search_box.clear()

    # Payment entry with its preview.
    window.show_view(window.payment_view)
    if number:
        pay = window.payment_view
        pay.start(number)
        wait()
        pay.amount_edit.setText("500.00")
        pay.amount_edit.value_changed.emit(pay.amount_edit.value())
        pay.date_edit.line_edit.setText("11/20/2026")  # typed US style: read back in words beside the field
        pay.reference_edit.setText("CHK 10442")
        wait(0.6)
        shoot("payment-entry", window)
        # What a clerk sees for a payment above the posting limit (issue 11): the limit in the service's words.
        from decimal import Decimal as _D

        from app.services import approvals
        from app.services.errors import NeedsApproval
        from app.ui.dialogs.approval_dialog import ApprovalDialog

        reasons = approvals.payment_limits_crossed("clerk", _D("12000.00"), _D("10000.00"), None, _D("0"))
        approval = ApprovalDialog(NeedsApproval(f"A payment of $12,000.00 to {number} needs a manager's approval: "
                                                + "; ".join(reasons), "payment.post", reasons), window)
        approval.show()
        approval.approver.setText("manager")
        shoot("approval-dialog", approval)
        approval.close()

    # A deposit that does not balance yet.
    batch = window.batch_view
    window.show_view(batch)
    rows = [line.loan_number for line in queue.model.rows()[:4]] or []
    from decimal import Decimal

    from app.ui.models.batch_table_model import BatchEntry

    batch.new_batch()
    batch.control_edit.set_value(Decimal("1250.00"))
    batch.model.set_entries([BatchEntry(loan_number=n, amount=Decimal(a), reference=f"CHK {1000 + i}")
                             for i, (n, a) in enumerate(zip(rows, ("400.00", "325.50", "287.25", "212.25")))])
    for row, loan in enumerate(rows):
        batch._lookup(row, loan)
    wait()
    shoot("batch-entry", window)

    window.show_view(queue)
    if queue.model.rowCount():
        queue.table.selectRow(0)
        index = queue.outcome_combo.findData("promise_to_pay")
        queue.outcome_combo.setCurrentIndex(index)
        queue.note_edit.setPlainText("Spoke with the borrower; paying half on Friday, the rest next week.")
    shoot("collections", window)

    # The Reg X / Reg Z worklist, the most urgent request selected.
    window.show_view(window.requests_view)
    wait()
    if window.requests_view.model.rowCount():
        window.requests_view.table.selectRow(0)
    shoot("requests", window)

    # The Reports view: the delinquency aging as of the business date, its totals and notes.
    if window.reports_view is not None and (not args.only or "reports" in args.only):
        window.show_view(window.reports_view)
        wait()
        window.reports_view.choose("aging")
        window.reports_view.run()
        wait()
        shoot("reports", window)

    if window.admin_view is None:
        window.close()
        window = window_for("admin")
    admin_window = window if window.admin_view is not None else window_for("admin")
    assert admin_window.admin_view is not None
    if admin_window.audit_view is not None:
        # The global audit search: everything the clerk did, in words.
        admin_window.show_view(admin_window.audit_view)
        wait()
        audit_page = admin_window.audit_view
        audit_page.user_combo.setCurrentIndex(max(0, audit_page.user_combo.findData("clerk")))
        audit_page.search(1)
        shoot("audit", admin_window)
    admin_window.show_view(admin_window.admin_view)
    tabs = admin_window.admin_view.tabs
    for index in range(tabs.count()):
        tabs.setCurrentIndex(index)
        name = "admin-" + tabs.tabText(index).replace("&", "").lower().replace(" ", "-")
        shoot(name, admin_window)
    boarding = admin_window.admin_view.boarding
    if boarding is not None:
        tabs.setCurrentWidget(boarding)
        boarding.check(Path(__file__).resolve().parents[2] / "resources" / "samples" / "boarding-new.csv")
        wait()
        shoot("admin-boarding-checked", admin_window)
    from app.ui.dialogs.eod_dialog import EodDialog
    from app.ui.dialogs.product_dialog import ProductDialog

    eod = EodDialog(admin_window.workspace, admin_window)
    eod.show()
    shoot("end-of-day", eod)
    eod.reject()
    products = admin_window.admin_view.products
    product_dialog = ProductDialog(admin_window.workspace, products.selected(), admin_window)
    product_dialog.show()
    shoot("product-version", product_dialog)
    product_dialog.reject()
    admin_window.close()
    if admin_window is not window:
        window.close()
    wait()
    tasks.wait_for_all(10_000)
    setup.close_database(factory)
    QTimer.singleShot(0, app.quit)
    return 0



if __name__ == "__main__":
    sys.exit(main())
