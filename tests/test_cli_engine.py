"""``keel schedule`` and ``keel simulate``: the JSON contract other tools rely on."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "simulate-example.json"
STATE_KEYS = {
    "as_of", "status", "principal", "accrued_interest", "fees", "suspense", "paid_through", "next_due",
    "amount_due", "days_past_due", "bucket", "per_diem", "payoff", "entries",
}
ENTRY_KEYS = {"id", "type", "date", "amount", "fees", "interest", "principal", "suspense", "reversed"}


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_schedule_json(capsys):
    code, out, _ = run_cli(capsys, "schedule", "--principal", "10000", "--rate", "12", "--term", "12",
                           "--start", "2026-01-01", "--first-due", "2026-02-01", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"payment", "total_interest", "total_payments", "rows"}
    assert data["payment"] == "888.49"
    assert data["rows"][0] == {"n": 1, "due": "2026-02-01", "payment": "888.49", "interest": "100.00",
                               "principal": "788.49", "balance": "9211.51"}
    assert data["rows"][-1]["payment"] == "888.47" and data["rows"][-1]["balance"] == "0.00"
    assert data["total_payments"] == "10661.86" and data["total_interest"] == "661.86"


def test_schedule_defaults_first_due_one_period_after_start(capsys):
    code, out, _ = run_cli(capsys, "schedule", "--principal", "1000", "--rate", "0", "--term", "4",
                           "--start", "2026-01-15", "--frequency", "biweekly", "--json")
    rows = json.loads(out)["rows"]
    assert [row["due"] for row in rows] == ["2026-01-29", "2026-02-12", "2026-02-26", "2026-03-12"]
    assert [row["payment"] for row in rows] == ["250.00"] * 4


def test_schedule_table(capsys):
    code, out, _ = run_cli(capsys, "schedule", "--principal", "10000", "--rate", "12", "--term", "12",
                           "--start", "2026-01-01")
    assert code == 0 and "$888.49" in out and "$9,211.51" in out


def test_simulate_contract(capsys):
    code, out, _ = run_cli(capsys, "simulate", str(SAMPLE), "--as-of", "2026-03-25", "--json")
    assert code == 0
    data = json.loads(out)
    assert STATE_KEYS <= set(data)
    assert (data["principal"], data["accrued_interest"], data["payoff"]) == ("8415.14", "67.32", "8482.46")
    assert data["next_due"] == "2026-04-01" and data["days_past_due"] == 0 and data["bucket"] == "current"
    for entry in data["entries"]:
        assert ENTRY_KEYS <= set(entry)
    by_id = {entry["id"]: entry for entry in data["entries"]}
    assert by_id["pmt-2"]["reversed"] is True
    assert by_id["late_fee:2"]["type"] == "late_fee" and by_id["late_fee:2"]["amount"] == "25.00"
    # Every amount is a string with exactly two decimals.
    for key in ("principal", "accrued_interest", "fees", "suspense", "amount_due", "per_diem", "payoff"):
        assert isinstance(data[key], str) and len(data[key].split(".")[1]) == 2


def test_simulate_numbers_in_the_file_are_read_as_decimal(tmp_path, capsys):
    loan = {"terms": {"principal": 10000.10, "rate": 12.5, "term": 12, "start": "2026-01-01", "first_due": "2026-02-01"},
            "events": [{"id": 1, "type": "payment", "date": "2026-02-01", "amount": 100.10}]}
    path = tmp_path / "loan.json"
    path.write_text(json.dumps(loan))
    code, out, err = run_cli(capsys, "simulate", str(path), "--as-of", "2026-02-01", "--json")
    assert code == 0, err
    data = json.loads(out)
    # 10,000.10 x 12.5% / 12 = 104.167... -> 104.17 of interest is billed on Feb 1; 100.10 meets it partly.
    assert data["entries"][0]["interest"] == "100.10"
    assert data["principal"] == "10000.10"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"terms": {"colour": "red"}}, "terms.colour"),
        ({"terms": {"principal": "-5"}}, "terms.principal"),
        ({"terms": {"rate": "200"}}, "terms.rate"),
        ({"terms": {"term": 0}}, "terms.term"),
        ({"terms": {"start": "2026-02-31"}}, "terms.start"),
        ({"events": [{"id": "r", "type": "reversal", "date": "2026-02-01", "of": "nope"}]}, "events[0].of"),
        ({"events": [{"id": "p", "type": "payment", "date": "01/02/2026", "amount": "5"}]}, "events[0].date"),
        ({"events": [{"id": "p", "type": "gift", "date": "2026-02-01"}]}, "events[0].type"),
    ],
)
def test_simulate_bad_input_is_one_line_naming_the_field(tmp_path, capsys, change, field):
    loan = {"terms": {"principal": "1000", "rate": "12", "term": 12, "start": "2026-01-01", "first_due": "2026-02-01"},
            "events": []}
    loan["terms"].update(change.get("terms", {}))
    loan["events"] = change.get("events", [])
    path = tmp_path / "loan.json"
    path.write_text(json.dumps(loan))
    code, out, err = run_cli(capsys, "simulate", str(path), "--json")
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("keel: error: ") and field in err
    assert "Traceback" not in err


def test_simulate_not_json_in_a_subprocess(tmp_path):
    path = tmp_path / "loan.json"
    path.write_text("{not json")
    result = subprocess.run([sys.executable, "-m", "app", "simulate", str(path)], capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.startswith("keel: error: ") and "not JSON" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("thirty360", "interest"), [(None, "75.37"), ("period", "75.37"), ("calendar", "70.35")])
def test_simulate_reads_the_thirty360_flag(capsys, tmp_path, thirty360, interest):
    # Issue 9's loan due on the 31st: February bills 7,537.19 x 12% / 12 = 75.37 under the period
    # rule (the default), 7,537.19 x 12% x 28/360 = 70.35 with calendar counting.
    loan = {"terms": {"principal": "10000.00", "rate": "12", "term": 4, "start": "2025-12-31",
                      "first_due": "2026-01-31"},
            "events": [{"id": "p1", "type": "payment", "date": "2026-01-31", "amount": "2562.81"},
                       {"id": "p2", "type": "payment", "date": "2026-02-28", "amount": "2562.81"}]}
    if thirty360 is not None:
        loan["terms"]["thirty360"] = thirty360
    path = tmp_path / "loan.json"
    path.write_text(json.dumps(loan))
    code, out, _ = run_cli(capsys, "simulate", str(path), "--as-of", "2026-03-01", "--json")
    assert code == 0
    entries = {entry["id"]: entry for entry in json.loads(out)["entries"]}
    assert entries["p2"]["interest"] == interest
