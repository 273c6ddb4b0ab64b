"""The log key file and the C2SP verifier key string."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skillmarket.audit.errors import AuditKeyInvalid
from skillmarket.audit.keys import (
    KEY_FILE_NAME,
    LogSigningKey,
    NoteVerifier,
    check_key_name,
    load_or_create_log_key,
    note_key_id,
)

# golang.org/x/mod/sumdb/note note_test.go (BSD-3-Clause).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"


def peter_key() -> LogSigningKey:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]
    return LogSigningKey("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed))


class TestVerifierKey:
    def test_go_verifier_key_parses_and_round_trips(self):
        verifier = NoteVerifier.from_string(PETER_VKEY)
        assert verifier.name == "PeterNeumann"
        assert verifier.key_id == bytes.fromhex("c74f20a3")
        assert str(verifier) == PETER_VKEY

    def test_signing_key_matches_go_verifier_key(self):
        key = peter_key()
        assert str(key.verifier()) == PETER_VKEY
        assert key.key_id == note_key_id("PeterNeumann", key.public_key)

    def test_from_string_fails_any_substring_or_changed_byte(self):
        for i in range(len(PETER_VKEY)):
            for j in range(i + 1, len(PETER_VKEY) + 1):
                if (i, j) != (0, len(PETER_VKEY)):
                    with pytest.raises(AuditKeyInvalid):
                        NoteVerifier.from_string(PETER_VKEY[i:j])
        for i, c in enumerate(PETER_VKEY):
            mangled = PETER_VKEY[:i] + chr(ord(c) + 1) + PETER_VKEY[i + 1 :]
            with pytest.raises(AuditKeyInvalid):
                NoteVerifier.from_string(mangled)

    def test_from_string_fails_wrong_length_or_algorithm(self):
        # Both have a key ID recomputed to match, as in the Go tests.
        for vkey in (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ):
            with pytest.raises(AuditKeyInvalid):
                NoteVerifier.from_string(vkey)

    @pytest.mark.parametrize("name", ["", "a+b", "a b", "a\u00a0b", "tab\there", "nl\n"])
    def test_check_key_name_fails_spaces_plus_or_empty(self, name):
        with pytest.raises(AuditKeyInvalid):
            check_key_name(name)

    def test_verify_fails_wrong_message(self):
        key = peter_key()
        signature = key.sign(b"hi")
        assert key.verifier().verify(b"hi", signature)
        assert not key.verifier().verify(b"ho", signature)


class TestLoadOrCreateLogKey:
    def test_creates_private_file_then_loads_same_key(self, tmp_path):
        directory = tmp_path / "data" / "keys"
        first = load_or_create_log_key(directory, "market.example/audit")
        path = directory / KEY_FILE_NAME
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        second = load_or_create_log_key(directory, "market.example/audit")
        assert second.public_key == first.public_key
        assert [p.name for p in directory.iterdir()] == [KEY_FILE_NAME]
        assert "PUBLIC KEY" in first.public_key_pem()
        assert str(first.verifier()).startswith("market.example/audit+")

    def test_load_fails_group_readable_file(self, tmp_path):
        load_or_create_log_key(tmp_path, "log")
        os.chmod(tmp_path / KEY_FILE_NAME, 0o640)
        with pytest.raises(AuditKeyInvalid, match="0600") as err:
            load_or_create_log_key(tmp_path, "log")
        assert err.value.details["mode"] == "0o640"

    def test_load_fails_garbage_file(self, tmp_path):
        path = tmp_path / KEY_FILE_NAME
        path.write_bytes(b"not a key")
        path.chmod(0o600)
        with pytest.raises(AuditKeyInvalid, match="PKCS#8"):
            load_or_create_log_key(tmp_path, "log")

    def test_load_fails_non_ed25519_key(self, tmp_path):
        path = tmp_path / KEY_FILE_NAME
        pem = generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_bytes(pem)
        path.chmod(0o600)
        with pytest.raises(AuditKeyInvalid, match="not Ed25519"):
            load_or_create_log_key(tmp_path, "log")

    def test_load_fails_dangling_symlink(self, tmp_path):
        (tmp_path / KEY_FILE_NAME).symlink_to(tmp_path / "missing.pem")
        with pytest.raises(AuditKeyInvalid, match="cannot read"):
            load_or_create_log_key(tmp_path, "log")

    def test_load_fails_bad_key_name(self, tmp_path):
        with pytest.raises(AuditKeyInvalid):
            load_or_create_log_key(tmp_path, "bad name")
        assert not (tmp_path / KEY_FILE_NAME).exists()
