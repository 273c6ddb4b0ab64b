"""Issuer keys: this marketplace's Ed25519 keyring, and external issuers registered by JWKS.

The keyring is one JSON file, ``issuer_keys.json`` (mode 0600), in a directory passed in
(normally the data dir). It holds the issuer id (``iss``) and every key with its life cycle::

    active ──rotate──► verifying ──retire / prune──► retired
    (signs)            (verifies until verify_until)   (public record only, trusted by nobody)

Rotation creates a new active key and turns the old one into a verifying key: its private half is
erased, its public half keeps verifying passports it signed until ``verify_until`` (rotation time
plus the longest passport lifetime, so every such passport has expired by then). Retiring drops a
key from verification at once, e.g. after a compromise. Writes are atomic (temp file, fsync,
rename) under an advisory lock, so the server and admin CLI can share the data dir; a running
verifier picks up another process's rotation through :meth:`IssuerKeyring.refresh`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from joserfc.jwk import OKPKey

from skillmarket.identity.errors import (
    IssuerJwksInvalid,
    IssuerKeyActive,
    IssuerKeyNotFound,
    IssuerKeyringCorrupt,
    IssuerKeyringInsecure,
)

__all__ = [
    "DEFAULT_VERIFY_GRACE",
    "KEYRING_FILE",
    "IssuerKeyInfo",
    "IssuerKeySource",
    "IssuerKeyring",
    "JwksIssuer",
    "KeyState",
]

KEYRING_FILE = "issuer_keys.json"
LOCK_FILE = "issuer_keys.lock"
FORMAT = "skillmarket-issuer-keyring/1"
#: How long a rotated-out key keeps verifying; equals ``passports.MAX_TTL`` (a test pins it).
DEFAULT_VERIFY_GRACE = timedelta(days=90)
MAX_JWKS_KEYS = 64
_ALG = "Ed25519"


class KeyState(StrEnum):
    """Where a key is in its life cycle."""

    ACTIVE = "active"
    VERIFYING = "verifying"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class IssuerKeyInfo:
    """Public facts about one keyring key (never its private half)."""

    kid: str
    state: KeyState
    created_at: datetime
    deactivated_at: datetime | None
    verify_until: datetime | None
    retired_at: datetime | None


class IssuerKeySource(Protocol):
    """Anything a passport verifier can ask for an issuer's public keys."""

    @property
    def issuer(self) -> str:
        """The ``iss`` value this source vouches for."""
        ...

    def verification_key(self, kid: str) -> OKPKey | None:
        """The public key named ``kid`` while it is trusted, else ``None``."""
        ...

    def refresh(self) -> bool:
        """Reload from the backing store if it changed; True when anything was reloaded."""
        ...


@dataclass(slots=True)
class _Key:
    kid: str
    public: OKPKey
    private: OKPKey | None
    created_at: datetime
    deactivated_at: datetime | None = None
    verify_until: datetime | None = None
    retired_at: datetime | None = None

    @property
    def state(self) -> KeyState:
        if self.retired_at is not None:
            return KeyState.RETIRED
        return KeyState.VERIFYING if self.deactivated_at is not None else KeyState.ACTIVE

    def info(self) -> IssuerKeyInfo:
        return IssuerKeyInfo(
            self.kid,
            self.state,
            self.created_at,
            self.deactivated_at,
            self.verify_until,
            self.retired_at,
        )


