"""Signed invocation receipts that verify offline. Pure: no I/O.

A receipt says: invocation X ran skill F on input hash I, produced output hash O and cost C
micro-dollars; its audit event is leaf L of the log whose checkpoint is (origin, size, root);
here is the inclusion proof; the log key signs all of it. The claims are copied from the
logged event's ``data``, so the proof binds them to the log. Format (``docs/audit.md``)::

    {"format": "skillmarket/receipt/v1", "invocation_id", "skill_fingerprint", "input_hash",
     "output_hash", "cost_micro_usd", "event", "leaf_index",
     "checkpoint": {"origin", "size", "root_hash"}, "inclusion_proof": [base64, ...],
     "signature": {"alg": "Ed25519", "key_id": hex, "value": base64}}

Signed bytes: ``b"skillmarket/receipt/v1\\x00" || JCS(receipt without "signature")``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from skillmarket.audit.checkpoints import Checkpoint
from skillmarket.audit.errors import (
    AuditEventInvalid,
    AuditKeyInvalid,
    AuditProofInvalid,
    CheckpointMalformed,
    ReceiptInvalid,
)
from skillmarket.audit.keys import LogSigningKey, NoteVerifier, note_key_id, strict_b64decode
from skillmarket.audit.merkle import canonical_json, event_leaf_hash, verify_inclusion

RECEIPT_FORMAT = "skillmarket/receipt/v1"
RECEIPT_SIGNING_PREFIX = b"skillmarket/receipt/v1\x00"
CLAIM_FIELDS = ("invocation_id", "skill_fingerprint", "input_hash", "output_hash", "cost_micro_usd")
_FIELDS = {"format", *CLAIM_FIELDS, "event", "leaf_index", "checkpoint", "inclusion_proof"}


def _invalid(reason: str, message: str, **details: Any) -> ReceiptInvalid:
    return ReceiptInvalid(message, details={"reason": reason, **details})


def _claims(data: Mapping[str, Any]) -> dict[str, Any]:
    """The five claims from ``data``, type-checked (strings 1-256 chars, cost an int >= 0)."""
    claims = {}
    for name in CLAIM_FIELDS:
        value = data.get(name)
        if name == "cost_micro_usd":
            ok = type(value) is int and value >= 0
        else:
            ok = isinstance(value, str) and 0 < len(value) <= 256
        if not ok:
            raise _invalid("malformed", f"receipt claim {name} is missing or mistyped", field=name)
        claims[name] = value
    return claims


def _signed_bytes(body: Mapping[str, Any]) -> bytes:
    return RECEIPT_SIGNING_PREFIX + canonical_json(dict(body))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Receipt:
    """A parsed receipt (structure checked; trust only what :func:`verify_receipt` returns)."""

    claims: Mapping[str, Any]
    event: Mapping[str, Any]
    leaf_index: int
    checkpoint: Checkpoint
    inclusion_proof: tuple[bytes, ...]
    key_id: bytes
    signature: bytes

    def body(self) -> dict[str, Any]:
        """The JSON object without its signature: what the signature covers."""
        return {
            "format": RECEIPT_FORMAT,
            **self.claims,
            "event": self.event,
            "leaf_index": self.leaf_index,
            "checkpoint": {
                "origin": self.checkpoint.origin,
                "size": self.checkpoint.size,
                "root_hash": _b64(self.checkpoint.root_hash),
            },
            "inclusion_proof": [_b64(h) for h in self.inclusion_proof],
        }

    def to_json(self) -> dict[str, Any]:
        """The receipt as a JSON-ready dict."""
        signature = {"alg": "Ed25519", "key_id": self.key_id.hex(), "value": _b64(self.signature)}
        return {**self.body(), "signature": signature}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Receipt:
        """Parse a receipt object, rejecting unknown fields and wrong types."""
        try:
            return cls._from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError, CheckpointMalformed) as exc:
            raise _invalid("malformed", f"receipt is malformed: {exc!r}"[:300]) from exc

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> Receipt:
        if set(data) != {*_FIELDS, "signature"} or data["format"] != RECEIPT_FORMAT:
            raise ValueError("unknown format or fields")
        cp, sig = data["checkpoint"], data["signature"]
        if set(cp) != {"origin", "size", "root_hash"} or set(sig) != {"alg", "key_id", "value"}:
            raise ValueError("bad checkpoint or signature fields")
        if sig["alg"] != "Ed25519" or len(sig["key_id"]) != 8:
            raise ValueError("bad signature algorithm or key id")
        if type(data["leaf_index"]) is not int or not isinstance(data["event"], dict):
            raise ValueError("bad leaf index or event")
        if not isinstance(data["inclusion_proof"], list):
            raise ValueError("inclusion proof must be a list")
        return cls(
            claims=_claims(data),
            event=data["event"],
            leaf_index=data["leaf_index"],
            checkpoint=Checkpoint(cp["origin"], cp["size"], strict_b64decode(cp["root_hash"])),
            inclusion_proof=tuple(strict_b64decode(h) for h in data["inclusion_proof"]),
            key_id=bytes.fromhex(sig["key_id"]),
            signature=strict_b64decode(sig["value"]),
        )


def issue_receipt(
    event: Mapping[str, Any],
    leaf_index: int,
    checkpoint: Checkpoint,
    inclusion_proof: Sequence[bytes],
    key: LogSigningKey,
) -> Receipt:
    """Sign a receipt for the logged ``event`` (its ``data`` holds the five claims).

    Checks the inclusion proof first, so the log never signs a receipt that fails to verify.
    """
    if key.name != checkpoint.origin:
        raise AuditKeyInvalid(
            "the log key name must equal the checkpoint origin",
            details={"key_name": key.name, "origin": checkpoint.origin},
        )
    data = event.get("data") if isinstance(event, Mapping) else None
    claims = _claims(data if isinstance(data, Mapping) else {})
    leaf = event_leaf_hash(event)
    verify_inclusion(leaf_index, checkpoint.size, leaf, inclusion_proof, checkpoint.root_hash)
    unsigned = Receipt(
        claims, dict(event), leaf_index, checkpoint, tuple(inclusion_proof), key.key_id, b""
    )
    return replace(unsigned, signature=key.sign(_signed_bytes(unsigned.body())))


def verify_receipt(
    receipt: Receipt | Mapping[str, Any], public_key: bytes | Ed25519PublicKey | NoteVerifier
) -> Receipt:
    """Verify a receipt offline with the log's public key; return it parsed.

    Raises :class:`ReceiptInvalid` with ``details.reason`` one of ``malformed``,
    ``unknown_key``, ``bad_signature``, ``event_mismatch`` or ``proof_invalid``.
    """
    # 1. Parse: exact fields, types, canonical base64, an event in the JSON profile.
    parsed = receipt if isinstance(receipt, Receipt) else Receipt.from_json(receipt)
    raw_key = _raw_public_key(public_key)
    try:
        signed, leaf = _signed_bytes(parsed.body()), event_leaf_hash(parsed.event)
    except AuditEventInvalid as exc:
        raise _invalid("malformed", f"receipt event is not loggable: {exc.message}") from exc
    # 2. The signing key is the log key under the checkpoint origin as its note key name.
    if note_key_id(parsed.checkpoint.origin, raw_key) != parsed.key_id:
        raise _invalid("unknown_key", "receipt was not signed by this log key")
    # 3. The signature covers every field.
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(parsed.signature, signed)
    except InvalidSignature:
        raise _invalid("bad_signature", "receipt signature does not verify") from None
    # 4. The claims are the logged event's data.
    data = parsed.event.get("data")
    if not isinstance(data, Mapping) or any(
        data.get(k) != v or type(data.get(k)) is not type(v) for k, v in parsed.claims.items()
    ):
        raise _invalid("event_mismatch", "receipt claims differ from the logged event")
    # 5. The event is leaf ``leaf_index`` of the checkpointed tree.
    cp = parsed.checkpoint
    try:
        verify_inclusion(parsed.leaf_index, cp.size, leaf, parsed.inclusion_proof, cp.root_hash)
    except AuditProofInvalid as exc:
        raise _invalid("proof_invalid", "receipt inclusion proof does not verify") from exc
    return parsed


def _raw_public_key(public_key: bytes | Ed25519PublicKey | NoteVerifier) -> bytes:
    if isinstance(public_key, NoteVerifier):
        return public_key.public_key
    if isinstance(public_key, Ed25519PublicKey):
        return public_key.public_bytes_raw()
    if len(public_key) != 32:
        raise AuditKeyInvalid("Ed25519 public keys are 32 bytes")
    return bytes(public_key)
