"""The letter renderer without a database: geometry, fonts, merged documents, PNG output."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas

from app.reports import layout
from app.reports.layout import ADDRESS_AREA, WINDOW_ON_PAGE, Lender, Recipient
from app.reports.letters import LetterSpec, render, render_one

DAY = dt.date(2026, 6, 1)
LENDER = Lender("Harbor Point Lending", ("200 Harbor Street, Suite 400", "Portland ME 04101"), "(207) 555-0100")


def late_notice(name: str = "Łukasz Żółć", number: str = "KL-000001", lines: tuple[str, ...] = ()) -> LetterSpec:
    return LetterSpec(
        kind="late-notice",
        letter_date=DAY,
        loan_number=number,
        lender=LENDER,
        recipient=Recipient(name, lines or ("12 Ogrodowa St", "Chicago IL 60618")),
        subject="Your payment due April 1, 2026 has not been received",
        text={"opening": [f"Dear {name},"], "middle": ["Pay <b>now</b>."], "closing": ["Sincerely,"]},
        figures={
            "installments_past_due": 2,
            "past_due_date": dt.date(2026, 4, 1),
            "past_due_installments": Decimal("1776.98"),
            "late_fees": Decimal("25.00"),
            "other_fees": Decimal("0.00"),
            "amount_due": Decimal("1801.98"),
        },
        reference=(("Date", "June 1, 2026"), ("Loan number", number)),
    )


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def test_window_geometry_in_inches() -> None:
    # #10 window 4.5" x 1.125", 7/8" from the left and 1/2" from the bottom of a 9.5" x 4.125"
    # envelope; the letter folded in thirds rests on the envelope's bottom, centred side to side.
    assert WINDOW_ON_PAGE.inches() == (0.375, 2.042, 4.875, 3.167)
    # 1/8" clearance, and still inside after the letter slides 1/2" left or right.
    assert ADDRESS_AREA.inches() == (1.0, 2.167, 4.25, 3.042)


@pytest.mark.parametrize(
    "lines",
    [
        ("Pat Borrower", "1 Main St", "Springfield IL 62701"),
        ("Pat Borrower", "1 Main St", "Apt 4", "Springfield IL 62701"),
        ("Alexandria Konstantinopoulou-Vanderbilt Family Holdings LLC", "Attn: Accounts Payable",
         "1234 Extraordinarily Long Boulevard Name", "Building 7, Floor 12", "Springfield IL 62701", "CA"),
    ],
)
def test_address_block_stays_inside_the_window(lines: tuple[str, ...]) -> None:
    layout.register_fonts()
    canvas = Canvas(io.BytesIO())
    drawn = layout.draw_address_block(canvas, LENDER, Recipient(lines[0], lines[1:]))
    assert len(drawn) >= min(len(lines), 5) + 1  # the return line too
    for i, (text, x, baseline) in enumerate(drawn):
        font_size = layout.RETURN_FONT_SIZE if i == 0 else layout.ADDRESS_FONT_SIZE
        assert ADDRESS_AREA.contains(x, baseline + 0.24 * font_size), (text, baseline / inch)  # descenders
        assert ADDRESS_AREA.contains(x, baseline - 0.73 * font_size), (text, baseline / inch)  # capitals
        # long lines are set smaller so they end inside the window
        size = layout.fit_font_size(text, layout.FONT_BOLD, font_size, ADDRESS_AREA.right - ADDRESS_AREA.left, 5)
        assert x + layout.pdfmetrics.stringWidth(text, layout.FONT_BOLD, size) <= ADDRESS_AREA.right + 0.5


def test_money_and_dates_have_one_format() -> None:
    assert layout.money(Decimal("1234.5")) == "$1,234.50"
    assert layout.money(Decimal("-12")) == "-$12.00"
    assert layout.money(Decimal("1234567.891")) == "$1,234,567.89"
    assert layout.long_date(dt.date(2026, 7, 4)) == "July 4, 2026"
    assert layout.short_date(dt.date(2026, 7, 4)) == "07/04/2026"


def test_bundled_font_draws_polish_letters() -> None:
    pdf = render_one(late_notice()).pdf
    assert "Łukasz Żółć" in text_of(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    fonts = {str(font["/BaseFont"]) for font in
             (obj.get_object() for obj in reader.pages[0]["/Resources"]["/Font"].values())}
    assert fonts == {"/AAAAAA+DejaVuSans", "/AAAAAA+DejaVuSans-Bold"}, fonts  # embedded subsets
    assert not any("Helvetica" in name for name in fonts), fonts


def test_amounts_are_right_aligned() -> None:
    """Right edges of every amount in the table line up."""
    pdf = render_one(late_notice()).pdf
    rights: list[float] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip().startswith("$") and font is not None:
            name = layout.FONT_BOLD if "Bold" in str(font.get("/BaseFont")) else layout.FONT  # type: ignore[attr-defined]
            width = layout.pdfmetrics.stringWidth(text.strip(), name, size) if size else 0
            rights.append(round(tm[4] + width, 0))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    assert len(rights) >= 3
    table = [r for r in rights if r > 300]
    assert max(table) - min(table) <= 3, rights


def test_merged_document_numbers_pages_per_letter_and_adds_duplex_blanks() -> None:
    specs = [late_notice(number=f"KL-00000{i}") for i in range(1, 4)]
    merged = render(specs)
    assert merged.pages == [1, 1, 1]
    text = text_of(merged.pdf)
    assert text.count("Page 1 of 1") == 3
    duplex = render(specs, duplex_pages=[1, 1, 1])
    assert len(PdfReader(io.BytesIO(duplex.pdf)).pages) == 5  # a blank after each but the last
    assert text_of(duplex.pdf).count("intentionally left blank") == 2


def test_logo_is_drawn_from_png_bytes() -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), (31, 58, 95)).save(buffer, format="PNG")
    spec = late_notice()
    with_logo = LetterSpec(**{**spec.__dict__, "lender": Lender(**{**LENDER.__dict__, "logo_png": buffer.getvalue()})})
    pdf = render_one(with_logo).pdf
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert page.images, "the logo image is missing"
    assert layout.decode_logo("not base64 at all!") is None
    import base64

    assert layout.decode_logo(base64.b64encode(buffer.getvalue()).decode()) == buffer.getvalue()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_a_letter_renders_to_png(tmp_path: Path) -> None:
    pdf = tmp_path / "late.pdf"
    pdf.write_bytes(render_one(late_notice()).pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=60)
    pngs = list(tmp_path.glob("page*.png"))
    assert len(pngs) == 1
    data = pngs[0].read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 2000
    from PIL import Image

    with Image.open(pngs[0]) as image:
        assert image.size == (340, 440)  # 8.5" x 11" at 40 dpi
        # not blank: the letterhead's colour is on the page
        lo, hi = image.convert("L").getextrema()
        assert hi - lo > 100
