"""Roles, limits and sessions that hold (issue 11, item 7), on SQLite and PostgreSQL.

* every mutating service refuses every role the matrix does not give its
  permission, and leaves the database exactly as it was;
* a deactivated or re-roled user's next action is refused in its own transaction;
* lockout, forced password change, approvals above limits;
* the matrix in code equals docs/permissions.md and the README.
"""

from __future__ import annotations

import ast
import datetime as dt
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db.base import Base
from app.db.models import AuditEvent, LedgerEntry, LoanParty, Person, User
from app.services import (
    accounts,
    audit_search,
    batch_drafts,
    batches,
    boarding,
    books,
    collections,
    eod,
    exports,
    flags,
    integrity,
    lender,
    letters,
    permissions,
    personal,
    products,
    requests,
    security,
    servicing,
    statements,
    users,
    verify,
)
from app.services.approvals import Approval
from app.services.reports import cash as report_cash
from app.services.reports import collecting as report_collecting
from app.services.reports import delinquency as report_delinquency
from app.services.reports import eod_days as report_eod_days
from app.services.reports import income as report_income
from app.services.reports import portfolio as report_portfolio
from app.services.reports import snapshots as report_snapshots
from app.services.reports import trial_balance as report_trial_balance
from app.services.batches import BatchRow
from app.services.gl import accounts as gl_accounts
from app.services.gl import control as gl_control
from app.services.gl import journal as gl_journal
from app.services.context import ServiceContext
from app.services.errors import (
    InvalidInput,
    NeedsApproval,
    PermissionDenied,
    ServiceError,
    SessionEnded,
)
from tests.services.conftest import PASSWORDS, ROLES
from tests.services.loans import make_loan

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 6, 1)  # the seeded business date
SAMPLE_LOANS = REPO / "resources" / "samples" / "boarding-new.csv"


# ---------------------------------------------------------------------------
# Every mutating service x every role
# ---------------------------------------------------------------------------
class World:
    """One loan with a posted payment, the borrower's person id, and a draft batch, made by the admin."""

    def __init__(self, contexts: dict[str, ServiceContext]) -> None:
        admin = contexts["admin"]
        self.loan = make_loan(admin)
        self.payment = servicing.post_payment(admin, self.loan, "100.00", reference="W-1").entry_id
        with admin.unit(write=False) as session:
            self.person = session.scalar(
                select(LoanParty.person_id).join(Person, Person.id == LoanParty.person_id)
                .where(LoanParty.role == "borrower").order_by(LoanParty.id.desc()).limit(1))
        self.draft = batch_drafts.create_draft(admin, control_total="10.00").id

    def person_version(self, ctx: ServiceContext) -> int:
        with ctx.unit(write=False) as session:
            return int(session.scalar(select(Person.version).where(Person.id == self.person)))


Call = Callable[[ServiceContext, World], object]

