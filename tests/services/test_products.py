"""Loan products: rules validated one way, versioned by effective date, loaded from a file.

Runs on SQLite and PostgreSQL (the ``contexts`` fixture; business date 2026-06-01).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db.models import AuditEvent, ProductVersion
from app.domain.terms import LateFeeRule, terms_from_dict, terms_to_dict
from app.services import products
from app.services.errors import FileRejected, InvalidInput, NotFound, PermissionDenied

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
PRODUCTS_FILE = SAMPLES / "products.json"

AUTO_RULES = {
    "interest": "simple",
    "day_count": "Actual/365",
    "late_fee": {"grace_days": 10, "percent": "5", "min": "15.00", "max": "50.00"},
}


def test_sample_products_load_and_list(contexts):
    admin = contexts["admin"]
    loaded = products.load_products_file(admin, PRODUCTS_FILE)
    assert loaded.created == ("AUTO60", "MORT30", "PERS36")
    listed = {p.code: p for p in products.list_products(contexts["clerk"])}
    assert set(listed) == {"AUTO60", "MORT30", "PERS36"}
    auto = listed["AUTO60"].versions[0].rules
    assert (auto.interest, auto.day_count, auto.frequency) == ("simple", "actual/365", "monthly")
    assert auto.late_fee == LateFeeRule(10, None, D("5"), D("15.00"), D("50.00"))
    pers = listed["PERS36"].rules_on(date(2026, 6, 1))
    assert pers is not None and pers.late_fee == LateFeeRule(15, D("25.00"))
    mort = listed["MORT30"].versions[0].rules
    assert (mort.partial, mort.tolerance, mort.charge_off_days) == ("suspense", D("1.00"), 180)
    assert [(t.letter, t.days_past_due) for t in mort.letter_triggers] == [
        ("late-notice", 16), ("default-notice", 45)]


def test_loading_the_same_file_twice_changes_nothing(contexts):
    admin = contexts["admin"]
    products.load_products_file(admin, PRODUCTS_FILE)
    with admin.unit(write=False) as session:
        audits = session.scalar(select(func.count()).select_from(AuditEvent))
    again = products.load_products_file(admin, PRODUCTS_FILE)
    assert again.created == () and again.versions_added == ()
    assert len(again.unchanged) == 3
    with admin.unit(write=False) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == audits
        assert session.scalar(select(func.count()).select_from(ProductVersion)) == 3


def test_defaults_and_the_canonical_document(contexts):
    info = products.create_product(contexts["admin"], "pers12", "Personal, 12 months", {}, "2026-01-01")
    assert info.code == "PERS12"
    rules = info.versions[0].rules
    assert (rules.delinquent_days, rules.default_days, rules.non_accrual_days, rules.charge_off_days) == (1, 90, 90, 120)
    assert rules.small_balance_threshold == D("5.00")
    assert [(t.letter, t.days_past_due) for t in rules.letter_triggers] == [("late-notice", 15), ("default-notice", 30)]
    doc = rules.to_dict()
    assert doc["interest"] == "scheduled" and doc["day_count"] == "30/360" and doc["tolerance"] == "0.00"
    assert products._parse_rules(doc) == rules


def test_engine_rules_are_the_terms_the_engine_reads():
    rules = products._parse_rules(AUTO_RULES)
    note = {"principal": "1000.00", "rate": "9", "term": 12, "start": "2026-05-01", "first_due": "2026-06-01"}
    engine = rules.engine_dict()
    terms = terms_from_dict({**note, **engine})
    assert terms.interest == "simple" and terms.day_count == "actual/365"
    assert terms.late_fee == LateFeeRule(10, None, D("5"), D("15.00"), D("50.00"))
    # The product's part of a loan's terms is exactly what terms_to_dict writes.
    canonical = terms_to_dict(terms)
    assert engine == {key: canonical[key] for key in engine}
    built, _ = products.engine_terms(rules, note)
    assert built == terms


def test_check_rules_reports_every_problem():
    rules, problems = products.check_rules({
        "interest": "daily",
        "day_count": "30/365",
        "late_fee": {"grace_days": 10, "fixed": "25.00", "percent": "5"},
        "waterfall": ["interest", "principal"],
        "default_days": 30,
        "delinquent_days": 45,
        "letter_triggers": [{"letter": "Late Notice!", "days_past_due": 15}],
        "charge_off_days": "--5",
        "colour": "blue",
    })
    assert rules is None
    fields = {f for f, _ in problems}
    assert fields == {"rules.interest", "rules.day_count", "rules.late_fee", "rules.waterfall", "rules.default_days",
                      "rules.letter_triggers[0].letter", "rules.charge_off_days", "rules.colour"}


def test_create_product_refuses_bad_rules_and_duplicates(contexts):
    admin = contexts["admin"]
    with pytest.raises(InvalidInput, match=r"rules.late_fee.grace_days"):
        products.create_product(admin, "X1", "X", {"late_fee": {"grace_days": 400, "fixed": "5.00"}}, "2026-01-01")
    products.create_product(admin, "X1", "X", {}, "2026-01-01")
    with pytest.raises(InvalidInput, match="already exists"):
        products.create_product(admin, "x1", "X again", {}, "2026-01-01")
    with pytest.raises(InvalidInput, match="code"):
        products.create_product(admin, "bad code!", "X", {}, "2026-01-01")


def test_only_admins_manage_products(contexts):
    with pytest.raises(PermissionDenied):
        products.create_product(contexts["manager"], "X2", "X", {}, "2026-01-01")
    with pytest.raises(PermissionDenied):
        products.load_products_file(contexts["clerk"], PRODUCTS_FILE)


def test_version_on_a_day(contexts):
    admin = contexts["admin"]
    products.create_product(admin, "AUTO", "Auto", AUTO_RULES, "2024-01-01")
    products.add_product_version(admin, "AUTO", {**AUTO_RULES, "charge_off_days": 150}, date(2026, 7, 1))
    with admin.unit(write=False) as session:
        first = products.product_version_on(session, "auto", date(2026, 6, 30))
        second = products.product_version_on(session, "AUTO", date(2026, 7, 1))
        assert products.rules_of(first).charge_off_days == 120
        assert products.rules_of(second).charge_off_days == 150
        with pytest.raises(InvalidInput, match="no version in force"):
            products.product_version_on(session, "AUTO", date(2023, 12, 31))
        with pytest.raises(NotFound):
            products.product_version_on(session, "NOPE", date(2026, 6, 1))


def test_a_new_version_must_follow_the_latest(contexts):
    admin = contexts["admin"]
    products.create_product(admin, "AUTO", "Auto", AUTO_RULES, "2026-01-01")
    with pytest.raises(InvalidInput, match="not after"):
        products.add_product_version(admin, "AUTO", AUTO_RULES, "2026-01-01")
    with pytest.raises(NotFound):
        products.add_product_version(admin, "NOPE", AUTO_RULES, "2026-08-01")


def test_products_file_with_problems_writes_nothing(contexts, tmp_path):
    admin = contexts["admin"]
    bad = tmp_path / "products.json"
    bad.write_text(json.dumps({"products": [
        {"code": "OK1", "name": "Fine", "effective_date": "2026-01-01", "rules": {}},
        {"code": "BAD", "name": "", "effective_date": "2026-13-01", "rules": {"frequency": "yearly"}},
        {"code": "OK1", "name": "Twice", "effective_date": "2026-01-01", "rules": {}, "extra": 1},
    ]}))
    with pytest.raises(FileRejected) as caught:
        products.load_products_file(admin, bad)
    found = {(p.file, p.row, p.field) for p in caught.value.problems}
    assert ("products.json", 2, "name") in found
    assert ("products.json", 2, "rules.frequency") in found
    assert ("products.json", 3, "extra") in found
    assert ("products.json", 3, "effective_date") in found  # OK1 2026-01-01 listed twice
    assert products.list_products(admin) == []


def test_a_file_cannot_change_an_existing_version(contexts, tmp_path):
    admin = contexts["admin"]
    products.load_products_file(admin, PRODUCTS_FILE)
    data = json.loads(PRODUCTS_FILE.read_text())
    data["products"][0]["rules"]["late_fee"]["max"] = "60.00"
    data["products"].append({**data["products"][1], "effective_date": "2026-09-01"})
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    with pytest.raises(FileRejected, match="AUTO60 already has different rules"):
        products.load_products_file(admin, changed)
    # Nothing from the file stayed: PERS36 still has one version.
    listed = {p.code: p for p in products.list_products(admin)}
    assert len(listed["PERS36"].versions) == 1
