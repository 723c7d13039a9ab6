"""An audit record in words: "Casey Clerk posted a $250.00 check payment effective Nov 20, 2026" (issue 11).

One pure function, :func:`audit_sentence`, turns an audit record (its action
code and the details the service wrote) into one sentence for a clerk or an
examiner.  The account's Audit tab, the global audit search and ``keel audit``
all print it.  Every code a service writes has its own sentence (table tests
in ``tests/domain/test_audit_words.py``); a code this module does not know
yet still reads as words ("User locked out (user 7): minutes 15"), never as
raw JSON or a code.

Money in the details is text (``"250.00"``) and is shown through the one money
formatter; dates are ISO text and are shown as ``Nov 20, 2026``, which cannot
be misread on either side of the Atlantic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.money import format_money

Details = Mapping[str, Any]

_METHODS = {"check": "check", "ach": "ACH", "cash": "cash", "card": "card", "money_order": "money order",
            "prior_servicer": "prior servicer"}
_LETTERS = {"late-notice": "late notice", "default-notice": "default notice",
            "validation-notice": "validation notice", "payoff": "payoff statement", "statement": "statement",
            "paid-in-full": "paid-in-full letter", "payment-reminder": "payment reminder"}
_FEES = {"nsf": "NSF", "late": "late", "returned_item": "returned-item", "extension": "extension",
         "payoff_statement": "payoff statement", "other": ""}
_REVERSALS = {"nsf": "insufficient funds", "posting_error": "posting error", "stop_payment": "stop payment",
              "duplicate": "duplicate", "other": "other reason"}
_FLAGS = {"hardship": "hardship", "dispute": "dispute", "reg_f": "Regulation F"}
_FIELDS = {"address_line1": "address line 1", "address_line2": "address line 2", "postal_code": "ZIP code",
           "time_zone": "time zone", "cease_contact": "cease-contact flag",
           "attorney_represented": "attorney-represented flag", "email": "e-mail"}


def _words(code: object) -> str:
    """``promise_to_pay`` -> ``promise to pay``; ``letter_run.queued`` -> ``letter run queued``."""
    return str(code).replace("_", " ").replace(".", " ").replace("-", " ").strip()


def _money(value: object) -> str:
    try:
        return format_money(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def _day(value: object) -> str:
    """``2026-11-20`` -> ``Nov 20, 2026`` (text that is not a date is shown as it is)."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    if isinstance(value, date):
        return f"{value:%b} {value.day}, {value.year}"
    return str(value)


def _article(noun: str) -> str:
    """``a`` or ``an`` as the words are read aloud: "an $88.00 payment", "an $11,000.00", "a $1,800.00"."""
    if noun.startswith(("$", "-$")):
        first_group = noun.lstrip("-$").split(".")[0].split(",")[0]
        spoken_vowel = first_group.startswith("8") or first_group in ("11", "18")
    else:
        spoken_vowel = noun[:1].lower() in "aeio"
    return ("an " if spoken_vowel else "a ") + noun


def _reason(d: Details, key: str = "reason") -> str:
    value = d.get(key)
    return f": {str(value).strip()}" if isinstance(value, str) and value.strip() else ""


def _count(n: object, noun: str) -> str:
    try:
        number = int(str(n))
    except ValueError:
        return f"{n} {noun}s"
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _effective(d: Details) -> str:
    preview = d.get("preview")
    day = preview.get("effective_date") if isinstance(preview, Mapping) else d.get("effective_date")
    return f" effective {_day(day)}" if day else ""


def _yes_no(value: object) -> str:
    return "on" if value is True or str(value).lower() == "true" else "off"


# ---------------------------------------------------------------- one sentence per code (after the name)


def _payment(d: Details) -> str:
    method = _METHODS.get(str(d.get("method")), _words(d.get("method") or "")) if d.get("method") else ""
    noun = " ".join(p for p in (_money(d.get("amount")), method, "payment") if p)
    text = f"posted {_article(noun)}{_effective(d)}"
    preview = d.get("preview")
    if isinstance(preview, Mapping) and preview.get("backdated") is True:
        text += ", back-dated (confirmed)"
    if d.get("reference"):
        text += f" (reference {d['reference']})"
    if d.get("batch_id"):
        text += f" in batch {d['batch_id']}"
    if d.get("override"):
        text += ", applied by hand rather than by the waterfall"
    return text


