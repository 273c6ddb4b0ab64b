"""Envelope encryption of seller logic at rest (AWS KMS / Tink pattern).

Each sealed skill version gets its own random 256-bit data key (DEK). Its prompts and code are
encrypted with AES-256-GCM under the DEK, each with associated data naming the skill and the
field, so a ciphertext cannot be moved to another skill or field. The DEK is stored only wrapped
by a master key (KEK) from a :class:`KeyProvider`; a key commitment (HMAC of the DEK) is stored
beside it, so a ciphertext can never open under two keys. Rotating the master key adds a new
version; re-wrapping moves every DEK to it without touching the data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from skillmarket.crypto.errors import DecryptionFailed, KeyStoreError
from skillmarket.crypto.keyfile import read_key_file, write_key_file

FIELD_AAD = b"skillmarket/sealed-logic/v1\x00"
WRAP_AAD = b"skillmarket/dek-wrap/v1\x00"
COMMIT_LABEL = b"skillmarket/dek-commit/v1"
MASTER_KEY_FILE = "master-keys.json"


class KeyProvider(Protocol):
    """Wraps and unwraps data keys with a master key it never reveals."""

    @property
    def current_kek_id(self) -> str:
        """The master key version new data keys are wrapped with."""

    def wrap(self, dek: bytes, context: bytes) -> tuple[str, bytes]:
        """Wrap ``dek`` under the current master key; returns (kek_id, wrapped)."""

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        """Unwrap a data key wrapped under master key version ``kek_id``."""


class LocalKeyProvider:
    """The self-hosted default: master keys in ``<data dir>/master-keys.json`` (0600).

    Key versions are named ``local:v1``, ``local:v2``, …; old versions stay so old wrapped keys
    still open until they are re-wrapped. Swap in a KMS- or Vault-backed provider with the same
    three methods for production secrets management.
    """

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / MASTER_KEY_FILE
        if not self.path.exists():
            write_key_file(
                self.path,
                {
                    "format": "skillmarket-master-keys/1",
                    "keys": {"local:v1": _b64(AESGCM.generate_key(256))},
                    "current": "local:v1",
                },
            )
        self._load()

    def _load(self) -> None:
        document = read_key_file(self.path)
        try:
            self._keys = {kid: base64.b64decode(v) for kid, v in document["keys"].items()}
            self._current = document["current"]
            assert self._current in self._keys and all(len(k) == 32 for k in self._keys.values())
        except (KeyError, TypeError, ValueError, AssertionError) as exc:
            raise KeyStoreError(
                f"{self.path} is not a valid master key file", details={"path": str(self.path)}
            ) from exc

    @property
    def current_kek_id(self) -> str:
        """The newest master key version."""
        return self._current

    @property
    def versions(self) -> list[str]:
        """Every master key version held."""
        return sorted(self._keys, key=lambda k: int(k.rsplit("v", 1)[1]))

    def rotate(self) -> str:
        """Add a new master key version and make it current; returns its id."""
        self._load()
        newest = max(int(k.rsplit("v", 1)[1]) for k in self._keys) + 1
        kid = f"local:v{newest}"
        keys = {k: _b64(v) for k, v in self._keys.items()}
        keys[kid] = _b64(AESGCM.generate_key(256))
        write_key_file(
            self.path, {"format": "skillmarket-master-keys/1", "keys": keys, "current": kid}
        )
        self._load()
        return kid

    def wrap(self, dek: bytes, context: bytes) -> tuple[str, bytes]:
        """AES-256-GCM wrap under the current master key, bound to ``context``."""
        nonce = os.urandom(12)
        kek = AESGCM(self._keys[self._current])
        return self._current, nonce + kek.encrypt(nonce, dek, WRAP_AAD + context)

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        """Open a wrapped data key (re-reading the key file once if the version is new)."""
        if kek_id not in self._keys:
            self._load()
        try:
            kek = AESGCM(self._keys[kek_id])
            return kek.decrypt(wrapped[:12], wrapped[12:], WRAP_AAD + context)
        except (KeyError, InvalidTag) as exc:
            raise DecryptionFailed(
                "a data key does not unwrap under its master key", details={"kek_id": kek_id}
            ) from exc


@dataclass(frozen=True)
class WrappedKey:
    """A data key as stored: which master key wrapped it, the wrapped bytes, the commitment."""

    kek_id: str
    wrapped: bytes
    commitment: bytes


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def commitment(dek: bytes) -> bytes:
    """HMAC-SHA256 of a fixed label under the DEK: binds ciphertexts to one key."""
    return hmac.new(dek, COMMIT_LABEL, hashlib.sha256).digest()


def new_data_key(provider: KeyProvider, context: bytes) -> tuple[bytes, WrappedKey]:
    """A fresh DEK and its stored form."""
    dek = AESGCM.generate_key(256)
    kek_id, wrapped = provider.wrap(dek, context)
    return dek, WrappedKey(kek_id, wrapped, commitment(dek))


def open_data_key(provider: KeyProvider, key: WrappedKey, context: bytes) -> bytes:
    """Unwrap a stored DEK and check its commitment."""
    dek = provider.unwrap(key.kek_id, key.wrapped, context)
    if not hmac.compare_digest(commitment(dek), key.commitment):
        raise DecryptionFailed("a data key does not match its commitment")
    return dek


def rewrap(provider: KeyProvider, key: WrappedKey, context: bytes) -> WrappedKey:
    """The same DEK wrapped under the provider's current master key (data untouched)."""
    dek = open_data_key(provider, key, context)
    kek_id, wrapped = provider.wrap(dek, context)
    return WrappedKey(kek_id, wrapped, key.commitment)


def encrypt_field(dek: bytes, context: bytes, field: str, plaintext: str) -> bytes:
    """AES-256-GCM encrypt one field; returns nonce ‖ ciphertext ‖ tag."""
    nonce = os.urandom(12)
    aad = FIELD_AAD + context + b"\x00" + field.encode()
    return nonce + AESGCM(dek).encrypt(nonce, plaintext.encode(), aad)


def decrypt_field(dek: bytes, context: bytes, field: str, sealed: bytes) -> str:
    """Open one field sealed by :func:`encrypt_field` for the same context and field."""
    aad = FIELD_AAD + context + b"\x00" + field.encode()
    try:
        return AESGCM(dek).decrypt(sealed[:12], sealed[12:], aad).decode()
    except InvalidTag as exc:
        raise DecryptionFailed(
            "sealed logic does not open (altered, or moved between skills)",
            details={"field": field},
        ) from exc
