"""Writing the book: entries, postings, cached balances and their audit events (I/O).

Everything here runs inside a write transaction the caller opened, after
:func:`skillmarket.audit.log.lock`. A posting is one amount moved from a debit account to a
credit account, so it balances by construction. The postings of one entry are written together:
each touched account's cached balance moves by the entry's net change in one conditional UPDATE
that refuses to take it below zero (on PostgreSQL the row lock taken by the UPDATE re-checks the
condition against the committed value; on SQLite writes are serialised), the postings are
inserted in one statement, and each is recorded as one ``ledger.posting`` audit event in the same
transaction.

Statements are built once, with bind parameters, so SQLAlchemy's compiled cache serves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.identity.errors import OperatorNotFound
from skillmarket.ids import new_id
from skillmarket.ledger import accounts
from skillmarket.ledger.errors import InsufficientFunds
from skillmarket.ledger.tables import ledger_accounts, ledger_entries, ledger_postings

_acct = ledger_accounts.c
_insert_entry = ledger_entries.insert()
_insert_posting = ledger_postings.insert()
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


_insert_ignore: dict[str, dict[str, sa.Insert]] = {}


def insert_ignore(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> int:
    """Insert ``rows``, skipping any whose primary key exists (both dialects); returns how
    many were inserted."""
    dialect = conn.dialect.name
    by_table = _insert_ignore.setdefault(dialect, {})
    if table.name not in by_table:
        module = postgresql if dialect == "postgresql" else sqlite
        # SQLAlchemy counts an INSERT's rows only when asked to.
        statement = module.insert(table).on_conflict_do_nothing()
        by_table[table.name] = statement.execution_options(preserve_rowcount=True)
    return conn.execute(by_table[table.name], rows).rowcount


def ensure_operator_accounts(conn: Connection, operator_id: str, now: datetime) -> None:
    """Open the operator's wallet, held and earnings accounts if they are not open yet."""
    try:
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
    except sa.exc.IntegrityError:  # conflicts are ignored, so only the operator FK is left
        raise OperatorNotFound(
            f"no operator {operator_id!r}", details={"operator_id": operator_id}
        ) from None


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
        _insert_entry,
        {
            "id": entry_id,
            "kind": kind,
            "operator_id": operator_id,
            "invocation_id": invocation_id,
            "idempotency_key": idempotency_key,
            "provider_ref": provider_ref,
            "amount": amount,
            "actor": actor,
            "created_at": now,
        },
    )
    return entry_id


def net_changes(postings: list[Posting]) -> dict[str, int]:
    """How much each account's balance moves when ``postings`` are written together."""
    changes: dict[str, int] = {}
    for posting in postings:
        for account_id, side in ((posting.debit, "debit"), (posting.credit, "credit")):
            change = accounts.delta(accounts.normal_side(account_id), side, posting.amount)
            changes[account_id] = changes.get(account_id, 0) + change
    return changes


def _move_balances(conn: Connection, postings: list[Posting]) -> None:
    # Debits first, one by one, each refused if it would take its account below zero; then
    # every credit in one executemany (a credit can only miss an account that is not open;
    # both drivers count an executemany's rows). Each group is sorted, so concurrent entries
    # lock account rows in one order.
    changes = sorted(net_changes(postings).items())
    for account_id, change in changes:
        if change < 0 and conn.execute(_move, _move_params(account_id, change)).rowcount != 1:
            _insufficient(conn, account_id, change)
    credits = [_move_params(a, change) for a, change in changes if change > 0]
    if credits and conn.execute(_move, credits).rowcount != len(credits):
        missing = next((p for p in credits if _balance(conn, p["account_id_"]) is None), credits[0])
        _insufficient(conn, missing["account_id_"], missing["delta_"])


def _move_params(account_id: str, change: int) -> dict[str, Any]:
    return {"account_id_": account_id, "delta_": change}


def _balance(conn: Connection, account_id: str) -> int | None:
    return conn.execute(sa.select(_acct.balance).where(_acct.id == account_id)).scalar()


def _insufficient(conn: Connection, account_id: str, change: int) -> NoReturn:
    available = _balance(conn, account_id) or 0
    raise InsufficientFunds(
        f"{account_id} holds {available} micro-dollars, {-change} are needed",
        details={
            "account": accounts.kind_of(account_id),
            "available_micros": available,
            "required_micros": -change,
        },
    )


def post_all(
    conn: Connection,
    entry_id: str,
    postings: list[Posting],
    *,
    entry_kind: str,
    actor: str | None,
    now: datetime,
) -> list[str]:
    """Write every posting with a positive amount (zero-amount lines move nothing); return
    their ids. Raises :class:`InsufficientFunds` if an account would go below zero."""
    lines = [p for p in postings if p.amount > 0]
    if not lines:
        return []
    _move_balances(conn, lines)
    rows = [
        {
            "id": new_id("posting"),
            "entry_id": entry_id,
            "kind": p.kind,
            "debit_account_id": p.debit,
            "credit_account_id": p.credit,
            "amount": p.amount,
            "invocation_id": p.invocation_id,
            "skill_id": p.skill_id,
            "step": p.step,
            "created_at": now,
        }
        for p in lines
    ]
    conn.execute(_insert_posting, rows)
    for row in rows:
        data: dict[str, Any] = {
            "entry_id": entry_id,
            "entry_kind": entry_kind,
            "kind": row["kind"],
            "debit": row["debit_account_id"],
            "credit": row["credit_account_id"],
            "amount_micros": row["amount"],
        }
        data.update(
            {k: row[k] for k in ("invocation_id", "skill_id", "step") if row[k] is not None}
        )
        log.record(conn, EventType.LEDGER_POSTING, actor=actor, subject=row["id"], data=data)
    return [row["id"] for row in rows]