#: (service, the permission(s) it needs, a call) for every service that changes something or shows a
#: restricted list.  test_every_mutating_service_is_listed keeps this complete.
MUTATIONS: list[tuple[str, str | tuple[str, ...], Call]] = [
    ("accounts.add_note", permissions.ADD_NOTE, lambda c, w: accounts.add_note(c, w.loan, "called")),
    ("accounts.update_party", permissions.EDIT_BORROWER,
     lambda c, w: accounts.update_party(c, w.person, {"phone_home": "2175550100"},
                                        expected_version=w.person_version(c))),
    ("audit_search.search_audit", permissions.VIEW_REPORTS, lambda c, w: audit_search.search_audit(c)),
    ("audit_search.audit_choices", permissions.VIEW_REPORTS, lambda c, w: audit_search.audit_choices(c)),
    ("batch_drafts.create_draft", permissions.POST_BATCH, lambda c, w: batch_drafts.create_draft(c)),
    ("batch_drafts.save_draft", permissions.POST_BATCH, lambda c, w: batch_drafts.save_draft(c, w.draft)),
    ("batch_drafts.list_drafts", permissions.POST_BATCH, lambda c, w: batch_drafts.list_drafts(c)),
    ("batch_drafts.get_draft", permissions.POST_BATCH, lambda c, w: batch_drafts.get_draft(c, w.draft)),
    ("batch_drafts.delete_draft", permissions.POST_BATCH, lambda c, w: batch_drafts.delete_draft(c, w.draft)),
    ("batches.check_batch", permissions.POST_BATCH,
     lambda c, w: batches.check_batch(c, [BatchRow(w.loan, Decimal("10.00"), "B-1")], "10.00")),
    ("batches.post_batch", permissions.POST_BATCH,
     lambda c, w: batches.post_batch(c, [BatchRow(w.loan, Decimal("10.00"), "B-1")], "10.00")),
    ("boarding.check_file", permissions.BOARD, lambda c, w: boarding.check_file(c, SAMPLE_LOANS)),
    ("boarding.board_file", permissions.BOARD, lambda c, w: boarding.board_file(c, SAMPLE_LOANS, dry_run=True)),
    ("books.reconcile_books", permissions.RUN_EOD, lambda c, w: books.reconcile_books(c)),
    ("collections.assign_by_rules", permissions.ASSIGN_QUEUE, lambda c, w: collections.assign_by_rules(c, [])),
    ("collections.save_assignment_rules", permissions.ASSIGN_QUEUE,
     lambda c, w: collections.save_assignment_rules(c, [])),
    ("collections.reassign", permissions.ASSIGN_QUEUE, lambda c, w: collections.reassign(c, w.loan, "collector")),
    ("collections.correct_contact", permissions.LOG_CONTACT,
     lambda c, w: collections.correct_contact(c, 1, reason="mis-logged", outcome="contacted")),
    ("collections.correct_promise", permissions.LOG_CONTACT,
     lambda c, w: collections.correct_promise(c, 1, reason="mis-logged", amount="5.00")),
    ("requests.log_request", permissions.LOG_REQUEST,
     lambda c, w: requests.log_request(c, w.loan, "notice_of_error", description="wrong month")),
    ("requests.mark_request", permissions.LOG_REQUEST,
     lambda c, w: requests.mark_request(c, 1, "acknowledged")),
    ("collections.log_contact", permissions.LOG_CONTACT,
     lambda c, w: collections.log_contact(c, w.loan, channel="letter", outcome="other", note="sent")),
    ("eod.run_eod", permissions.RUN_EOD,
     lambda c, w: eod.run_eod(c, DAY - dt.timedelta(days=1))),
    ("flags.set_flag hardship on", permissions.SET_HARDSHIP,
     lambda c, w: flags.set_flag(c, w.loan, "hardship", True, reason="lost job")),
    ("flags.set_flag dispute on", permissions.SET_RESTRICTION,
     lambda c, w: flags.set_flag(c, w.loan, "dispute", True, reason="says paid", dispute_form="oral",
                                 within_validation_period=False)),
    ("flags.set_flag dispute off", permissions.CLEAR_FLAG,
     lambda c, w: flags.set_flag(c, w.loan, "dispute", False, reason="resolved")),
    ("flags.set_flag reg_f on", permissions.CHANGE_TERMS,
     lambda c, w: flags.set_flag(c, w.loan, "reg_f", True, reason="bought", reg_f_basis="bought_in_default")),
    ("flags.set_reg_f_policy", permissions.MANAGE_SETTINGS,
     lambda c, w: flags.set_reg_f_policy(c, True, reason="policy")),
    ("lender.save_lender_settings", permissions.MANAGE_SETTINGS,
     lambda c, w: lender.save_lender_settings(c, lender.LenderSettings("Keel Test Lending", "1 Main St\nSpringfield, "
                                                                       "IL 62701", "2175550100"))),
    ("letters.save_template", permissions.MANAGE_SETTINGS,
     lambda c, w: letters.save_template(c, "late-notice", letters.template(c, "late-notice").body)),
    ("letters.issue_letter", permissions.PRINT_LETTERS, lambda c, w: letters.issue_letter(c, "payoff", w.loan)),
    ("letters.run_queued", permissions.PRINT_LETTERS, lambda c, w: letters.run_queued(c)),
    ("letters.print_selected", permissions.PRINT_LETTERS,
     lambda c, w: letters.print_selected(c, "payoff", [w.loan])),
    ("letters.queued_batch", permissions.PRINT_LETTERS, lambda c, w: letters.queued_batch(c)),
    ("letters.mark_printed", permissions.PRINT_LETTERS, lambda c, w: letters.mark_printed(c, [])),
    ("letters.reprint", permissions.PRINT_LETTERS, lambda c, w: letters.reprint(c, 1)),
    ("products.create_product", permissions.MANAGE_PRODUCTS,
     lambda c, w: products.create_product(c, "NEWP", "New product", {}, DAY)),
    ("products.add_product_version", permissions.MANAGE_PRODUCTS,
     lambda c, w: products.add_product_version(c, "TEST", {}, DAY)),
    ("products.load_products_file", permissions.MANAGE_PRODUCTS,
     lambda c, w: products.load_products_file(c, REPO / "resources" / "samples" / "products.json")),
    ("security.save_security_settings", permissions.MANAGE_SETTINGS,
     lambda c, w: security.save_security_settings(c, security.SecuritySettings(lockout_attempts=3))),
    ("statements.save_statement_settings", permissions.MANAGE_SETTINGS,
     lambda c, w: statements.save_statement_settings(c, statements.StatementSettings(coupon_books=True))),
    ("servicing.post_payment", permissions.POST_PAYMENT,
     lambda c, w: servicing.post_payment(c, w.loan, "50.00", reference="P-2")),
    ("servicing.post_payment split", (permissions.POST_PAYMENT, permissions.OVERRIDE_ALLOCATION),
     lambda c, w: servicing.post_payment(c, w.loan, "50.00", reference="P-3", split={"principal": "50.00"},
                                         override_reason="correction")),
    ("servicing.overrides_report", permissions.VIEW_REPORTS, lambda c, w: servicing.overrides_report(c)),
    ("servicing.reverse_payment", permissions.REVERSE,
     lambda c, w: servicing.reverse_payment(c, w.payment, "posting_error")),
    ("servicing.reverse_payment nsf fee", (permissions.REVERSE, permissions.ASSESS_FEE),
     lambda c, w: servicing.reverse_payment(c, w.payment, "nsf", nsf_fee="25.00")),
    ("servicing.assess_fee", permissions.ASSESS_FEE, lambda c, w: servicing.assess_fee(c, w.loan, "15.00", "other")),
    ("servicing.waive_fee", permissions.WAIVE_FEE,
     lambda c, w: servicing.waive_fee(c, w.loan, "late_fee:1", reason="goodwill")),
    ("servicing.adjust_principal", permissions.ADJUST,
     lambda c, w: servicing.adjust_principal(c, w.loan, "-5.00", reason="correction")),
    ("servicing.write_off_small_balance", permissions.WRITE_OFF,
     lambda c, w: servicing.write_off_small_balance(c, w.loan)),
    ("servicing.pay_refund", permissions.REFUND, lambda c, w: servicing.pay_refund(c, w.loan, "1.00")),
    ("servicing.change_terms", permissions.CHANGE_TERMS,
     lambda c, w: servicing.change_terms(c, w.loan, rate="11", reason="modification")),
    ("servicing.charge_off", permissions.CHARGE_OFF, lambda c, w: servicing.charge_off(c, w.loan, reason="uncollectible")),
    ("users.create_user", permissions.MANAGE_USERS,
     lambda c, w: users.create_user(c, "newbie", "New Bie", "clerk", "newbie-password")),
    ("users.set_password", permissions.MANAGE_USERS,
     lambda c, w: users.set_password(c, "admin" if c.actor.username != "admin" else "clerk", "another-password")),
    ("users.unlock_user", permissions.MANAGE_USERS, lambda c, w: users.unlock_user(c, "clerk")),
    ("users.set_role", permissions.MANAGE_USERS, lambda c, w: users.set_role(c, "collector", "collector")),
    ("users.deactivate_user", permissions.MANAGE_USERS, lambda c, w: users.deactivate_user(c, "nobody-here")),
    ("users.reactivate_user", permissions.MANAGE_USERS, lambda c, w: users.reactivate_user(c, "nobody-here")),
    ("users.list_users", permissions.MANAGE_USERS, lambda c, w: users.list_users(c)),
    ("verify.verify", permissions.VERIFY, lambda c, w: verify.verify(c)),
    ("integrity.verify_audit_chain", permissions.VERIFY, lambda c, w: integrity.verify_audit_chain(c)),
    ("integrity.save_recovery_key", permissions.MANAGE_SETTINGS,
     lambda c, w: integrity.save_recovery_key(c, Path(tempfile.mkdtemp()) / "recovery.txt")),
    ("exports.record_export", permissions.VIEW, lambda c, w: exports.record_export(c, "Queue", 3, "q.csv")),
    ("personal.reveal_parties", permissions.REVEAL_PERSONAL, lambda c, w: personal.reveal_parties(c, w.loan)),
    ("gl.accounts.gl_settings", permissions.VIEW_REPORTS, lambda c, w: gl_accounts.gl_settings(c)),
    ("gl.accounts.save_gl_settings", permissions.MANAGE_SETTINGS,
     lambda c, w: gl_accounts.save_gl_settings(c, accounts={"cash": ("1001", "Operating cash")})),
    ("gl.journal.journal", permissions.VIEW_REPORTS, lambda c, w: gl_journal.journal(c, DAY, DAY)),
    ("gl.journal.journal_detail", permissions.VIEW_REPORTS,
     lambda c, w: gl_journal.journal_detail(c, "GL-20260601-TEST")),
    ("gl.control.control_totals", permissions.VIEW_REPORTS, lambda c, w: gl_control.control_totals(c)),
    # The reports (issue 13): managers and administrators.
    ("reports.trial_balance.trial_balance", permissions.VIEW_REPORTS,
     lambda c, w: report_trial_balance.trial_balance(c)),
    ("reports.cash.cash_receipts", permissions.VIEW_REPORTS, lambda c, w: report_cash.cash_receipts(c)),
    ("reports.cash.journal", permissions.VIEW_REPORTS, lambda c, w: report_cash.journal(c)),
    ("reports.delinquency.aging", permissions.VIEW_REPORTS, lambda c, w: report_delinquency.aging(c)),
    ("reports.delinquency.roll_rates", permissions.VIEW_REPORTS, lambda c, w: report_delinquency.roll_rates(c)),
    ("reports.collecting.collections_activity", permissions.VIEW_REPORTS,
     lambda c, w: report_collecting.collections_activity(c)),
    ("reports.income.interest_income", permissions.VIEW_REPORTS, lambda c, w: report_income.interest_income(c)),
    ("reports.income.fee_income", permissions.VIEW_REPORTS, lambda c, w: report_income.fee_income(c)),
    ("reports.portfolio.loan_activity", permissions.VIEW_REPORTS, lambda c, w: report_portfolio.loan_activity(c)),
    ("reports.portfolio.portfolio", permissions.VIEW_REPORTS, lambda c, w: report_portfolio.portfolio(c)),
    ("reports.portfolio.vintages", permissions.VIEW_REPORTS, lambda c, w: report_portfolio.vintages(c)),
    ("reports.eod_days.eod_report", permissions.VIEW_REPORTS, lambda c, w: report_eod_days.eod_report(c)),
    ("reports.snapshots.snapshot_months", permissions.VIEW_REPORTS, lambda c, w: report_snapshots.snapshot_months(c)),
    ("reports.snapshots.write_snapshot", permissions.RUN_EOD,
     lambda c, w: report_snapshots.write_snapshot(c, dt.date(2026, 5, 31))),
]


