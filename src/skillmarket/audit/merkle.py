"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification. Pure: no I/O.

Leaf hash ``SHA-256(0x00 || leaf)``, interior node ``SHA-256(0x01 || left || right)``; a tree of
n leaves splits at the largest power of two below n (RFC 9162 §2.1.1). The leaf of an audit event
is :func:`event_leaf_bytes`: a domain tag followed by the event's RFC 8785 canonical JSON.

Three ways to reach a root or a proof, by what the caller holds:

* :class:`CompactRange` / :func:`root_from_leaf_hashes` stream leaf hashes once with O(log n)
  memory (a stack of perfect-subtree roots): a full replay, or the running root while appending.
* :class:`InMemoryMerkleTree` keeps every level in memory (tests, benchmarks, small logs).
* :class:`HashStoreMerkleTree` reads leaf hashes from a :class:`HashStore` (the database) in
  small aligned batches and caches the roots of larger perfect subtrees, which never change in
  an append-only log.
* :func:`inclusion_proof_nodes` / :func:`consistency_proof_nodes` name the subtree roots a
  proof needs, for a store of node hashes to fetch at once; :func:`fold_proof` finishes it.

The verifiers (:func:`verify_inclusion`, :func:`verify_consistency`) follow RFC 9162 §2.1.3.2 and
§2.1.4.2 literally and share no code with proof generation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, Protocol

import orjson

from skillmarket.audit.errors import (
    AuditEventInvalid,
    AuditLogTampered,
    AuditProofInvalid,
    AuditRangeInvalid,
)

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
EVENT_LEAF_PREFIX = b"skillmarket/audit-event/v1\x00"
EVENT_FIELDS = frozenset({"seq", "ts", "type", "actor", "subject", "data"})
MAX_SAFE_INTEGER = 2**53 - 1

