"""The page every Keel letter is printed on: US Letter, lender letterhead, #10 window.

Geometry (all measured from the page's top-left corner; reportlab's origin is
the bottom-left, so :func:`from_top` converts):

* Paper: US Letter, 8.5" x 11", portrait.  Margins 1" left and right; the
  body of the first page starts below the address block, later pages 1" from
  the top; the footer sits 0.5" from the bottom.
* Envelope: a standard #10 window envelope, 9.5" x 4.125", with one address
  window 4.5" wide and 1.125" high whose left edge is 7/8" from the envelope's
  left edge and whose bottom edge is 1/2" from its bottom edge (the common
  stock size; see docs/letters/README.md for the sources).
* Fold: the letter is folded in thirds (folds at 11/3" = 3.667" and 7.333"
  from the top, marked by short ticks in the left margin), the top third
  facing the window.  Resting on the envelope's bottom edge, the window shows
  the page from 3.667 - 1.625 = 2.042" to 3.667 - 0.5 = 3.167" from the top;
  centred side to side (the envelope is 1" wider than the letter) it shows
  0.375" to 4.875" from the left.
* Clearance: USPS DMM 601.6.3 wants 1/8" between the address and every edge
  of the window even when the insert shifts.  The letter can slide 0.5" left
  or right, so the address block is kept within 1.0" to 4.25" from the left;
  vertically it is kept 1/8" inside the resting window (2.167" to 3.042").
  The printed address area is :data:`ADDRESS_AREA`; tests check the PDF's
  text lies inside it.
* In the window, above the borrower's address, the lender's return address
  is printed as one small line (it shows through the same window).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import io
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from app.domain.money import format_money

#: Where the project's resource files live (fonts, default letter texts).
RESOURCES = Path(__file__).resolve().parents[2] / "resources"
FONT_DIR = RESOURCES / "fonts"

FONT = "KeelSans"
FONT_BOLD = "KeelSans-Bold"

PAGE_WIDTH, PAGE_HEIGHT = LETTER  # 612 x 792 points

# ---------------------------------------------------------------- geometry (points)
MARGIN_LEFT = 1.0 * inch
MARGIN_RIGHT = 1.0 * inch
BODY_WIDTH = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT  # 6.5"
LETTERHEAD_TOP = 0.5 * inch
FOOTER_BASELINE = 0.5 * inch
BODY_BOTTOM = 0.85 * inch  # the lowest point body text may reach
FIRST_BODY_TOP = 3.4 * inch  # from the top: below the window and reference box
LATER_BODY_TOP = 1.0 * inch

ENVELOPE_WIDTH = 9.5 * inch
ENVELOPE_HEIGHT = 4.125 * inch
WINDOW_WIDTH = 4.5 * inch
WINDOW_HEIGHT = 1.125 * inch
WINDOW_LEFT_ON_ENVELOPE = 0.875 * inch
WINDOW_BOTTOM_ON_ENVELOPE = 0.5 * inch
FOLD = PAGE_HEIGHT / 3  # 3.667": the top third faces the window
CLEARANCE = 0.125 * inch  # DMM 601.6.3
SIDE_PLAY = (ENVELOPE_WIDTH - PAGE_WIDTH) / 2  # 0.5": how far the letter may slide left or right


@dataclass(frozen=True)
class Box:
    """A rectangle measured from the page's top-left corner, in points."""

    left: float
    top: float
    right: float
    bottom: float

    def contains(self, x: float, y_from_top: float) -> bool:
        return self.left <= x <= self.right and self.top <= y_from_top <= self.bottom

    def inches(self) -> tuple[float, float, float, float]:
        return tuple(round(v / inch, 3) for v in (self.left, self.top, self.right, self.bottom))  # type: ignore[return-value]


