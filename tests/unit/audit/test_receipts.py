"""Signed invocation receipts: issue, serialise, verify offline, reject every tampering."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skillmarket.audit.checkpoints import Checkpoint
from skillmarket.audit.errors import AuditKeyInvalid, AuditProofInvalid, ReceiptInvalid
from skillmarket.audit.keys import LogSigningKey
from skillmarket.audit.merkle import (
    InMemoryMerkleTree,
    event_leaf_hash,
    inclusion_proof,
    tree_root,
)
from skillmarket.audit.receipts import (
    RECEIPT_FORMAT,
    RECEIPT_SIGNING_PREFIX,
    Receipt,
    issue_receipt,
    verify_receipt,
)

ORIGIN = "market.example/audit"
KEY = LogSigningKey(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))
OTHER_KEY = LogSigningKey(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x08" * 32))
CLAIMS = {
    "invocation_id": "sinv_abcdefghijklmnopqrst",
    "skill_fingerprint": "sha256:" + "ab" * 32,
    "input_hash": "sha256:" + "cd" * 32,
    "output_hash": "sha256:" + "ef" * 32,
    "cost_micro_usd": 1_150,
}


def make_event(seq: int) -> dict:
    data = CLAIMS if seq == 5 else {"note": f"other event {seq}"}
    return {
        "seq": seq,
        "ts": "2026-11-22T05:01:05.000000Z",
        "type": "invocations:invocation:completed" if seq == 5 else "ledger:posting:created",
        "actor": "op_k3j5abcdefghijklmnop",
        "subject": "sinv_abcdefghijklmnopqrst",
        "data": dict(data),
    }


EVENTS = [make_event(i) for i in range(13)]
TREE = InMemoryMerkleTree(event_leaf_hash(e) for e in EVENTS)
CHECKPOINT = Checkpoint(ORIGIN, 13, tree_root(TREE, 13))


def other_char_at(text: str, i: int) -> str:
    return text[:i] + ("B" if text[i] == "A" else "A") + text[i + 1 :]


def resigned(receipt: Receipt, **changes) -> Receipt:
    """The receipt changed and signed again with the log key, as a misbehaving log would."""
    changed = replace(receipt, **changes)
    signed = RECEIPT_SIGNING_PREFIX + rfc8785.dumps(changed.body())
    return replace(changed, signature=KEY.sign(signed))


@pytest.fixture
def receipt() -> dict:
    issued = issue_receipt(EVENTS[5], 5, CHECKPOINT, inclusion_proof(TREE, 5, 13), KEY)
    return json.loads(json.dumps(issued.to_json()))  # through real JSON text


class TestReceipt:
    def test_issue_then_verify_offline(self, receipt):
        assert receipt["format"] == RECEIPT_FORMAT
        assert {k: receipt[k] for k in CLAIMS} == CLAIMS
        assert receipt["checkpoint"]["size"] == 13
        parsed = verify_receipt(receipt, KEY.public_key)
        assert parsed.claims == CLAIMS and parsed.leaf_index == 5
        assert verify_receipt(parsed, KEY.verifier()) == parsed
        assert Receipt.from_json(parsed.to_json()) == parsed

    def test_verify_fails_other_key(self, receipt):
        with pytest.raises(ReceiptInvalid) as err:
            verify_receipt(receipt, OTHER_KEY.public_key)
        assert err.value.details["reason"] == "unknown_key"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("invocation_id", "sinv_zzzzzzzzzzzzzzzzzzzz"),
            ("input_hash", "sha256:" + "00" * 32),
            ("cost_micro_usd", 1),
            ("leaf_index", 4),
        ],
    )
    def test_verify_fails_changed_field(self, receipt, field, value):
        receipt[field] = value
        with pytest.raises(ReceiptInvalid) as err:
            verify_receipt(receipt, KEY.public_key)
        assert err.value.details["reason"] == "bad_signature"

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda r: r["checkpoint"].update(size=14),
            lambda r: r["event"].update(ts="2026-11-22T05:01:06.000000Z"),
            lambda r: r["event"]["data"].update(cost_micro_usd=2),
            lambda r: r["inclusion_proof"].reverse(),
            lambda r: r["signature"].update(value=other_char_at(r["signature"]["value"], 10)),
        ],
    )
    def test_verify_fails_tampered_content(self, receipt, mutate):
        mutate(receipt)
        with pytest.raises(ReceiptInvalid, match="signature"):
            verify_receipt(receipt, KEY.public_key)

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda r: r.pop("output_hash"),
            lambda r: r.update(extra=1),
            lambda r: r.update(format="skillmarket/receipt/v0"),
            lambda r: r.update(cost_micro_usd=-1),
            lambda r: r.update(cost_micro_usd=1.5),
            lambda r: r.update(leaf_index="5"),
            lambda r: r["checkpoint"].update(root_hash="not base64"),
            lambda r: r["signature"].update(alg="EdDSA"),
            lambda r: r.update(inclusion_proof=None),
            lambda r: r.update(inclusion_proof="".join(r["inclusion_proof"])),
            lambda r: r["event"].update(data={"x": 0.5}),
            lambda r: r["event"].pop("seq"),
        ],
    )
    def test_verify_fails_malformed(self, receipt, mutate):
        mutate(receipt)
        with pytest.raises(ReceiptInvalid) as err:
            verify_receipt(receipt, KEY.public_key)
        assert err.value.details["reason"] == "malformed"

    def test_verify_fails_claims_not_in_logged_event(self):
        issued = issue_receipt(EVENTS[5], 5, CHECKPOINT, inclusion_proof(TREE, 5, 13), KEY)
        forged = resigned(issued, claims={**CLAIMS, "output_hash": "sha256:" + "99" * 32})
        with pytest.raises(ReceiptInvalid) as err:
            verify_receipt(forged.to_json(), KEY.public_key)
        assert err.value.details["reason"] == "event_mismatch"

    def test_verify_fails_wrong_proof_even_if_signed(self):
        issued = issue_receipt(EVENTS[5], 5, CHECKPOINT, inclusion_proof(TREE, 5, 13), KEY)
        forged = resigned(issued, inclusion_proof=issued.inclusion_proof[:-1])
        with pytest.raises(ReceiptInvalid) as err:
            verify_receipt(forged.to_json(), KEY.public_key)
        assert err.value.details["reason"] == "proof_invalid"

    def test_issue_fails_wrong_proof_or_missing_claims(self):
        with pytest.raises(AuditProofInvalid):
            issue_receipt(EVENTS[5], 4, CHECKPOINT, inclusion_proof(TREE, 5, 13), KEY)
        with pytest.raises(ReceiptInvalid):
            issue_receipt(EVENTS[6], 6, CHECKPOINT, inclusion_proof(TREE, 6, 13), KEY)
        other = LogSigningKey("other.example/log", KEY.private_key)
        with pytest.raises(AuditKeyInvalid):
            issue_receipt(EVENTS[5], 5, CHECKPOINT, inclusion_proof(TREE, 5, 13), other)
