"""Letters, notices and statements as PDF (reportlab platypus), one or many in one file.

This module is a renderer: it takes plain values (:class:`LetterSpec`, built by
:mod:`app.services.letters` from the engine's figures) and returns PDF bytes.
It imports neither the database nor the services, so the service layer can
call it inside its unit of work without an import cycle.

Every figure arrives as a ``Decimal`` or ``date`` already computed by the
engine; this module only formats and places them.  Money is right-aligned
with thousands separators (``$1,234.56``) through :func:`layout.money`.

One document can hold many letters (:func:`render`): each letter starts on a
new page with the letterhead and the address in the window, later pages get
a continuation header, and "Page x of y" counts the pages of each letter.
"""

from __future__ import annotations

import datetime as _dt
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from app.reports import layout
from app.reports.layout import (
    ACCENT,
    BODY_BOTTOM,
    BODY_WIDTH,
    FIRST_BODY_TOP,
    FONT,
    FONT_BOLD,
    INK,
    LATER_BODY_TOP,
    MARGIN_LEFT,
    MUTED,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RULE,
    SHADE,
    Lender,
    Recipient,
    long_date,
    money,
    short_date,
)

# Streams in binary, not ASCII85: the embedded font subsets were half of each letter's
# rendering time (issue 6 benchmark), and no one reads a letter's PDF as text.
rl_config.useA85 = 0

TITLES = {
    "late-notice": "Late notice",
    "default-notice": "Notice of default",
    "validation-notice": "Validation notice",
    "payoff": "Payoff statement",
    "statement": "Billing statement",
    "paid-in-full": "Paid in full",
    "payment-reminder": "Payment reminder",
}

#: Regulation F's pointer to the CFPB (12 CFR 1006.34(c)(3)(iv)).
CFPB_DEBT_COLLECTION_URL = "www.cfpb.gov/debt-collection"
#: Housing counselling (12 CFR 1026.41(d)(7)(v) and (d)(8)(vii)).
CFPB_COUNSELOR_URL = "www.consumerfinance.gov/find-a-housing-counselor"
HUD_COUNSELOR_PHONE = "1-800-569-4287"


@dataclass(frozen=True)
class LetterSpec:
    """Everything one letter prints.  Built by the letters service; plain values only."""

    kind: str
    letter_date: _dt.date
    loan_number: str
    lender: Lender
    recipient: Recipient
    subject: str
    #: section name -> paragraphs of reportlab markup (from the template)
    text: Mapping[str, Sequence[str]]
    #: the engine's figures for this kind (Decimal, date, int, str, lists of dicts)
    figures: Mapping[str, Any]
    reference: tuple[tuple[str, str], ...] = ()
    #: "This communication is from a debt collector." where Regulation F applies
    debt_collector: bool = False
    title: str = ""

    @property
    def heading(self) -> str:
        return self.title or TITLES.get(self.kind, self.kind)


@dataclass
class Rendered:
    pdf: bytes
    pages: list[int] = field(default_factory=list)  # pages of each letter, in order


# ---------------------------------------------------------------- small flowables