_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 || leaf)``."""
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


# --- canonical JSON and event leaves ---------------------------------------------------------

_KEY = re.compile(r"[A-Za-z0-9_.\-]+").fullmatch
_checked_keys: set[str] = set()  # keys already found valid; keys repeat across events
_CHECKED_KEYS_MAX = 4096


def _check_profile(value: Any) -> None:
    """Raise unless ``value`` is in the profile where sorted compact JSON equals RFC 8785."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if key not in _checked_keys:
                if type(key) is not str or not _KEY(key):
                    raise AuditEventInvalid(
                        "JSON object keys must match [A-Za-z0-9_.-]+",
                        details={"key": repr(key)[:80]},
                    )
                if len(_checked_keys) < _CHECKED_KEYS_MAX:
                    _checked_keys.add(key)
            item_kind = type(item)
            if item_kind is str:
                continue
            if item_kind is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            _check_profile(item)
    elif kind is list or kind is tuple:
        for item in value:
            _check_profile(item)
    elif value is None or kind is bool or isinstance(value, str):
        return
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise AuditEventInvalid(
                "integers must lie within ±(2**53 - 1)", details={"value": str(value)[:80]}
            )
    else:
        raise AuditEventInvalid(
            f"{kind.__name__} is not allowed in canonical JSON (no floats; money is integer)",
            details={"type": kind.__name__},
        )


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of ``value``, which must lie in the project's JSON profile.

    The profile (integrity.md §3.4): objects with keys matching ``[A-Za-z0-9_.-]+``, arrays,
    strings, booleans, null and integers within ±(2**53 - 1); no floats. Inside it, JCS equals
    ``orjson`` with sorted keys, which is ~10x faster than a general JCS encoder (a property
    test checks the equality against ``rfc8785``). Raises :class:`AuditEventInvalid` outside it.
    """
    _check_profile(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate in a string
        raise AuditEventInvalid(f"value is not valid JSON text: {exc}") from exc


def event_leaf_bytes(event: Mapping[str, Any]) -> bytes:
    """The leaf bytes of an audit event: ``EVENT_LEAF_PREFIX || canonical_json(event)``.

    The event is a dict with at least ``seq`` (int >= 0), ``ts``, ``type``, ``actor``,
    ``subject`` and ``data`` (a dict); every field, extra ones too, is covered.
    """
    if not isinstance(event, dict):
        raise AuditEventInvalid("an audit event must be a dict")
    if not event.keys() >= EVENT_FIELDS:
        missing = sorted(EVENT_FIELDS - event.keys())
        raise AuditEventInvalid("audit event lacks fields", details={"missing": missing})
    seq = event["seq"]
    if type(seq) is not int or seq < 0:
        raise AuditEventInvalid("seq must be an integer >= 0", details={"seq": repr(seq)[:80]})
    if not isinstance(event["data"], dict):
        raise AuditEventInvalid("data must be a JSON object")
    return EVENT_LEAF_PREFIX + canonical_json(event)


def event_leaf_hash(event: Mapping[str, Any]) -> bytes:
    """The Merkle leaf hash of an audit event: ``leaf_hash(event_leaf_bytes(event))``."""
    return _sha256(b"\x00" + event_leaf_bytes(event)).digest()


def replay_leaf_hashes(events: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    """Leaf hashes of stored events, for replaying the whole log against a checkpoint.

    The fast path of :func:`event_leaf_hash`: it skips the profile and field checks, which
    were made when each event was appended. Skipping them cannot hide tampering: an altered
    event serialises to different bytes, so the replayed root differs from the signed one.
    """
    dumps, sort_keys, sha = orjson.dumps, orjson.OPT_SORT_KEYS, _sha256
    prefix = b"\x00" + EVENT_LEAF_PREFIX
    try:
        for event in events:
            yield sha(prefix + dumps(event, option=sort_keys)).digest()
    except orjson.JSONEncodeError as exc:
        raise AuditLogTampered(f"a stored audit event is not JSON: {exc}") from exc


# --- streaming roots -------------------------------------------------------------------------


class CompactRange:
    """The roots of the perfect subtrees that cover leaves ``[0, size)``, largest first.

    This is all the state needed to append leaves and to compute the tree head: one hash per
    set bit of ``size``. A writer may persist ``(size, hashes)`` and resume from it.
    """

    __slots__ = ("_size", "_hashes")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise AuditRangeInvalid(
                "a compact range of size n holds one hash per set bit of n",
                details={"size": size, "hashes": len(hashes)},
            )
        if any(len(h) != HASH_SIZE for h in hashes):
            raise AuditRangeInvalid("compact range hashes must be 32 bytes")
        self._size = size
        self._hashes = [bytes(h) for h in hashes]

    @property
    def size(self) -> int:
        """Number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Perfect-subtree roots, largest (leftmost) first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash (32 bytes)."""
        self.extend((leaf_hash,))

    def extend(self, leaf_hashes: Iterable[bytes]) -> CompactRange:
        """Add leaf hashes in order; returns ``self``. Amortised one node hash per leaf."""
        stack, size, sha = self._hashes, self._size, _sha256
        pop, push = stack.pop, stack.append
        for h in leaf_hashes:
            size += 1
            carry = size
            while not carry & 1:  # merge equal-sized subtrees, as in binary addition
                h = sha(b"\x01" + pop() + h).digest()
                carry >>= 1
            push(h)
        self._size = size
        return self

    def root(self) -> bytes:
        """The RFC 6962 tree head of the covered leaves (``EMPTY_ROOT`` when empty)."""
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = _sha256(b"\x01" + left + root).digest()
        return root


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> bytes:
    """Tree head of a stream of leaf hashes, in one pass with O(log n) memory."""
    return CompactRange().extend(leaf_hashes).root()


def verify_log(leaf_hashes: Iterable[bytes], size: int, root: bytes) -> None:
    """Replay stored leaf hashes and compare with a signed ``(size, root)``.

    Raises :class:`AuditLogTampered` naming both sizes and roots when they differ.
    """
    state = CompactRange().extend(leaf_hashes)
    actual = state.root()
    if state.size != size or actual != root:
        raise AuditLogTampered(
            "the stored audit events do not hash to the signed tree head",
            details={
                "expected_size": size,
                "actual_size": state.size,
                "expected_root": root.hex(),
                "actual_root": actual.hex(),
            },
        )


# --- trees that produce proofs ---------------------------------------------------------------


class HashStore(Protocol):
    """Where leaf hashes live (e.g. a column of the audit events table)."""

    def get_leaf_hashes(self, start: int, end: int) -> Sequence[bytes]:
        """The leaf hashes of leaves ``start`` to ``end - 1`` in order (fewer if the log ends)."""
        ...


class SubtreeSource(Protocol):
    """Anything that can give the root of a perfect, complete subtree."""

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Root of the ``2**level`` leaves starting at leaf ``index << level``."""
        ...


