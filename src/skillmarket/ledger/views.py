"""Reading balances, allowance usage and an operator's ledger (I/O, read-only)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.ledger import accounts
from skillmarket.ledger.models import LedgerLine, LedgerPage
from skillmarket.ledger.tables import (
    ledger_accounts,
    ledger_allowance_usage,
    ledger_entries,
    ledger_postings,
)

_p = ledger_postings.c


def wallet_balances(conn: Connection, operator_id: str) -> dict[str, int]:
    """The operator's ``wallet``, ``held`` and ``earnings`` balances (0 for unopened ones)."""
    rows = conn.execute(
        sa.select(ledger_accounts.c.kind, ledger_accounts.c.balance).where(
            ledger_accounts.c.operator_id == operator_id
        )
    ).all()
    balances = dict.fromkeys(accounts.OPERATOR_KINDS, 0)
    balances.update({row.kind: row.balance for row in rows})
    return balances


def allowance_used(conn: Connection, operator_id: str, month: str) -> int:
    """How many free-skill invocations count against the operator's allowance in ``month``."""
    used = conn.execute(
        sa.select(ledger_allowance_usage.c.used).where(
            ledger_allowance_usage.c.operator_id == operator_id,
            ledger_allowance_usage.c.month == month,
        )
    ).scalar()
    return used or 0


def _side(own: list[str], column: sa.Column, other: sa.Column, sign: int) -> sa.Select:
    return (
        sa.select(
            _p.seq,
            _p.id.label("posting_id"),
            _p.entry_id,
            _p.created_at,
            ledger_entries.c.kind.label("entry_kind"),
            _p.kind,
            column.label("account_id"),
            (_p.amount * sign).label("amount"),
            other.label("counterparty"),
            _p.invocation_id,
            _p.skill_id,
            _p.step,
        )
        .join_from(ledger_postings, ledger_entries, ledger_entries.c.id == _p.entry_id)
        .where(column.in_(own))
    )


def ledger_page(conn: Connection, operator_id: str, limit: int, offset: int) -> LedgerPage:
    """One page of the postings that touched the operator's accounts, newest first.

    A posting between two of the operator's own accounts (a hold, a release) shows on both.
    All three accounts are credit-normal: a credit is ``+``, a debit ``-``.
    """
    own = [f"{kind}:{operator_id}" for kind in accounts.OPERATOR_KINDS]
    union = sa.union_all(
        _side(own, _p.credit_account_id, _p.debit_account_id, 1),
        _side(own, _p.debit_account_id, _p.credit_account_id, -1),
    ).subquery()
    rows = conn.execute(
        sa.select(union)
        .order_by(union.c.seq.desc(), union.c.amount.desc())
        .limit(limit + 1)
        .offset(offset)
    ).all()
    items = [
        LedgerLine(
            posting_id=row.posting_id,
            entry_id=row.entry_id,
            created_at=row.created_at,
            entry_kind=row.entry_kind,
            kind=row.kind,
            account=accounts.kind_of(row.account_id),  # type: ignore[arg-type]
            amount_micros=row.amount,
            # Another operator's account is named by its kind only: buyers and publishers
            # see that money moved to "earnings" or from "held", not whose.
            counterparty=row.counterparty
            if row.counterparty.startswith("platform:") or row.counterparty in own
            else accounts.kind_of(row.counterparty),
            invocation_id=row.invocation_id,
            skill_id=row.skill_id,
            step=row.step,
        )
        for row in rows[:limit]
    ]
    return LedgerPage(items=items, limit=limit, offset=offset, has_more=len(rows) > limit)
