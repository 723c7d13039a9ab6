"""Letter templates: sections, placeholders, and what a template may not do."""

from __future__ import annotations

import pytest

from app.reports import templates
from app.reports.templates import TemplateProblem


def test_sections_and_comments() -> None:
    text = templates.parse("payoff", "# a comment\n[subject]\nPayoff {loan_number}\n[opening]\nA\n\nB\n[closing]\nC\n")
    assert text.section("subject") == "Payoff {loan_number}"
    assert text.section("opening") == "A\n\nB"
    assert text.section("middle") == ""
    assert text.section("closing") == "C"


def test_text_before_a_section_is_the_opening() -> None:
    assert templates.parse("late-notice", "Dear {borrower_name},").section("opening") == "Dear {borrower_name},"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("Hi {foo}", "unknown placeholder {foo}"),
        ("Hi {borrower_name} and {cure_by_date}", "unknown placeholder {cure_by_date}"),  # not a payoff figure
        ("Hi {borrower_name.upper}", "unknown placeholder {borrower_name.upper}"),
        ("Hi {0}", "unknown placeholder {0}"),
        ("Hi {}", "unknown placeholder {}"),
        ("Hi {borrower_name:>20}", "may not carry a format"),
        ("Hi {borrower_name!r}", "may not carry a format"),
        ("Hi {borrower_name", "unmatched { or }"),
        ("Hi }", "unmatched { or }"),
        ("[footer]\nx", "unknown section [footer]"),
        ("[opening]\nx\n[opening]\ny", "section [opening] appears twice"),
        ("", "is empty"),
        ("# only a comment\n[subject]\n", "has no text"),
    ],
)
def test_bad_templates_are_refused_naming_the_problem(body: str, problem: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        templates.parse("payoff", body)
    assert problem in str(caught.value)


def test_every_kind_knows_the_common_placeholders() -> None:
    for kind in templates.KINDS:
        allowed = templates.allowed_placeholders(kind)
        assert {"borrower_name", "loan_number", "letter_date", "lender_name", "lender_phone"} <= set(allowed)
        assert all(description for description in allowed.values())


def test_markup_escapes_values_and_keeps_bold_and_line_breaks() -> None:
    values = {"borrower_name": "Smith & <Sons>", "amount_due": "$1,234.56"}
    paragraphs = templates.to_markup("Dear {borrower_name},\n\nPay **{amount_due}** now.\nThanks {{you}}", values)
    assert paragraphs == ["Dear Smith &amp; &lt;Sons&gt;,", "Pay <b>$1,234.56</b> now.<br/>Thanks {you}"]


def test_default_templates_parse_and_use_only_known_placeholders() -> None:
    for kind in templates.KINDS:
        text = templates.default_text(kind)
        assert text.version is None
        assert text.section("subject"), kind