class IssuerKeyring:
    """This marketplace's passport signing keys, kept in a directory; see the module docstring.

    Build it with :meth:`load_or_create`. It satisfies :class:`IssuerKeySource`.
    """

    def __init__(self, directory: Path, issuer: str, keys: list[_Key], stamp: tuple[int, ...]):
        """Use :meth:`load_or_create`; this adopts already-parsed state."""
        self.directory = directory
        self._issuer = issuer
        self._keys = {k.kid: k for k in keys}
        self._stamp = stamp

    # --- loading ------------------------------------------------------------------------------

    @classmethod
    def load_or_create(
        cls, directory: Path | str, *, issuer: str | None = None, now: datetime | None = None
    ) -> IssuerKeyring:
        """Load the keyring in ``directory``, creating it (and the directory, 0700) if absent.

        ``issuer`` is recorded only at creation (default: a random ``urn:skillmarket:issuer:…``);
        an existing keyring keeps its own. Raises :class:`IssuerKeyringInsecure` when the file is
        accessible to anyone but its owner and :class:`IssuerKeyringCorrupt` when unreadable.
        """
        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _locked(directory):
            if not (directory / KEYRING_FILE).exists():
                iss = issuer or f"urn:skillmarket:issuer:{secrets.token_hex(8)}"
                _check_issuer(iss)
                _write(directory, iss, [_generate(_now(now))])
            return cls._read(directory)

    @classmethod
    def _read(cls, directory: Path) -> IssuerKeyring:
        path = directory / KEYRING_FILE
        st = os.stat(path)
        if st.st_mode & 0o077:
            raise IssuerKeyringInsecure(
                f"{path} is accessible to group or others; run: chmod 600 {path}",
                details={"path": str(path), "mode": oct(st.st_mode & 0o777)},
            )
        try:
            document = json.loads(path.read_bytes())
            issuer, keys = _parse_document(document)
        except (ValueError, KeyError, TypeError) as exc:
            raise IssuerKeyringCorrupt(
                f"cannot read issuer keyring {path}: {exc}", details={"path": str(path)}
            ) from exc
        return cls(directory, issuer, keys, _stamp(st))

    def refresh(self) -> bool:
        """Re-read the file if another process changed it; True when reloaded."""
        st = os.stat(self.directory / KEYRING_FILE)
        if _stamp(st) == self._stamp:
            return False
        self._adopt(self._read(self.directory))
        return True

    def _adopt(self, other: IssuerKeyring) -> None:
        self._issuer, self._keys, self._stamp = other._issuer, other._keys, other._stamp

    # --- reading ------------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """The ``iss`` of passports signed by this keyring."""
        return self._issuer

    @property
    def active_kid(self) -> str:
        """The ``kid`` of the key that signs new passports."""
        return self._active().kid

    def signing_key(self) -> tuple[str, OKPKey]:
        """The active ``kid`` and private key, read together; for signing only, never export."""
        key = self._active()
        assert key.private is not None  # _parse_document guarantees it for the active key
        return key.kid, key.private

    def verification_key(self, kid: str) -> OKPKey | None:
        """The public key ``kid`` if active or verifying, else ``None`` (unknown or retired)."""
        key = self._keys.get(kid)
        if key is None or key.retired_at is not None:
            return None
        return key.public

    def list_keys(self) -> list[IssuerKeyInfo]:
        """Every key ever in the ring, oldest first, as public facts."""
        return [k.info() for k in sorted(self._keys.values(), key=lambda k: k.created_at)]

    def jwks(self) -> dict[str, Any]:
        """The public JWKS of the active and verifying keys (for ``/.well-known/jwks.json``)."""
        live = [k for k in self._keys.values() if k.retired_at is None]
        live.sort(key=lambda k: k.created_at, reverse=True)
        return {"keys": [_public_jwk_of(k.kid, k.public) for k in live]}

    def _active(self) -> _Key:
        return next(k for k in self._keys.values() if k.state is KeyState.ACTIVE)

    # --- changing -----------------------------------------------------------------------------

    def rotate(
        self, *, now: datetime | None = None, verify_grace: timedelta = DEFAULT_VERIFY_GRACE
    ) -> IssuerKeyInfo:
        """Make a fresh key active; the old one verifies for ``verify_grace`` more, then lapses.

        The old private key is erased. Returns the new key's facts.
        """
        at = _now(now)
        with self._changing() as keys:
            old = next(k for k in keys if k.state is KeyState.ACTIVE)
            old.private, old.deactivated_at, old.verify_until = None, at, at + verify_grace
            new = _generate(at)
            keys.append(new)
            _prune(keys, at)
        return self._keys[new.kid].info()

    def retire(self, kid: str, *, now: datetime | None = None) -> IssuerKeyInfo:
        """Stop trusting key ``kid`` at once (e.g. after a compromise); rotate first if active."""
        with self._changing() as keys:
            key = next((k for k in keys if k.kid == kid), None)
            if key is None:
                raise IssuerKeyNotFound(f"no issuer key {kid!r}", details={"kid": kid})
            if key.state is KeyState.ACTIVE:
                raise IssuerKeyActive(
                    "the active key cannot be retired; rotate first", details={"kid": kid}
                )
            if key.retired_at is None:
                key.retired_at = _now(now)
        return self._keys[kid].info()

    def prune(self, *, now: datetime | None = None) -> list[str]:
        """Retire verifying keys whose ``verify_until`` has passed; returns their kids."""
        with self._changing() as keys:
            pruned = _prune(keys, _now(now))
        return pruned

    @contextlib.contextmanager
    def _changing(self) -> Iterator[list[_Key]]:
        # Read-modify-write under the lock, starting from the file, so a change made by another
        # process since we loaded is kept rather than overwritten.
        with _locked(self.directory):
            current = self._read(self.directory)
            keys = list(current._keys.values())
            yield keys
            _write(self.directory, current._issuer, keys)
            self._adopt(self._read(self.directory))