def fingerprint(factory: sessionmaker[Session]) -> dict[str, tuple[int, int]]:
    """Rows and the sum of row versions of every table: any insert, update or delete changes it."""
    found = {}
    with factory() as session:
        for table in Base.metadata.sorted_tables:
            versions = func.coalesce(func.sum(table.c.version), 0) if "version" in table.c else func.count()
            count, total = session.execute(select(func.count(), versions).select_from(table)).one()
            found[table.name] = (int(count), int(total))
    return found


@pytest.mark.parametrize("name, permission, call", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_every_mutating_service_refuses_every_role_without_its_permission(
    factory: sessionmaker[Session], contexts: dict[str, ServiceContext], name: str,
    permission: str | tuple[str, ...], call: Call,
) -> None:
    needs = (permission,) if isinstance(permission, str) else permission
    world = World(contexts)
    refused = [role for role in ROLES if not all(permissions.role_allows(role, p) for p in needs)]
    allowed = [role for role in ROLES if role not in refused]
    assert allowed, f"{needs} is held by no role"
    before = fingerprint(factory)
    for role in refused:
        with pytest.raises(PermissionDenied) as exc:
            call(contexts[role], world)
        assert exc.value.permission in needs and not permissions.role_allows(role, exc.value.permission), (name, role)
        assert fingerprint(factory) == before, f"{name} as {role} changed the database"
    for role in allowed:  # allowed: whatever else it says, it is not a permission refusal
        try:
            call(contexts[role], world)
        except PermissionDenied as exc:  # pragma: no cover - the assertion's message
            pytest.fail(f"{name} refused {role}, which holds {permission}: {exc}")
        except ServiceError:
            pass


def _require_calls() -> set[str]:
    """Every public service function that requires a permission other than loan.view."""
    found = set()
    services = REPO / "app" / "services"
    for path in sorted(services.rglob("*.py")):
        # app/services/gl/journal.py -> gl.journal; app/services/books.py -> books
        module = ".".join(path.relative_to(services).with_suffix("").parts)
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            for sub in ast.walk(node):
                if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "require"
                        and isinstance(sub.func.value, ast.Name) and sub.func.value.id == "permissions"
                        and ast.unparse(sub.args[1]) != "permissions.VIEW"):
                    found.add(f"{module}.{node.name}")
    return found