def _recovery(d: Details) -> str:
    return f"posted a recovery of {_money(d.get('amount'))} after charge-off{_effective(d)}"


def _reversal(d: Details) -> str:
    text = f"reversed payment #{d.get('reverses')} of {_money(d.get('amount'))}"
    if d.get("reason"):
        text += f" ({_REVERSALS.get(str(d['reason']), str(d['reason']))})"
    if d.get("nsf_fee"):
        text += f" and charged a {_money(d['nsf_fee'])} returned-payment fee"
    return text


def _fee(d: Details) -> str:
    noun = " ".join(p for p in (_money(d.get("amount")), _FEES.get(str(d.get("kind")), _words(d.get("kind") or "")), "fee") if p)
    return f"assessed {_article(noun)}{_effective(d)}"


def _waiver(d: Details) -> str:
    return f"waived {_money(d.get('amount'))} of fee {d.get('fee')}{_reason(d)}"


def _adjustment(d: Details) -> str:
    return f"adjusted the principal by {_money(d.get('amount'))}{_reason(d)}"


def _write_off(d: Details) -> str:
    return f"wrote off a small balance of {_money(d.get('amount'))}{_reason(d)}"


def _refund(d: Details) -> str:
    return f"paid a refund of {_money(d.get('amount'))}"


def _terms(d: Details) -> str:
    parts = []
    if d.get("rate") is not None:
        parts.append(f"rate to {d['rate']} %")
    if d.get("payment") is not None:
        parts.append(f"payment to {_money(d['payment'])}")
    if d.get("term") is not None:
        parts.append(f"remaining term to {d['term']} installments")
    if d.get("next_due"):
        parts.append(f"next due date to {_day(d['next_due'])}")
    changes = ", ".join(parts) or "the terms"
    return f"changed the {changes}{_effective(d)}{_reason(d)}"


def _charge_off(d: Details) -> str:
    return f"charged off the loan ({_money(d.get('amount'))}){_reason(d)}"


def _shortfall(d: Details) -> str:
    return (f"took a payment that paid the loan off and wrote off the {_money(d.get('amount'))} shortfall "
            f"(within the {_money(d.get('tolerance'))} payoff tolerance)")


def _note(d: Details) -> str:
    return f"added a note ({_count(d.get('length', 0), 'character')})"


def _borrower(d: Details) -> str:
    before, after = d.get("before") or {}, d.get("after") or {}
    changes = []
    for key in after:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        name = _FIELDS.get(key, _words(key))
        if str(new) in ("True", "False"):  # a flag (cease contact, attorney represented)
            changes.append(f"{name} {'on' if str(new) == 'True' else 'off'}")
        elif new in (None, ""):
            changes.append(f"{name} (was {old!r}) removed")
        else:
            changes.append(f"{name} from {old!r} to {new!r}" if old not in (None, "") else f"{name} to {new!r}")
    return "changed the borrower's " + ("; ".join(changes) if changes else "details (nothing different)")


def _flag(on: bool) -> Callable[[Details], str]:
    def sentence(d: Details) -> str:
        name = _FLAGS.get(str(d.get("flag")), _words(d.get("flag") or "a"))
        text = f"{'set' if on else 'cleared'} the {name} flag"
        if d.get("effective_date"):
            text += f" effective {_day(d['effective_date'])}"
        if on and d.get("dispute_form"):
            text += f" ({d['dispute_form']} dispute" + (
                ", inside the validation period)" if d.get("within_validation_period") else ")")
        if on and d.get("reg_f_basis"):
            text += f" ({_words(d['reg_f_basis'])})"
        return text + _reason(d)
    return sentence


