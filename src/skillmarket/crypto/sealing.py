"""HPKE sealing to the marketplace (RFC 9180: X25519, HKDF-SHA256, AES-256-GCM).

The marketplace publishes an X25519 public key. A publisher seals a prompt or code to it
(``code_encrypted`` / ``system_prompt_encrypted``) and a buyer may seal its input the same way,
so the API layer and the store only ever hold ciphertext; the value is opened on the execution
path. A sealed value is ``enc_v1_`` + base64url(enc ‖ ciphertext ‖ tag). ``info`` binds the
purpose (``skillmarket/logic/v1`` for logic, ``skillmarket/input/v1`` for inputs), so a value
sealed for one use does not open as another. Outputs go back sealed to the buyer's own key.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from skillmarket.crypto.errors import KeyStoreError, SealedValueInvalid
from skillmarket.crypto.keyfile import read_key_file, write_key_file

PREFIX = "enc_v1_"
LOGIC_INFO = b"skillmarket/logic/v1"
INPUT_INFO = b"skillmarket/input/v1"
OUTPUT_INFO = b"skillmarket/output/v1"
SEALING_KEY_FILE = "sealing-key.json"
SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
MIN_SEALED_BYTES = 32 + 16  # encapsulated key + tag


def seal(plaintext: str | bytes, public_key: bytes, info: bytes) -> str:
    """Seal ``plaintext`` to a raw X25519 public key; returns an ``enc_v1_`` string."""
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    try:
        recipient = X25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise SealedValueInvalid("a sealing public key is 32 raw X25519 bytes") from exc
    raw = SUITE.encrypt(data, recipient, info=info)
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_sealed(value: str) -> bytes:
    """The raw bytes of an ``enc_v1_`` value (structure checked, nothing opened)."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        raise SealedValueInvalid("a sealed value starts with enc_v1_")
    body = value[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError as exc:
        raise SealedValueInvalid("a sealed value is base64url after enc_v1_") from exc
    if len(raw) < MIN_SEALED_BYTES:
        raise SealedValueInvalid("a sealed value is too short to be an HPKE ciphertext")
    return raw


class SealingKey:
    """The marketplace's HPKE key pair, kept in ``<data dir>/sealing-key.json`` (0600)."""

    def __init__(self, data_dir: Path):
        path = Path(data_dir) / SEALING_KEY_FILE
        if not path.exists():
            private = X25519PrivateKey.generate().private_bytes_raw()
            write_key_file(
                path,
                {
                    "format": "skillmarket-sealing-key/1",
                    "x25519": base64.b64encode(private).decode(),
                },
            )
        try:
            raw = base64.b64decode(read_key_file(path)["x25519"])
            self._private = X25519PrivateKey.from_private_bytes(raw)
        except (KeyError, ValueError) as exc:
            raise KeyStoreError(
                f"{path} is not a valid sealing key file", details={"path": str(path)}
            ) from exc

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte X25519 public key that publishers and buyers seal to."""
        return self._private.public_key().public_bytes_raw()

    def open(self, value: str, info: bytes) -> str:
        """Open an ``enc_v1_`` value sealed to this key for ``info``."""
        raw = decode_sealed(value)
        try:
            return SUITE.decrypt(raw, self._private, info=info).decode()
        except Exception as exc:  # noqa: BLE001  (cryptography raises a generic error)
            raise SealedValueInvalid(
                "the sealed value does not open with the marketplace key for this purpose"
            ) from exc
