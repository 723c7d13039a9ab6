"""A 100,000-row table written as XLSX and CSV through app.reports.tabular (issue 13's export target).

    python benchmarks/bench_export.py [--rows 100000]

Prints the seconds for each; the rows look like the collections queue (loan, borrower, bucket,
days past due, principal, amount due, next due, phone).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from app.reports import tabular
from app.reports.tabular import Column, Table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    columns = [Column("Loan"), Column("Borrower"), Column("Bucket"), Column("DPD", "int"),
               Column("Principal", "money"), Column("Amount due", "money"), Column("Next due", "date"),
               Column("Phone")]
    rows = [[f"KL-{i:06d}", f"Borrower {i}", "30-59", i % 120, Decimal(i) + Decimal("0.37"), Decimal("412.09"),
             dt.date(2026, 12, 1) + dt.timedelta(days=i % 28), "217-555-0142"] for i in range(args.rows)]
    table = Table("Collections queue", columns, rows, filters=[("Bucket", "every bucket")])
    with tempfile.TemporaryDirectory() as folder:
        for suffix in (".xlsx", ".csv"):
            began = time.perf_counter()
            tabular.write(table, Path(folder) / f"queue{suffix}")
            print(f"{args.rows:,} rows as {suffix[1:].upper()}: {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