#: The part of the page the window shows when the letter rests on the envelope's
#: bottom and is centred side to side.
WINDOW_ON_PAGE = Box(
    left=WINDOW_LEFT_ON_ENVELOPE - SIDE_PLAY,
    top=FOLD - (WINDOW_BOTTOM_ON_ENVELOPE + WINDOW_HEIGHT),
    right=WINDOW_LEFT_ON_ENVELOPE - SIDE_PLAY + WINDOW_WIDTH,
    bottom=FOLD - WINDOW_BOTTOM_ON_ENVELOPE,
)
#: Where the return line and the borrower's address are printed: inside the
#: window by 1/8" at rest, and still inside it after a 0.5" slide either way.
ADDRESS_AREA = Box(
    left=WINDOW_ON_PAGE.left + SIDE_PLAY + CLEARANCE,  # 1.0"
    top=WINDOW_ON_PAGE.top + CLEARANCE,  # 2.167"
    right=WINDOW_ON_PAGE.right - SIDE_PLAY - CLEARANCE,  # 4.25"
    bottom=WINDOW_ON_PAGE.bottom - CLEARANCE,  # 3.042"
)
#: The reference box (title, date, loan number) to the right of the window.
REFERENCE_AREA = Box(left=4.75 * inch, top=2.0 * inch, right=PAGE_WIDTH - MARGIN_RIGHT, bottom=3.3 * inch)

RETURN_FONT_SIZE = 6.5
ADDRESS_FONT_SIZE = 10.0
ADDRESS_LEADING = 11.8

INK = colors.HexColor("#1b1f24")
MUTED = colors.HexColor("#5b6470")
RULE = colors.HexColor("#9aa3ad")
SHADE = colors.HexColor("#eef1f4")
ACCENT = colors.HexColor("#1f3a5f")


def from_top(y: float) -> float:
    """A distance from the page's top edge as a reportlab y coordinate."""
    return float(PAGE_HEIGHT - y)  # float-ok: page geometry in points, not money


# ---------------------------------------------------------------- fonts

_font_lock = threading.Lock()
_fonts_registered = False


def register_fonts() -> None:
    """Register the bundled DejaVu Sans as KeelSans (idempotent, thread-safe).

    Helvetica (reportlab's built-in) cannot draw Ł or Ż, and desks do not
    share system fonts, so every letter embeds the bundled TTF.
    """
    global _fonts_registered
    if _fonts_registered:
        return
    with _font_lock:
        if _fonts_registered:
            return
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
        _fonts_registered = True


# ---------------------------------------------------------------- values shown


@dataclass(frozen=True)
class Lender:
    """The letterhead: from the settings lender_name, lender_address, lender_phone, lender_logo_png."""

    name: str
    address_lines: tuple[str, ...] = ()
    phone: str = ""
    logo_png: bytes | None = None
    website: str = ""
    email: str = ""

    @property
    def return_line(self) -> str:
        return "  ·  ".join(part for part in (self.name, *self.address_lines) if part)

    @property
    def one_line_address(self) -> str:
        return ", ".join(self.address_lines)


@dataclass(frozen=True)
class Recipient:
    name: str
    address_lines: tuple[str, ...] = field(default_factory=tuple)

    @property
    def lines(self) -> tuple[str, ...]:
        return (self.name, *self.address_lines)


def decode_logo(value: str | None) -> bytes | None:
    """The lender_logo_png setting (base64 PNG) as bytes; None if absent or not a PNG."""
    if not value:
        return None
    try:
        data = base64.b64decode(value.strip(), validate=False)
    except (binascii.Error, ValueError):
        return None
    return data if data.startswith(b"\x89PNG\r\n\x1a\n") else None


def money(value: Decimal) -> str:
    """$1,234.56 -- the one money format (app.domain.money.format_money)."""
    return format_money(value)


def long_date(day: _dt.date | None) -> str:
    """June 1, 2026."""
    if day is None:
        return ""
    return f"{day:%B} {day.day}, {day.year}"


def short_date(day: _dt.date | None) -> str:
    """06/01/2026."""
    return "" if day is None else f"{day:%m/%d/%Y}"


# ---------------------------------------------------------------- styles