class _Begin(Flowable):
    """Marks where a letter starts; invisible."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index
        self.width = self.height = 0

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # reportlab's name
        return 0, 0

    def draw(self) -> None:
        doc = self.canv._doctemplate  # type: ignore[attr-defined]
        doc.current = self.index
        doc.page_in_letter = 0


class _Blank(Flowable):
    """A duplex filler page: belongs to no letter."""

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        doc = self.canv._doctemplate  # type: ignore[attr-defined]
        doc.current = None


class AtBottom(Flowable):
    """Its content placed at the bottom of the page (a tear-off form, a coupon).

    Takes the rest of the frame; if the content does not fit in what is left,
    it moves to the next page.
    """

    def __init__(self, content: Flowable) -> None:
        super().__init__()
        self.content = content

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        w, h = self.content.wrap(availWidth, availHeight)
        self._content_h = h
        self.width = availWidth
        self.height = max(h, availHeight - 0.5)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        return []

    def draw(self) -> None:
        self.content.drawOn(self.canv, 0, 0)


class CutLine(Flowable):
    """A dashed line with scissors: detach here."""

    def __init__(self, label: str, width: float = BODY_WIDTH) -> None:
        super().__init__()
        self.label = label
        self.width = width
        self.height = 14

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        c.setStrokeColor(MUTED)
        c.setLineWidth(0.6)
        c.setDash(3, 2.5)
        c.line(-0.6 * inch, 7, self.width + 0.6 * inch, 7)
        c.setDash()
        c.setFillColor(colors.white)
        label = f"\u2702  {self.label}"
        c.setFont(FONT, 7.2)
        from reportlab.pdfbase.pdfmetrics import stringWidth

        w = stringWidth(label, FONT, 7.2) + 10
        c.rect(self.width / 2 - w / 2, 2, w, 10, stroke=0, fill=1)
        c.setFillColor(MUTED)
        c.drawCentredString(self.width / 2, 4.5, label)
        c.setFillColor(INK)


# ---------------------------------------------------------------- table helpers

def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(text, _STYLES()[style])


_styles_cache: dict[str, Any] = {}


def _STYLES() -> dict[str, Any]:
    if not _styles_cache:
        _styles_cache.update(layout.styles())
    return _styles_cache


def amount_table(
    rows: Sequence[tuple[str, Decimal | str]],
    *,
    total: tuple[str, Decimal] | None = None,
    width: float = 4.9 * inch,
    heading: tuple[str, str] | None = None,
    money_width: float = 1.35 * inch,
    note_rows: Sequence[tuple[str, Decimal | str]] = (),
) -> Table:
    """Label / amount rows, amounts right-aligned; an optional bold total under a rule."""
    data: list[list[Any]] = []
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, 9),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.6),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("RIGHTPADDING", (0, 0), (-1, -1), 6),
    ]
    if heading:
        data.append([heading[0], heading[1]])
        style += [
            ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.6),
            ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
            ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
        ]
    first = len(data)
    for label, value in rows:
        data.append([_p(label, "cell"), money(value) if isinstance(value, Decimal) else value])
    for i in range(first, len(data)):
        if (i - first) % 2 == 1:
            style.append(("BACKGROUND", (0, i), (-1, i), SHADE))
    if total is not None:
        data.append([_p(total[0], "cell_bold"), money(total[1])])
        style += [
            ("FONT", (1, len(data) - 1), (1, len(data) - 1), FONT_BOLD, 9.6),
            ("LINEABOVE", (0, len(data) - 1), (-1, len(data) - 1), 1.1, ACCENT),
            ("TOPPADDING", (0, len(data) - 1), (-1, len(data) - 1), 4),
        ]
    for label, value in note_rows:
        data.append([_p(label, "cell"), money(value) if isinstance(value, Decimal) else value])
        style += [
            ("TEXTCOLOR", (0, len(data) - 1), (-1, len(data) - 1), MUTED),
            ("LINEABOVE", (0, len(data) - 1), (-1, len(data) - 1), 0.4, RULE),
        ]
    style.append(("BOX", (0, 0), (-1, -1), 0.6, RULE))
    table = Table(data, colWidths=[width - money_width, money_width], hAlign="LEFT")
    table.setStyle(TableStyle(style))
    return table


def grid_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    right: Sequence[int] = (),
    total: Sequence[Any] | None = None,
    font_size: float = 8.4,
) -> Table:
    """A ruled table with a shaded header; columns in ``right`` are right-aligned money."""
    data: list[list[Any]] = [list(header)]
    for row in rows:
        data.append([money(v) if isinstance(v, Decimal) else v for v in row])
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, font_size),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, font_size - 0.4),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
        ("TEXTCOLOR", (0, 1), (-1, -1), INK),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ("BOX", (0, 0), (-1, -1), 0.6, RULE),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, colors.HexColor("#d5dbe1")),
    ]
    for col in right:
        style.append(("ALIGN", (col, 0), (col, -1), "RIGHT"))
    if total is not None:
        data.append([money(v) if isinstance(v, Decimal) else v for v in total])
        style += [
            ("FONT", (0, len(data) - 1), (-1, len(data) - 1), FONT_BOLD, font_size),
            ("LINEABOVE", (0, len(data) - 1), (-1, len(data) - 1), 1.0, ACCENT),
        ]
    table = Table(data, colWidths=list(widths), hAlign="LEFT", repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


def boxed(flowables: list[Flowable], *, width: float = BODY_WIDTH, shade: bool = True,
          border: Any = RULE) -> Table:
    """Flowables in a single-cell box (a notice, a message)."""
    table = Table([[flowables]], colWidths=[width], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.8, border),
                ("BACKGROUND", (0, 0), (-1, -1), SHADE if shade else colors.white),
                ("LEFTPADDING", (0, 0), (-1, -1), 9),
                ("RIGHTPADDING", (0, 0), (-1, -1), 9),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def _paragraphs(spec: LetterSpec, section: str, style: str = "body") -> list[Flowable]:
    return [_p(text, style) for text in spec.text.get(section, ())]


def _subject(spec: LetterSpec) -> list[Flowable]:
    return [_p(_esc(spec.subject), "subject")] if spec.subject else []


def _esc(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)


def _debt_collector_line(spec: LetterSpec) -> list[Flowable]:
    if not spec.debt_collector:
        return []
    # 12 CFR 1006.18(e)(2): later communications say they are from a debt collector.
    return [Spacer(1, 4), _p("This communication is from a debt collector.", "small")]


def _dec(figures: Mapping[str, Any], key: str) -> Decimal:
    value = figures.get(key)
    return value if isinstance(value, Decimal) else Decimal(str(value or "0.00"))


# ---------------------------------------------------------------- the documents


def _late_notice(spec: LetterSpec) -> list[Flowable]:
    f = spec.figures
    rows: list[tuple[str, Decimal | str]] = [
        (f"Unpaid installments ({f['installments_past_due']}), oldest due {long_date(f['past_due_date'])}",
         _dec(f, "past_due_installments")),
        ("Late charges", _dec(f, "late_fees")),
    ]
    if _dec(f, "other_fees"):
        rows.append(("Other fees", _dec(f, "other_fees")))
    table = amount_table(rows, total=(f"Total amount due as of {long_date(spec.letter_date)}", _dec(f, "amount_due")),
                         heading=("Amount due", "Amount"))
    return [
        *_subject(spec),
        *_paragraphs(spec, "opening"),
        Spacer(1, 2),
        KeepTogether([table]),
        Spacer(1, 10),
        *_paragraphs(spec, "middle"),
        *_paragraphs(spec, "closing"),
        *_debt_collector_line(spec),
    ]


def _default_notice(spec: LetterSpec) -> list[Flowable]:
    f = spec.figures
    rows: list[tuple[str, Decimal | str]] = [
        (f"Unpaid installments ({f['installments_past_due']}), oldest due {long_date(f['past_due_date'])}",
         _dec(f, "past_due_installments")),
        ("Late charges", _dec(f, "late_fees")),
    ]
    if _dec(f, "other_fees"):
        rows.append(("Other fees", _dec(f, "other_fees")))
    table = amount_table(
        rows,
        total=(f"Amount required to cure as of {long_date(spec.letter_date)}", _dec(f, "cure_amount")),
        heading=("Amount to cure the default", "Amount"),
        note_rows=[
            (f"Amount required if received on {long_date(f['cure_by_date'])}, including installments and "
             "charges that fall due by then", _dec(f, "cure_amount_by_date")),
            ("Unpaid principal balance (for your information)", _dec(f, "principal_balance")),
        ],
    )
    return [
        *_subject(spec),
        *_paragraphs(spec, "opening"),
        Spacer(1, 2),
        KeepTogether([table]),
        Spacer(1, 10),
        *_paragraphs(spec, "middle"),
        *_paragraphs(spec, "closing"),
        *_debt_collector_line(spec),
    ]


def _validation_notice(spec: LetterSpec) -> list[Flowable]:
    """12 CFR 1006.34(c): every element, in the model form's order (Appendix B, form B-1)."""
    f = spec.figures
    lender = spec.lender
    collector = lender.name
    creditor_then = f["creditor_on_itemization_date"]
    creditor_now = f["current_creditor"]
    end = long_date(f["validation_end_date"])
    item_date = long_date(f["itemization_date"])
    out: list[Flowable] = [*_subject(spec), *_paragraphs(spec, "opening")]
    # (c)(1): the debt collector communication disclosure (1006.18(e)(1)).
    out.append(boxed([
        _p(f"<b>{_esc(collector)} is a debt collector.</b> We are trying to collect a debt that you owe to "
           f"{_esc(creditor_now)}. We will use any information you give us to help collect the debt.", "body"),
    ], shade=True, border=ACCENT))
    out.append(Spacer(1, 6))
    # (c)(2): information about the debt.
    out.append(_p("Our information shows:", "heading"))
    out.append(_p(
        f"You had a loan from <b>{_esc(creditor_then)}</b> with account number <b>{_esc(f['account_number'])}</b>. "
        f"The creditor to whom the debt is owed now is <b>{_esc(creditor_now)}</b>.", "body"))
    table = amount_table(
        [
            (f"As of {item_date}, you owed:", _dec(f, "amount_on_itemization_date")),
            (f"Between {item_date} and today:", ""),
            ("\u00a0\u00a0\u00a0You were charged this amount in interest:", "+ " + money(_dec(f, "interest_since"))),
            ("\u00a0\u00a0\u00a0You were charged this amount in fees:", "+ " + money(_dec(f, "fees_since"))),
            ("\u00a0\u00a0\u00a0You paid this amount toward the debt:", "\u2013 " + money(_dec(f, "payments_since"))),
            ("\u00a0\u00a0\u00a0You were credited this amount:", "\u2013 " + money(_dec(f, "credits_since"))),
        ],
        total=("Total amount of the debt now:", _dec(f, "current_amount")),
        heading=("Itemization of the debt", "Amount"),
        width=BODY_WIDTH,
    )
    out.append(KeepTogether([table]))
    out.append(_p(
        f"Itemization date: {item_date} (the date of your last payment, or of the loan if no payment was made; "
        "12 CFR 1006.34(b)(3)).", "fine"))
    out.append(Spacer(1, 6))
    # (c)(3): information about consumer protections.
    out.append(_p("How can you dispute the debt?", "heading"))
    bullets = [
        f"<b>Call or write to us by {end}, to dispute all or part of the debt.</b> If you do not, we will assume "
        "that our information is correct.",
        f"<b>If you write to us by {end},</b> we must stop collection on any amount you dispute until we send you "
        "information that shows you owe the debt. You may use the form below or write to us without the form. "
        "You may also include supporting documents.",
    ]
    out += [Paragraph(text, _STYLES()["bullet"], bulletText="\u2022") for text in bullets]
    out.append(_p("What else can you do?", "heading"))
    bullets = [
        f"<b>Write to ask for the name and address of the original creditor, if different from the current "
        f"creditor.</b> If you write by {end}, we must stop collection until we send you that information. You "
        "may use the form below or write to us without the form.",
        f"<b>Go to {CFPB_DEBT_COLLECTION_URL}</b> to learn more about your rights under federal law. For "
        "instance, you have the right to stop or limit how we contact you.",
        f"<b>Contact us about your payment options</b> at {_esc(lender.phone)}.",
    ]
    out += [Paragraph(text, _STYLES()["bullet"], bulletText="\u2022") for text in bullets]
    out.append(_p(
        f"Mail disputes and requests to: {_esc(collector)}, {_esc(lender.one_line_address)}. "
        f"The validation period ends on {end}: {f['validation_rule']}", "fine"))
    out += _paragraphs(spec, "middle")
    out += _paragraphs(spec, "closing")
    out.append(AtBottom(_response_form(spec)))
    return out


