"""Audit records in words (app/domain/audit_words.py): one row per action code the services write."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.domain.audit_words import SENTENCES, audit_sentence

WHO = "Casey Clerk"
PREVIEW = {"effective_date": "2026-11-20", "backdated": False}

#: (action, details, the sentence after "Casey Clerk").  Details are shaped as the service writes them.
CASES = [
    ("payment.posted", {"amount": "250.00", "method": "check", "reference": None, "preview": PREVIEW},
     "posted a $250.00 check payment effective Nov 20, 2026."),
    ("payment.posted", {"amount": "1250.5", "method": "ach", "reference": "ACH 9", "preview": PREVIEW,
                        "override": [["interest", "50.00"]], "reason_code": "hardship_plan"},
     ("posted a $1,250.50 ACH payment effective Nov 20, 2026 (reference ACH 9), applied by hand rather than by "
      "the waterfall.")),
    ("payment.posted", {"amount": "88.00", "method": "cash", "reference": "R-7", "batch_id": 12,
                        "preview": {"effective_date": "2026-11-02", "backdated": True}},
     "posted an $88.00 cash payment effective Nov 2, 2026, back-dated (confirmed) (reference R-7) in batch 12."),
    ("recovery.posted", {"amount": "300.00", "method": "money_order", "preview": PREVIEW},
     "posted a recovery of $300.00 after charge-off effective Nov 20, 2026."),
    ("payment.reversed", {"reverses": 41, "amount": "250.00", "reason": "nsf", "nsf_fee": "30.00"},
     "reversed payment #41 of $250.00 (insufficient funds) and charged a $30.00 returned-payment fee."),
    ("payment.reversed", {"reverses": 41, "amount": "250.00", "reason": "posting_error", "nsf_fee": None},
     "reversed payment #41 of $250.00 (posting error)."),
    ("fee.assessed", {"amount": "25.00", "kind": "nsf", "preview": PREVIEW},
     "assessed a $25.00 NSF fee effective Nov 20, 2026."),
    ("fee.assessed", {"amount": "15.00", "kind": "other", "preview": PREVIEW},
     "assessed a $15.00 fee effective Nov 20, 2026."),
    ("fee.waived", {"fee": "late:3", "amount": "25.00", "reason": "goodwill"},
     "waived $25.00 of fee late:3: goodwill."),
    ("principal.adjusted", {"amount": "-12.34", "reason": "rounding at boarding"},
     "adjusted the principal by -$12.34: rounding at boarding."),
    ("balance.written_off", {"amount": "3.17", "threshold": "5.00", "reason": "small balance"},
     "wrote off a small balance of $3.17: small balance."),
    ("refund.paid", {"amount": "41.20"}, "paid a refund of $41.20."),
    ("terms.changed", {"rate": "9.5", "payment": None, "term": 48, "next_due": "2026-12-01", "reason": "modification",
                       "preview": PREVIEW},
     ("changed the rate to 9.5 %, remaining term to 48 installments, next due date to Dec 1, 2026 effective "
      "Nov 20, 2026: modification.")),
    ("loan.charged_off", {"amount": "8123.40", "reason": "120 days past due"},
     "charged off the loan ($8,123.40): 120 days past due."),
    ("payoff.shortfall_written_off", {"payment_entry": 7, "amount": "0.42", "tolerance": "1.00"},
     "took a payment that paid the loan off and wrote off the $0.42 shortfall (within the $1.00 payoff tolerance)."),
    ("note.added", {"length": 42}, "added a note (42 characters)."),
    ("note.added", {"length": 1}, "added a note (1 character)."),
    ("borrower.updated", {"before": {"address_line1": "1 Main St", "email": None},
                          "after": {"address_line1": "5 Pine Rd", "email": "pat@example.com"}},
     "changed the borrower's address line 1 from '1 Main St' to '5 Pine Rd'; e-mail to 'pat@example.com'."),
    ("borrower.updated", {"before": {"cease_contact": "False", "work_phone": "217-555-0100"},
                          "after": {"cease_contact": "True", "work_phone": None}},
     "changed the borrower's cease-contact flag on; work phone (was '217-555-0100') removed."),
    ("loan.flag_set", {"flag": "hardship", "before": False, "after": True, "effective_date": "2026-11-02",
                       "reason": "job loss", "dispute_form": None, "within_validation_period": None,
                       "reg_f_basis": None},
     "set the hardship flag effective Nov 2, 2026: job loss."),
    ("loan.flag_set", {"flag": "dispute", "after": True, "effective_date": "2026-11-02", "reason": "amount",
                       "dispute_form": "written", "within_validation_period": True},
     "set the dispute flag effective Nov 2, 2026 (written dispute, inside the validation period): amount."),
    ("loan.flag_set", {"flag": "reg_f", "after": True, "effective_date": "2026-11-02", "reason": "bought",
                       "reg_f_basis": "bought_in_default"},
     "set the Regulation F flag effective Nov 2, 2026 (bought in default): bought."),
    ("loan.flag_cleared", {"flag": "dispute", "before": True, "after": False, "effective_date": "2026-11-30",
                           "reason": "resolved"},
     "cleared the dispute flag effective Nov 30, 2026: resolved."),
    ("loan.flags_changed", {"before": {"hardship": False, "dispute": False},
                            "after": {"hardship": True, "dispute": False}, "reason": "called in"},
     "set the hardship flag: called in."),
    ("settings.reg_f_policy", {"before": False, "after": True, "reason": "board decision"},
     "turned Regulation F for all consumer loans on: board decision."),
    ("contact.logged", {"at": "2026-11-20T10:00:00", "channel": "call", "outcome": "promise_to_pay",
                        "promises": [{"id": "3", "due_date": "2026-11-27", "amount": "200.00"}]},
     "logged a call: promise to pay, a promise of $200.00 by Nov 27, 2026."),
    ("contact.logged", {"channel": "email", "outcome": "left_message", "promises": [],
                        "override_reason": "borrower asked"},
     "logged an email: left message (guardrails overridden)."),
    ("contact.guardrail_overridden", {"reason": "borrower asked", "guardrails": ["call_frequency"]},
     "overrode the contact guardrails (call frequency): borrower asked."),
    ("letter.issued", {"kind": "late-notice", "letter_date": "2026-11-20", "file_hash": "ab", "run_id": None},
     "issued a late notice dated Nov 20, 2026."),
    ("letter.issued", {"kind": "payoff", "letter_date": "2026-11-20", "run_id": "r1"},
     "issued a payoff statement dated Nov 20, 2026 in a letter run."),
    ("letter.printed", {"kind": "default-notice", "file_hash": "ab"}, "printed a default notice."),
    ("letter.reprinted", {"kind": "statement", "file_hash": "ab"}, "opened the stored statement again."),
    ("letter.dropped", {"kind": "late-notice", "reason": "cease contact", "run_id": "r1"},
     "dropped a queued late notice from the letter run: cease contact."),
    ("letter_run.queued", {"letter_date": "2026-11-20", "printed": 12, "dropped": 1, "pages": 14},
     "ran the letters for Nov 20, 2026: 12 letters made, 1 dropped, 14 pages."),
    ("letter_run.selected", {"letter_date": "2026-11-20", "printed": 1, "dropped": 0, "pages": 2},
     "ran the letters for Nov 20, 2026: 1 letter made, 2 pages."),
    ("letter_template.saved", {"kind": "validation-notice", "version": 3},
     "saved version 3 of the validation notice template."),
    ("loan.boarded", {"file": "board.csv", "row": 4, "product": "AUTO36"},
     "boarded the loan from board.csv row 4 (product AUTO36)."),
    ("boarding.exception", {"file": "board.csv"}, "recorded a boarding exception in board.csv."),
    ("boarding.file", {"file": "board.csv", "boarded": 40, "skipped": 2, "exceptions": 1},
     "boarded the file board.csv: 40 loans boarded, 2 skipped, 1 exception."),
    ("batch.posted", {"count": 3, "control_total": "1250.00", "source": "lockbox"},
     "posted a batch of 3 payments totalling $1,250.00 from lockbox."),
    ("batch_draft.created", {"rows": "0", "total": "0.00", "control_total": None},
     "started a batch draft of 0 rows ($0.00)."),
    ("batch_draft.deleted", {"rows": "2", "total": "500.00", "control_total": None},
     "deleted a batch draft of 2 rows ($500.00)."),
    ("batch_draft.posted", {"rows": "1", "total": "88.00", "control_total": "88.00"},
     "posted a batch draft of 1 row ($88.00)."),
    ("eod.closed", {"business_date": "2026-11-20", "loans": 200, "interest_accrued": "812.33", "fees": "75.00"},
     "closed the business date Nov 20, 2026: 200 loans, $812.33 interest accrued, $75.00 fees."),
    ("eod.chunk", {"business_date": "2026-11-20", "loans": 500, "entries": 1},
     "closed 500 loans for Nov 20, 2026 (1 ledger entry)."),
    ("ledger.written", {}, "wrote ledger entries."),
    ("snapshot.written", {"month_end": "2026-10-31", "loans": 198, "source": "replayed", "skipped": []},
     "wrote the month-end snapshot of Oct 31, 2026 for 198 loans (replayed from the entries booked by then)."),
    ("snapshot.written", {"month_end": "2026-10-31", "loans": 1, "source": "on_demand",
                          "skipped": [{"loan": "KL-1", "why": "bad terms"}]},
     "wrote the month-end snapshot of Oct 31, 2026 for 1 loan (copied from the close's cache); 1 loan could not "
     "be replayed."),
    ("personal_data.sealed", {"people": 2}, "encrypted the SSN/TIN and date of birth of 2 people kept in the clear "
                                            "by an older Keel."),
    ("person.revealed", {"person": "Maria Lopez", "fields": ["SSN/TIN", "date of birth"], "loan": "KL-000001"},
     "looked at Maria Lopez's full SSN/TIN and date of birth."),
    ("keys.recovery_handed_over", {"how": "keel init"}, "was shown the book's recovery key at set-up."),
    ("data.exported", {"what": "Collections queue", "rows": 1204, "file": "queue.xlsx"},
     "exported Collections queue (1,204 rows) to queue.xlsx."),
    ("keys.restored", {"kept_in": "the operating system's keyring"},
     "put the book's key back on a machine from its recovery key."),
    ("books.reconciled", {"business_date": "2026-11-20", "loans": 3},
     "booked the adjusting entries for Nov 20, 2026 (3 loans)."),
    ("books.rules_revision", {"before": 1, "after": 2, "loans": 1200},
     "re-booked 1,200 loans under revised booking rules."),
    ("queue.assigned_by_rules", {"rules": [], "assigned": "14", "by_collector": {}},
     "assigned the collections queue by its rules (14 loans assigned)."),
    ("queue.rules_saved", {"before": [], "after": []}, "saved the collections queue's assignment rules."),
    ("queue.reassigned", {"before": "collector", "after": "manager"},
     "reassigned the loan from collector to manager."),
    ("product.created", {"name": "Auto 36", "effective_date": "2026-01-01", "rules": {}},
     "created the product Auto 36 effective Jan 1, 2026."),
    ("product.version_added", {"effective_date": "2026-07-01", "rules": {}},
     "added a product version effective Jul 1, 2026."),
    ("settings.lender_changed", {"before": {}, "after": {}, "logo": None},
     "changed the lender's name, address or logo."),
    ("database.initialized", {"kind": "production"}, "set up the database."),
    ("user.created", {"username": "casey", "role": "clerk", "full_name": "Casey Clerk"},
     "created the user casey (clerk)."),
    ("user.password_changed", {"username": "casey", "must_change": False}, "changed the password of casey."),
    ("user.password_reset", {"username": "casey", "must_change": True},
     "reset the password of casey, to be changed at the next sign-in."),
    ("user.locked_out", {"username": "casey", "attempts": 5, "minutes": 15},
     "locked out the user casey for 15 minutes after 5 wrong passwords."),
    ("user.unlocked", {"username": "casey", "was_locked_until": "2026-11-20T10:15:00+00:00"},
     "unlocked the user casey."),
    ("approval.granted", {"for_user": "casey", "what": "A payment of $12,000.00 to KL-100001",
                          "permission": "payment.post", "reasons": ["$12,000.00 is over the clerk's limit"]},
     "approved a payment of $12,000.00 to KL-100001 by casey ($12,000.00 is over the clerk's limit)."),
    ("settings.statements_changed", {"before": {"small_servicer": None, "coupon_books": False},
                                     "after": {"small_servicer": "own_loans", "coupon_books": False},
                                     "mortgage_loans": 12},
     "set the periodic statement exemptions: small servicer (own loans), no coupon books."),
    ("settings.statements_changed", {"before": {}, "after": {"small_servicer": None, "coupon_books": True}},
     "set the periodic statement exemptions: not a small servicer, coupon books."),
    ("letter.issued", {"kind": "payment-reminder", "letter_date": "2026-06-05", "run_id": "r1"},
     "issued a payment reminder dated Jun 5, 2026 in a letter run."),
    ("settings.security_changed", {"before": {"lockout_attempts": 5, "idle_minutes": 15},
                                   "after": {"lockout_attempts": 3, "idle_minutes": 15}},
     "changed the security settings (lockout attempts)."),
    ("settings.gl_changed", {"before": {"charge_off_method": "allowance", "xero_tax_rate": "Tax Exempt",
                                        "accounts": {"cash": {"number": "1000", "name": "Cash"},
                                                     "fee_income": {"number": "4100", "name": "Fee income"}}},
                             "after": {"charge_off_method": "direct", "xero_tax_rate": "Tax Exempt",
                                       "accounts": {"cash": {"number": "1001", "name": "Operating cash"},
                                                    "fee_income": {"number": "4100", "name": "Fee income"}}}},
     "changed the general-ledger accounts: cash to 1001 Operating cash; the charge-off method to direct."),
    ("user.role_changed", {"username": "casey", "before": "clerk", "after": "manager"},
     "changed casey's role from clerk to manager."),
    ("contact.corrected", {"corrects": "12", "reason": "she picked up", "withdrawn_promises": ["4"],
                           "changed": {"outcome": {"from": "no_answer", "to": "contacted"}}},
     "corrected contact #12 (outcome no answer -> contacted), withdrawing 1 promise: she picked up."),
    ("promise.corrected", {"corrects": "4", "reason": "said the 12th",
                           "from": {"due_date": "2026-06-05", "amount": "125.00"},
                           "to": {"due_date": "2026-06-12", "amount": "100.00"}},
     "corrected promise #4 from $125.00 by Jun 5, 2026 to $100.00 by Jun 12, 2026: said the 12th."),
    ("servicing_request.logged", {"kind": "notice_of_error", "subject": None, "received_on": "2026-05-20",
                                  "acknowledge_by": "2026-05-28", "respond_by": "2026-07-03"},
     "logged a written notice of error received May 20, 2026 (acknowledge by May 28, 2026, respond by Jul 3, 2026)."),
    ("servicing_request.acknowledged", {"on": "2026-06-01", "due": "2026-05-28", "late": True, "note": None},
     "marked the written request acknowledged on Jun 1, 2026, after the May 28, 2026 deadline."),
    ("servicing_request.responded", {"on": "2026-06-01", "due": "2026-06-09", "late": False,
                                     "note": "Statement mailed"},
     "marked the written request answered on Jun 1, 2026: Statement mailed."),
    ("user.deactivated", {"username": "casey"}, "deactivated the user casey."),
    ("user.reactivated", {"username": "casey"}, "reactivated the user casey."),
    ("user.signed_in", {"username": "casey", "rehashed": False}, "signed in."),
    ("user.sign_in_failed", {"username": "casey", "reason": "wrong_password"},
     "could not sign in as casey (wrong password)."),
    ("user.sign_in_failed", {"username": "casey", "reason": "wrong password", "purpose": "sign_in",
                             "failures_in_a_row": 2},
     "could not sign in as casey (wrong password), 2 failures in a row."),
]


@pytest.mark.parametrize(("action", "details", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_sentence(action, details, expected):
    assert audit_sentence(action, details, who=WHO) == f"{WHO} {expected}"


@pytest.mark.parametrize(("amount", "article"), [
    ("8.00", "an"), ("88.00", "an"), ("800.00", "an"), ("8000.00", "an"), ("11.00", "an"), ("18.50", "an"),
    ("11000.00", "an"), ("18000000.00", "an"), ("1.00", "a"), ("1800.00", "a"), ("110.00", "a"), ("250.00", "a"),
])
def test_a_or_an_as_the_amount_is_read_aloud(amount, article):
    fee = audit_sentence("fee.assessed", {"amount": amount, "kind": "late"}, who=WHO)
    assert fee.startswith(f"{WHO} assessed {article} $")


def test_every_code_has_a_case():
    assert {case[0] for case in CASES} == set(SENTENCES)


def _written_codes() -> set[str]:
    """Every literal action code passed to audit.record(...) in app/, f-strings expanded by hand below."""
    codes: set[str] = set()
    for path in Path(__file__).resolve().parents[2].joinpath("app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "record" and len(node.args) >= 3) or isinstance(node.args[2], ast.JoinedStr):
                continue  # f-strings: in ``dynamic`` below
            for const in ast.walk(node.args[2]):
                if isinstance(const, ast.Constant) and isinstance(const.value, str) and "." in const.value:
                    codes.add(const.value)
    return codes


def test_every_code_a_service_writes_has_its_own_sentence():
    # Codes built at run time: f"{kind}.posted" (payment, recovery), f"letter_run.{action}" (queued,
    # selected), and the action names passed to servicing._finish and batch_drafts._discard.
    dynamic = {"payment.posted", "recovery.posted", "letter_run.queued", "letter_run.selected", "payment.reversed",
               "fee.assessed", "fee.waived", "principal.adjusted", "balance.written_off", "refund.paid",
               "terms.changed", "loan.charged_off", "batch_draft.deleted", "batch_draft.posted",
               "servicing_request.acknowledged", "servicing_request.responded"}
    missing = (_written_codes() | dynamic) - set(SENTENCES)
    assert not missing, f"audit codes without a sentence: {sorted(missing)}"


@pytest.mark.parametrize(("action", "details", "entity", "entity_id", "expected"), [
    ("user.renamed", {"username": "casey", "minutes": 15}, "user", "7",
     "Casey Clerk: User renamed (user 7): username casey, minutes 15."),
    ("limit.raised", {"approved_by": "mgr", "nested": {"a": 1}, "list": [1, 2]}, "ledger_entry", None,
     "Casey Clerk: Limit raised (ledger entry): approved by mgr."),
    ("something", {}, None, None, "Casey Clerk: Something."),
])
def test_an_unknown_code_still_reads_as_words(action, details, entity, entity_id, expected):
    text = audit_sentence(action, details, who=WHO, entity=entity, entity_id=entity_id)
    assert text == expected
    assert "{" not in text and "_" not in text


def test_details_in_an_unexpected_shape_fall_back_to_words():
    # A payment record whose preview is not a mapping and whose amount is not a number.
    text = audit_sentence("payment.reversed", {"reverses": 3, "amount": "n/a", "reason": 5}, who=WHO)
    assert text == f"{WHO} reversed payment #3 of n/a (5)."
    assert audit_sentence("borrower.updated", {"before": "x", "after": "y"}, who=WHO).startswith(f"{WHO}: Borrower updated")
    assert audit_sentence("note.added", None, who="") == "Keel added a note (0 characters)."
