"""Checking the books (I/O, read-only): the postings are the truth, everything else must agree.

1. Each account's balance, derived from the postings, equals its cached balance.
2. No balance is below zero.
3. Debit-normal balances add up to credit-normal balances (the books balance).
4. Each buyer's ``held`` balance equals the sum of their open holds.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.ledger import accounts
from skillmarket.ledger.models import LedgerCheck
from skillmarket.ledger.tables import ledger_accounts, ledger_holds, ledger_postings

_p = ledger_postings.c


def derived_balances(conn: Connection) -> dict[str, int]:
    """Every account's balance computed from the postings alone."""
    balances: dict[str, int] = defaultdict(int)
    for column, side in ((_p.debit_account_id, "debit"), (_p.credit_account_id, "credit")):
        for account_id, total in conn.execute(
            sa.select(column, sa.func.sum(_p.amount)).group_by(column)
        ):
            normal = accounts.normal_side(account_id)
            balances[account_id] += accounts.delta(normal, side, int(total))  # type: ignore[arg-type]
    return dict(balances)


def verify(conn: Connection) -> LedgerCheck:
    """Run the four checks above."""
    derived = derived_balances(conn)
    cached = {
        row.id: (row.balance, row.normal_side)
        for row in conn.execute(
            sa.select(
                ledger_accounts.c.id, ledger_accounts.c.balance, ledger_accounts.c.normal_side
            )
        )
    }
    mismatches = [
        {
            "account": account_id,
            "cached_micros": balance,
            "derived_micros": derived.get(account_id, 0),
        }
        for account_id, (balance, _side) in sorted(cached.items())
        if derived.get(account_id, 0) != balance
    ]
    mismatches += [
        {"account": account_id, "cached_micros": None, "derived_micros": amount}
        for account_id, amount in sorted(derived.items())
        if account_id not in cached
    ]
    negative = sorted(a for a, amount in derived.items() if amount < 0)
    negative += sorted(
        a for a, (balance, _side) in cached.items() if balance < 0 and a not in negative
    )
    debit_total = sum(derived.get(a, 0) for a, (_b, side) in cached.items() if side == "debit")
    credit_total = sum(derived.get(a, 0) for a, (_b, side) in cached.items() if side == "credit")
    open_holds = conn.execute(
        sa.select(ledger_holds.c.buyer_id, sa.func.sum(ledger_holds.c.amount))
        .where(ledger_holds.c.status == "held")
        .group_by(ledger_holds.c.buyer_id)
    ).all()
    expected_held = {accounts.held(buyer): int(total) for buyer, total in open_holds}
    held_ids = {a for a in cached if a.startswith("held:")} | set(expected_held)
    hold_mismatches = sorted(a for a in held_ids if derived.get(a, 0) != expected_held.get(a, 0))
    postings = conn.execute(sa.select(sa.func.count()).select_from(ledger_postings)).scalar_one()
    return LedgerCheck(
        ok=not (mismatches or negative or hold_mismatches) and debit_total == credit_total,
        accounts=len(cached),
        postings=postings,
        debit_normal_total_micros=debit_total,
        credit_normal_total_micros=credit_total,
        cached_mismatches=mismatches,
        negative_accounts=negative,
        hold_mismatches=hold_mismatches,
    )