def _box(checked: bool = False) -> str:
    return "\u2611" if checked else "\u2610"


def _response_form(spec: LetterSpec) -> Flowable:
    """12 CFR 1006.34(c)(4): the consumer-response section, segregated at the bottom."""
    f = spec.figures
    lender = spec.lender
    recipient = spec.recipient
    left = [
        _p("Mail this form to:", "box_heading"),
        _p("<br/>".join(_esc(line) for line in (lender.name, *lender.address_lines)), "cell"),
        Spacer(1, 8),
        _p(f"Account number: <b>{_esc(f['account_number'])}</b>", "cell"),
        Spacer(1, 8),
        _p("<br/>".join(_esc(line) for line in recipient.lines), "cell"),
    ]
    right = [
        _p("How do you want to respond?", "box_heading"),
        _p("Check all that apply:", "cell"),
        Spacer(1, 2),
        _p("<b>I want to dispute the debt because I think:</b>", "cell"),
        _p(f"{_box()}\u00a0 This is not my debt.", "cell"),
        _p(f"{_box()}\u00a0 The amount is wrong.", "cell"),
        _p(f"{_box()}\u00a0 Other (please describe on reverse or attach additional information).", "cell"),
        Spacer(1, 4),
        _p(f"{_box()}\u00a0 <b>I want you to send me the name and address of the original creditor.</b>", "cell"),
        Spacer(1, 4),
        _p(f"{_box()}\u00a0 <b>I enclosed this amount:</b> $ ____________________", "cell"),
        _p(f"Make your check payable to {_esc(lender.name)}. Include the account number "
           f"{_esc(f['account_number'])}.", "fine"),
    ]
    inner = Table([[left, right]], colWidths=[2.35 * inch, BODY_WIDTH - 2.35 * inch])
    inner.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEAFTER", (0, 0), (0, 0), 0.5, RULE),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
        ("RIGHTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ("BOX", (0, 0), (-1, -1), 0.9, ACCENT),
    ]))
    outer = Table([[CutLine("Detach and return this part")], [Spacer(1, 4)], [inner]], colWidths=[BODY_WIDTH])
    outer.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
    return outer


