"""Appending to the audit log inside the caller's transaction.

An event is written in the same transaction as the change it records, so either both land or
neither does. Events carry metadata and hashes, never bodies or secrets.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.audit.events import EventType
from skillmarket.audit.tables import audit_events, audit_head
from skillmarket.db import utcnow

LEAF_DOMAIN = b"skillmarket/audit-event/v1\x00"

_lock_head = sa.select(audit_head.c.size).where(audit_head.c.id == 1).with_for_update()
_bump_head = audit_head.update().where(audit_head.c.id == 1).values(size=audit_head.c.size + 1)


def event_leaf_bytes(event: dict[str, Any]) -> bytes:
    """The bytes a log leaf commits to: a domain tag plus the event's RFC 8785 form."""
    return LEAF_DOMAIN + rfc8785.dumps(event)


def lock(conn: Connection) -> None:
    """Take the log's append lock now, before the transaction locks any row of its own.

    Every appending transaction holds this lock until it commits. A use case that will both
    lock its own rows (a wallet balance, a hold) and append takes it first, so all such
    transactions queue in one global order and never wait on each other in a cycle
    (PostgreSQL; SQLite serialises write transactions anyway). Appending takes it again; that
    is harmless.
    """
    conn.execute(_lock_head)


def record(
    conn: Connection,
    type: EventType,
    *,
    actor: str | None,
    subject: str,
    data: dict[str, Any] | None = None,
) -> int:
    """Append one event in ``conn``'s transaction and return its sequence number."""
    seq = conn.execute(_lock_head).scalar_one()
    event = {
        "seq": seq,
        "ts": utcnow().isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "type": str(type),
        "actor": actor,
        "subject": subject,
        "data": data or {},
    }
    leaf_hash = hashlib.sha256(b"\x00" + event_leaf_bytes(event)).digest()
    conn.execute(audit_events.insert().values(**event, leaf_hash=leaf_hash))
    conn.execute(_bump_head)
    return seq
