"""The audit log's Ed25519 signing key and its C2SP signed-note forms.

The private key lives in one PKCS#8 PEM file (mode 0600) in a directory the caller names,
created on first use. Verifiers know the log by its *verifier key* string
(https://c2sp.org/signed-note, as in Go's ``golang.org/x/mod/sumdb/note``)::

    <key name>+<hex key ID>+<base64(0x01 || 32-byte Ed25519 public key)>

where ``key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4]``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from skillmarket.audit.errors import AuditKeyInvalid

SIGNATURE_TYPE_ED25519 = b"\x01"
KEY_FILE_NAME = "audit-log-ed25519.pem"


def check_key_name(name: str) -> str:
    """Return ``name`` if it is a valid note key name: non-empty, no spaces, no ``+``."""
    if (
        not isinstance(name, str)
        or not name
        or "+" in name
        or any(c.isspace() or c < " " for c in name)
    ):
        raise AuditKeyInvalid(
            "key names must be non-empty, without spaces, '+' or control characters",
            details={"name": repr(name)[:80]},
        )
    return name


def note_key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte C2SP key ID of an Ed25519 public key (32 raw bytes) under ``name``."""
    material = name.encode() + b"\n" + SIGNATURE_TYPE_ED25519 + public_key
    return hashlib.sha256(material).digest()[:4]


def strict_b64decode(text: str) -> bytes:
    """Standard base64 with padding, rejecting any other spelling of the same bytes."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not canonical base64") from exc
    if base64.b64encode(raw).decode() != text:
        raise ValueError("not canonical base64")
    return raw


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted Ed25519 note key: its name and raw 32-byte public key."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != 32:
            raise AuditKeyInvalid("Ed25519 public keys are 32 bytes")
        object.__setattr__(self, "key_id", note_key_id(self.name, self.public_key))

    @classmethod
    def from_string(cls, vkey: str) -> NoteVerifier:
        """Parse a verifier key string ``<name>+<hex id>+<base64(0x01 || key)>``."""
        invalid = AuditKeyInvalid("malformed verifier key", details={"vkey": vkey[:200]})
        name, _, rest = vkey.partition("+")
        hex_id, _, key64 = rest.partition("+")
        if len(hex_id) != 8 or not all(c in string.hexdigits for c in hex_id):
            raise invalid
        try:
            key = strict_b64decode(key64)
            check_key_name(name)
        except (ValueError, AuditKeyInvalid):
            raise invalid from None
        if len(key) != 33:
            raise invalid
        if key[:1] != SIGNATURE_TYPE_ED25519:
            raise AuditKeyInvalid("unsupported verifier key algorithm (want Ed25519, 0x01)")
        verifier = cls(name, key[1:])
        if verifier.key_id != bytes.fromhex(hex_id):
            raise AuditKeyInvalid("verifier key ID does not match its name and key")
        return verifier

    def __str__(self) -> str:
        """The verifier key string."""
        key64 = base64.b64encode(SIGNATURE_TYPE_ED25519 + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{key64}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class LogSigningKey:
    """The log's Ed25519 private key under its note key name (the log origin)."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return self.private_key.public_key().public_bytes_raw()

    @property
    def key_id(self) -> bytes:
        """The 4-byte C2SP note key ID."""
        return note_key_id(self.name, self.public_key)

    def verifier(self) -> NoteVerifier:
        """The matching verifier, to publish (``str()`` gives the verifier key string)."""
        return NoteVerifier(self.name, self.public_key)

    def public_key_pem(self) -> str:
        """The public key as a SubjectPublicKeyInfo PEM block."""
        public = self.private_key.public_key()
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        return public.public_bytes(serialization.Encoding.PEM, spki).decode()

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (64 bytes) of ``message``."""
        return self.private_key.sign(message)


def load_or_create_log_key(
    directory: Path, name: str, *, filename: str = KEY_FILE_NAME
) -> LogSigningKey:
    """Load the log key from ``directory``, creating it (mode 0600) on first use.

    Creation is atomic: the PEM is written to a private temporary file and hard-linked into
    place, so concurrent starters agree on one key and nobody reads a half-written file.
    Refuses a key file that group or others may read, or that does not hold an Ed25519 key.
    """
    check_key_name(name)
    directory = Path(directory)
    path = directory / filename
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _create_key_file(directory, path)
    return LogSigningKey(name, _read_key_file(path))


def _create_key_file(directory: Path, path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".audit-key-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # another process created it first; use theirs
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        os.unlink(tmp)


def _read_key_file(path: Path) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise AuditKeyInvalid(
            f"cannot read the audit log key file: {exc.strerror}", details={"path": str(path)}
        ) from exc
    if not stat.S_ISREG(mode) or mode & 0o077:
        raise AuditKeyInvalid(
            "the audit log key file must be a regular file readable only by its owner (0600)",
            details={"path": str(path), "mode": oct(stat.S_IMODE(mode))},
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise AuditKeyInvalid(
            "the audit log key file is not an unencrypted PKCS#8 PEM key",
            details={"path": str(path)},
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyInvalid("the audit log key is not Ed25519", details={"path": str(path)})
    return key