def _payoff(spec: LetterSpec) -> list[Flowable]:
    f = spec.figures
    good = long_date(f["good_through_date"])
    interest = _dec(f, "interest")
    rows: list[tuple[str, Decimal | str]] = [
        ("Unpaid principal balance", _dec(f, "principal")),
        # Negative when interest was paid ahead for days after the payoff date: it is credited.
        (f"Interest to {good}" if interest >= 0 else f"Interest paid for days after {good}, credited", interest),
        ("Late charges", _dec(f, "late_fees")),
        ("Other fees", _dec(f, "other_fees")),
        ("Escrow (no escrow account)", _dec(f, "escrow")),
    ]
    if _dec(f, "suspense"):
        # The payoff is net of suspense: money received and not yet applied is the borrower's.
        rows.append(("Less unapplied funds held on your account", -_dec(f, "suspense")))
    notes: list[tuple[str, Decimal | str]] = [
        (f"Interest per day after {good} (per diem)", _dec(f, "per_diem")),
    ]
    table = amount_table(rows, total=(f"Total amount to pay off on {good}", _dec(f, "payoff_amount")),
                         heading=(f"Payoff good through {good}", "Amount"), note_rows=notes, width=5.2 * inch)
    facts = amount_table(
        [
            ("Interest rate", f["interest_rate"]),
            # The first day whose interest is unpaid, not the installment paid-through date (issue 11).
            ("Interest paid to", long_date(f.get("interest_paid_to")) or "\u2014"),
            ("Next payment due", long_date(f.get("next_due")) or "\u2014"),
        ],
        heading=("Loan", ""), width=5.2 * inch, money_width=1.8 * inch,
    )
    return [
        *_subject(spec),
        *_paragraphs(spec, "opening"),
        Spacer(1, 2),
        KeepTogether([table]),
        Spacer(1, 8),
        KeepTogether([facts]),
        Spacer(1, 10),
        *_paragraphs(spec, "middle"),
        *_paragraphs(spec, "closing"),
    ]


