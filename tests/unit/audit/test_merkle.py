"""RFC 6962 hashing, proofs and verification against published vectors and an RFC oracle."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from skillmarket.audit.errors import (
    AuditEventInvalid,
    AuditLogTampered,
    AuditProofInvalid,
    AuditRangeInvalid,
)
from skillmarket.audit.merkle import (
    EMPTY_ROOT,
    EVENT_LEAF_PREFIX,
    MAX_SAFE_INTEGER,
    CompactRange,
    HashStoreMerkleTree,
    InMemoryMerkleTree,
    canonical_json,
    consistency_proof,
    consistency_proof_nodes,
    event_leaf_bytes,
    event_leaf_hash,
    fold_proof,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    node_hash,
    replay_leaf_hashes,
    root_from_leaf_hashes,
    tree_root,
    verify_consistency,
    verify_inclusion,
    verify_log,
)

h = bytes.fromhex

# transparency-dev/merkle proof/verify_test.go (Apache-2.0), the RFC 6962 reference tree.
LEAVES = [h(""), h("00"), h("10"), h("2021"), h("3031"), h("40414243"),
          h("5051525354555657"), h("606162636465666768696a6b6c6d6e6f")]  # fmt: skip
ROOTS = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
# (leaf index, tree size, proof); the Go file numbers leaves from 1, here from 0.
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")

ARGON2020 = json.loads((Path(__file__).parent / "data" / "argon2020.json").read_text())


# --- an RFC 6962 oracle, written from the RFC's recursive definitions -----------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = _k(len(hashes))
    return node_hash(rfc_mth(hashes[:k]), rfc_mth(hashes[k:]))


def rfc_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) <= 1:
        return []
    k = _k(len(hashes))
    if m < k:
        return rfc_path(m, hashes[:k]) + [rfc_mth(hashes[k:])]
    return rfc_path(m - k, hashes[k:]) + [rfc_mth(hashes[:k])]


def rfc_subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if whole else [rfc_mth(hashes)]
    k = _k(n)
    if m <= k:
        return rfc_subproof(m, hashes[:k], whole) + [rfc_mth(hashes[k:])]
    return rfc_subproof(m - k, hashes[k:], False) + [rfc_mth(hashes[:k])]


def hashes_of(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.fixture(scope="module")
def reference_tree() -> InMemoryMerkleTree:
    return InMemoryMerkleTree(leaf_hash(leaf) for leaf in LEAVES)


class TestPublishedVectors:
    def test_roots_match_rfc6962_reference_tree(self, reference_tree):
        assert [tree_root(reference_tree, n) for n in range(1, 9)] == ROOTS
        assert (
            tree_root(reference_tree, 0)
            == EMPTY_ROOT
            == h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        )

    @pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
    def test_inclusion_proof_matches_vector(self, reference_tree, index, size, proof):
        proof = [h(p) for p in proof]
        assert inclusion_proof(reference_tree, index, size) == proof
        verify_inclusion(index, size, leaf_hash(LEAVES[index]), proof, ROOTS[size - 1])

    @pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
    def test_consistency_proof_matches_vector(self, reference_tree, old, new, proof):
        proof = [h(p) for p in proof]
        assert consistency_proof(reference_tree, old, new) == proof
        verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)

    @pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
    def test_verify_inclusion_fails_corrupted(self, index, size, proof):
        proof, root, leaf = [h(p) for p in proof], ROOTS[size - 1], leaf_hash(LEAVES[index])
        probes = [
            (index - 1, size, leaf, proof, root),
            (index + 1, size, leaf, proof, root),
            (index ^ 2, size, leaf, proof, root),
            (index, size * 2, leaf, proof, root),
            (index, size // 2, leaf, proof, root),
            (index, size, leaf_hash(b"WrongLeaf"), proof, root),
            (index, size, leaf, proof, EMPTY_ROOT),
            (index, size, leaf, proof, SOME_HASH),
            (index, size, leaf, [*proof, b""], root),
            (index, size, leaf, [*proof, root], root),
            (index, size, leaf, [b"", *proof], root),
            (index, size, leaf, [root, *proof], root),
            (index, size, leaf, proof[:-1], root),
            (index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root),
        ]
        probes += [
            (index, size, leaf, [*proof[:i], flip(proof[i], 3), *proof[i + 1 :]], root)
            for i in range(len(proof))
        ]
        for probe in probes:
            with pytest.raises(AuditProofInvalid):
                verify_inclusion(*probe)

    @pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
    def test_verify_consistency_fails_corrupted(self, old, new, proof):
        proof, r1, r2 = [h(p) for p in proof], ROOTS[old - 1], ROOTS[new - 1]
        probes = [
            (old - 1, new, r1, r2, proof),
            (old + 1, new, r1, r2, proof),
            (old ^ 2, new, r1, r2, proof),
            (old, new * 2, r1, r2, proof),
            (old, new // 2, r1, r2, proof),
            (old, new, SOME_HASH, r2, proof),
            (old, new, r1, SOME_HASH, proof),
            (old, new, r2, r1, proof),
            (old, new, r1, r2, []),
            (old, new, r1, r2, [*proof, b""]),
            (old, new, r1, r2, [*proof, r1]),
            (old, new, r1, r2, [*proof, r2]),
            (old, new, r1, r2, [b"", *proof]),
            (old, new, r1, r2, [r1, *proof]),
            (old, new, r1, r2, [r2, *proof]),
            (old, new, r1, r2, [proof[0], *proof]),
            (old, new, r1, r2, proof[:-1]),
        ]
        probes += [
            (old, new, r1, r2, [*proof[:i], flip(proof[i], 4), *proof[i + 1 :]])
            for i in range(len(proof))
        ]
        for probe in probes:
            with pytest.raises(AuditProofInvalid):
                verify_consistency(*probe)

    def test_certificate_transparency_argon2020_proofs_verify(self):
        b64 = base64.b64decode
        d = ARGON2020
        root, leaf = b64(d["root_hash"]), leaf_hash(b64(d["leaf_input"]))
        path = [b64(p) for p in d["audit_path"]]
        verify_inclusion(d["leaf_index"], d["tree_size"], leaf, path, root)
        old_root, proof = b64(d["consistency_old_root"]), [b64(p) for p in d["consistency"]]
        verify_consistency(d["consistency_old_size"], d["tree_size"], old_root, root, proof)
        with pytest.raises(AuditProofInvalid):
            verify_inclusion(d["leaf_index"], d["tree_size"], flip(leaf, 0), path, root)
        with pytest.raises(AuditProofInvalid):
            verify_consistency(d["consistency_old_size"] + 1, d["tree_size"], old_root, root, proof)


# transparency-dev/merkle proof/proof_test.go node IDs (level, index); a multi-node element
# is the ephemeral right-edge node they "rehash", listed here left to right.
INCLUSION_NODES = [
    (1, 0, []),
    (2, 0, [[(0, 1)]]),
    (2, 1, [[(0, 0)]]),
    (3, 1, [[(0, 0)], [(0, 2)]]),
    (7, 0, [[(0, 1)], [(1, 1)], [(1, 2), (0, 6)]]),
    (7, 3, [[(0, 2)], [(1, 0)], [(1, 2), (0, 6)]]),
    (7, 4, [[(0, 5)], [(0, 6)], [(2, 0)]]),
    (7, 6, [[(1, 2)], [(2, 0)]]),
    (5, 3, [[(0, 2)], [(1, 0)], [(0, 4)]]),
    (6, 4, [[(0, 5)], [(2, 0)]]),
    (15, 10, [[(0, 11)], [(1, 4)], [(1, 6), (0, 14)], [(3, 0)]]),
    (31, 24, [[(0, 25)], [(1, 13)], [(1, 14), (0, 30)], [(3, 2)], [(4, 0)]]),
    (95, 81, [[(0, 80)], [(1, 41)], [(2, 21)], [(2, 22), (1, 46), (0, 94)], [(4, 4)], [(6, 0)]]),
]
CONSISTENCY_NODES = [
    (1, 2, [[(0, 1)]]),
    (1, 4, [[(0, 1)], [(1, 1)]]),
    (1, 6, [[(0, 1)], [(1, 1)], [(1, 2)]]),
    (2, 3, [[(0, 2)]]),
    (2, 8, [[(1, 1)], [(2, 1)]]),
    (3, 7, [[(0, 2)], [(0, 3)], [(1, 0)], [(1, 2), (0, 6)]]),
    (4, 7, [[(1, 2), (0, 6)]]),
    (5, 7, [[(0, 4)], [(0, 5)], [(0, 6)], [(2, 0)]]),
    (6, 7, [[(1, 2)], [(0, 6)], [(2, 0)]]),
    (7, 8, [[(0, 6)], [(0, 7)], [(1, 2)], [(2, 0)]]),
    (10, 15, [[(1, 4)], [(1, 5)], [(1, 6), (0, 14)], [(3, 0)]]),
    (24, 31, [[(3, 2)], [(2, 6), (1, 14), (0, 30)], [(4, 0)]]),
    (81, 95, [[(0, 80)], [(0, 81)], [(1, 41)], [(2, 21)], [(2, 22), (1, 46), (0, 94)],
              [(4, 4)], [(6, 0)]]),
    (5, 5, []),
]  # fmt: skip


class TestProofPlans:
    @pytest.mark.parametrize(("size", "index", "plan"), INCLUSION_NODES)
    def test_inclusion_plan_matches_transparency_dev(self, size, index, plan):
        assert inclusion_proof_nodes(index, size) == plan

    @pytest.mark.parametrize(("old", "new", "plan"), CONSISTENCY_NODES)
    def test_consistency_plan_matches_transparency_dev(self, old, new, plan):
        assert consistency_proof_nodes(old, new) == plan

    def test_fold_proof_from_one_batch_of_stored_nodes(self):
        memory = InMemoryMerkleTree(hashes_of(95))
        plan = inclusion_proof_nodes(81, 95)
        table = {node: memory.subtree_hash(*node) for nodes in plan for node in nodes}
        proof = fold_proof(plan, lambda level, index: table[(level, index)])
        assert proof == inclusion_proof(memory, 81, 95)


class TestEdgeCases:
    def test_verify_inclusion_fails_empty_tree_or_index_out_of_range(self):
        for index, size in [(0, 0), (1, 0), (2, 1), (-1, 1)]:
            with pytest.raises(AuditProofInvalid):
                verify_inclusion(index, size, SOME_HASH, [], EMPTY_ROOT)

    def test_verify_inclusion_single_leaf_tree(self):
        leaf = leaf_hash(b"data")
        verify_inclusion(0, 1, leaf, [], leaf)
        with pytest.raises(AuditProofInvalid, match="32 bytes"):
            verify_inclusion(0, 1, b"", [], leaf)

    def test_verify_consistency_trivial_sizes(self):
        verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
        verify_consistency(0, 5, EMPTY_ROOT, SOME_HASH, [])
        verify_consistency(3, 3, SOME_HASH, SOME_HASH, [])
        bad = [
            (0, 0, EMPTY_ROOT, SOME_HASH, []),
            (1, 1, EMPTY_ROOT, SOME_HASH, []),
            (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
            (0, 1, EMPTY_ROOT, SOME_HASH, [EMPTY_ROOT]),
            (0, 1, SOME_HASH, SOME_HASH, []),
            (1, 0, SOME_HASH, SOME_HASH, []),
            (2, 1, SOME_HASH, SOME_HASH, []),
            (1, 2, SOME_HASH, SOME_HASH, []),
        ]
        for probe in bad:
            with pytest.raises(AuditProofInvalid):
                verify_consistency(*probe)

    def test_inclusion_proof_fails_index_out_of_range(self, reference_tree):
        for index, size in [(0, 0), (1, 1), (8, 7), (-1, 3)]:
            with pytest.raises(AuditRangeInvalid):
                inclusion_proof(reference_tree, index, size)

    def test_consistency_proof_fails_sizes_out_of_order(self, reference_tree):
        for old, new in [(5, 0), (9, 8), (-1, 3)]:
            with pytest.raises(AuditRangeInvalid):
                consistency_proof(reference_tree, old, new)

    def test_proof_fails_size_beyond_log(self, reference_tree):
        with pytest.raises(AuditRangeInvalid):
            inclusion_proof(reference_tree, 0, 9)
        with pytest.raises(AuditRangeInvalid):
            tree_root(reference_tree, 12)


class TestAgainstRfcOracle:
    def test_every_root_and_proof_up_to_48_leaves(self):
        hashes = hashes_of(48)
        memory = InMemoryMerkleTree(hashes)
        stored = HashStoreMerkleTree(memory, batch_level=1)
        for n in range(0, 49):
            root = rfc_mth(hashes[:n])
            assert tree_root(memory, n) == tree_root(stored, n) == root
            assert root_from_leaf_hashes(hashes[:n]) == root
            for m in range(n):
                proof = inclusion_proof(memory, m, n)
                assert proof == rfc_path(m, hashes[:n]) == inclusion_proof(stored, m, n)
                verify_inclusion(m, n, hashes[m], proof, root)
            for m in range(1, n + 1):
                proof = consistency_proof(memory, m, n)
                want = rfc_subproof(m, hashes[:n], True) if m < n else []
                assert proof == want == consistency_proof(stored, m, n)
                verify_consistency(m, n, rfc_mth(hashes[:m]), root, proof)


TREE = InMemoryMerkleTree(hashes_of(1100))


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(data=st.data(), size=st.integers(1, 1100))
    def test_inclusion_proof_verifies_and_any_bit_flip_fails(self, data, size):
        index = data.draw(st.integers(0, size - 1))
        leaf, root = TREE.get_leaf_hashes(index, index + 1)[0], tree_root(TREE, size)
        proof = inclusion_proof(TREE, index, size)
        verify_inclusion(index, size, leaf, proof, root)
        parts = [leaf, root, *proof]
        which = data.draw(st.integers(0, len(parts) - 1))
        parts[which] = flip(parts[which], data.draw(st.integers(0, 255)))
        with pytest.raises(AuditProofInvalid):
            verify_inclusion(index, size, parts[0], parts[2:], parts[1])

    @settings(max_examples=200, deadline=None)
    @given(data=st.data(), new=st.integers(2, 1100))
    def test_consistency_proof_verifies_and_any_bit_flip_fails(self, data, new):
        old = data.draw(st.integers(1, new - 1))
        r1, r2 = tree_root(TREE, old), tree_root(TREE, new)
        proof = consistency_proof(TREE, old, new)
        verify_consistency(old, new, r1, r2, proof)
        parts = [r1, r2, *proof]
        which = data.draw(st.integers(0, len(parts) - 1))
        parts[which] = flip(parts[which], data.draw(st.integers(0, 255)))
        with pytest.raises(AuditProofInvalid):
            verify_consistency(old, new, parts[0], parts[1], parts[2:])


class TestCompactRange:
    def test_resume_from_saved_state_gives_same_root(self):
        hashes = hashes_of(77)
        first = CompactRange().extend(hashes[:45])
        resumed = CompactRange(first.size, first.hashes).extend(hashes[45:])
        assert resumed.size == 77
        assert resumed.root() == rfc_mth(hashes)
        assert len(resumed.hashes) == bin(77).count("1")

    def test_append_one_at_a_time(self):
        state = CompactRange()
        for leaf in hashes_of(13):
            state.append(leaf)
        assert state.root() == rfc_mth(hashes_of(13))

    def test_init_fails_wrong_number_of_hashes(self):
        with pytest.raises(AuditRangeInvalid):
            CompactRange(3, [SOME_HASH])
        with pytest.raises(AuditRangeInvalid):
            CompactRange(1, [b"short"])

    def test_verify_log_fails_tampered_leaf_or_size(self):
        hashes = hashes_of(20)
        verify_log(iter(hashes), 20, rfc_mth(hashes))
        tampered = [*hashes[:7], leaf_hash(b"x"), *hashes[8:]]
        with pytest.raises(AuditLogTampered) as err:
            verify_log(tampered, 20, rfc_mth(hashes))
        assert err.value.details["actual_size"] == 20
        with pytest.raises(AuditLogTampered):
            verify_log(hashes[:19], 20, rfc_mth(hashes))


class TestHashStoreMerkleTree:
    def test_proofs_equal_in_memory_tree_and_cache_is_used(self):
        memory = InMemoryMerkleTree(hashes_of(1000))
        calls = []

        class CountingStore:
            def get_leaf_hashes(self, start, end):
                calls.append((start, end))
                return memory.get_leaf_hashes(start, end)

        cache: dict[tuple[int, int], bytes] = {}
        stored = HashStoreMerkleTree(CountingStore(), cache, batch_level=4)
        assert tree_root(stored, 1000) == tree_root(memory, 1000)
        assert cache and all(level > 4 for level, _ in cache)
        calls.clear()
        assert inclusion_proof(stored, 999, 1000) == inclusion_proof(memory, 999, 1000)
        assert all(end - start <= 16 for start, end in calls) and len(calls) <= 10
        assert consistency_proof(stored, 333, 1000) == consistency_proof(memory, 333, 1000)

    def test_subtree_hash_fails_beyond_store_end(self):
        stored = HashStoreMerkleTree(InMemoryMerkleTree(hashes_of(10)), batch_level=2)
        with pytest.raises(AuditRangeInvalid):
            tree_root(stored, 11)

    def test_in_memory_append_fails_wrong_hash_length(self):
        with pytest.raises(AuditRangeInvalid):
            InMemoryMerkleTree().append(b"abc")


EVENT = {
    "seq": 7,
    "ts": "2026-11-22T05:01:05.123456Z",
    "type": "invocations:invocation:completed",
    "actor": "op_k3j5abcdefghijklmnop",
    "subject": "sinv_abcdefghijklmnopqrst",
    "data": {"cost_micro_usd": 1234, "status": "succeeded"},
}

keys = st.from_regex(r"[A-Za-z0-9_.\-]{1,12}", fullmatch=True)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


class TestEventLeaf:
    def test_event_leaf_is_prefix_plus_jcs(self):
        leaf = event_leaf_bytes(EVENT)
        assert leaf == b"skillmarket/audit-event/v1\x00" + rfc8785.dumps(EVENT)
        assert leaf.startswith(EVENT_LEAF_PREFIX)
        assert event_leaf_hash(EVENT) == leaf_hash(leaf)

    @settings(max_examples=300, deadline=None)
    @given(value=json_values)
    def test_canonical_json_equals_rfc8785_inside_profile(self, value):
        assert canonical_json(value) == rfc8785.dumps(value)

    @pytest.mark.parametrize(
        "value",
        [
            {"x": 1.0},
            {"x": 2**53},
            {"x": -(2**53)},
            {"bad key": 1},
            {"": 1},
            {1: "int key"},
            {"x": [datetime.datetime(2026, 1, 1)]},
            {"x": "\ud800"},
            {"x": {"y": {"z": 0.5}}},
        ],
    )
    def test_canonical_json_fails_outside_profile(self, value):
        with pytest.raises(AuditEventInvalid):
            canonical_json(value)

    @pytest.mark.parametrize(
        "event",
        [
            {k: v for k, v in EVENT.items() if k != "actor"},
            {**EVENT, "seq": -1},
            {**EVENT, "seq": "7"},
            {**EVENT, "data": ["not", "a", "dict"]},
            [EVENT],
        ],
    )
    def test_event_leaf_bytes_fails_malformed_event(self, event):
        with pytest.raises(AuditEventInvalid):
            event_leaf_bytes(event)


class TestReplayLeafHashes:
    def test_replay_equals_checked_leaf_hashes(self):
        events = [{**EVENT, "seq": i} for i in range(10)]
        assert list(replay_leaf_hashes(events)) == [event_leaf_hash(e) for e in events]

    def test_replay_fails_tampered_rows(self):
        events = [{**EVENT, "seq": i} for i in range(10)]
        root = root_from_leaf_hashes(event_leaf_hash(e) for e in events)
        altered = [*events[:3], {**events[3], "data": {"cost_micro_usd": 1234.0}}, *events[4:]]
        with pytest.raises(AuditLogTampered):
            verify_log(replay_leaf_hashes(altered), 10, root)
        with pytest.raises(AuditLogTampered, match="not JSON"):
            verify_log(replay_leaf_hashes([*events[:9], {**events[9], 3: "x"}]), 10, root)