def _flags_changed(d: Details) -> str:
    before, after = d.get("before") or {}, d.get("after") or {}
    changes = [f"{'set' if after.get(k) else 'cleared'} the {_FLAGS.get(k, _words(k))} flag"
               for k in after if before.get(k) != after.get(k)]
    return (" and ".join(changes) or "left the flags as they were") + _reason(d)


def _reg_f_policy(d: Details) -> str:
    return f"turned Regulation F for all consumer loans {_yes_no(d.get('after'))}{_reason(d)}"


def _contact(d: Details) -> str:
    channel = _words(d.get("channel") or "contact")
    text = f"logged {_article(channel)}: {_words(d.get('outcome') or 'no outcome')}"
    promises = d.get("promises") or []
    if promises:
        first = promises[0]
        text += f", a promise of {_money(first.get('amount'))} by {_day(first.get('due_date'))}"
        if len(promises) > 1:
            text += f" and {_count(len(promises) - 1, 'more installment')}"
    if d.get("override_reason"):
        text += " (guardrails overridden)"
    return text


def _guardrail(d: Details) -> str:
    rails = ", ".join(_words(g) for g in d.get("guardrails") or []) or "a guardrail"
    return f"overrode the contact guardrails ({rails}){_reason(d)}"


def _contact_corrected(d: Details) -> str:
    changed = d.get("changed") or {}
    parts = [f"{_words(k)} {_words(v.get('from')) if k in ('channel', 'outcome') else v.get('from')} -> "
             f"{_words(v.get('to')) if k in ('channel', 'outcome') else v.get('to')}"
             for k, v in changed.items() if isinstance(v, Mapping) and k != "at"]
    if "at" in changed:
        parts.append("the time")
    text = f"corrected contact #{d.get('corrects')}" + (f" ({', '.join(parts)})" if parts else "")
    withdrawn = d.get("withdrawn_promises") or []
    if withdrawn:
        text += f", withdrawing {_count(len(withdrawn), 'promise')}"
    return text + _reason(d)


def _promise_corrected(d: Details) -> str:
    was, now = d.get("from") or {}, d.get("to") or {}
    return (f"corrected promise #{d.get('corrects')} from {_money(was.get('amount'))} by {_day(was.get('due_date'))} "
            f"to {_money(now.get('amount'))} by {_day(now.get('due_date'))}{_reason(d)}")


_REQUESTS = {"notice_of_error": "notice of error", "information_request": "request for information",
             "payoff_request": "payoff statement request"}


def _request_logged(d: Details) -> str:
    kind = _REQUESTS.get(str(d.get("kind")), _words(d.get("kind") or "request"))
    due = (f"acknowledge by {_day(d.get('acknowledge_by'))}, " if d.get("acknowledge_by") else "") + \
        f"respond by {_day(d.get('respond_by'))}"
    return f"logged a written {kind} received {_day(d.get('received_on'))} ({due})"


def _request_done(verb: str) -> Callable[[Details], str]:
    def sentence(d: Details) -> str:
        late = f", after the {_day(d.get('due'))} deadline" if d.get("late") else ""
        note = f": {d.get('note')}" if d.get("note") else ""
        return f"marked the written request {verb} on {_day(d.get('on'))}{late}{note}"

    return sentence


def _letter_kind(d: Details) -> str:
    return _LETTERS.get(str(d.get("kind")), _words(d.get("kind") or "letter"))


def _letter_issued(d: Details) -> str:
    text = f"issued {_article(_letter_kind(d))}"
    if d.get("letter_date"):
        text += f" dated {_day(d['letter_date'])}"
    return text + (" in a letter run" if d.get("run_id") else "")


def _letter_printed(d: Details) -> str:
    return f"printed {_article(_letter_kind(d))}"


def _letter_reprinted(d: Details) -> str:
    return f"opened the stored {_letter_kind(d)} again"


def _letter_dropped(d: Details) -> str:
    return f"dropped a queued {_letter_kind(d)} from the letter run{_reason(d)}"


def _letter_run(d: Details) -> str:
    text = f"ran the letters for {_day(d.get('letter_date'))}: {_count(d.get('printed', 0), 'letter')} made"
    if d.get("dropped"):
        text += f", {d['dropped']} dropped"
    if d.get("pages"):
        text += f", {_count(d['pages'], 'page')}"
    return text


