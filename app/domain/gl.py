"""The general ledger: every ledger entry as balanced double-entry journal lines (issue 13, item 2).

Pure rules (no SQL, no Qt).  The chart of accounts is a set of **roles**
(:data:`ROLES`); the lender maps each role to its own account number and name
(``keel gl accounts``).  :func:`journal_lines` turns ONE ledger entry — its
type, amount, allocation columns, method, reason code, fee kind and whether it
reverses or re-applies another entry — into journal lines whose debits equal
their credits to the cent, or into no lines where no money moves.  An entry
type this module does not know raises :class:`UnknownEntryType`, so a new
ledger type cannot be left out of the books silently.

The one idea
------------

The balances an entry moves on the books (principal, interest receivable,
fees receivable, suspense, refund due) are read from the booked-ledger sign
table, :data:`app.domain.books.SIGNS` — the same table ``keel verify`` sums.
So the loans-receivable and interest-receivable accounts move exactly as the
booked principal and booked interest do, entry by entry, and the control
accounts equal the booked ledger on any date by construction.  Each type then
names the account that takes the other side (its *offset*):

* the asset parts debit when the booked balance rises: loans receivable
  (principal), interest receivable (interest), fees receivable (fees);
* the liability parts credit when the booked balance rises: suspense
  (money held), refunds payable (refund due);
* the offset takes whatever makes the entry balance, except where cash moves:
  there the cash leg is the entry's ``amount`` and the parts must add up to it
  (else :class:`UnbalancedEntry`).

The rule for each type
----------------------

``P I F S R E`` are the entry's principal, interest, fees, suspense, refund
and escrow columns; ``A`` its amount.  "cash" is the ``ach_clearing`` account
for ``method = ach`` and ``cash`` for every other method (check, cash, card,
money order).  A leg whose amount is negative changes sides.

=======================  ===========================================  ===========================================
type                     debit                                        credit
=======================  ===========================================  ===========================================
boarding                 loans receivable A                           cash A (funds disbursed)
conversion               loans receivable A, interest receivable I,   suspense S, conversion clearing
                         fees receivable F (I F S from the payload)   A + I + F − S
payment                  cash A                                       loans receivable P, interest receivable I,
                                                                      fees receivable F, suspense S, refunds
                                                                      payable R, escrow liability E
reversal                 the payment's mirror: its columns are the    cash of the original payment's method
                         payment's, negated (A < 0)
fee, late_fee            fees receivable F                            fee income F
waiver                   fee income −F + P + R                        fees receivable −F (F < 0), loans receivable
                                                                      P (a paid fee credited to principal),
                                                                      refunds payable R (or credited as a refund)
late_fee_reversal        fee income −F                                fees receivable −F (F < 0)
adjustment               loans receivable P (P < 0: credit)           principal adjustments P
accrual                  interest receivable I                        interest income I
accrual_adjustment       interest receivable I (signed)               interest income I
nonaccrual_interest      —                                            — (memo: earned, not recognised)
interest_reversal        interest income I                            interest receivable I
interest_recognition     loans receivable P, interest receivable I    interest income P + I
cost_recovery            interest receivable I                        loans receivable P (P = I: no income)
charge_off,              allowance for credit losses P + I + F        loans receivable P, interest receivable I,
charge_off_adjustment    (``charge_off_method: direct``: charge-off   fees receivable F
                         expense)
recovery                 cash A                                       allowance for credit losses A (direct:
                                                                      recoveries)
write_off,               small-balance write-off P + I + F            loans receivable P, interest receivable I,
payoff_write_off                                                      fees receivable F
refund                   refunds payable −R (R = −A)                  cash A
suspense_applied         suspense −S (S < 0)                          loans receivable P, interest receivable I,
                                                                      fees receivable F, refunds payable R
                                                                      (they add up to −S)
reallocation             the parts as a payment moves them; what      of a payment or reversal: nothing (the parts
                         they do not add up to goes to the re-        add up to zero); of a waiver: fee income; of
                         applied entry's own offset                   a write-off or a refund: small-balance
                                                                      write-off
terms_change             —                                            — (no money moves)
disbursement             escrow liability E                           cash E (reserved: escrow is not built yet)
=======================  ===========================================  ===========================================

Entries brought from another servicer
-------------------------------------

A seasoned loan's ``conversion``, a history loan's ``boarding`` and its
historical payments, and the interest and late fees boarding books for the
time before Keel (``opening`` entries, told apart by the service) are the
opening balance of a loan the lender already carried, not cash moving or
income earned this month: on them the cash and income accounts (cash, ACH
clearing, interest income, fee income) are replaced by **conversion
clearing**, which the accountant ties out to the prior system.  A new loan's
``boarding`` credits cash: the lender funded it.

Charge-offs: ``charge_off_method`` is ``allowance`` (CECL: the charge-off
debits the allowance and a recovery credits it; the provision is booked
outside Keel) or ``direct`` (charge-off expense, and a recovery is income).
The charged-off interest and fees go to the same account as the principal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from app.domain.books import SIGNS
from app.domain.money import ZERO

# ---------------------------------------------------------------- the chart of accounts


@dataclass(frozen=True)
class Role:
    """A place in the chart of accounts Keel posts to, with the account it maps to by default."""

    code: str
    number: str
    name: str
    kind: str  # asset, contra-asset, liability, income, expense, clearing
    description: str
    reserved: bool = False  # kept for a feature not built yet (escrow)


#: Every role, in the order journals and ``keel gl accounts`` list them.
ROLES: tuple[Role, ...] = (
    Role("cash", "1000", "Cash", "asset", "Payments received and refunds paid by check, cash, card or money order"),
    Role("ach_clearing", "1010", "ACH clearing", "asset", "Payments received and refunds paid by ACH"),
    Role("loans_receivable", "1200", "Loans receivable", "asset", "Booked principal (control account)"),
    Role("interest_receivable", "1210", "Interest receivable", "asset",
         "Booked accrued interest (control account)"),
    Role("fees_receivable", "1220", "Fees receivable", "asset", "Fees assessed and not yet paid or waived"),
    Role("allowance_for_credit_losses", "1290", "Allowance for credit losses", "contra-asset",
         "Charge-offs and recoveries under charge_off_method: allowance"),
    Role("escrow_advances", "1300", "Escrow advances", "asset", "Escrow paid beyond the borrower's balance",
         reserved=True),
    Role("conversion_clearing", "1900", "Conversion clearing", "clearing",
         "Opening balances of loans brought from another servicer"),
    Role("suspense", "2100", "Unapplied payments (suspense)", "liability", "Money held until a full installment"),
    Role("refunds_payable", "2110", "Refunds payable", "liability", "Money received beyond the payoff"),
    Role("escrow_liability", "2200", "Escrow liability", "liability", "Escrow held for taxes and insurance",
         reserved=True),
    Role("interest_income", "4000", "Interest income", "income", "Interest earned"),
    Role("fee_income", "4100", "Fee income", "income", "Fees assessed, less fees waived or reversed"),
    Role("recoveries", "4900", "Recoveries", "income", "Money received after charge-off (charge_off_method: direct)"),
    Role("charge_off_expense", "6100", "Charge-off expense", "expense",
         "Balances charged off (charge_off_method: direct)"),
    Role("small_balance_writeoff", "6110", "Small-balance write-offs", "expense",
         "Small balances and payoff shortfalls forgiven"),
    Role("principal_adjustments", "6120", "Principal adjustments", "expense",
         "The other side of a principal adjustment"),
)
ROLE_CODES: tuple[str, ...] = tuple(role.code for role in ROLES)
ROLE_BY_CODE: dict[str, Role] = {role.code: role for role in ROLES}
CHARGE_OFF_METHODS = ("allowance", "direct")
#: Accounts whose balance is the booked ledger's (debit-positive assets; credit-positive liabilities).
CONTROL_ROLES = {"principal": "loans_receivable", "interest": "interest_receivable", "fees": "fees_receivable",
                 "suspense": "suspense", "refund": "refunds_payable"}
_LIABILITY_PARTS = ("suspense", "refund")
#: On an entry brought from another servicer these accounts become conversion clearing.
OPENING_REPLACED = ("cash", "ach_clearing", "interest_income", "fee_income")

# ---------------------------------------------------------------- words

_TYPE_WORDS = {
    "boarding": "Loans boarded",
    "conversion": "Loans converted from another servicer",
    "payment": "Payments",
    "reversal": "Payments reversed",
    "fee": "Fees assessed",
    "late_fee": "Late fees assessed",
    "waiver": "Fees waived",
    "late_fee_reversal": "Late fees reversed",
    "adjustment": "Principal adjustments",
    "accrual": "Interest accrued",
    "accrual_adjustment": "Interest accrual corrected",
    "nonaccrual_interest": "Interest on non-accrual (memo)",
    "interest_reversal": "Interest reversed (non-accrual)",
    "interest_recognition": "Interest recognised",
    "cost_recovery": "Interest applied to principal (cost recovery)",
    "charge_off": "Charge-offs",
    "charge_off_adjustment": "Charge-offs corrected",
    "recovery": "Recoveries",
    "write_off": "Small balances written off",
    "payoff_write_off": "Payoff shortfalls written off",
    "refund": "Refunds paid",
    "suspense_applied": "Suspense applied",
    "reallocation": "Payments re-applied",
    "terms_change": "Terms changed",
    "disbursement": "Escrow disbursed",
}
_PART_WORDS = {"principal": "principal", "interest": "interest", "fees": "fees", "suspense": "held in suspense",
               "refund": "refund due", "escrow": "escrow"}
_METHOD_WORDS = {"check": "check", "ach": "ACH", "cash": "cash", "card": "card", "money_order": "money order"}
_FEE_WORDS = {"nsf": "NSF", "late": "late", "returned_item": "returned item", "extension": "extension",
              "payoff_statement": "payoff statement", "other": "other"}

# ---------------------------------------------------------------- values


class UnknownEntryType(ValueError):
    """A ledger type with no journal rule: add its rule here before it is posted."""


class UnbalancedEntry(ValueError):
    """An entry whose parts do not add up to the money it moved (a defect upstream, never rounded away)."""


@dataclass(frozen=True)
class EntryFacts:
    """What the journal reads of one ledger entry (or of a group of like entries, summed).

    For a ``conversion`` the caller fills ``interest``, ``fees`` and ``suspense``
    from the entry's payload (:func:`app.domain.books.conversion_opening`).
    ``of_type`` is the type of the entry a reversal reverses or a reallocation
    re-applies; ``opening`` marks an entry brought from another servicer.
    """

    type: str
    amount: Decimal = ZERO
    principal: Decimal = ZERO
    interest: Decimal = ZERO
    fees: Decimal = ZERO
    escrow: Decimal = ZERO
    suspense: Decimal = ZERO
    refund: Decimal = ZERO
    method: str | None = None
    reason_code: str | None = None
    fee_kind: str | None = None
    reverses: bool = False
    of_type: str | None = None
    opening: bool = False

    def column(self, name: str) -> Decimal:
        value: Decimal = getattr(self, name)
        return value


@dataclass(frozen=True)
class Line:
    """One journal line: a role, a debit or a credit (never both, never negative) and a memo."""

    role: str
    debit: Decimal
    credit: Decimal
    memo: str

    @property
    def signed(self) -> Decimal:
        """Debit positive, credit negative."""
        return self.debit - self.credit


def _cash_role(method: str | None) -> str:
    return "ach_clearing" if method == "ach" else "cash"


def _with_method(words: str, method: str | None) -> str:
    return f"{words} ({_METHOD_WORDS.get(method, method.replace('_', ' '))})" if method else words


def _part_legs(entry: EntryFacts, words: str, *, payment_way: bool = False) -> list[tuple[str, Decimal, str]]:
    """(role, signed debit, memo) for the booked balances the entry moves, read from the sign table."""
    if payment_way:  # as a payment moves them (reversals, reallocations): −P −I −F +S +R
        rule = {p: (p, -1 if p in ("principal", "interest", "fees") else 1)
                for p in ("principal", "interest", "fees", "suspense", "refund")}
    elif entry.type == "conversion":  # the payload's opening interest, fees and suspense come in the columns
        rule = {"principal": ("amount", 1), "interest": ("interest", 1), "fees": ("fees", 1),
                "suspense": ("suspense", 1)}
    else:
        rule = dict(SIGNS[entry.type].booked)
    legs = []
    for part, (column, sign) in rule.items():
        moved = entry.column(column) * sign
        debit = -moved if part in _LIABILITY_PARTS else moved
        legs.append((CONTROL_ROLES[part], debit, f"{words}: {_PART_WORDS[part]}"))
    return legs


def _charge_off_role(method: str) -> str:
    if method not in CHARGE_OFF_METHODS:
        raise ValueError(f"charge_off_method must be one of {', '.join(CHARGE_OFF_METHODS)}; got {method!r}")
    return "allowance_for_credit_losses" if method == "allowance" else "charge_off_expense"


#: The offset account of each type whose other side is not cash (see the module's table).
_OFFSET = {
    "boarding": "cash",
    "conversion": "conversion_clearing",
    "fee": "fee_income",
    "late_fee": "fee_income",
    "waiver": "fee_income",
    "late_fee_reversal": "fee_income",
    "adjustment": "principal_adjustments",
    "accrual": "interest_income",
    "accrual_adjustment": "interest_income",
    "interest_reversal": "interest_income",
    "interest_recognition": "interest_income",
    "cost_recovery": "interest_income",
    "write_off": "small_balance_writeoff",
    "payoff_write_off": "small_balance_writeoff",
}
#: Where a reallocation's parts that do not add up to zero go, by the type of the entry it re-applies.
_REALLOCATION_OFFSET = {"waiver": "fee_income", "write_off": "small_balance_writeoff",
                        "payoff_write_off": "small_balance_writeoff", "refund": "small_balance_writeoff"}
#: Types with a rule (every ledger type; tests check this equals app.db.models.LEDGER_TYPES).
RULE_TYPES: frozenset[str] = frozenset(_TYPE_WORDS)
#: Types that never move money on the books: no journal lines, whatever their columns.
NO_LINES: frozenset[str] = frozenset({"terms_change", "nonaccrual_interest"})


def journal_lines(entry: EntryFacts, *, charge_off_method: str = "allowance") -> tuple[Line, ...]:
    """The balanced journal lines of one ledger entry (or of like entries summed), in the module's table.

    Raises :class:`UnknownEntryType` for a type without a rule and
    :class:`UnbalancedEntry` when the parts do not add up to the money that
    moved.
    """
    kind = entry.type
    if kind not in RULE_TYPES:
        raise UnknownEntryType(f"ledger type {kind!r} has no general-ledger rule (app/domain/gl.py)")
    words = _TYPE_WORDS[kind]
    if kind == "fee" and entry.fee_kind:
        words = f"{words} ({_FEE_WORDS.get(entry.fee_kind, entry.fee_kind.replace('_', ' '))})"
    legs: list[tuple[str, Decimal, str]]

    def balance(of: list[tuple[str, Decimal, str]]) -> Decimal:
        return -sum((debit for _, debit, _ in of), ZERO)

    def cash_received() -> None:
        """A payment or its reversal: the cash leg is the amount; the parts (and escrow) must add up to it."""
        legs.append(("escrow_liability", -entry.escrow, f"{words}: escrow"))
        if balance(legs) != entry.amount:
            raise UnbalancedEntry(f"{kind}: parts add up to {balance(legs)}, not the amount {entry.amount}")
        legs.append((_cash_role(entry.method), entry.amount, _with_method(words, entry.method)))

    if kind in NO_LINES:
        legs = []
    elif kind in ("payment", "reversal"):
        legs = _part_legs(entry, words, payment_way=True)
        cash_received()
    elif kind == "recovery":
        role = "recoveries" if _charge_off_role(charge_off_method) == "charge_off_expense" else \
            "allowance_for_credit_losses"
        legs = [(_cash_role(entry.method), entry.amount, _with_method(words, entry.method)),
                (role, -entry.amount, words)]
    elif kind == "refund":
        legs = _part_legs(entry, words)
        if balance(legs) != -entry.amount:
            raise UnbalancedEntry(f"refund: refund due moved by {entry.refund}, not the {entry.amount} paid")
        legs.append((_cash_role(entry.method), -entry.amount, _with_method(words, entry.method)))
    elif kind == "disbursement":
        legs = [("escrow_liability", entry.escrow, words), ("cash", -entry.escrow, words)]
    elif kind in ("charge_off", "charge_off_adjustment"):
        legs = _part_legs(entry, words)
        legs.append((_charge_off_role(charge_off_method), balance(legs), words))
    elif kind == "suspense_applied":
        legs = _part_legs(entry, words)
        if balance(legs) != 0:
            raise UnbalancedEntry(f"suspense_applied: parts add up to {-balance(legs)}, not zero")
    elif kind == "reallocation":
        legs = _part_legs(entry, words, payment_way=True)
        left = balance(legs)
        if left != 0:
            offset = _REALLOCATION_OFFSET.get(entry.of_type or "")
            if offset is None:
                raise UnbalancedEntry(f"reallocation of a {entry.of_type or 'entry'}: parts add up to {-left}, "
                                      "not zero")
            legs.append((offset, left, f"{words}: {_TYPE_WORDS[entry.of_type or ''].lower()}"))
    else:
        legs = _part_legs(entry, words)
        offset = _OFFSET[kind]
        legs.append((offset, balance(legs), _with_method(words, entry.method) if offset == "cash" else words))
    if entry.opening:
        legs = [("conversion_clearing" if role in OPENING_REPLACED else role, debit,
                 f"{memo} (opening, prior servicer)" if role in OPENING_REPLACED else memo)
                for role, debit, memo in legs]
    return _lines(legs, kind)


def _lines(legs: Iterable[tuple[str, Decimal, str]], kind: str) -> tuple[Line, ...]:
    out = []
    total = ZERO
    for role, debit, memo in legs:
        total += debit
        if debit != 0:
            out.append(Line(role, debit if debit > 0 else ZERO, -debit if debit < 0 else ZERO, memo))
    if total != 0:  # pragma: no cover - every rule above balances by construction
        raise UnbalancedEntry(f"{kind}: debits and credits differ by {total}")
    return tuple(out)


# ---------------------------------------------------------------- summing lines


def combine(lines: Iterable[Line]) -> tuple[Line, ...]:
    """Lines summed by (role, memo), netted to a debit or a credit, in chart order; zero lines dropped."""
    net: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        key = (line.role, line.memo)
        net[key] = net.get(key, ZERO) + line.signed
    order = {code: index for index, code in enumerate(ROLE_CODES)}
    out = [Line(role, value if value > 0 else ZERO, -value if value < 0 else ZERO, memo)
           for (role, memo), value in net.items() if value != 0]
    out.sort(key=lambda line: (order.get(line.role, len(order)), line.credit > 0, line.memo))
    return tuple(out)


def balances(lines: Iterable[Line]) -> dict[str, Decimal]:
    """Each role's balance, debit positive."""
    out: dict[str, Decimal] = {}
    for line in lines:
        out[line.role] = out.get(line.role, ZERO) + line.signed
    return out


def booked_from_balances(by_role: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The booked parts the control accounts hold: assets as debit balances, liabilities as credit balances."""
    return {part: (-by_role.get(role, ZERO) if part in _LIABILITY_PARTS else by_role.get(role, ZERO))
            for part, role in CONTROL_ROLES.items()}


def describe_type(kind: str) -> str:
    return _TYPE_WORDS.get(kind, kind.replace("_", " "))


def method_words(method: str | None) -> str:
    return _METHOD_WORDS.get(method or "", (method or "").replace("_", " "))
