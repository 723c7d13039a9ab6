"""Letter text: editable templates with named placeholders.

A template is plain text in sections::

    # Lines starting with '#' are comments.
    [subject]
    Your payment due {past_due_date} has not been received
    [opening]
    Dear {borrower_name},

    Our records show ...
    [middle]
    ...
    [closing]
    Sincerely,
    {lender_name}

* ``[subject]`` is the bold line above the letter, ``[opening]`` comes before
  the table of figures, ``[middle]`` after it, ``[closing]`` last.  Text before
  the first section header belongs to ``[opening]``.
* A blank line starts a new paragraph; a single line break is kept as is.
  ``**words**`` prints in bold.  ``{name}`` is replaced by the figure or name
  it stands for; ``{{`` and ``}}`` print a literal brace.
* Tables of figures and the disclosures a regulation requires (the Regulation F
  validation information, the Regulation Z delinquency notice) are laid out by
  code, never by a template, so no edit can drop a required element.

The defaults live in ``resources/letters/<kind>.txt``; an admin's edit is a new
``LetterTemplate`` version in the database (``app.services.letters.save_template``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape

from app.reports.layout import RESOURCES

LETTER_DIR = RESOURCES / "letters"

KINDS = ("late-notice", "default-notice", "validation-notice", "payoff", "statement", "paid-in-full",
         "payment-reminder")
SECTIONS = ("subject", "opening", "middle", "closing")

#: Placeholders every kind of letter may use.
COMMON_PLACEHOLDERS: dict[str, str] = {
    "borrower_name": "the borrower's name as on the address",
    "loan_number": "the loan number",
    "letter_date": "the letter's date, e.g. June 1, 2026",
    "lender_name": "the lender's name (setting lender_name)",
    "lender_address": "the lender's address on one line",
    "lender_phone": "the lender's telephone number",
    "lender_website": "the lender's website (setting lender_website)",
    "lender_email": "the lender's e-mail address (setting lender_email)",
    "principal_balance": "unpaid principal",
    "interest_rate": "the current annual interest rate, e.g. 6.250%",
}

#: Placeholders each kind adds.
KIND_PLACEHOLDERS: dict[str, dict[str, str]] = {
    "late-notice": {
        "amount_due": "total amount past due now (installments and fees)",
        "past_due_date": "due date of the oldest unpaid installment",
        "days_past_due": "days past due",
        "past_due_installments": "amount of the unpaid installments",
        "late_fees": "late charges outstanding",
        "other_fees": "other fees outstanding",
        "regular_payment": "the regular installment",
        "grace_days": "grace period in days",
    },
    "default-notice": {
        "amount_due": "total amount past due now",
        "cure_amount": "amount needed to cure the default as of the letter date",
        "cure_by_date": "the date by which the default must be cured",
        "cure_amount_by_date": "amount needed if paid on the cure-by date",
        "past_due_date": "due date of the oldest unpaid installment",
        "days_past_due": "days past due",
        "payoff_amount": "the whole balance as of the letter date",
    },
    "validation-notice": {
        "current_amount": "the current amount of the debt",
        "itemization_date": "the itemization date",
        "validation_end_date": "end of the validation period",
        "creditor_name": "the creditor to whom the debt is owed",
        "days_past_due": "days past due",
    },
    "payoff": {
        "payoff_amount": "total to pay the loan off on the good-through date",
        "good_through_date": "the date the payoff figure is good through",
        "per_diem": "interest per day after the good-through date",
        "interest_due": "interest to the good-through date",
        "fees_due": "fees outstanding",
    },
    "statement": {
        "amount_due": "total amount due by the payment due date",
        "payment_due_date": "the payment due date",
        "late_fee_amount": "late fee charged if paid after the grace period",
        "late_fee_date": "the date after which the late fee is charged",
        "past_due_amount": "amount already past due",
        "days_past_due": "days past due",
    },
    "paid-in-full": {
        "paid_off_date": "the date the loan was paid in full",
        "final_payment_amount": "the final payment",
        "refund_due": "overpayment to be refunded",
    },
    "payment-reminder": {
        "amount_due": "total amount due by the payment due date",
        "payment_due_date": "the payment due date the reminder is for",
        "regular_payment": "the regular installment",
        "late_fee_amount": "late fee charged if paid after the grace period",
        "late_fee_date": "the date after which the late fee is charged",
    },
}


def allowed_placeholders(kind: str) -> dict[str, str]:
    """Every placeholder a template of ``kind`` may name, with what it stands for."""
    return {**COMMON_PLACEHOLDERS, **KIND_PLACEHOLDERS.get(kind, {})}


class TemplateProblem(ValueError):
    """A template that cannot be used; ``str()`` says what to fix."""


@dataclass(frozen=True)
class LetterText:
    """A template split into sections (raw text, placeholders not yet filled)."""

    kind: str
    sections: Mapping[str, str]
    version: int | None = None  # None: the default file

    def section(self, name: str) -> str:
        return self.sections.get(name, "")


_SECTION_RE = re.compile(r"^\[([A-Za-z_][A-Za-z0-9_-]*)\]\s*$")


def parse(kind: str, body: str, version: int | None = None) -> LetterText:
    """Split ``body`` into sections and check every placeholder; raise TemplateProblem."""
    if kind not in KINDS:
        raise TemplateProblem(f"unknown letter kind {kind!r}")
    if not body or not body.strip():
        raise TemplateProblem("is empty")
    sections: dict[str, list[str]] = {}
    current = "opening"
    for raw in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw.lstrip().startswith("#"):
            continue
        match = _SECTION_RE.match(raw.strip())
        if match:
            current = match.group(1).lower()
            if current not in SECTIONS:
                raise TemplateProblem(
                    f"unknown section [{match.group(1)}]; use " + ", ".join(f"[{s}]" for s in SECTIONS)
                )
            if current in sections:
                raise TemplateProblem(f"section [{current}] appears twice")
            sections[current] = []
            continue
        sections.setdefault(current, []).append(raw.rstrip())
    text = {name: "\n".join(lines).strip("\n") for name, lines in sections.items()}
    allowed = allowed_placeholders(kind)
    for name, section_text in text.items():
        for placeholder in placeholders(section_text):
            if placeholder not in allowed:
                raise TemplateProblem(f"unknown placeholder {{{placeholder}}}")
    if not any(value.strip() for value in text.values()):
        raise TemplateProblem("has no text")
    return LetterText(kind, text, version)


def placeholders(text: str) -> list[str]:
    """The placeholder names ``text`` uses, in order; TemplateProblem for bad braces or formats."""
    found: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise TemplateProblem("has an unmatched { or }; write {{ or }} for a literal brace") from None
    for _literal, field_name, format_spec, conversion in parsed:
        if field_name is None:
            continue
        if field_name == "" or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field_name):
            raise TemplateProblem(f"unknown placeholder {{{field_name}}}")
        if format_spec or conversion:
            raise TemplateProblem(f"placeholder {{{field_name}}} may not carry a format; write {{{field_name}}}")
        found.append(field_name)
    return found


@lru_cache(maxsize=16)
def default_body(kind: str) -> str:
    path = LETTER_DIR / f"{kind}.txt"
    return path.read_text(encoding="utf-8")


def default_text(kind: str) -> LetterText:
    return parse(kind, default_body(kind), None)


def fill(text: str, values: Mapping[str, str]) -> str:
    """Plain text with placeholders replaced (for the subject line, previews and tests)."""
    out: list[str] = []
    for literal, field_name, _spec, _conv in string.Formatter().parse(text):
        out.append(literal)
        if field_name is not None:
            out.append(values.get(field_name, ""))
    return "".join(out)


_BOLD_RE = re.compile(r"\*\*(.+?)\*\*", re.S)


def to_markup(text: str, values: Mapping[str, str]) -> list[str]:
    """Paragraphs of reportlab markup: escaped text, filled placeholders, **bold**, line breaks."""
    filled = fill(text, values)
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", filled) if p.strip()]
    out: list[str] = []
    for paragraph in paragraphs:
        marked = escape(paragraph)
        marked = _BOLD_RE.sub(r"<b>\1</b>", marked)
        out.append(marked.replace("\n", "<br/>"))
    return out