def _template(d: Details) -> str:
    return f"saved version {d.get('version')} of the {_letter_kind(d)} template"


def _boarded(d: Details) -> str:
    text = "boarded the loan"
    if d.get("file"):
        text += f" from {d['file']}" + (f" row {d['row']}" if d.get("row") else "")
    if d.get("product"):
        text += f" (product {d['product']})"
    return text


def _boarding_exception(d: Details) -> str:
    return "recorded a boarding exception" + (f" in {d['file']}" if d.get("file") else "")


def _boarding_file(d: Details) -> str:
    return (f"boarded the file {d.get('file')}: {_count(d.get('boarded', 0), 'loan')} boarded, "
            f"{d.get('skipped', 0)} skipped, {_count(d.get('exceptions', 0), 'exception')}")


def _batch(d: Details) -> str:
    text = f"posted a batch of {_count(d.get('count', 0), 'payment')}"
    if d.get("control_total") is not None:
        text += f" totalling {_money(d['control_total'])}"
    return text + (f" from {_words(d['source'])}" if d.get("source") else "")


def _draft(verb: str) -> Callable[[Details], str]:
    def sentence(d: Details) -> str:
        text = f"{verb} a batch draft of {_count(d.get('rows', 0), 'row')}"
        return text + (f" ({_money(d['total'])})" if d.get("total") is not None else "")
    return sentence


def _eod(d: Details) -> str:
    text = f"closed the business date {_day(d.get('business_date'))}: {_count(d.get('loans', 0), 'loan')}"
    if d.get("interest_accrued") is not None:
        text += f", {_money(d['interest_accrued'])} interest accrued"
    if d.get("fees") is not None:
        text += f", {_money(d['fees'])} fees"
    return text


def _snapshot(d: Details) -> str:
    how = {"on_demand": "copied from the close's cache", "replayed": "replayed from the entries booked by then"}
    text = (f"wrote the month-end snapshot of {_day(d.get('month_end'))} for {_count(d.get('loans', 0), 'loan')}"
            f" ({how.get(str(d.get('source')), _words(d.get('source', '')))})")
    skipped = d.get("skipped") or []
    return text + (f"; {_count(len(skipped), 'loan')} could not be replayed" if skipped else "")


def _reconciled(d: Details) -> str:
    return f"booked the adjusting entries for {_day(d.get('business_date'))} ({_count(d.get('loans', 0), 'loan')})"


def _rules_revision(d: Details) -> str:
    return f"re-booked {_count(d.get('loans', 0), 'loan')} under revised booking rules"


def _queue_rules(d: Details) -> str:
    return f"assigned the collections queue by its rules ({_count(d.get('assigned', 0), 'loan')} assigned)"


def _reassigned(d: Details) -> str:
    return f"reassigned the loan from {d.get('before') or 'nobody'} to {d.get('after') or 'nobody'}"


def _product(d: Details) -> str:
    return f"created the product {d.get('name')} effective {_day(d.get('effective_date'))}"


def _product_version(d: Details) -> str:
    return f"added a product version effective {_day(d.get('effective_date'))}"


def _user(verb: str) -> Callable[[Details], str]:
    def sentence(d: Details) -> str:
        text = f"{verb} the user {d.get('username')}"
        if verb == "created" and d.get("role"):
            text += f" ({d['role']})"
        return text
    return sentence


def _role(d: Details) -> str:
    return f"changed {d.get('username')}'s role from {d.get('before')} to {d.get('after')}"


def _signed_in(d: Details) -> str:
    return "signed in"


def _sign_in_failed(d: Details) -> str:
    text = f"could not sign in as {d.get('username')}" + (f" ({_words(d['reason'])})" if d.get("reason") else "")
    if d.get("failures_in_a_row"):
        text += f", {_count(d['failures_in_a_row'], 'failure')} in a row"
    return text


