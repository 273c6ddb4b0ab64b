"""The audit log on the database: checkpoints, proofs, visible events, full verification.

Appends happen in :mod:`log`, inside each change's own transaction. This service signs
checkpoints over the log head, serves inclusion and consistency proofs from the stored leaf
hashes, lists the events a party may see, and replays the whole log to prove it untouched.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import orjson
import sqlalchemy as sa

from skillmarket.audit.checkpoints import Checkpoint, sign_checkpoint, verify_checkpoint
from skillmarket.audit.errors import AuditLogTampered, AuditRangeInvalid
from skillmarket.audit.keys import LogSigningKey, load_or_create_log_key
from skillmarket.audit.log import unpack_frontier
from skillmarket.audit.merkle import (
    EVENT_LEAF_PREFIX,
    CompactRange,
    HashStoreMerkleTree,
    consistency_proof,
    inclusion_proof,
)
from skillmarket.audit.receipts import issue_receipt
from skillmarket.audit.tables import audit_checkpoints, audit_events, audit_head, audit_visibility
from skillmarket.db import Database, utcnow
from skillmarket.errors import NotFound

VERIFY_BATCH = 20_000


class AuditEventNotFound(NotFound):
    """No audit event with that sequence number is visible to the caller."""

    code = "AUDIT_EVENT_NOT_FOUND"


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint and its signed note."""

    checkpoint: Checkpoint
    note: str

    def to_json(self) -> dict[str, Any]:
        """The checkpoint as the API returns it."""
        return {
            "origin": self.checkpoint.origin,
            "size": self.checkpoint.size,
            "root_hash": base64.b64encode(self.checkpoint.root_hash).decode(),
            "note": self.note,
        }


@dataclass(frozen=True)
class VerifyReport:
    """What a full replay found: all good, or it raised :class:`AuditLogTampered`."""

    events: int
    checkpoints: int
    signed_size: int
    unsigned_tail: int


class _DatabaseHashStore:
    """Leaf hashes read from ``audit_events`` (the :class:`HashStore` protocol)."""

    def __init__(self, db: Database):
        self.db = db

    def get_leaf_hashes(self, start: int, end: int) -> Sequence[bytes]:
        with self.db.read() as conn:
            return (
                conn.execute(
                    sa.select(audit_events.c.leaf_hash)
                    .where(audit_events.c.seq >= start, audit_events.c.seq < end)
                    .order_by(audit_events.c.seq)
                )
                .scalars()
                .all()
            )


def _event(row: sa.Row) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "ts": row.ts,
        "type": row.type,
        "actor": row.actor,
        "subject": row.subject,
        "data": row.data,
    }


