"""Keep each loan's booked ledger equal to the replay (issue 9, "The rule for the ledger").

The rules are pure (:mod:`app.domain.books`); this module reads the rows,
sums them in SQL with the one sign table, and appends the adjusting entries a
service call or end of day needs, dated on the open business date, each
pointing at its cause.  Nothing is edited: the ledger is append-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, case, func, literal, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.db.models import SETTING_RULES_REVISION, LedgerEntry
from app.db.settings import get_setting, set_setting
from app.domain.books import (
    PARTS,
    SIGNS,
    Balances,
    PlannedEntry,
    ReplayBooks,
    Row,
    plan_adjustments,
    replay_books,
)
from app.domain.engine import RULES_REVISION, Event
from app.domain.money import ZERO
from app.services.context import ServiceContext
from app.services.ledger import Book, next_seq
from app.services.products import ProductRules, rules_or_defaults

CENT = Decimal("0.01")


def _sum_expression(part: str, memo: bool) -> ColumnElement[Any]:
    """SUM over a loan's rows of ``part`` by :data:`app.domain.books.SIGNS` (raw cents)."""
    whens: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = []
    by_column: dict[tuple[str, int], list[str]] = {}
    for type_, sign in SIGNS.items():
        rule = (sign.memo if memo else sign.booked).get(part)
        if rule is not None:
            by_column.setdefault(rule, []).append(type_)
    for (column, s), types in sorted(by_column.items()):
        raw = type_coerce(getattr(LedgerEntry, column), BigInteger)
        whens.append((LedgerEntry.type.in_(types), raw if s > 0 else -raw))
    if not whens:
        return func.sum(literal(0))
    return func.sum(case(*whens, else_=literal(0)))


def part_sum(part: str, *, memo: bool = False) -> ColumnElement[Any]:
    """SUM of one booked (or memo) part by :data:`app.domain.books.SIGNS`, in raw cents (reports use it)."""
    return _sum_expression(part, memo)


def booked_sums(session: Session, loan_ids: Sequence[int], *,
                through: date | None = None) -> dict[int, tuple[Balances, Balances]]:
    """(booked, memo) of each loan from one ``GROUP BY loan_id`` query (conversion payloads not included).

    ``through``: only the entries booked on or before that business date (the books as they stood then).
    """
    columns = [_sum_expression(part, memo).label(f"{'memo' if memo else 'booked'}_{part}")
               for memo in (False, True) for part in PARTS]
    stmt = select(LedgerEntry.loan_id, *columns).where(LedgerEntry.loan_id.in_(list(loan_ids))).group_by(
        LedgerEntry.loan_id)
    if through is not None:
        stmt = stmt.where(LedgerEntry.business_date <= through)
    out: dict[int, tuple[Balances, Balances]] = {}
    for row in session.execute(stmt):
        values = row._mapping

        def money(name: str) -> Decimal:
            raw = values[name]
            return (Decimal(int(raw or 0)) * CENT).quantize(CENT)

        out[row.loan_id] = (Balances.of({p: money(f"booked_{p}") for p in PARTS}),
                            Balances.of({p: money(f"memo_{p}") for p in PARTS}))
    return out


def _product_rules(book: Book) -> ProductRules:
    version = book.loan.product_version
    return rules_or_defaults(version.rules if version is not None else None)


def replay_of(book: Book, today: date, extra: Sequence[Event] = ()) -> ReplayBooks:
    """The booked-equivalent balances of the loan replayed to the end of ``today``."""
    state, entries = book.derive(today, extra)
    # Today's late fees and suspense applied are booked when end of day closes today.
    return replay_books(state, book.terms, entries, pending_from=today)


def plan(
    book: Book, today: date, *, cause: int | None, extra: Sequence[Event] = (), extra_rows: Iterable[Row] = (),
    non_accrual: bool | None = None,
) -> list[PlannedEntry]:
    """The adjusting entries the loan needs now (nothing written)."""
    rules = _product_rules(book)
    rows = [Row.of(row) for row in book.rows] + list(extra_rows)
    flag = book.loan.delinquency == "non_accrual" if non_accrual is None else non_accrual
    return plan_adjustments(rows, replay_of(book, today, extra), non_accrual=flag,
                            cost_recovery=rules.non_accrual_cash == "cost_recovery", cause=cause)