class InMemoryMerkleTree:
    """An append-only tree keeping every level in memory (about 2 hashes per leaf)."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append(h)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def append(self, leaf_hash: bytes) -> int:
        """Add a leaf hash and return its index."""
        if len(leaf_hash) != HASH_SIZE:
            raise AuditRangeInvalid("leaf hashes must be 32 bytes")
        levels = self._levels
        index = len(levels[0])
        levels[0].append(leaf_hash)
        level, carry = 0, index
        while carry & 1:  # this leaf completes a perfect subtree: store its root
            row = levels[level]
            parent = _sha256(b"\x01" + row[-2] + row[-1]).digest()
            level += 1
            carry >>= 1
            if level == len(levels):
                levels.append([])
            levels[level].append(parent)
        return index

    def get_leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes ``[start, end)`` (the :class:`HashStore` protocol)."""
        return self._levels[0][start:end]

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Root of a complete perfect subtree (the :class:`SubtreeSource` protocol)."""
        if not 0 <= level < len(self._levels) or not 0 <= index < len(self._levels[level]):
            raise AuditRangeInvalid(
                "subtree beyond the end of the log", details={"level": level, "index": index}
            )
        return self._levels[level][index]

    def root(self) -> bytes:
        """Tree head at the current size."""
        return tree_root(self, self.size)


class HashStoreMerkleTree:
    """Subtree roots computed from a :class:`HashStore`, caching the larger ones.

    Subtrees of up to ``2**batch_level`` leaves are hashed from one ``get_leaf_hashes`` call;
    roots of larger perfect subtrees go into ``cache`` (any mapping keyed by ``(level, index)``:
    a dict, or a table). They are immutable in an append-only log, so the cache never expires.
    A cold cache costs one pass over the leaves the first proof covers.
    """

    def __init__(
        self,
        store: HashStore,
        cache: MutableMapping[tuple[int, int], bytes] | None = None,
        *,
        batch_level: int = 8,
    ) -> None:
        self._store = store
        self._cache: MutableMapping[tuple[int, int], bytes] = {} if cache is None else cache
        self._batch_level = batch_level

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Root of a complete perfect subtree (the :class:`SubtreeSource` protocol)."""
        if level <= self._batch_level:
            count = 1 << level
            leaves = self._store.get_leaf_hashes(index << level, (index + 1) << level)
            if len(leaves) != count:
                raise AuditRangeInvalid(
                    "subtree beyond the end of the log", details={"level": level, "index": index}
                )
            return root_from_leaf_hashes(leaves)
        cached = self._cache.get((level, index))
        if cached is None:
            left = self.subtree_hash(level - 1, 2 * index)
            cached = node_hash(left, self.subtree_hash(level - 1, 2 * index + 1))
            self._cache[(level, index)] = cached
        return cached


NodeId = tuple[int, int]  # (level, index): the perfect subtree of 2**level leaves at index << level
ProofPlan = list[list[NodeId]]  # per proof hash, the subtree roots it folds (left to right)


def _range_nodes(start: int, end: int) -> list[NodeId]:
    """Perfect subtrees covering leaves ``[start, end)``, a node of the RFC 6962 tree."""
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof_nodes(index: int, size: int) -> ProofPlan:
    """Which subtree roots make the audit path of leaf ``index`` (RFC 9162 §2.1.3.1).

    Pure arithmetic: a database can fetch every node of the plan in one query, then
    :func:`fold_proof` turns the plan into hashes.
    """
    if not 0 <= index < size:
        raise AuditRangeInvalid(
            "leaf index must be below the tree size", details={"index": index, "size": size}
        )
    plan: ProofPlan = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            plan.append(_range_nodes(mid, end))
            end = mid
        else:
            plan.append(_range_nodes(start, mid))
            start = mid
    plan.reverse()
    return plan