def _password(reset: bool) -> Callable[[Details], str]:
    def sentence(d: Details) -> str:
        if reset:
            return (f"reset the password of {d.get('username')}"
                    + (", to be changed at the next sign-in" if d.get("must_change") else ""))
        return f"changed the password of {d.get('username')}"
    return sentence


def _locked_out(d: Details) -> str:
    return (f"locked out the user {d.get('username')} for {_count(d.get('minutes', 0), 'minute')} after "
            f"{_count(d.get('attempts', 0), 'wrong password')}")


def _unlocked(d: Details) -> str:
    return f"unlocked the user {d.get('username')}"


def _approval(d: Details) -> str:
    what = str(d.get("what") or "an entry")
    text = f"approved {what[:1].lower() + what[1:]} by {d.get('for_user')}"
    reasons = [str(r) for r in d.get("reasons") or []]
    return text + (f" ({'; '.join(reasons)})" if reasons else "")


def _security(d: Details) -> str:
    before, after = d.get("before") or {}, d.get("after") or {}
    changed = [_words(k) for k in after if isinstance(before, Mapping) and before.get(k) != after.get(k)]
    return "changed the security settings" + (f" ({', '.join(changed)})" if changed else "")


_SMALL_SERVICER = {"own_loans": "own loans", "housing_finance_agency": "housing finance agency",
                   "nonprofit": "nonprofit"}


def _statements(d: Details) -> str:
    after = d.get("after") or {}
    if not isinstance(after, Mapping):
        return "changed the periodic statement exemptions"
    basis = after.get("small_servicer")
    small = f"small servicer ({_SMALL_SERVICER.get(str(basis), _words(basis))})" if basis else "not a small servicer"
    coupons = "coupon books" if after.get("coupon_books") else "no coupon books"
    return f"set the periodic statement exemptions: {small}, {coupons}"


def _gl_settings(d: Details) -> str:
    """The general-ledger mapping: which roles now post to another account, and the other settings changed."""
    before, after = d.get("before") or {}, d.get("after") or {}
    old = before.get("accounts") or {} if isinstance(before, Mapping) else {}
    new = after.get("accounts") or {} if isinstance(after, Mapping) else {}
    changed = []
    for role, account in new.items():
        if isinstance(account, Mapping) and old.get(role) != account:
            changed.append(f"{_words(role)} to {account.get('number')} {account.get('name')}")
    for key, words in (("charge_off_method", "the charge-off method"), ("xero_tax_rate", "the Xero tax rate")):
        if isinstance(before, Mapping) and isinstance(after, Mapping) and before.get(key) != after.get(key):
            changed.append(f"{words} to {after.get(key)}")
    return "changed the general-ledger accounts" + (f": {'; '.join(changed)}" if changed else "")