def book_entries(
    session: Session, ctx: ServiceContext, book: Book, today: date, planned: Sequence[PlannedEntry]
) -> list[LedgerEntry]:
    """Append planned entries, dated ``today``."""
    written: list[LedgerEntry] = []
    for item in planned:
        row = LedgerEntry(
            loan_id=book.loan.id, seq=next_seq(session, book.loan.id), type=item.type, effective_date=today,
            business_date=today, amount=item.amount, interest=item.interest, principal=item.principal,
            fees=item.fees, escrow=item.escrow, suspense=item.suspense, refund=item.refund,
            reverses_id=item.reverses_id, fee_kind=item.fee_kind, payload=item.payload,
            reason_code="books", user_id=ctx.actor.user_id,
        )
        session.add(row)
        session.flush()
        book.rows.append(row)
        written.append(row)
    book.rows.sort(key=lambda r: (r.effective_date, r.seq))
    return written


def reconcile(session: Session, ctx: ServiceContext, book: Book, today: date, *, cause: int | None) -> list[LedgerEntry]:
    """Book whatever makes the loan's booked ledger equal the replay less the memo; returns the new rows."""
    return book_entries(session, ctx, book, today, plan(book, today, cause=cause))


def adjustment_details(rows: Sequence[LedgerEntry]) -> list[dict[str, Any]]:
    """The adjusting entries, for an audit record."""
    return [{"entry": row.id, "type": row.type, "amount": str(row.amount),
             "parts": {c: str(getattr(row, c)) for c in ("interest", "principal", "fees", "suspense", "refund")
                       if getattr(row, c) != ZERO},
             "reverses": row.reverses_id, **(row.payload or {})} for row in rows]


def reconcile_books(ctx: ServiceContext, *, chunk: int = 500) -> tuple[int, int]:
    """Book the adjusting entries every loan needs now; returns (loans adjusted, entries booked).

    For a database whose loans were boarded before the booked ledger was kept
    equal to the replay (issue 9): their interest earned before boarding, late
    fees and back-dated differences are booked once, dated the open business
    date, each with its reason.  Afterwards services and end of day keep the
    rule.  One transaction per chunk of loans, with an audit record each;
    running it again books nothing.
    """
    from sqlalchemy import select as _select

    from app.db.models import Loan
    from app.services import audit, permissions
    from app.services.ledger import business_date, open_book, store_cache

    permissions.require(ctx.actor, permissions.RUN_EOD)
    with ctx.unit(write=False) as session:
        ids = list(session.scalars(_select(Loan.id).order_by(Loan.id)))
    adjusted = booked = 0
    for start in range(0, len(ids), chunk):
        with ctx.unit() as session:
            today = business_date(session)
            lines: list[dict[str, Any]] = []
            for loan in session.scalars(_select(Loan).where(Loan.id.in_(ids[start : start + chunk]))
                                        .order_by(Loan.id).with_for_update()):
                book = open_book(session, loan)
                rows = reconcile(session, ctx, book, today, cause=None)
                # The cache is re-derived too: a book from an older Keel was cached under
                # older servicing rules (app.domain.engine.RULES_REVISION).
                store_cache(session, open_book(session, loan), today, rederive=True)
                if rows:
                    adjusted += 1
                    booked += len(rows)
                    lines.append({"loan": loan.loan_number, "entries": adjustment_details(rows)})
            if lines:
                audit.record(session, ctx.actor, "books.reconciled", entity="ledger", entity_id=None,
                             details={"business_date": today.isoformat(), "loans": lines})
    with ctx.unit() as session:
        before = get_setting(session, SETTING_RULES_REVISION)
        set_setting(session, SETTING_RULES_REVISION, str(RULES_REVISION))
        audit.record(session, ctx.actor, "books.rules_revision", entity="settings", entity_id=None,
                     details={"before": before, "after": str(RULES_REVISION), "loans": len(ids)})
    return adjusted, booked


def rules_revision(ctx: ServiceContext) -> int | None:
    """The servicing rules revision the book was last derived under (None: a book from before revisions)."""
    with ctx.unit(write=False) as session:
        value = get_setting(session, SETTING_RULES_REVISION)
    return int(value) if value and value.isdigit() else None