def test_every_mutating_service_is_listed() -> None:
    listed = {name.split(" ")[0] for name, _, _ in MUTATIONS}
    assert _require_calls() - listed == set()


# ---------------------------------------------------------------------------
# Flags: restricting is anyone's, lifting and hardship a manager's
# ---------------------------------------------------------------------------
def test_restrictions_are_set_by_any_desk_role_and_cleared_by_a_manager(contexts) -> None:
    admin, clerk, collector, manager = (contexts[r] for r in ("admin", "clerk", "collector", "manager"))
    world = World(contexts)
    # The review's finding: a collector set hardship and end of day then waived the loan's late fees.
    with pytest.raises(PermissionDenied):
        flags.set_flag(collector, world.loan, "hardship", True, reason="lost job")
    flags.set_flag(clerk, world.loan, "dispute", True, reason="says paid", dispute_form="written",
                   within_validation_period=True)
    with pytest.raises(PermissionDenied):
        flags.set_flag(collector, world.loan, "dispute", False, reason="resolved")
    assert flags.set_flag(manager, world.loan, "dispute", False, reason="resolved").changed
    # Cease-contact on the borrower: a clerk sets it; neither a clerk nor a collector lifts it.
    version = accounts.update_party(clerk, world.person, {"cease_contact": True},
                                    expected_version=world.person_version(admin))
    for role in (clerk, collector):
        with pytest.raises(PermissionDenied) as exc:
            accounts.update_party(role, world.person, {"cease_contact": False}, expected_version=version)
        assert exc.value.permission == permissions.CLEAR_FLAG
    accounts.update_party(manager, world.person, {"cease_contact": False}, expected_version=version)
    with admin.unit(write=False) as session:
        edits = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "borrower.updated")
                                .order_by(AuditEvent.id)).all()
    assert [(e["before"]["cease_contact"], e["after"]["cease_contact"]) for e in edits] == [
        ("False", "True"), ("True", "False")]