def consistency_proof_nodes(old_size: int, new_size: int) -> ProofPlan:
    """Which subtree roots prove ``old_size`` leaves a prefix of ``new_size`` (RFC 9162 2.1.4.1)."""
    if not 0 <= old_size <= new_size:
        raise AuditRangeInvalid(
            "need 0 <= old size <= new size", details={"old_size": old_size, "new_size": new_size}
        )
    plan: ProofPlan = []
    if old_size in (0, new_size):
        return plan
    start, end, whole = 0, new_size, True  # whole: the old tree is still a left-edge subtree
    while end != old_size:
        mid = start + _split(end - start)
        if old_size <= mid:
            plan.append(_range_nodes(mid, end))
            end = mid
        else:
            plan.append(_range_nodes(start, mid))
            start, whole = mid, False
    if not whole:
        plan.append(_range_nodes(start, end))
    plan.reverse()
    return plan


def fold_proof(plan: ProofPlan, subtree_hash: Callable[[int, int], bytes]) -> list[bytes]:
    """The proof hashes of ``plan``, given each node's root (folded right to left)."""
    proof = []
    for nodes in plan:
        root = subtree_hash(*nodes[-1])
        for level, index in reversed(nodes[:-1]):
            root = node_hash(subtree_hash(level, index), root)
        proof.append(root)
    return proof


def tree_root(tree: SubtreeSource, size: int) -> bytes:
    """Tree head of the first ``size`` leaves."""
    if size < 0:
        raise AuditRangeInvalid("tree size must be >= 0", details={"size": size})
    if size == 0:
        return EMPTY_ROOT
    return fold_proof([_range_nodes(0, size)], tree.subtree_hash)[0]


def inclusion_proof(tree: SubtreeSource, index: int, size: int) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of ``size`` leaves."""
    return fold_proof(inclusion_proof_nodes(index, size), tree.subtree_hash)


def consistency_proof(tree: SubtreeSource, old_size: int, new_size: int) -> list[bytes]:
    """Proof that the tree of ``old_size`` leaves is a prefix of the one of ``new_size``."""
    return fold_proof(consistency_proof_nodes(old_size, new_size), tree.subtree_hash)


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2; independent of the code above) -----------


def _proof_invalid(reason: str, **details: Any) -> AuditProofInvalid:
    details["reason"] = reason
    return AuditProofInvalid(f"proof does not verify: {reason}", details=details)


def _check_hashes(*hashes: bytes) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise _proof_invalid("hashes must be 32 bytes")


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree ``(size, root)``.

    Raises :class:`AuditProofInvalid` (``details.reason`` says why) when it is not.
    """
    if not 0 <= index < size:
        raise _proof_invalid("index out of range", index=index, size=size)
    _check_hashes(leaf_hash, root, *proof)
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise _proof_invalid("proof too long", index=index, size=size)
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _proof_invalid("proof too short", index=index, size=size)
    if r != root:
        raise _proof_invalid("root mismatch", index=index, size=size)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that tree ``(old_size, old_root)`` is a prefix of ``(new_size, new_root)``.

    Raises :class:`AuditProofInvalid` (``details.reason`` says why) when it is not.
    """
    sizes = {"old_size": old_size, "new_size": new_size}
    if not 0 <= old_size <= new_size:
        raise _proof_invalid("sizes out of order", **sizes)
    _check_hashes(old_root, new_root, *proof)
    if old_size == new_size or old_size == 0:
        # 1. Trivial cases: the proof is empty; equal sizes need equal roots.
        if proof:
            raise _proof_invalid("proof must be empty", **sizes)
        if old_size == new_size and old_root != new_root:
            raise _proof_invalid("root mismatch", **sizes)
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise _proof_invalid("old root is not the empty root", **sizes)
        return
    if not proof:
        raise _proof_invalid("proof is empty", **sizes)
    # 2. A power-of-two old tree is a node of the new one; its root starts the path.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3. Walk up from the last old leaf, rebuilding both roots.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _proof_invalid("proof too long", **sizes)
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    # 4. Both roots must match and the path must have reached the top.
    if sn != 0:
        raise _proof_invalid("proof too short", **sizes)
    if fr != old_root:
        raise _proof_invalid("old root mismatch", **sizes)
    if sr != new_root:
        raise _proof_invalid("new root mismatch", **sizes)
