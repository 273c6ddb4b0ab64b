"""Deposits: money in through the payment provider, idempotent on the provider's reference."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.ledger import accounts
from skillmarket.ledger.book import Posting, ensure_operator_accounts, open_entry, post_all
from skillmarket.ledger.errors import DepositConflict
from skillmarket.ledger.models import Deposit
from skillmarket.ledger.tables import ledger_entries

if TYPE_CHECKING:
    from skillmarket.ledger.services import LedgerService


def deposit_key(provider: str, reference: str) -> str:
    """The idempotency key of one deposit."""
    return f"deposit:{provider}:{reference}"


def replay(
    conn: Connection, provider: str, reference: str, operator_id: str, amount: int
) -> Deposit | None:
    """The deposit already recorded under ``reference``, if any (a conflict if it differs)."""
    row = conn.execute(
        sa.select(ledger_entries).where(
            ledger_entries.c.idempotency_key == deposit_key(provider, reference)
        )
    ).first()
    if row is None:
        return None
    if row.operator_id != operator_id or row.amount != amount:
        raise DepositConflict(
            f"deposit {reference!r} was already recorded for another operator or amount",
            details={"provider_ref": reference, "entry_id": row.id},
        )
    return Deposit(
        entry_id=row.id,
        operator_id=row.operator_id,
        amount_micros=row.amount,
        provider=provider,
        provider_ref=reference,
        created_at=row.created_at,
        replayed=True,
    )


def deposit(
    service: LedgerService,
    operator_id: str,
    amount: int,
    provider_ref: str | None,
    *,
    actor: str | None,
) -> Deposit:
    """Confirm with the provider, then post cash → wallet (or replay a known reference)."""
    provider = service.provider
    if provider_ref is not None:
        with service.db.read() as conn:
            known = replay(conn, provider.name, provider_ref, operator_id, amount)
        if known is not None:
            return known
    reference = provider.confirm_deposit(operator_id, amount, provider_ref)
    now = service.clock()
    with service.transaction(None) as conn:
        known = replay(conn, provider.name, reference, operator_id, amount)
        if known is not None:
            return known
        ensure_operator_accounts(conn, operator_id, now)
        entry_id = open_entry(
            conn,
            kind="deposit",
            operator_id=operator_id,
            amount=amount,
            now=now,
            actor=actor,
            idempotency_key=deposit_key(provider.name, reference),
            provider_ref=reference,
        )
        money_in = Posting("deposit", accounts.CASH, accounts.wallet(operator_id), amount)
        post_all(conn, entry_id, [money_in], entry_kind="deposit", actor=actor, now=now)
    return Deposit(
        entry_id=entry_id,
        operator_id=operator_id,
        amount_micros=amount,
        provider=provider.name,
        provider_ref=reference,
        created_at=now,
    )
