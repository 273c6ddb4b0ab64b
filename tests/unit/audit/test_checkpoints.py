"""C2SP signed notes and checkpoints, including Go sumdb/note interoperability vectors."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skillmarket.audit.checkpoints import (
    Checkpoint,
    parse_note,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_checkpoints_consistent,
    verify_note,
)
from skillmarket.audit.errors import (
    AuditKeyInvalid,
    AuditProofInvalid,
    CheckpointMalformed,
    CheckpointSignatureInvalid,
)
from skillmarket.audit.keys import LogSigningKey, NoteVerifier
from skillmarket.audit.merkle import InMemoryMerkleTree, consistency_proof, leaf_hash, tree_root

from .test_keys import PETER_VKEY, peter_key

# golang.org/x/mod/sumdb/note note_test.go (BSD-3-Clause).
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgK"
    "vqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01o"
    "OTGwnWLox33WWd1RvMc+QQ=\n"
)
PETER = NoteVerifier.from_string(PETER_VKEY)
ENOCH = NoteVerifier.from_string(ENOCH_VKEY)

ORIGIN = "market.example/audit"
LOG_KEY = LogSigningKey(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


class TestSignedNote:
    def test_sign_matches_go_output_byte_for_byte(self):
        assert sign_note(TEXT, peter_key()) == TEXT + "\n" + PETER_SIG

    def test_verify_keeps_trusted_and_drops_unknown_signatures(self):
        note = verify_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER])
        assert note.text == TEXT
        assert [s.name for s in note.signatures] == ["PeterNeumann"]
        both = verify_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [PETER_VKEY, ENOCH])
        assert [s.name for s in both.signatures] == ["PeterNeumann", "EnochRoot"]

    def test_verify_fails_without_trusted_signature(self):
        with pytest.raises(CheckpointSignatureInvalid) as err:
            verify_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
        assert err.value.details["reason"] == "no_trusted_signature"
        with pytest.raises(CheckpointSignatureInvalid):
            verify_note(TEXT + "\n" + ENOCH_SIG, PETER)

    def test_verify_fails_bad_trusted_signature(self):
        bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
        with pytest.raises(CheckpointSignatureInvalid) as err:
            verify_note(TEXT + "\n" + bad, [PETER])
        assert err.value.details == {"reason": "bad_signature", "key": "PeterNeumann+c74f20a3"}

    def test_verify_fails_changed_text(self):
        with pytest.raises(CheckpointSignatureInvalid):
            verify_note(TEXT.replace("answer", "Answer") + "\n" + PETER_SIG, [PETER])

    def test_verify_ignores_duplicates_and_mangled_unknown_signatures(self):
        mangled_enoch = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
        msg = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + mangled_enoch
        assert len(verify_note(msg, [PETER]).signatures) == 1

    def test_verify_fails_ambiguous_trusted_keys(self):
        impostor = NoteVerifier.__new__(NoteVerifier)
        for attr, value in [("name", "EnochRoot"), ("public_key", b"\x00" * 32)]:
            object.__setattr__(impostor, attr, value)
        object.__setattr__(impostor, "key_id", ENOCH.key_id)
        with pytest.raises(AuditKeyInvalid, match="share a name"):
            verify_note(TEXT + "\n" + ENOCH_SIG, [ENOCH, impostor])
        verify_note(TEXT + "\n" + ENOCH_SIG, [ENOCH, PETER, ENOCH])

    @pytest.mark.parametrize(
        "message",
        [
            TEXT,
            TEXT + "\n",
            TEXT + "\n" + PETER_SIG[:-1],
            "\x01" + TEXT + "\n" + PETER_SIG,
            TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"),
            TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
            TEXT + "\n" + PETER_SIG * 101,
            TEXT + "\n" + "\u2014 PeterNeumann AAAA\n",
            TEXT + "\n" + "\u2014 PeterNeumann x08go/ZJ=\n",
        ],
    )
    def test_verify_fails_malformed_note(self, message):
        with pytest.raises(CheckpointMalformed):
            verify_note(message, [PETER])

    def test_parse_note_fails_invalid_utf8(self):
        with pytest.raises(CheckpointMalformed, match="UTF-8"):
            parse_note(b"\xff" + TEXT.encode() + b"\n" + PETER_SIG.encode())

    def test_sign_note_fails_text_without_final_newline(self):
        with pytest.raises(CheckpointMalformed):
            sign_note("abc", peter_key())


def tree_of(n: int) -> InMemoryMerkleTree:
    return InMemoryMerkleTree(leaf_hash(i.to_bytes(4, "big")) for i in range(n))


class TestCheckpoint:
    def test_sign_and_verify_round_trip(self):
        checkpoint = Checkpoint(ORIGIN, 10, tree_root(tree_of(10), 10))
        note = sign_checkpoint(checkpoint, LOG_KEY)
        root64 = base64.b64encode(checkpoint.root_hash).decode()
        assert note.startswith(f"{ORIGIN}\n10\n{root64}\n\n\u2014 {ORIGIN} ")
        assert verify_checkpoint(note, LOG_KEY.verifier(), origin=ORIGIN) == checkpoint

    def test_text_matches_c2sp_example_layout(self):
        root = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
        text = Checkpoint("example.com/behind-the-sofa", 20852163, root).text()
        assert text == (
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        )
        assert Checkpoint.from_text(text + "ext line\n").extensions == ("ext line",)

    def test_verify_fails_other_key_or_other_origin(self):
        note = sign_checkpoint(Checkpoint(ORIGIN, 0, tree_root(tree_of(0), 0)), LOG_KEY)
        with pytest.raises(CheckpointSignatureInvalid):
            verify_checkpoint(note, PETER)
        with pytest.raises(CheckpointMalformed, match="another log"):
            verify_checkpoint(note, LOG_KEY.verifier(), origin="other.example/log")

    def test_verify_fails_tampered_size(self):
        note = sign_checkpoint(Checkpoint(ORIGIN, 5, tree_root(tree_of(5), 5)), LOG_KEY)
        with pytest.raises(CheckpointSignatureInvalid):
            verify_checkpoint(note.replace("\n5\n", "\n6\n", 1), LOG_KEY.verifier())

    def test_sign_fails_key_name_differs_from_origin(self):
        with pytest.raises(AuditKeyInvalid):
            sign_checkpoint(Checkpoint("other.example/log", 0, b"\x00" * 32), LOG_KEY)

    @pytest.mark.parametrize(
        "text",
        [
            "origin\n5\n",
            "origin\n05\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            "origin\n-5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            "origin\n\u0665\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            "origin\n99999999999999999999\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            "origin\n5\nAAAA\n",
            "origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",
            "origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            "origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
        ],
    )
    def test_from_text_fails_malformed_body(self, text):
        with pytest.raises(CheckpointMalformed):
            Checkpoint.from_text(text)

    def test_consistent_checkpoints_pass_and_forked_ones_fail(self):
        tree = tree_of(30)
        old = Checkpoint(ORIGIN, 11, tree_root(tree, 11))
        new = Checkpoint(ORIGIN, 30, tree_root(tree, 30))
        proof = consistency_proof(tree, 11, 30)
        verify_checkpoints_consistent(old, new, proof)
        forked = Checkpoint(ORIGIN, 30, tree_root(tree_of(31), 31))
        with pytest.raises(AuditProofInvalid):
            verify_checkpoints_consistent(old, forked, proof)
        with pytest.raises(CheckpointMalformed):
            verify_checkpoints_consistent(old, Checkpoint("x/y", 30, new.root_hash), proof)