class JwksIssuer:
    """An external issuer trusted through the JWKS an admin registered for it.

    Every key must be a public Ed25519 OKP key with a distinct ``kid``; ``alg`` (if present)
    must be ``Ed25519`` and ``use`` (if present) ``sig``. Private members are refused, so a
    pasted private key is caught rather than stored.
    """

    def __init__(self, issuer: str, jwks: Mapping[str, Any]):
        """Validate ``jwks`` for ``issuer``; raises :class:`IssuerJwksInvalid`."""
        try:
            _check_issuer(issuer)
        except ValueError as exc:
            raise IssuerJwksInvalid(str(exc), details={"issuer": str(issuer)[:200]}) from None
        self._issuer = issuer
        self._keys = _parse_jwks(jwks)

    @property
    def issuer(self) -> str:
        """The ``iss`` this JWKS vouches for."""
        return self._issuer

    def verification_key(self, kid: str) -> OKPKey | None:
        """The registered public key ``kid``, or ``None``."""
        return self._keys.get(kid)

    def refresh(self) -> bool:
        """Registered JWKS are static; the admin re-registers to change them."""
        return False

    def jwks(self) -> dict[str, Any]:
        """The registered keys, normalised to public members plus kid/alg/use."""
        return {"keys": [_public_jwk_of(kid, key) for kid, key in self._keys.items()]}


# --- helpers ----------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _check_issuer(issuer: Any) -> None:
    if not isinstance(issuer, str) or not re.fullmatch(r"\S{1,255}", issuer):
        raise ValueError("issuer must be 1-255 characters without whitespace")


def _generate(at: datetime) -> _Key:
    private = OKPKey.generate_key("Ed25519", private=True)
    kid = private.thumbprint()  # RFC 7638: the kid commits to the key itself
    return _Key(kid, OKPKey.import_key(private.as_dict(private=False)), private, at)


def _public_jwk_of(kid: str, key: OKPKey) -> dict[str, Any]:
    return {**key.as_dict(private=False), "kid": kid, "alg": _ALG, "use": "sig"}