# ---------------------------------------------------------------------------
# Sessions that hold
# ---------------------------------------------------------------------------
def test_a_deactivated_or_demoted_users_next_action_is_refused(factory, contexts) -> None:
    admin, clerk, manager = contexts["admin"], contexts["clerk"], contexts["manager"]
    loan = make_loan(admin)
    servicing.post_payment(clerk, loan, "25.00", reference="before")
    users.deactivate_user(admin, "clerk")
    before = fingerprint(factory)
    with pytest.raises(SessionEnded, match="clerk has been deactivated"):
        servicing.post_payment(clerk, loan, "25.00", reference="after")
    with pytest.raises(SessionEnded):  # reads too
        accounts.account(clerk, loan)
    assert fingerprint(factory) == before
    users.set_role(admin, "manager", "clerk")
    before = fingerprint(factory)
    with pytest.raises(SessionEnded, match="changed from manager to clerk"):
        servicing.assess_fee(manager, loan, "15.00", "other")
    assert fingerprint(factory) == before
    # Signing in again gives the new role, which the matrix then judges.
    demoted = ServiceContext(factory, users.authenticate(factory, "manager", PASSWORDS["manager"]))
    with pytest.raises(PermissionDenied):
        servicing.assess_fee(demoted, loan, "15.00", "other")