class AuditService:
    """Checkpoints, proofs and verification for the log in ``db``, signed with the key in
    ``data_dir`` under ``origin``."""

    def __init__(self, db: Database, data_dir: Path, origin: str):
        self.db = db
        self.origin = origin
        self.key: LogSigningKey = load_or_create_log_key(data_dir, origin)
        # Perfect-subtree roots never change in an append-only log: cache them for proofs.
        self._tree = HashStoreMerkleTree(_DatabaseHashStore(db), {})
        self._sign_lock = threading.Lock()

    @property
    def verifier_key(self) -> str:
        """The log's public key in C2SP note verifier form (``name+id+key``)."""
        return str(self.key.verifier())

    # --- checkpoints -------------------------------------------------------------------------

    def latest_checkpoint(self, *, sign: bool = True) -> SignedCheckpoint | None:
        """The newest signed checkpoint; with ``sign``, first sign the head if it grew."""
        if sign:
            self.sign_checkpoint()
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(audit_checkpoints).order_by(audit_checkpoints.c.size.desc()).limit(1)
            ).first()
        return None if row is None else self._open(row.note)

    def sign_checkpoint(self) -> SignedCheckpoint | None:
        """Sign a checkpoint of the current head unless one of that size exists.

        The head is read under the log's append lock, so servers sharing a store that sign at
        the same moment take turns: the second finds the first one's checkpoint.
        """
        with self._sign_lock, self.db.write() as conn:
            head = conn.execute(
                sa.select(audit_head).where(audit_head.c.id == 1).with_for_update()
            ).one()
            if head.size == 0:
                return None
            existing = conn.execute(
                sa.select(audit_checkpoints.c.note).where(audit_checkpoints.c.size == head.size)
            ).scalar()
            if existing is not None:
                return self._open(existing)
            root = unpack_frontier(head.size, head.frontier).root()
            checkpoint = Checkpoint(self.origin, head.size, root)
            note = sign_checkpoint(checkpoint, self.key)
            conn.execute(
                audit_checkpoints.insert().values(
                    size=head.size, root_hash=root, note=note, created_at=utcnow()
                )
            )
            return SignedCheckpoint(checkpoint, note)

    def _open(self, note: str) -> SignedCheckpoint:
        return SignedCheckpoint(
            verify_checkpoint(note, [self.key.verifier()], origin=self.origin), note
        )

    def checkpoint_at(self, size: int) -> SignedCheckpoint:
        """The signed checkpoint of exactly ``size`` events."""
        with self.db.read() as conn:
            note = conn.execute(
                sa.select(audit_checkpoints.c.note).where(audit_checkpoints.c.size == size)
            ).scalar()
        if note is None:
            raise AuditRangeInvalid(f"no checkpoint of size {size}", details={"size": size})
        return self._open(note)

    # --- reading and proofs ------------------------------------------------------------------

    def events(
        self, viewer: str | None, *, after: int = -1, limit: int = 100, subject: str | None = None
    ) -> list[dict[str, Any]]:
        """Events after ``after`` that ``viewer`` may see (``None``: an admin, all)."""
        query = sa.select(audit_events).where(audit_events.c.seq > after)
        if viewer is not None:
            query = query.join(
                audit_visibility,
                sa.and_(
                    audit_visibility.c.seq == audit_events.c.seq,
                    audit_visibility.c.operator_id == viewer,
                ),
            )
        if subject is not None:
            query = query.where(audit_events.c.subject == subject)
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(audit_events.c.seq).limit(limit)).all()
        return [_event(r) for r in rows]

    def event(self, seq: int, viewer: str | None) -> dict[str, Any]:
        """One event ``viewer`` may see."""
        found = self.events(viewer, after=seq - 1, limit=1)
        if not found or found[0]["seq"] != seq:
            raise AuditEventNotFound(f"no visible audit event {seq}", details={"seq": seq})
        return found[0]

    def inclusion(self, seq: int, viewer: str | None, size: int | None = None) -> dict[str, Any]:
        """An event with its inclusion proof in a signed checkpoint (the latest by default)."""
        event = self.event(seq, viewer)
        signed = self.latest_checkpoint() if size is None else self.checkpoint_at(size)
        assert signed is not None  # the log has at least the event
        tree_size = signed.checkpoint.size
        if seq >= tree_size:
            raise AuditRangeInvalid(
                "the event is newer than that checkpoint", details={"seq": seq, "size": tree_size}
            )
        proof = inclusion_proof(self._tree, seq, tree_size)
        return {
            "event": event,
            "leaf_index": seq,
            "checkpoint": signed.to_json(),
            "proof": [base64.b64encode(h).decode() for h in proof],
        }

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        """A proof that the checkpoint of size ``second`` extends the one of size ``first``."""
        old, new = self.checkpoint_at(first), self.checkpoint_at(second)
        if first > second:
            raise AuditRangeInvalid(
                "first must not exceed second", details={"first": first, "second": second}
            )
        proof = consistency_proof(self._tree, first, second)
        return {
            "first": old.to_json(),
            "second": new.to_json(),
            "proof": [base64.b64encode(h).decode() for h in proof],
        }

    def receipt(self, event_seq: int) -> dict[str, Any]:
        """A signed receipt for the finished-invocation event at ``event_seq``: its claims, the
        event, a signed checkpoint that includes it and the inclusion proof (offline-checkable
        with the log's key)."""
        event = self.event(event_seq, None)
        signed = self.latest_checkpoint()
        assert signed is not None and signed.checkpoint.size > event_seq
        proof = inclusion_proof(self._tree, event_seq, signed.checkpoint.size)
        return issue_receipt(event, event_seq, signed.checkpoint, proof, self.key).to_json()

    # --- full verification -------------------------------------------------------------------

    def _batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """Every event row in seq order, in keyset batches straight from the DB-API cursor
        (replaying a million rows is dominated by row decoding: plain tuples are cheapest)."""
        mark = "?" if self.db.is_sqlite else "%s"
        sql = (
            "SELECT seq, ts, type, actor, subject, data, leaf_hash FROM audit_events "
            f"WHERE seq > {mark} ORDER BY seq LIMIT {mark}"
        )
        after = -1
        while True:
            with self.db.read() as conn:
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    cursor.execute(sql, (after, VERIFY_BATCH))
                    batch = cursor.fetchall()
                finally:
                    cursor.close()
            if not batch:
                return
            yield batch
            after = batch[-1][0]

    def verify(self, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
        """Replay every event from its stored fields and check the whole log.

        1. Sequence numbers run 0, 1, 2, … with no gap (a delete or insert breaks this).
        2. Each event's recomputed leaf hash equals the stored one (an edit breaks this).
        3. At every signed checkpoint's size, the replayed root equals the signed root, and
           every checkpoint's signature verifies (editing a row *and* its hash breaks this).
        4. The head's size and compact range equal the replay.
        Raises :class:`AuditLogTampered` naming the first failure.
        """
        with self.db.read() as conn:
            head = conn.execute(sa.select(audit_head).where(audit_head.c.id == 1)).one()
            notes = conn.execute(
                sa.select(audit_checkpoints.c.size, audit_checkpoints.c.note).order_by(
                    audit_checkpoints.c.size
                )
            ).all()
        checkpoints = {size: self._open(note).checkpoint for size, note in notes}
        sizes = sorted(checkpoints)
        tree = CompactRange()
        for batch in self._batches():
            leaves = _replay_batch(batch, tree.size)
            # Extend the tree in pieces that end exactly at each signed size inside the batch.
            start, end, done = tree.size, tree.size + len(leaves), 0
            for size in sizes[bisect.bisect_right(sizes, start) : bisect.bisect_right(sizes, end)]:
                tree.extend(leaves[done : size - start])
                done = size - start
                if checkpoints[size].root_hash != tree.root():
                    _tampered("root_mismatch", size=size)
            tree.extend(leaves[done:])
            if progress is not None:
                progress(tree.size, head.size)
        if sizes and sizes[-1] > tree.size:
            _tampered("events_missing", events=tree.size, checkpoint_size=sizes[-1])
        if (
            tree.size != head.size
            or tree.hashes != unpack_frontier(head.size, head.frontier).hashes
        ):
            _tampered("head_mismatch", events=tree.size, head_size=head.size)
        signed_size = sizes[-1] if sizes else 0
        return VerifyReport(
            events=tree.size,
            checkpoints=len(checkpoints),
            signed_size=signed_size,
            unsigned_tail=tree.size - signed_size,
        )


def _replay_batch(batch: list[tuple[Any, ...]], first_seq: int) -> list[bytes]:
    """Recompute the leaf hashes of stored rows, checking order and the stored hashes."""
    dumps, loads, sort_keys = orjson.dumps, orjson.loads, orjson.OPT_SORT_KEYS
    sha, prefix = hashlib.sha256, b"\x00" + EVENT_LEAF_PREFIX
    leaves = []
    for expected, (seq, ts, type_, actor, subject, data, stored) in enumerate(batch, first_seq):
        if seq != expected:
            _tampered("sequence_gap", seq=expected, found=seq)
        if isinstance(data, str | bytes):  # SQLite hands JSON back as text
            try:
                data = loads(data)
            except orjson.JSONDecodeError:
                _tampered("leaf_mismatch", seq=seq)
        event = {
            "seq": seq,
            "ts": ts,
            "type": type_,
            "actor": actor,
            "subject": subject,
            "data": data,
        }
        leaf = sha(prefix + dumps(event, option=sort_keys)).digest()
        if leaf != stored:
            _tampered("leaf_mismatch", seq=seq)
        leaves.append(leaf)
    return leaves


def _tampered(reason: str, **details: Any) -> NoReturn:
    raise AuditLogTampered(
        f"the audit log was altered: {reason.replace('_', ' ')}",
        details={"reason": reason, **details},
    )
