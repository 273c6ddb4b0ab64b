"""Appending to the audit log inside the caller's transaction.

An event is written in the same transaction as the change it records, so either both land or
neither does. Events carry metadata and hashes, never bodies or secrets.

The first append (or :func:`lock`) of a transaction locks the log head and reads its compact
range; each event then gets its sequence number and RFC 6962 leaf hash at once, in memory, and
everything the transaction appended is written together just before it commits: one
``executemany`` for the events, one for who may read them, one update of the head. A rollback
drops the buffered events, and a rollback to a savepoint drops the ones appended after it, so
the log always matches what committed. (The flush is a listener on every engine's ``commit``:
whoever commits the transaction, the events land with it.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

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
_update_head = (
    audit_head.update()
    .where(audit_head.c.id == 1)
    .values(size=sa.bindparam("size_"), frontier=sa.bindparam("frontier_"))
)
_STATE = "skillmarket_audit"


def pack_frontier(hashes: Iterable[bytes]) -> bytes:
    """The compact range's subtree roots, concatenated (largest subtree first)."""
    return b"".join(hashes)


def unpack_frontier(size: int, packed: bytes) -> CompactRange:
    """The compact range stored in the head row."""
    hashes = [packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE)]
    return CompactRange(size, hashes)


@dataclass
class _Appends:
    """What one transaction has appended and not yet written."""

    frontier: CompactRange  # the head as read under the lock, extended by each append
    events: list[dict[str, Any]] = field(default_factory=list)
    readers: list[dict[str, Any]] = field(default_factory=list)

    def copy(self) -> _Appends:
        frontier = CompactRange(self.frontier.size, self.frontier.hashes)
        return _Appends(frontier, list(self.events), list(self.readers))


@dataclass
class _Transaction:
    """The audit state of one open transaction on a connection."""

    transaction: Any  # the root transaction it belongs to
    appends: _Appends | None = None  # None until the head is locked
    # What to go back to at each open savepoint (None: the head was not locked yet).
    marks: list[_Appends | None] = field(default_factory=list)


def _state(conn: Connection) -> _Transaction:
    state = conn.info.get(_STATE)
    transaction = conn.get_transaction()
    if state is None or state.transaction is not transaction:
        state = conn.info[_STATE] = _Transaction(transaction)
    return state


def _locked(conn: Connection) -> _Appends:
    state = _state(conn)
    if state.appends is None:
        head = conn.execute(_lock_head).one()
        state.appends = _Appends(unpack_frontier(head.size, head.frontier))
    return state.appends


def lock(conn: Connection) -> None:
    """Take the log's append lock now, before the transaction locks any row of its own.

    Every appending transaction holds this lock until it commits. A use case that will both
    lock its own rows (a wallet balance, a hold) and append takes it first, so all such
    transactions queue in one global order and never wait on each other in a cycle
    (PostgreSQL; SQLite serialises write transactions anyway). Appending after it, or
    locking again, reads nothing more.
    """
    _locked(conn)


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

    ``actor`` and every operator in ``parties`` may read the event (admins read all). The
    event is written when the transaction commits.
    """
    appends = _locked(conn)
    seq = appends.frontier.size
    event = {
        "seq": seq,
        "ts": timestamp(),
        "type": str(type),
        "actor": actor,
        "subject": subject,
        "data": data or {},
    }
    leaf = event_leaf_hash(event)
    appends.frontier.append(leaf)
    event["leaf_hash"] = leaf
    appends.events.append(event)
    readers = {p for p in (actor, *parties) if p and p.startswith("op_")}
    appends.readers.extend({"operator_id": r, "seq": seq} for r in sorted(readers))
    return seq


def _flush(conn: Connection) -> None:
    """Write what the committing transaction appended (a failure here fails the commit)."""
    state = conn.info.pop(_STATE, None)
    if state is None or state.transaction is not conn.get_transaction():
        return
    appends = state.appends
    if appends is None or not appends.events:
        return
    conn.execute(_insert_event, appends.events)
    if appends.readers:
        conn.execute(_insert_visibility, appends.readers)
    conn.execute(
        _update_head,
        {"size_": appends.frontier.size, "frontier_": pack_frontier(appends.frontier.hashes)},
    )


def _discard(conn: Connection) -> None:
    conn.info.pop(_STATE, None)


def _savepoint(conn: Connection, _name: str | None) -> None:
    state = _state(conn)
    state.marks.append(state.appends.copy() if state.appends is not None else None)


def _rollback_savepoint(conn: Connection, _name: str, _context: Any) -> None:
    state = _state(conn)
    if state.marks:
        # Back to what was appended before the savepoint; a head lock taken after it is
        # forgotten too (PostgreSQL releases it), and the next append reads the head again.
        state.appends = state.marks.pop()


def _release_savepoint(conn: Connection, _name: str, _context: Any) -> None:
    state = _state(conn)
    if state.marks:
        state.marks.pop()


sa.event.listen(Engine, "commit", _flush)
sa.event.listen(Engine, "rollback", _discard)
sa.event.listen(Engine, "savepoint", _savepoint)
sa.event.listen(Engine, "rollback_savepoint", _rollback_savepoint)
sa.event.listen(Engine, "release_savepoint", _release_savepoint)