def test_lockout_after_wrong_passwords_then_unlock(factory, contexts) -> None:
    admin = contexts["admin"]
    security.save_security_settings(admin, security.SecuritySettings(lockout_attempts=3, lockout_minutes=10))
    for _ in range(2):
        with pytest.raises(ServiceError, match="Unknown user or wrong password"):
            users.authenticate(factory, "clerk", "not-the-password")
    # A right password resets the count: two more wrong ones do not lock yet.
    users.authenticate(factory, "clerk", PASSWORDS["clerk"])
    for _ in range(2):
        with pytest.raises(ServiceError, match="wrong password"):
            users.authenticate(factory, "clerk", "not-the-password")
    with pytest.raises(ServiceError, match="wrong password"):  # the third in a row locks it
        users.authenticate(factory, "clerk", "not-the-password")
    with pytest.raises(ServiceError, match="locked after too many wrong passwords"):
        users.authenticate(factory, "clerk", PASSWORDS["clerk"])  # the right one is refused too
    with factory() as session:
        until = session.scalar(select(User.locked_until).where(User.username == "clerk"))
        locks = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "user.locked_out")).all()
    assert until is not None and dt.timedelta(minutes=9) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=10)
    assert [(d["username"], d["attempts"], d["minutes"]) for d in locks] == [("clerk", 3, 10)]
    assert users.list_users(admin)[[u.username for u in users.list_users(admin)].index("clerk")].locked()
    users.unlock_user(admin, "clerk")
    assert users.authenticate(factory, "clerk", PASSWORDS["clerk"]).username == "clerk"


