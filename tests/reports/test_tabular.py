"""Tables out of Keel (app/reports/tabular.py): CSV, XLSX, clipboard text, formula injection, cancel."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from app.reports import tabular
from app.reports.tabular import Column, Table

COLUMNS = [Column("Loan"), Column("Borrower"), Column("Principal", "money"), Column("Due", "date"),
           Column("DPD", "int"), Column("Share", "percent")]
ROWS = [
    ["KL-000001", "=HYPERLINK(\"http://evil\")", D("18500.00"), dt.date(2026, 11, 20), 12, D("0.25")],
    ["KL-000002", "+1 (217) 555-0142", D("-0.01"), None, 0, D("0.0125")],
    ["KL-000003", "@SUM(A1)", D("1234567.89"), dt.date(2026, 12, 1), 120, D("1")],
    ["KL-000004", "-2+3", D("0.00"), dt.date(2027, 1, 1), 1, D("0")],
]
TABLE = Table("Trial balance", COLUMNS, ROWS, filters=[("As of", "2026-11-30"), ("Product", "AUTO60")],
              totals=["Total", None, D("1252067.88"), None, None, None])


def test_formula_like_text_is_neutralised_everywhere(tmp_path: Path) -> None:
    # OWASP CSV injection: text starting with = + - @ gets a leading apostrophe; numbers never do.
    assert [tabular.neutralise(t) for t in ("=1", "+1", "-1", "@a", "\tx", "plain")] == [
        "'=1", "'+1", "'-1", "'@a", "'\tx", "plain"]
    path = tabular.write_csv(TABLE, tmp_path / "t.csv")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Loan", "Borrower", "Principal", "Due", "DPD", "Share"]
    assert [r[1] for r in rows[1:5]] == ["'=HYPERLINK(\"http://evil\")", "'+1 (217) 555-0142", "'@SUM(A1)", "'-2+3"]
    # Money is exact two-decimal text; a negative amount is a number, not text, so it keeps its sign.
    assert [r[2] for r in rows[1:5]] == ["18500.00", "-0.01", "1234567.89", "0.00"]
    assert rows[1][5] == "25.00%" and rows[2][5] == "1.25%"
    assert rows[5] == ["Total", "", "1252067.88", "", "", ""]


def test_xlsx_has_typed_cells_a_frozen_header_and_the_filters(tmp_path: Path) -> None:
    path = tabular.write_xlsx(TABLE, tmp_path / "t.xlsx")
    book = openpyxl.load_workbook(path)
    ws = book.active
    assert ws["A1"].value == "Trial balance" and ws["A2"].value == "As of: 2026-11-30"
    assert ws["A3"].value == "Product: AUTO60"
    # Title, two filters, a blank row, the header on row 5: the view is frozen under it.
    assert [c.value for c in ws[5]] == ["Loan", "Borrower", "Principal", "Due", "DPD", "Share"]
    assert ws.freeze_panes == "A6"
    first = ws[6]
    assert first[1].value == "'=HYPERLINK(\"http://evil\")" and first[1].data_type == "s"
    assert first[2].value == 18500 and first[2].number_format == tabular.MONEY_FORMAT
    assert first[3].value == dt.datetime(2026, 11, 20) and first[3].number_format == tabular.DATE_FORMAT
    assert first[4].value == 12 and first[5].number_format == tabular.PERCENT_FORMAT
    assert ws["C7"].value == pytest.approx(-0.01) and ws["D7"].value is None
    assert ws["C10"].value == pytest.approx(1252067.88) and ws["C10"].font.bold


def test_clipboard_text_is_tab_separated_with_a_header() -> None:
    text = tabular.clipboard_text(COLUMNS[:3], [ROWS[0][:3], ["KL\t9", "a\nb", D("5.5")]])
    assert text == ("Loan\tBorrower\tPrincipal\n"
                    "KL-000001\t'=HYPERLINK(\"http://evil\")\t18500.00\n"
                    "KL 9\ta b\t5.50\n")


def test_json_rows_use_the_header_names_and_money_as_strings() -> None:
    rows = tabular.json_rows(TABLE)
    assert rows[0] == {"Loan": "KL-000001", "Borrower": "=HYPERLINK(\"http://evil\")", "Principal": "18500.00",
                       "Due": "2026-11-20", "DPD": 12, "Share": "25.00%"}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_cancelled_export_leaves_no_file(tmp_path: Path, suffix: str) -> None:
    big = Table("Big", COLUMNS, ROWS * 2000)  # 8,000 rows: progress every 2,000
    seen: list[tuple[int, int]] = []
    with pytest.raises(tabular.ExportCancelled):
        tabular.write(big, tmp_path / f"big{suffix}", progress=lambda d, t: seen.append((d, t)),
                      cancelled=lambda: len(seen) >= 2)
    assert seen == [(2000, 8000), (4000, 8000)]
    assert list(tmp_path.iterdir()) == []