def _paid_in_full(spec: LetterSpec) -> list[Flowable]:
    f = spec.figures
    rows: list[tuple[str, Decimal | str]] = [
        ("Date paid in full", long_date(f["paid_off_date"])),
        ("Final payment received", _dec(f, "final_payment_amount")),
        ("Unpaid principal balance", _dec(f, "principal_balance")),
        ("Interest and fees owed", _dec(f, "amount_owed")),
    ]
    if _dec(f, "refund_due"):
        rows.append(("Overpayment to be refunded to you", _dec(f, "refund_due")))
    table = amount_table(rows, heading=("Loan " + spec.loan_number, ""), width=4.6 * inch, money_width=1.6 * inch)
    return [
        *_subject(spec),
        *_paragraphs(spec, "opening"),
        Spacer(1, 2),
        KeepTogether([table]),
        Spacer(1, 10),
        *_paragraphs(spec, "middle"),
        *_paragraphs(spec, "closing"),
    ]


def _statement(spec: LetterSpec) -> list[Flowable]:
    """A periodic statement in the shape of 12 CFR 1026.41(d) and the CFPB's model form H-30."""
    f = spec.figures
    due = long_date(f["payment_due_date"])
    out: list[Flowable] = []
    half = (BODY_WIDTH - 0.2 * inch) / 2
    # (d)(7) account information, (d)(2) explanation of amount due.
    account = amount_table(
        [
            ("Outstanding principal", _dec(f, "principal_balance")),
            ("Interest rate", f["interest_rate"]),
            ("Prepayment penalty", "None"),
            ("Interest paid to", long_date(f.get("interest_paid_to")) or "\u2014"),
        ],
        heading=("Account information", ""), width=half, money_width=1.25 * inch,
    )
    explain_rows: list[tuple[str, Decimal | str]] = []
    if f.get("current_principal") is not None:
        explain_rows += [("Principal", _dec(f, "current_principal")), ("Interest", _dec(f, "current_interest"))]
    else:
        explain_rows.append(("Principal and interest", _dec(f, "current_installment")))
    explain_rows += [
        ("Escrow (taxes and insurance)", _dec(f, "escrow")),
        ("<b>Regular payment</b>", _dec(f, "current_installment")),
        ("Total fees and charges", _dec(f, "fees_due")),
        ("Overdue payments", _dec(f, "past_due_installments")),
    ]
    explain = amount_table(explain_rows, total=("Total amount due", _dec(f, "amount_due")),
                           heading=("Explanation of amount due", ""), width=half, money_width=1.05 * inch)
    pair = Table([[account, explain]], colWidths=[half + 0.2 * inch, half])
    pair.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                              ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
    out.append(pair)
    out.append(Spacer(1, 6))
    if f.get("late_fee_date") is not None and _dec(f, "late_fee_amount"):
        out.append(_p(f"If payment is received after <b>{long_date(f['late_fee_date'])}</b>, a "
                      f"<b>{money(_dec(f, 'late_fee_amount'))}</b> late fee will be charged.", "body"))
    # (d)(3) past payments breakdown.
    since, ytd = f["paid_since_last"], f["paid_year_to_date"]
    labels = [("principal", "Principal"), ("interest", "Interest"), ("escrow", "Escrow (taxes and insurance)"),
              ("fees", "Fees"), ("suspense", "Partial payment (unapplied)")]
    rows = [[label, Decimal(since[key]), Decimal(ytd[key])] for key, label in labels]
    breakdown = grid_table(
        ["Past payments breakdown", "Paid since last statement", "Paid year to date"],
        rows, [BODY_WIDTH - 3.0 * inch, 1.5 * inch, 1.5 * inch], right=(1, 2),
        total=["Total", Decimal(since["total"]), Decimal(ytd["total"])],
    )
    out += [KeepTogether([breakdown]), Spacer(1, 8)]
    # (d)(4) transaction activity.
    period = f"{short_date(f['period_start'])} to {short_date(f['period_end'])}"
    activity = [[short_date(a["date"]), a["description"], a["charges"], a["payments"]] for a in f["activity"]]
    if not activity:
        activity = [["", "No activity in this period", "", ""]]
    out.append(KeepTogether([
        _p(f"Transaction activity ({period})", "heading"),
        grid_table(
            ["Date", "Description", "Charges", "Payments and credits"],
            [[row[0], _p(_esc(row[1]), "cell"), row[2], row[3]] for row in activity],
            [0.95 * inch, BODY_WIDTH - 3.65 * inch, 1.2 * inch, 1.5 * inch], right=(2, 3),
        ),
    ]))
    out.append(Spacer(1, 8))
    messages = _paragraphs(spec, "opening", "small") + _paragraphs(spec, "middle", "small")
    if f.get("suspense_held"):
        # (d)(5): partial payment information.
        messages.append(_p(f"<b>Partial payments:</b> {money(_dec(f, 'suspense_held'))} you sent is held in a "
                           "separate suspense account, not applied to your loan. Once it reaches a full "
                           "installment it will be applied.", "small"))
    messages.append(_p(f"<b>Questions?</b> Call {_esc(spec.lender.phone)}"
                       + (f" or visit {_esc(spec.lender.website)}" if spec.lender.website else "")
                       + f". Housing counselors: {CFPB_COUNSELOR_URL} or HUD at {HUD_COUNSELOR_PHONE}.", "small"))
    if spec.debt_collector:
        messages.append(_p("This communication is from a debt collector.", "small"))
    out.append(KeepTogether([_p("Important messages", "heading"), boxed(messages, shade=False)]))
    out.append(Spacer(1, 8))
    if f.get("delinquency"):
        out.append(_delinquency_notice(spec))
        out.append(Spacer(1, 8))
    out += _paragraphs(spec, "closing", "small")
    out.append(AtBottom(_coupon(spec, due)))
    return out