def styles() -> dict[str, ParagraphStyle]:
    register_fonts()
    base = ParagraphStyle("body", fontName=FONT, fontSize=9.4, leading=12.7, textColor=INK, spaceAfter=6)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10.4, spaceAfter=3.5, textColor=INK),
        "fine": ParagraphStyle("fine", parent=base, fontSize=7.2, leading=9.2, spaceAfter=2, textColor=MUTED),
        "subject": ParagraphStyle("subject", parent=base, fontName=FONT_BOLD, fontSize=10.6, leading=14,
                                  spaceBefore=0, spaceAfter=9),
        "heading": ParagraphStyle("heading", parent=base, fontName=FONT_BOLD, fontSize=9.6, leading=12.5,
                                  spaceBefore=5, spaceAfter=3.5, textColor=ACCENT),
        "box_heading": ParagraphStyle("box_heading", parent=base, fontName=FONT_BOLD, fontSize=8.8, leading=11,
                                      spaceAfter=2, textColor=ACCENT),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.8, leading=11, spaceAfter=0),
        "cell_bold": ParagraphStyle("cell_bold", parent=base, fontName=FONT_BOLD, fontSize=8.8, leading=11,
                                    spaceAfter=0),
        "cell_right": ParagraphStyle("cell_right", parent=base, fontSize=8.8, leading=11, spaceAfter=0,
                                     alignment=TA_RIGHT),
        "bullet": ParagraphStyle("bullet", parent=base, leftIndent=13, bulletIndent=2, spaceAfter=4),
        "small_bullet": ParagraphStyle("small_bullet", parent=base, fontSize=8, leading=10.4, spaceAfter=2,
                                       leftIndent=12, bulletIndent=2),
        "signature": ParagraphStyle("signature", parent=base, spaceBefore=4, alignment=TA_LEFT),
    }


# ---------------------------------------------------------------- drawing the fixed parts


def draw_letterhead(c: Canvas, lender: Lender) -> None:
    """Logo and lender name at the left, address and phone at the right, a rule below."""
    top = LETTERHEAD_TOP
    x = MARGIN_LEFT
    if lender.logo_png:
        try:
            image = ImageReader(io.BytesIO(lender.logo_png))
            width, height = image.getSize()
            scale = min(0.62 * inch / height, 1.6 * inch / width)
            draw_w, draw_h = width * scale, height * scale
            c.drawImage(image, x, from_top(top + draw_h), draw_w, draw_h, mask="auto")
            x += draw_w + 0.14 * inch
        except Exception:  # a broken logo must not stop the letters; the name still prints
            pass
    c.setFillColor(ACCENT)
    c.setFont(FONT_BOLD, 15)
    c.drawString(x, from_top(top + 0.27 * inch), lender.name)
    c.setFillColor(MUTED)
    c.setFont(FONT, 7.6)
    tagline = "  ·  ".join(part for part in (lender.website, lender.email) if part)
    if tagline:
        c.drawString(x, from_top(top + 0.47 * inch), tagline)
    right = PAGE_WIDTH - MARGIN_RIGHT
    lines = [*lender.address_lines]
    if lender.phone:
        lines.append(f"Tel. {lender.phone}")
    y = top + 0.12 * inch
    c.setFont(FONT, 8)
    for line in lines[:5]:
        c.drawRightString(right, from_top(y), line)
        y += 0.14 * inch
    c.setStrokeColor(RULE)
    c.setLineWidth(0.6)
    c.line(MARGIN_LEFT, from_top(1.3 * inch), right, from_top(1.3 * inch))
    c.setFillColor(INK)


def fit_font_size(text: str, font: str, size: float, width: float, minimum: float) -> float:
    while size > minimum and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 0.25
    return size


def draw_address_block(c: Canvas, lender: Lender, recipient: Recipient) -> list[tuple[str, float, float]]:
    """The return line and the borrower's address, inside :data:`ADDRESS_AREA`.

    Returns each line drawn as (text, x, y from top of its baseline), for tests.
    Long lines are set smaller (down to 8 pt) rather than cut; more than five
    address lines are joined so the block never leaves the window.
    """
    area = ADDRESS_AREA
    width = area.right - area.left
    drawn: list[tuple[str, float, float]] = []
    c.setFillColor(MUTED)
    ret = lender.return_line
    size = fit_font_size(ret, FONT, RETURN_FONT_SIZE, width, 5.0)
    c.setFont(FONT, size)
    baseline = area.top + 6.0
    c.drawString(area.left, from_top(baseline), ret)
    drawn.append((ret, area.left, baseline))
    c.setStrokeColor(RULE)
    c.setLineWidth(0.4)
    c.line(area.left, from_top(baseline + 2.6), area.left + min(width, pdfmetrics.stringWidth(ret, FONT, size)),
           from_top(baseline + 2.6))
    lines = [line for line in recipient.lines if line and line.strip()]
    if len(lines) > 5:
        lines = [*lines[:4], ", ".join(lines[4:])]
    # Four lines at 10 pt fit with room to spare; a fifth line sets the block at 9 pt.
    if len(lines) <= 4:
        baseline, leading, size_max = baseline + 15.5, ADDRESS_LEADING, ADDRESS_FONT_SIZE
    else:
        baseline, leading, size_max = baseline + 13.5, 10.2, 9.0
    c.setFillColor(INK)
    for i, line in enumerate(lines):
        font = FONT_BOLD if i == 0 else FONT
        size = fit_font_size(line, font, size_max, width, 7.0)
        c.setFont(font, size)
        c.drawString(area.left, from_top(baseline), line)
        drawn.append((line, area.left, baseline))
        baseline += leading
    return drawn


