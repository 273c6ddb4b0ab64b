"""Checkpoints as C2SP signed notes (https://c2sp.org/tlog-checkpoint, c2sp.org/signed-note).

A checkpoint is the note text ``<origin>\\n<tree size>\\n<base64 root hash>\\n``. A signed note
is that text, a blank line, then one line per signature::

    — <key name> <base64(4-byte key ID || Ed25519 signature of the text)>

Verification follows the spec: signatures from unknown keys (name and key ID) are ignored, a
failing signature from a trusted key rejects the note, and a note no trusted key signed is
rejected. Pure: no I/O.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from skillmarket.audit.errors import (
    AuditKeyInvalid,
    CheckpointMalformed,
    CheckpointSignatureInvalid,
)
from skillmarket.audit.keys import LogSigningKey, NoteVerifier, check_key_name, strict_b64decode
from skillmarket.audit.merkle import HASH_SIZE, verify_consistency

MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
MAX_TREE_SIZE = 2**63 - 1
_DASH = "\u2014 "  # em dash and space, the start of every signature line


def _malformed(message: str, **details: object) -> CheckpointMalformed:
    return CheckpointMalformed(message, details=dict(details))


def _check_text_characters(text: str) -> None:
    if any(c < " " and c != "\n" for c in text):
        raise _malformed("notes must not contain control characters other than newline")


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, newline included."""
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{_DASH}{self.name} {blob}\n"


@dataclass(frozen=True)
class SignedNote:
    """Note text (ending in a newline) and its signatures."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __str__(self) -> str:
        """The note in its wire form."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def sign_note(text: str, key: LogSigningKey) -> str:
    """Sign ``text`` (which must end in a newline) and return the signed note."""
    if not text.endswith("\n"):
        raise _malformed("note text must end with a newline")
    _check_text_characters(text)
    signature = NoteSignature(key.name, key.key_id, key.sign(text.encode()))
    return str(SignedNote(text, (signature,)))


def parse_note(note: str | bytes) -> SignedNote:
    """Split a signed note into text and signature lines, checking syntax only (no trust)."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("notes must be UTF-8") from None
    _check_text_characters(note)
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise _malformed("a note is text, a blank line and signature lines")
    lines = note[split + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed("too many signatures", count=len(lines), limit=MAX_SIGNATURES)
    return SignedNote(note[: split + 1], tuple(_parse_signature(line) for line in lines))


def _parse_signature(line: str) -> NoteSignature:
    parts = line[len(_DASH) :].split(" ") if line.startswith(_DASH) else []
    try:
        if len(parts) != 2:
            raise ValueError
        name, blob = check_key_name(parts[0]), strict_b64decode(parts[1])
    except (ValueError, AuditKeyInvalid):
        raise _malformed("bad signature line", line=line[:200]) from None
    if len(blob) < 5:
        raise _malformed("signature too short", line=line[:200])
    return NoteSignature(name, blob[:4], blob[4:])


Verifiers = NoteVerifier | str | Iterable[NoteVerifier | str]  # str: a verifier key string


def _index_verifiers(verifiers: Verifiers) -> dict[tuple[str, bytes], NoteVerifier]:
    if isinstance(verifiers, NoteVerifier | str):
        verifiers = (verifiers,)
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for item in verifiers:
        verifier = NoteVerifier.from_string(item) if isinstance(item, str) else item
        seen = known.setdefault((verifier.name, verifier.key_id), verifier)
        if seen != verifier:
            raise AuditKeyInvalid(
                "two trusted keys share a name and key ID",
                details={"key": f"{verifier.name}+{verifier.key_id.hex()}"},
            )
    return known


def verify_note(note: str | bytes, verifiers: Verifiers) -> SignedNote:
    """Verify a signed note against trusted keys; return its text and verified signatures.

    ``verifiers`` is one or more :class:`NoteVerifier` or verifier key strings.
    Signatures from unknown keys are dropped. Raises :class:`CheckpointMalformed` for bad
    syntax and :class:`CheckpointSignatureInvalid` when a trusted signature fails
    (``details.reason == "bad_signature"``) or none is present (``"no_trusted_signature"``).
    """
    known = _index_verifiers(verifiers)
    parsed = parse_note(note)
    message = parsed.text.encode()
    verified: list[NoteSignature] = []
    for sig in parsed.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.verify(message, sig.signature):
            raise CheckpointSignatureInvalid(
                "a signature by a trusted key does not verify",
                details={"reason": "bad_signature", "key": f"{sig.name}+{sig.key_id.hex()}"},
            )
        if sig not in verified:
            verified.append(sig)
    if not verified:
        raise CheckpointSignatureInvalid(
            "the note carries no signature from a trusted key",
            details={"reason": "no_trusted_signature", "trusted": sorted({n for n, _ in known})},
        )
    return SignedNote(parsed.text, tuple(verified))


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size and RFC 6962 root hash."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise _malformed("checkpoint origin must be one non-empty line")
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise _malformed("tree size must be an integer in [0, 2**63)", size=repr(self.size))
        if len(self.root_hash) != HASH_SIZE:
            raise _malformed("root hash must be 32 bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise _malformed("extension lines must be non-empty single lines")

    def text(self) -> str:
        """The checkpoint note text."""
        root = base64.b64encode(self.root_hash).decode()
        lines = (self.origin, str(self.size), root, *self.extensions)
        return "".join(f"{line}\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text (strictly: decimal size, canonical base64 root)."""
        lines = text[:-1].split("\n") if text.endswith("\n") else []
        if len(lines) < 3:
            raise _malformed("a checkpoint has origin, size and root hash lines")
        origin, size, root = lines[:3]
        if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
            raise _malformed("tree size must be decimal without leading zeros", size=size[:40])
        if len(size) > 19:
            raise _malformed("tree size too large", size=size[:40])
        try:
            root_hash = strict_b64decode(root)
        except ValueError:
            raise _malformed("root hash must be base64", root=root[:80]) from None
        return cls(origin, int(size), root_hash, tuple(lines[3:]))


def sign_checkpoint(checkpoint: Checkpoint, key: LogSigningKey) -> str:
    """Sign a checkpoint as a note; the key name must equal the checkpoint origin."""
    if key.name != checkpoint.origin:
        raise AuditKeyInvalid(
            "the log key name must equal the checkpoint origin",
            details={"key_name": key.name, "origin": checkpoint.origin},
        )
    return sign_note(checkpoint.text(), key)


def verify_checkpoint(
    note: str | bytes,
    verifiers: Verifiers,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint note and parse it; optionally require its origin."""
    checkpoint = Checkpoint.from_text(verify_note(note, verifiers).text)
    if origin is not None and checkpoint.origin != origin:
        raise _malformed("checkpoint is from another log", origin=checkpoint.origin, want=origin)
    return checkpoint


def verify_checkpoints_consistent(old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]) -> None:
    """Check that ``new`` extends ``old`` (same origin, consistency proof verifies).

    Raises :class:`CheckpointMalformed` for different origins and
    :class:`~skillmarket.audit.errors.AuditProofInvalid` when the proof fails. A log must never
    sign two checkpoints that no consistency proof links: keep both notes as evidence.
    """
    if old.origin != new.origin:
        raise _malformed("checkpoints are from different logs", old=old.origin, new=new.origin)
    verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