def _delinquency_notice(spec: LetterSpec) -> Flowable:
    """12 CFR 1026.41(d)(8): date delinquent, risks, six months' history, loss mitigation, counselling."""
    d = spec.figures["delinquency"]
    risk = d["risk"]
    items: list[Flowable] = [
        _p("<b>** Delinquency notice **</b>", "box_heading"),
        _p(f"<b>You are late on your loan payments.</b> Failure to bring your loan current may result in fees "
           f"and {_esc(risk)}. As of {long_date(spec.letter_date)}, you are <b>{d['days_past_due']} days "
           f"delinquent</b> on your loan. You became delinquent on <b>{long_date(d['delinquent_since'])}</b>.",
           "small"),
        _p("<b>Recent account history</b>", "small"),
    ]
    for line in d["history"]:
        if Decimal(str(line["unpaid"])) == 0:
            status = "fully paid"
        else:
            status = f"unpaid balance of {money(Decimal(line['unpaid']))}"
        items.append(Paragraph(f"Payment due {short_date(line['due'])}: {status}", _STYLES()["small_bullet"],
                               bulletText="\u2022"))
    items.append(Paragraph(f"Current payment due {short_date(spec.figures['payment_due_date'])}: "
                           f"{money(_dec(spec.figures, 'current_installment'))}", _STYLES()["small_bullet"],
                           bulletText="\u2022"))
    items.append(Paragraph(f"<b>Total: {money(_dec(spec.figures, 'amount_due'))} due. You must pay this amount "
                           "to bring your loan current.</b>", _STYLES()["small_bullet"], bulletText="\u2022"))
    items.append(_p(f"<b>Loss mitigation:</b> {_esc(d['loss_mitigation'])}", "small"))
    items.append(_p("<b>If you are experiencing financial difficulty</b>, call us at "
                    f"{_esc(spec.lender.phone)}. Housing counselors approved by HUD can help at no cost: visit "
                    f"{CFPB_COUNSELOR_URL} or call HUD at {HUD_COUNSELOR_PHONE}.", "small"))
    return KeepTogether([boxed(items, shade=False, border=colors.HexColor("#a33a3a"))])