def test_a_lock_runs_out(factory, contexts) -> None:
    with factory.begin() as session:
        session.execute(update(User).where(User.username == "clerk")
                        .values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert users.authenticate(factory, "clerk", PASSWORDS["clerk"]).username == "clerk"


def test_an_admin_reset_forces_a_new_password_and_change_own_checks_the_current(factory, contexts) -> None:
    users.set_password(contexts["admin"], "clerk", "temporary-pass")
    clerk = ServiceContext(factory, users.authenticate(factory, "clerk", "temporary-pass"))
    assert clerk.actor.must_change_password
    with pytest.raises(InvalidInput) as wrong:
        users.change_own_password(clerk, "not-it", "my-own-password")
    assert wrong.value.field == "current password"
    with pytest.raises(InvalidInput) as same:
        users.change_own_password(clerk, "temporary-pass", "temporary-pass")
    assert same.value.field == "new password"
    fresh = users.change_own_password(clerk, "temporary-pass", "my-own-password")
    assert not fresh.must_change_password
    assert not users.authenticate(factory, "clerk", "my-own-password").must_change_password


# ---------------------------------------------------------------------------
# Limits and approvals
# ---------------------------------------------------------------------------
def _entry_payload(ctx: ServiceContext, entry_id: int) -> dict[str, Any]:
    with ctx.unit(write=False) as session:
        return session.scalar(select(LedgerEntry.payload).where(LedgerEntry.id == entry_id)) or {}


def test_a_payment_above_the_clerks_limit_needs_a_managers_approval(factory, contexts) -> None:
    admin, clerk, manager = contexts["admin"], contexts["clerk"], contexts["manager"]
    loan = make_loan(admin, principal="50000.00")  # payoff well above the amounts below
    # Default clerk limit $10,000.00: exactly the limit posts; one cent more needs approval.
    servicing.post_payment(clerk, loan, "10000.00", reference="at-limit")
    before = fingerprint(factory)
    with pytest.raises(NeedsApproval) as asked:
        servicing.post_payment(clerk, loan, "10000.01", reference="over")
    assert asked.value.reasons == ("$10,000.01 is above the clerk's posting limit of $10,000.00",)
    assert fingerprint(factory) == before
    with pytest.raises(InvalidInput, match="a different user must approve"):
        servicing.post_payment(manager, loan, "250000.01", reference="self",
                               approval=Approval("manager", PASSWORDS["manager"]))
    with pytest.raises(InvalidInput, match="collector .* may not approve"):
        servicing.post_payment(clerk, loan, "10000.01", reference="over",
                               approval=Approval("collector", PASSWORDS["collector"]))
    with pytest.raises(ServiceError, match="Approval refused: unknown user or wrong password"):
        servicing.post_payment(clerk, loan, "10000.01", reference="over", approval=Approval("manager", "nope"))
    assert fingerprint(factory)["ledger_entries"] == before["ledger_entries"]
    posted = servicing.post_payment(clerk, loan, "10000.01", reference="over",
                                    approval=Approval("Manager", PASSWORDS["manager"]))
    approval = _entry_payload(clerk, posted.entry_id)["approval"]
    assert (approval["by"], approval["reasons"]) == ("manager", [asked.value.reasons[0]])
    with factory() as session:
        granted = session.execute(select(AuditEvent.user_id, AuditEvent.details)
                                  .where(AuditEvent.action == "approval.granted")).one()
    assert granted.user_id == manager.actor.user_id and granted.details["for_user"] == "clerk"


def test_a_payment_above_the_payoff_needs_approval_whoever_posts(contexts) -> None:
    admin, manager = contexts["admin"], contexts["manager"]
    loan = make_loan(admin, principal="1000.00")
    payoff = accounts.payoff_quote(manager, loan).payoff
    # The product's payoff tolerance is $0.00: the payoff itself posts, a cent more is asked about.
    with pytest.raises(NeedsApproval, match=r"\$0\.01 more than the payoff"):
        servicing.post_payment(manager, loan, payoff + Decimal("0.01"), reference="over")
    # The review's $90,000,000,000,000,000.00 is refused as too large before any limit.
    with pytest.raises(InvalidInput, match="too large"):
        servicing.post_payment(contexts["clerk"], loan, "90000000000000000.00")
    servicing.post_payment(manager, loan, payoff + Decimal("0.01"), reference="over",
                           approval=Approval("admin", PASSWORDS["admin"]))


def test_waiver_and_override_thresholds(contexts) -> None:
    admin, manager = contexts["admin"], contexts["manager"]
    security.save_security_settings(admin, security.SecuritySettings(waiver_approval_above=Decimal("20.00"),
                                                                     override_approval_above=Decimal("40.00")))
    loan = make_loan(admin)
    fee = servicing.assess_fee(manager, loan, "30.00", "other").entry_id
    # $30.00 > $20.00: asked; $20.00 of it is not.
    with pytest.raises(NeedsApproval, match=r"waiving \$30\.00 is above the waiver threshold of \$20\.00"):
        servicing.waive_fee(manager, loan, str(fee), reason="goodwill")
    servicing.waive_fee(manager, loan, str(fee), amount="20.00", reason="goodwill")
    done = servicing.waive_fee(manager, loan, str(fee), reason="rest", approval=Approval("admin", PASSWORDS["admin"]))
    assert _entry_payload(manager, done.entry_id).get("approval") is None  # $10.00 left: under the threshold
    servicing.post_payment(manager, loan, "40.00", reference="o1", split={"principal": "40.00"},
                           override_reason="correction")
    with pytest.raises(NeedsApproval, match="override threshold of \\$40.00"):
        servicing.post_payment(manager, loan, "40.01", reference="o2", split={"principal": "40.01"},
                               override_reason="correction")


def test_a_batch_row_above_the_limit_names_its_row(contexts) -> None:
    admin, clerk = contexts["admin"], contexts["clerk"]
    small, big = make_loan(admin), make_loan(admin, principal="50000.00")
    rows = [BatchRow(small, Decimal("100.00"), "B-1"), BatchRow(big, Decimal("12000.00"), "B-2")]
    with pytest.raises(NeedsApproval, match="^batch, row 2: "):
        batches.post_batch(clerk, rows, "12100.00")
    done = batches.post_batch(clerk, rows, "12100.00", approval=Approval("manager", PASSWORDS["manager"]))
    assert done.count == 2


def test_security_settings_refuse_absurd_values(contexts) -> None:
    admin = contexts["admin"]
    for change, field in (({"lockout_attempts": 0}, "lockout_attempts"),
                          ({"lockout_minutes": "forever"}, "lockout_minutes"),
                          ({"idle_lock_minutes": -1}, "idle_lock_minutes"),
                          ({"payment_limits": {"clerk": "90000000000000.00"}}, "clerk payment limit"),
                          ({"payment_limits": {"intern": "10.00"}}, "payment_limits"),
                          ({"waiver_approval_above": "0"}, "waiver_approval_above")):
        with pytest.raises(InvalidInput) as exc:
            security.save_security_settings(admin, security.SecuritySettings(**change))  # type: ignore[arg-type]
        assert exc.value.field == field
    saved = security.save_security_settings(admin, security.SecuritySettings(payment_limits={"clerk": "2,500"}))
    assert saved.payment_limit("clerk") == Decimal("2500.00") and saved.payment_limit("manager") is None
    assert security.security_settings(contexts["clerk"]) == saved


# ---------------------------------------------------------------------------
# The documents equal the matrix
# ---------------------------------------------------------------------------
def test_docs_and_readme_show_the_matrix_in_code() -> None:
    table = permissions.markdown_table()
    assert table in (REPO / "docs" / "permissions.md").read_text()
    assert table in (REPO / "README.md").read_text()
    # Every permission a service names is in the matrix, and every role holds VIEW.
    assert {a.permission for a in permissions.ACTIONS} == {
        v for k, v in vars(permissions).items() if k.isupper() and isinstance(v, str) and "." in v}
    assert all(permissions.role_allows(role, permissions.VIEW) for role in permissions.ROLES)
