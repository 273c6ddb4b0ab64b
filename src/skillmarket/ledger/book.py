"""Writing the book: entries, postings, cached balances and their audit events (I/O).

Everything here runs inside a write transaction the caller opened, after
:func:`skillmarket.audit.log.lock`. A posting is one amount moved from a debit account to a
credit account, so it balances by construction; it updates both cached balances with a
conditional UPDATE that refuses to take a balance below zero (on PostgreSQL the row lock taken
by the UPDATE re-checks the condition against the committed value, on SQLite writes are
serialised), and it is recorded as one ``ledger.posting`` audit event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.ids import new_id
from skillmarket.ledger import accounts
from skillmarket.ledger.errors import InsufficientFunds
from skillmarket.ledger.tables import ledger_accounts, ledger_entries, ledger_postings

_acct = ledger_accounts.c
_move = (
    sa.update(ledger_accounts)
    .where(_acct.id == sa.bindparam("account_id_"))
    .where(_acct.balance + sa.bindparam("delta_") >= 0)
    .values(balance=_acct.balance + sa.bindparam("delta_"))
)


@dataclass(frozen=True)
class Posting:
    """One amount to move: what kind of movement, from which account, to which."""

    kind: str
    debit: str
    credit: str
    amount: int
    invocation_id: str | None = None
    skill_id: str | None = None
    step: int | None = None


def insert_ignore(conn: Connection, table: sa.Table, rows: list[dict[str, object]]) -> None:
    """Insert ``rows``, skipping any whose primary key exists (both dialects)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def ensure_operator_accounts(conn: Connection, operator_id: str, now: datetime) -> None:
    """Open the operator's wallet, held and earnings accounts if they are not open yet."""
    insert_ignore(
        conn,
        ledger_accounts,
        [
            {
                "id": f"{kind}:{operator_id}",
                "kind": kind,
                "operator_id": operator_id,
                "normal_side": "credit",
                "balance": 0,
                "created_at": now,
            }
            for kind in accounts.OPERATOR_KINDS
        ],
    )


def open_entry(
    conn: Connection,
    *,
    kind: str,
    operator_id: str,
    amount: int,
    now: datetime,
    actor: str | None,
    invocation_id: str | None = None,
    idempotency_key: str | None = None,
    provider_ref: str | None = None,
) -> str:
    """Insert the entry that groups one business event's postings; return its id."""
    entry_id = new_id("ledger_entry")
    conn.execute(
        ledger_entries.insert().values(
            id=entry_id,
            kind=kind,
            operator_id=operator_id,
            invocation_id=invocation_id,
            idempotency_key=idempotency_key,
            provider_ref=provider_ref,
            amount=amount,
            actor=actor,
            created_at=now,
        )
    )
    return entry_id


def post(
    conn: Connection,
    entry_id: str,
    posting: Posting,
    *,
    entry_kind: str,
    actor: str | None,
    now: datetime,
) -> str:
    """Write one posting, move both cached balances and record its audit event."""
    for account_id, side in ((posting.debit, "debit"), (posting.credit, "credit")):
        change = accounts.delta(accounts.normal_side(account_id), side, posting.amount)
        moved = conn.execute(_move, {"account_id_": account_id, "delta_": change}).rowcount
        if moved != 1:
            available = conn.execute(
                sa.select(_acct.balance).where(_acct.id == account_id)
            ).scalar()
            raise InsufficientFunds(
                f"{account_id} holds {available} micro-dollars, {posting.amount} are needed",
                details={
                    "account": accounts.kind_of(account_id),
                    "available_micros": available or 0,
                    "required_micros": posting.amount,
                },
            )
    posting_id = new_id("posting")
    conn.execute(
        ledger_postings.insert().values(
            id=posting_id,
            entry_id=entry_id,
            kind=posting.kind,
            debit_account_id=posting.debit,
            credit_account_id=posting.credit,
            amount=posting.amount,
            invocation_id=posting.invocation_id,
            skill_id=posting.skill_id,
            step=posting.step,
            created_at=now,
        )
    )
    data: dict[str, object] = {
        "entry_id": entry_id,
        "entry_kind": entry_kind,
        "kind": posting.kind,
        "debit": posting.debit,
        "credit": posting.credit,
        "amount_micros": posting.amount,
    }
    for key in ("invocation_id", "skill_id", "step"):
        if getattr(posting, key) is not None:
            data[key] = getattr(posting, key)
    log.record(conn, EventType.LEDGER_POSTING, actor=actor, subject=posting_id, data=data)
    return posting_id


def post_all(
    conn: Connection,
    entry_id: str,
    postings: list[Posting],
    *,
    entry_kind: str,
    actor: str | None,
    now: datetime,
) -> list[str]:
    """Write every posting with a positive amount (zero-amount lines move nothing)."""
    return [
        post(conn, entry_id, p, entry_kind=entry_kind, actor=actor, now=now)
        for p in postings
        if p.amount > 0
    ]