def draw_reference_box(c: Canvas, title: str, rows: list[tuple[str, str]]) -> None:
    """The document's title and its key facts (date, loan number, ...) beside the window."""
    area = REFERENCE_AREA
    c.setFillColor(ACCENT)
    size = fit_font_size(title.upper(), FONT_BOLD, 12.5, area.right - area.left, 9)
    c.setFont(FONT_BOLD, size)
    c.drawRightString(area.right, from_top(area.top + 0.16 * inch), title.upper())
    top = area.top + 0.3 * inch
    row_h = 0.205 * inch
    height = row_h * len(rows) + 0.06 * inch
    c.setFillColor(SHADE)
    c.setStrokeColor(RULE)
    c.setLineWidth(0.5)
    c.rect(area.left, from_top(top + height), area.right - area.left, height, stroke=1, fill=1)
    y = top + 0.15 * inch
    for i, (label, value) in enumerate(rows):
        if i:
            c.setStrokeColor(colors.white)
            c.setLineWidth(0.8)
            c.line(area.left + 4, from_top(y - 0.145 * inch), area.right - 4, from_top(y - 0.145 * inch))
        c.setFillColor(MUTED)
        c.setFont(FONT, 7.8)
        c.drawString(area.left + 0.09 * inch, from_top(y), label)
        c.setFillColor(INK)
        c.setFont(FONT_BOLD, 8.8)
        c.drawRightString(area.right - 0.09 * inch, from_top(y), value)
        y += row_h
    c.setFillColor(INK)


def draw_fold_marks(c: Canvas) -> None:
    c.setStrokeColor(RULE)
    c.setLineWidth(0.5)
    for y in (FOLD, 2 * FOLD):
        c.line(0.22 * inch, from_top(y), 0.42 * inch, from_top(y))


def draw_footer(c: Canvas, lender: Lender, loan_number: str, page: int, pages: int, note: str = "") -> None:
    right = PAGE_WIDTH - MARGIN_RIGHT
    c.setStrokeColor(RULE)
    c.setLineWidth(0.4)
    c.line(MARGIN_LEFT, FOOTER_BASELINE + 0.16 * inch, right, FOOTER_BASELINE + 0.16 * inch)
    c.setFillColor(MUTED)
    c.setFont(FONT, 7)
    left = "  ·  ".join(part for part in (lender.name, lender.phone and f"Tel. {lender.phone}", lender.website) if part)
    if note:
        left = f"{left}  ·  {note}" if left else note
    c.drawString(MARGIN_LEFT, FOOTER_BASELINE, left)
    c.drawRightString(right, FOOTER_BASELINE, f"Loan {loan_number}  ·  Page {page} of {pages}")
    c.setFillColor(INK)


def draw_continuation_header(c: Canvas, lender: Lender, title: str, recipient: Recipient, loan_number: str) -> None:
    right = PAGE_WIDTH - MARGIN_RIGHT
    c.setFillColor(ACCENT)
    c.setFont(FONT_BOLD, 9.5)
    c.drawString(MARGIN_LEFT, from_top(0.62 * inch), lender.name)
    c.setFillColor(MUTED)
    c.setFont(FONT, 8)
    c.drawRightString(right, from_top(0.62 * inch), f"{title}  ·  {recipient.name}  ·  Loan {loan_number}")
    c.setStrokeColor(RULE)
    c.setLineWidth(0.5)
    c.line(MARGIN_LEFT, from_top(0.72 * inch), right, from_top(0.72 * inch))
    c.setFillColor(INK)
