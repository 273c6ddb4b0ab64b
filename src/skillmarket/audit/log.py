"""Appending to the audit log inside the caller's transaction.

An event is written in the same transaction as the change it records, so either both land or
neither does. Events carry metadata and hashes, never bodies or secrets. Each append locks the
log head, computes the event's RFC 6962 leaf hash and extends the compact range stored there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.audit.events import EventType
from skillmarket.audit.merkle import HASH_SIZE, CompactRange, event_leaf_hash
from skillmarket.audit.tables import audit_events, audit_head, audit_visibility
from skillmarket.db import utcnow

_lock_head = (
    sa.select(audit_head.c.size, audit_head.c.frontier)
    .where(audit_head.c.id == 1)
    .with_for_update()
)
_insert_event = audit_events.insert()
_insert_visibility = audit_visibility.insert()


def pack_frontier(hashes: Iterable[bytes]) -> bytes:
    """The compact range's subtree roots, concatenated (largest subtree first)."""
    return b"".join(hashes)


def unpack_frontier(size: int, packed: bytes) -> CompactRange:
    """The compact range stored in the head row."""
    hashes = [packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE)]
    return CompactRange(size, hashes)


def lock(conn: Connection) -> None:
    """Take the log's append lock now, before the transaction locks any row of its own.

    Every appending transaction holds this lock until it commits. A use case that will both
    lock its own rows (a wallet balance, a hold) and append takes it first, so all such
    transactions queue in one global order and never wait on each other in a cycle
    (PostgreSQL; SQLite serialises write transactions anyway). Appending takes it again,
    which is harmless.
    """
    conn.execute(_lock_head)


def timestamp() -> str:
    """An event timestamp: UTC, microseconds, ``Z`` suffix (a string, so it hashes exactly)."""
    return utcnow().isoformat(timespec="microseconds").replace("+00:00", "Z")


def record(
    conn: Connection,
    type: EventType,
    *,
    actor: str | None,
    subject: str,
    data: dict[str, Any] | None = None,
    parties: Iterable[str] = (),
) -> int:
    """Append one event in ``conn``'s transaction and return its sequence number.

    ``actor`` and every operator in ``parties`` may read the event (admins read all).
    """
    head = conn.execute(_lock_head).one()
    event = {
        "seq": head.size,
        "ts": timestamp(),
        "type": str(type),
        "actor": actor,
        "subject": subject,
        "data": data or {},
    }
    leaf = event_leaf_hash(event)
    frontier = unpack_frontier(head.size, head.frontier)
    frontier.append(leaf)
    conn.execute(_insert_event, {**event, "leaf_hash": leaf})
    conn.execute(
        audit_head.update()
        .where(audit_head.c.id == 1)
        .values(size=frontier.size, frontier=pack_frontier(frontier.hashes))
    )
    readers = {p for p in (actor, *parties) if p and p.startswith("op_")}
    if readers:
        conn.execute(_insert_visibility, [{"operator_id": r, "seq": head.size} for r in readers])
    return head.size