#: Action code -> the sentence after the person's name.  Every code a service writes is here.
SENTENCES: dict[str, Callable[[Details], str]] = {
    "payment.posted": _payment,
    "recovery.posted": _recovery,
    "payment.reversed": _reversal,
    "fee.assessed": _fee,
    "fee.waived": _waiver,
    "principal.adjusted": _adjustment,
    "balance.written_off": _write_off,
    "refund.paid": _refund,
    "terms.changed": _terms,
    "loan.charged_off": _charge_off,
    "payoff.shortfall_written_off": _shortfall,
    "note.added": _note,
    "borrower.updated": _borrower,
    "loan.flag_set": _flag(True),
    "loan.flag_cleared": _flag(False),
    "loan.flags_changed": _flags_changed,
    "settings.reg_f_policy": _reg_f_policy,
    "contact.logged": _contact,
    "contact.guardrail_overridden": _guardrail,
    "contact.corrected": _contact_corrected,
    "promise.corrected": _promise_corrected,
    "servicing_request.logged": _request_logged,
    "servicing_request.acknowledged": _request_done("acknowledged"),
    "servicing_request.responded": _request_done("answered"),
    "letter.issued": _letter_issued,
    "letter.printed": _letter_printed,
    "letter.reprinted": _letter_reprinted,
    "letter.dropped": _letter_dropped,
    "letter_run.queued": _letter_run,
    "letter_run.selected": _letter_run,
    "letter_template.saved": _template,
    "loan.boarded": _boarded,
    "boarding.exception": _boarding_exception,
    "boarding.file": _boarding_file,
    "batch.posted": _batch,
    "batch_draft.created": _draft("started"),
    "batch_draft.deleted": _draft("deleted"),
    "batch_draft.posted": _draft("posted"),
    "eod.closed": _eod,
    "eod.chunk": lambda d: (f"closed {d['loans']} loan{'' if d['loans'] == 1 else 's'} for {_day(d['business_date'])}"
                            f" ({d['entries']} ledger entr{'y' if d['entries'] == 1 else 'ies'})"),
    "ledger.written": lambda d: "wrote ledger entries",
    "snapshot.written": _snapshot,
    "personal_data.sealed": lambda d: (f"encrypted the SSN/TIN and date of birth of {d['people']} "
                                       f"{'person' if d['people'] == 1 else 'people'} kept in the clear by an older "
                                       "Keel"),
    "person.revealed": lambda d: f"looked at {d['person']}'s full {' and '.join(d['fields'])}",
    "keys.recovery_handed_over": lambda d: {"file": "saved the book's recovery key to a file",
                                            "desk": "was shown the book's recovery key on the desk",
                                            }.get(d.get("how", ""), "was shown the book's recovery key at set-up"),
    "data.exported": lambda d: (f"exported {d['what']} ({d['rows']:,} row{'' if d['rows'] == 1 else 's'}) "
                                f"to {d['file']}"),
    "keys.restored": lambda d: "put the book's key back on a machine from its recovery key",
    "books.reconciled": _reconciled,
    "books.rules_revision": _rules_revision,
    "queue.assigned_by_rules": _queue_rules,
    "queue.rules_saved": lambda d: "saved the collections queue's assignment rules",
    "queue.reassigned": _reassigned,
    "product.created": _product,
    "product.version_added": _product_version,
    "settings.lender_changed": lambda d: "changed the lender's name, address or logo",
    "database.initialized": lambda d: "set up the database",
    "user.created": _user("created"),
    "user.password_changed": _password(False),
    "user.password_reset": _password(True),
    "user.locked_out": _locked_out,
    "user.unlocked": _unlocked,
    "approval.granted": _approval,
    "settings.security_changed": _security,
    "settings.statements_changed": _statements,
    "settings.gl_changed": _gl_settings,
    "user.role_changed": _role,
    "user.deactivated": _user("deactivated"),
    "user.reactivated": _user("reactivated"),
    "user.signed_in": _signed_in,
    "user.sign_in_failed": _sign_in_failed,
}


def _fallback(action: str, details: Details, entity: str | None, entity_id: object | None) -> str:
    """A code this module does not know: the code in words and its simple details, never JSON."""
    text = _words(action)
    if entity:
        text += f" ({_words(entity)}" + (f" {entity_id})" if entity_id not in (None, "") else ")")
    simple = [(k, v) for k, v in details.items() if isinstance(v, (str, int, Decimal, bool)) and str(v).strip()][:4]
    if simple:
        text += ": " + ", ".join(f"{_words(k)} {_yes_no(v) if isinstance(v, bool) else v}" for k, v in simple)
    return text


def audit_sentence(action: str, details: Details | None, *, who: str, entity: str | None = None,
                   entity_id: object | None = None) -> str:
    """One audit record as a sentence: who did what (the loan is shown beside it)."""
    d: Details = details or {}
    name = who or "Keel"
    builder = SENTENCES.get(action)
    if builder is None:
        body = _fallback(action, d, entity, entity_id)
        text = f"{name}: {body[:1].upper()}{body[1:]}"
    else:
        try:
            text = f"{name} {builder(d)}"
        except (AttributeError, KeyError, TypeError, ValueError):
            # Details in an older shape: still words, never a traceback.
            body = _fallback(action, d, entity, entity_id)
            text = f"{name}: {body[:1].upper()}{body[1:]}"
    return text.rstrip(".") + "."


__all__ = ["SENTENCES", "audit_sentence"]