def _stamp(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write(directory: Path, issuer: str, keys: list[_Key]) -> None:
    document = {"format": FORMAT, "issuer": issuer, "keys": [_key_json(k) for k in keys]}
    data = json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"
    tmp = directory / f".{KEYRING_FILE}.{secrets.token_hex(6)}.tmp"
    # O_EXCL + 0600 at creation: the private keys are never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / KEYRING_FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _key_json(key: _Key) -> dict[str, Any]:
    jwk = (key.private or key.public).as_dict(private=key.private is not None)
    return {
        "kid": key.kid,
        "jwk": jwk,
        "created_at": key.created_at.isoformat(),
        "deactivated_at": _iso(key.deactivated_at),
        "verify_until": _iso(key.verify_until),
        "retired_at": _iso(key.retired_at),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without zone: {value!r}")
    return parsed


def _parse_document(document: Any) -> tuple[str, list[_Key]]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} document")
    issuer = document["issuer"]
    _check_issuer(issuer)
    keys = [_key_from_json(item) for item in document["keys"]]
    active = [k for k in keys if k.state is KeyState.ACTIVE]
    if len(active) != 1 or active[0].private is None:
        raise ValueError("exactly one active key with its private half is required")
    if len({k.kid for k in keys}) != len(keys):
        raise ValueError("duplicate kid")
    return issuer, keys


def _key_from_json(item: dict[str, Any]) -> _Key:
    jwk, kid = item["jwk"], item["kid"]
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError(f"key {kid!r} is not an Ed25519 OKP key")
    loaded = OKPKey.import_key(jwk)
    public = OKPKey.import_key(loaded.as_dict(private=False))
    if public.thumbprint() != kid:
        raise ValueError(f"key {kid!r} does not match its thumbprint")
    created_at = _time(item["created_at"])
    if created_at is None:
        raise ValueError(f"key {kid!r} has no created_at")
    private = loaded if loaded.is_private else None
    return _Key(
        kid,
        public,
        private,
        created_at,
        _time(item["deactivated_at"]),
        _time(item["verify_until"]),
        _time(item["retired_at"]),
    )


def _prune(keys: list[_Key], at: datetime) -> list[str]:
    pruned = []
    for key in keys:
        lapsed = key.verify_until is not None and key.verify_until <= at
        if key.state is KeyState.VERIFYING and lapsed:
            key.retired_at = at
            pruned.append(key.kid)
    return pruned


def _parse_jwks(jwks: Mapping[str, Any]) -> dict[str, OKPKey]:
    items = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(items, list) or not 0 < len(items) <= MAX_JWKS_KEYS:
        raise IssuerJwksInvalid(
            f'a JWKS is {{"keys": [...]}} with 1 to {MAX_JWKS_KEYS} keys', details={}
        )
    keys: dict[str, OKPKey] = {}
    for index, item in enumerate(items):
        problem = _jwk_problem(item, keys)
        if problem is None:
            try:
                keys[item["kid"]] = OKPKey.import_key(
                    {"kty": "OKP", "crv": "Ed25519", "x": item["x"]}
                )
            except (ValueError, TypeError) as exc:
                problem = f"bad public key: {exc}"
        if problem is not None:
            raise IssuerJwksInvalid(
                f"JWKS key {index}: {problem}", details={"index": index, "reason": problem}
            )
    return keys


def _jwk_problem(item: Any, seen: Mapping[str, OKPKey]) -> str | None:
    if not isinstance(item, dict):
        return "not an object"
    if item.get("kty") != "OKP" or item.get("crv") != "Ed25519":
        return "only OKP keys on curve Ed25519 are accepted"
    if any(member in item for member in ("d", "p", "q", "k")):
        return "contains private key material; register the public key only"
    kid = item.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= 255:
        return "kid is required (1-255 characters)"
    if kid in seen:
        return f"duplicate kid {kid!r}"
    if item.get("alg", _ALG) != _ALG or item.get("use", "sig") != "sig":
        return "alg must be Ed25519 and use must be sig"
    if not isinstance(item.get("x"), str):
        return "x is required"
    return None