def _coupon(spec: LetterSpec, due: str) -> Flowable:
    f = spec.figures
    lender = spec.lender
    left = [
        _p(f"<b>{_esc(spec.recipient.name)}</b>", "cell"),
        _p(f"Loan number <b>{_esc(spec.loan_number)}</b>", "cell"),
        Spacer(1, 6),
        _p("Make your check payable to and mail to:", "fine"),
        _p("<br/>".join(_esc(line) for line in (lender.name, *lender.address_lines)), "cell"),
    ]
    rows: list[tuple[str, Decimal | str]] = [
        ("Payment due date", due),
        ("Amount due", _dec(f, "amount_due")),
    ]
    if f.get("late_fee_date") is not None and _dec(f, "late_fee_amount"):
        rows.append((f"If received after {short_date(f['late_fee_date'])}, add a late fee of",
                     _dec(f, "late_fee_amount")))
    rows += [("Additional principal", "$ ____________"), ("Total amount enclosed", "$ ____________")]
    right = amount_table(rows, width=3.7 * inch, money_width=1.25 * inch)
    inner = Table([[left, right]], colWidths=[BODY_WIDTH - 3.7 * inch, 3.7 * inch])
    inner.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    outer = Table([[CutLine("Detach and return this coupon with your payment")], [Spacer(1, 4)], [inner]],
                  colWidths=[BODY_WIDTH])
    outer.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
    return outer


def _payment_reminder(spec: LetterSpec) -> list[Flowable]:
    """A reminder before a due date not yet paid: what is due and when, the late fee after, a coupon."""
    f = spec.figures
    due = long_date(f["payment_due_date"])
    rows: list[tuple[str, Decimal | str]] = [("Payment due date", due), ("Regular payment", _dec(f, "current_installment"))]
    if _dec(f, "past_due_installments"):
        rows.append(("Overdue payments", _dec(f, "past_due_installments")))
    if _dec(f, "fees_due"):
        rows.append(("Fees and charges", _dec(f, "fees_due")))
    table = amount_table(rows, total=("Total amount due", _dec(f, "amount_due")),
                         heading=("Loan " + spec.loan_number, ""), width=4.6 * inch, money_width=1.6 * inch)
    out: list[Flowable] = [*_subject(spec), *_paragraphs(spec, "opening"), Spacer(1, 2), KeepTogether([table]),
                           Spacer(1, 6)]
    if f.get("late_fee_date") is not None and _dec(f, "late_fee_amount"):
        out.append(_p(f"If payment is received after <b>{long_date(f['late_fee_date'])}</b>, a "
                      f"<b>{money(_dec(f, 'late_fee_amount'))}</b> late fee will be charged.", "body"))
    out += [Spacer(1, 6), *_paragraphs(spec, "middle"), *_paragraphs(spec, "closing"), *_debt_collector_line(spec),
            AtBottom(_coupon(spec, due))]
    return out


BUILDERS: dict[str, Callable[[LetterSpec], list[Flowable]]] = {
    "late-notice": _late_notice,
    "default-notice": _default_notice,
    "validation-notice": _validation_notice,
    "payoff": _payoff,
    "statement": _statement,
    "paid-in-full": _paid_in_full,
    "payment-reminder": _payment_reminder,
}


# ---------------------------------------------------------------- the document


class _FooterCanvas(Canvas):
    """Draws each page's footer at save time, when every letter's page count is known."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved: list[dict[str, Any]] = []
        self.page_meta: tuple[int | None, int] = (None, 0)
        self.meta: list[tuple[int | None, int]] = []

    def showPage(self) -> None:  # reportlab's name
        self.meta.append(self.page_meta)
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        totals: dict[int, int] = {}
        for index, page in self.meta:
            if index is not None:
                totals[index] = max(totals.get(index, 0), page)
        specs: Sequence[LetterSpec] = self._specs  # type: ignore[attr-defined]
        for state, (index, page) in zip(self._saved, self.meta):
            self.__dict__.update(state)
            if index is not None:
                spec = specs[index]
                layout.draw_footer(self, spec.lender, spec.loan_number, page, totals[index])
            Canvas.showPage(self)
        Canvas.save(self)


class _Doc(BaseDocTemplate):
    def __init__(self, buffer: io.BytesIO, specs: Sequence[LetterSpec], **kwargs: Any) -> None:
        super().__init__(buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), leftMargin=MARGIN_LEFT,
                         rightMargin=MARGIN_LEFT, topMargin=LATER_BODY_TOP, bottomMargin=BODY_BOTTOM, **kwargs)
        self.specs = specs
        self.current: int | None = None
        self.page_in_letter = 0
        first = Frame(MARGIN_LEFT, BODY_BOTTOM, BODY_WIDTH, PAGE_HEIGHT - FIRST_BODY_TOP - BODY_BOTTOM,
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="first")
        later = Frame(MARGIN_LEFT, BODY_BOTTOM, BODY_WIDTH, PAGE_HEIGHT - LATER_BODY_TOP - BODY_BOTTOM,
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="later")
        self.addPageTemplates([
            PageTemplate(id="first", frames=[first], onPageEnd=self._page_end),
            PageTemplate(id="later", frames=[later], onPageEnd=self._page_end),
            PageTemplate(id="blank", frames=[later], onPageEnd=self._blank_end),
        ])

    def _page_end(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        if self.current is None:
            return
        spec = self.specs[self.current]
        self.page_in_letter += 1
        if self.page_in_letter == 1:
            layout.draw_letterhead(canvas, spec.lender)
            layout.draw_address_block(canvas, spec.lender, spec.recipient)
            layout.draw_reference_box(canvas, spec.heading, list(spec.reference))
            layout.draw_fold_marks(canvas)
        else:
            layout.draw_continuation_header(canvas, spec.lender, spec.heading, spec.recipient, spec.loan_number)
        canvas.page_meta = (self.current, self.page_in_letter)  # type: ignore[attr-defined]

    def _blank_end(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.setFont(FONT, 8)
        canvas.setFillColor(MUTED)
        canvas.drawCentredString(PAGE_WIDTH / 2, PAGE_HEIGHT / 2, "This page intentionally left blank.")
        canvas.page_meta = (None, 0)  # type: ignore[attr-defined]


def story_for(spec: LetterSpec) -> list[Flowable]:
    builder = BUILDERS.get(spec.kind)
    if builder is None:
        raise ValueError(f"unknown letter kind {spec.kind!r}")
    return builder(spec)


def render(
    specs: Sequence[LetterSpec],
    *,
    duplex_pages: Sequence[int] | None = None,
    title: str | None = None,
) -> Rendered:
    """One PDF holding ``specs`` in order, each starting on a new page.

    ``duplex_pages``: each letter's page count (from an earlier render of it on
    its own); a letter with an odd count is followed by a blank page, so every
    letter starts on a new sheet when printed on both sides.
    """
    if not specs:
        raise ValueError("no letters to render")
    layout.register_fonts()
    story: list[Flowable] = []
    for index, spec in enumerate(specs):
        if index:
            story += [NextPageTemplate("first"), PageBreak()]
        story += [_Begin(index), NextPageTemplate("later"), *story_for(spec)]
        if duplex_pages is not None and duplex_pages[index] % 2 == 1 and index < len(specs) - 1:
            story += [NextPageTemplate("blank"), PageBreak(), _Blank()]
    buffer = io.BytesIO()
    first = specs[0]
    doc = _Doc(
        buffer,
        specs,
        title=title or f"{first.heading} {first.loan_number}",
        author=first.lender.name,
        creator="Keel",
        subject=first.heading,
        invariant=1,
        pageCompression=1,
        initialFontName=FONT,  # else every page names Helvetica, which it never uses
        initialFontSize=9,
    )

    def canvasmaker(*args: Any, **kwargs: Any) -> _FooterCanvas:
        canvas = _FooterCanvas(*args, **kwargs)
        canvas._specs = specs  # type: ignore[attr-defined]
        return canvas

    doc.build(story, canvasmaker=canvasmaker)
    pages: dict[int, int] = {}
    canvas = doc.canv
    for index, page in canvas.meta:  # type: ignore[attr-defined]
        if index is not None:
            pages[index] = max(pages.get(index, 0), page)
    return Rendered(buffer.getvalue(), [pages.get(i, 0) for i in range(len(specs))])


def render_one(spec: LetterSpec) -> Rendered:
    return render([spec])


__all__ = [
    "AtBottom",
    "BUILDERS",
    "CFPB_COUNSELOR_URL",
    "CFPB_DEBT_COLLECTION_URL",
    "HUD_COUNSELOR_PHONE",
    "LetterSpec",
    "Rendered",
    "TITLES",
    "amount_table",
    "render",
    "render_one",
]
