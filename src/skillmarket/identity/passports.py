"""Passports: issue and verify Ed25519-signed JWTs that carry an operator's identity claims.

A passport belongs to an operator's agent. Its compact JWS looks like::

    header  {"alg": "Ed25519", "kid": "<RFC 7638 thumbprint>", "typ": "passport+jwt"}
    claims  {"iss": "urn:skillmarket:issuer:…", "sub": "op_…", "jti": "pp_…",
             "iat": 1767225600, "nbf": 1767225600, "exp": 1769817600,
             "verified_human": {"assurance": "substantial"},
             "verified_identity": {"assurance": "high", "method": "…", "verified_at": 1767000000}}

Identity claims are top-level members whose value is an object (``assurance`` required,
``method`` and ``verified_at`` optional); an absent member means the claim is not held. See
``docs/passports.md`` for the rationale, and :mod:`skillmarket.identity.trust` for what the
claims are worth.

The module does no database I/O: revocation is a callable the caller supplies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry, deserialize_compact

from skillmarket.identity.errors import (
    IssuerAlreadyTrusted,
    PassportClaimInvalid,
    PassportExpired,
    PassportIssuerUntrusted,
    PassportMalformed,
    PassportNotYetValid,
    PassportOwnerInvalid,
    PassportOwnerMismatch,
    PassportRevoked,
    PassportSignatureInvalid,
    PassportTtlInvalid,
)
from skillmarket.identity.issuer_keys import IssuerKeyring, IssuerKeySource
from skillmarket.identity.trust import IDENTITY_CLAIMS, Assurance
from skillmarket.ids import has_prefix, new_id

__all__ = [
    "ALGORITHM",
    "DEFAULT_LEEWAY",
    "DEFAULT_TTL",
    "MAX_TTL",
    "TOKEN_TYPE",
    "IdentityClaim",
    "IssuedPassport",
    "PassportIssuer",
    "PassportVerifier",
    "VerifiedPassport",
]

ALGORITHM = "Ed25519"  # RFC 9864 fully-specified name; the polymorphic "EdDSA" is refused
TOKEN_TYPE = "passport+jwt"  # explicit typing (RFC 8725 §3.11): no other JWT passes as one
DEFAULT_TTL = timedelta(days=30)
MAX_TTL = timedelta(days=90)
DEFAULT_LEEWAY = timedelta(seconds=30)
MAX_TOKEN_CHARS = 8192
_HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_REGISTRY = JWSRegistry(algorithms=[ALGORITHM])


@dataclass(frozen=True, slots=True)
class IdentityClaim:
    """One identity claim: its assurance, and optionally how and when it was verified."""

    assurance: Assurance
    method: str | None = None
    verified_at: int | None = None  # NumericDate (seconds since the epoch)

    def to_json(self) -> dict[str, Any]:
        """The claim's value as it appears in the token."""
        value: dict[str, Any] = {"assurance": self.assurance.value}
        if self.method is not None:
            value["method"] = self.method
        if self.verified_at is not None:
            value["verified_at"] = self.verified_at
        return value

    @classmethod
    def from_json(cls, value: Any) -> IdentityClaim:
        """Parse a claim value; raises :class:`ValueError` naming the problem."""
        if not isinstance(value, dict):
            raise ValueError("an identity claim is an object")
        assurance = Assurance(value.get("assurance"))
        method, verified_at = value.get("method"), value.get("verified_at")
        if method is not None and (not isinstance(method, str) or len(method) > 100):
            raise ValueError("method must be a string of at most 100 characters")
        if verified_at is not None and not _is_int(verified_at):
            raise ValueError("verified_at must be an integer NumericDate")
        return cls(assurance, method, verified_at)


@dataclass(frozen=True, slots=True)
class IssuedPassport:
    """A freshly signed passport: what the database stores and the operator is given."""

    passport_id: str
    token: str
    owner: str
    issuer: str
    kid: str
    issued_at: datetime
    expires_at: datetime
    claims: Mapping[str, IdentityClaim]


@dataclass(frozen=True, slots=True)
class VerifiedPassport:
    """A passport whose signature, issuer, lifetime, owner and revocation status all checked out."""

    passport_id: str
    owner: str
    issuer: str
    kid: str
    issued_at: datetime
    not_before: datetime
    expires_at: datetime
    claims: Mapping[str, IdentityClaim]

    @property
    def assurances(self) -> dict[str, Assurance]:
        """Claim name to assurance: the input of :func:`~.trust.check_trust`."""
        return {name: claim.assurance for name, claim in self.claims.items()}


class PassportIssuer:
    """Signs passports with the active key of this marketplace's :class:`IssuerKeyring`."""

    def __init__(self, keyring: IssuerKeyring):
        """Issue with ``keyring``'s active key and issuer id."""
        self.keyring = keyring

    def issue(
        self,
        owner: str,
        claims: Mapping[str, Assurance | str | IdentityClaim],
        *,
        now: datetime,
        ttl: timedelta = DEFAULT_TTL,
        passport_id: str | None = None,
    ) -> IssuedPassport:
        """Sign a passport for operator ``owner`` with ``claims`` (name to assurance or claim).

        Raises :class:`PassportOwnerInvalid`, :class:`PassportClaimInvalid` or
        :class:`PassportTtlInvalid` for bad input. ``passport_id`` defaults to a new ``pp_`` id.
        """
        if not isinstance(owner, str) or not has_prefix(owner, "operator") or len(owner) > 64:
            raise PassportOwnerInvalid(
                "a passport's owner is an operator id (op_…)", details={"owner": str(owner)[:64]}
            )
        seconds = int(ttl.total_seconds())
        if seconds < 1 or ttl > MAX_TTL:
            raise PassportTtlInvalid(
                f"ttl must be between 1 second and {MAX_TTL.days} days",
                details={"ttl_seconds": seconds, "max_ttl_seconds": int(MAX_TTL.total_seconds())},
            )
        normalised = _normalise_claims(claims)
        passport_id = passport_id or new_id("passport")
        if not has_prefix(passport_id, "passport"):
            raise ValueError(f"passport ids start with pp_, not {passport_id[:20]!r}")
        # Pick up a rotation done by another process (the admin CLI) before signing.
        self.keyring.refresh()
        kid, key = self.keyring.signing_key()
        iat = int(_timestamp(now))
        payload: dict[str, Any] = {
            "iss": self.keyring.issuer,
            "sub": owner,
            "jti": passport_id,
            "iat": iat,
            "nbf": iat,
            "exp": iat + seconds,
        }
        payload.update({name: claim.to_json() for name, claim in normalised.items()})
        header = {"alg": ALGORITHM, "kid": kid, "typ": TOKEN_TYPE}
        token = jwt.encode(header, payload, key, registry=_REGISTRY)
        return IssuedPassport(
            passport_id=passport_id,
            token=token,
            owner=owner,
            issuer=self.keyring.issuer,
            kid=kid,
            issued_at=_datetime(iat),
            expires_at=_datetime(iat + seconds),
            claims=MappingProxyType(normalised),
        )


@dataclass(frozen=True, slots=True)
class _Verified:
    passport: VerifiedPassport
    source: IssuerKeySource
    key: OKPKey
    not_before: float
    expires: float


class PassportVerifier:
    """Verifies passports from a set of trusted issuers, each selected by ``iss`` then ``kid``.

    ``leeway`` absorbs clock skew on ``nbf`` and ``exp``. ``max_lifetime`` caps ``exp - iat``
    for every issuer (external ones included). Up to ``cache_size`` tokens that passed the
    signature check are remembered by SHA-256 so a repeat skips the Ed25519 work; lifetime, owner,
    revocation and the key still being trusted are checked on every call (0 turns it off).
    """

    def __init__(
        self,
        issuers: Iterable[IssuerKeySource] = (),
        *,
        leeway: timedelta = DEFAULT_LEEWAY,
        max_lifetime: timedelta = MAX_TTL,
        cache_size: int = 10_000,
        refresh_interval: float = 1.0,
    ):
        """Trust ``issuers`` (e.g. the local :class:`IssuerKeyring` and :class:`JwksIssuer` s)."""
        self._issuers: dict[str, IssuerKeySource] = {}
        self._leeway = leeway.total_seconds()
        self._max_lifetime = max_lifetime.total_seconds()
        self._cache: dict[bytes, _Verified] = {}
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._refresh_interval = refresh_interval
        self._refreshed_at: dict[str, float] = {}
        for source in issuers:
            self.trust(source)

    @property
    def issuers(self) -> tuple[str, ...]:
        """The ``iss`` values currently trusted."""
        return tuple(self._issuers)

    def trust(self, source: IssuerKeySource, *, replace: bool = False) -> None:
        """Trust ``source`` for its ``iss``; :class:`IssuerAlreadyTrusted` unless ``replace``."""
        if source.issuer in self._issuers and not replace:
            raise IssuerAlreadyTrusted(
                f"issuer {source.issuer!r} is already trusted", details={"issuer": source.issuer}
            )
        self._issuers[source.issuer] = source

    def distrust(self, issuer: str) -> bool:
        """Stop trusting ``issuer``; True if it was trusted. Its cached tokens stop verifying."""
        return self._issuers.pop(issuer, None) is not None

    def verify(
        self,
        token: str,
        *,
        expected_owner: str,
        now: datetime,
        is_revoked: Callable[[str], bool],
    ) -> VerifiedPassport:
        """Verify ``token`` as a passport of ``expected_owner`` at ``now``.

        1. Parse the compact JWT strictly (PASSPORT_MALFORMED).
        2. Require header alg ``Ed25519`` (else PASSPORT_SIGNATURE_INVALID), typ and kid.
        3. Select the key by ``iss`` then ``kid`` (PASSPORT_ISSUER_UNTRUSTED).
        4. Check the signature with joserfc (PASSPORT_SIGNATURE_INVALID).
        5. Validate the claims (PASSPORT_MALFORMED).
        6. Check ``nbf``/``exp`` with leeway (PASSPORT_NOT_YET_VALID, PASSPORT_EXPIRED).
        7. Check ``sub`` is ``expected_owner`` (PASSPORT_OWNER_MISMATCH).
        8. Ask ``is_revoked(jti)`` (PASSPORT_REVOKED).

        Steps 1-5 are skipped for a cached token whose key is still trusted; 6-8 always run.
        """
        now_ts = _timestamp(now)
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
            raise _malformed("token must be a string of 1 to 8192 characters")
        if not token.isascii():
            raise _malformed("token must be ASCII")
        digest = hashlib.sha256(token.encode()).digest()
        entry = self._cache.get(digest)
        if entry is None or not self._still_trusted(entry):
            entry = self._verify_signed(token)
            self._remember(digest, entry)
        self._check_live(entry, now_ts, expected_owner, is_revoked)
        return entry.passport

    # --- steps 1-5 ----------------------------------------------------------------------------

    def _verify_signed(self, token: str) -> _Verified:
        header, claims = _split(token)
        alg = header.get("alg")
        if alg != ALGORITHM:
            raise PassportSignatureInvalid(
                f"passports are signed with alg Ed25519, not {_clip(alg)!r}",
                details={"reason": "algorithm_not_allowed", "alg": _clip(alg)},
            )
        kid = header.get("kid")
        if set(header) - _HEADER_MEMBERS or header.get("typ") != TOKEN_TYPE:
            raise _malformed(f"header must be exactly alg, kid and typ {TOKEN_TYPE!r}")
        if not isinstance(kid, str) or not kid:
            raise _malformed("header kid is required")
        iss = claims.get("iss")
        if not isinstance(iss, str):
            raise _malformed("claim iss is required")
        source, key = self._key_for(iss, kid)
        try:
            deserialize_compact(token, key, registry=_REGISTRY)
        except BadSignatureError:
            raise PassportSignatureInvalid(
                "passport signature does not verify", details={"reason": "signature_mismatch"}
            ) from None
        except (JoseError, ValueError) as exc:
            raise _malformed(f"not a valid JWS: {exc}") from exc
        return self._parse_claims(claims, source, key, kid)

    def _key_for(self, iss: str, kid: str) -> tuple[IssuerKeySource, OKPKey]:
        source = self._issuers.get(iss)
        if source is None:
            raise PassportIssuerUntrusted(
                f"issuer {_clip(iss)!r} is not trusted",
                details={"reason": "unknown_issuer", "issuer": _clip(iss), "kid": _clip(kid)},
            )
        key = source.verification_key(kid)
        if key is None and self._may_refresh(iss) and source.refresh():
            key = source.verification_key(kid)
        if key is None:
            raise PassportIssuerUntrusted(
                f"issuer {_clip(iss)!r} has no trusted key {_clip(kid)!r}",
                details={"reason": "unknown_key", "issuer": _clip(iss), "kid": _clip(kid)},
            )
        return source, key

    def _may_refresh(self, iss: str) -> bool:
        # At most one reload per interval per issuer, so random kids cannot force file I/O.
        now = time.monotonic()
        if now - self._refreshed_at.get(iss, float("-inf")) < self._refresh_interval:
            return False
        self._refreshed_at[iss] = now
        return True

    def _parse_claims(
        self, claims: dict[str, Any], source: IssuerKeySource, key: OKPKey, kid: str
    ) -> _Verified:
        sub, jti = claims.get("sub"), claims.get("jti")
        iat, exp = claims.get("iat"), claims.get("exp")
        nbf = claims.get("nbf", iat)
        if not (isinstance(sub, str) and sub and isinstance(jti, str) and 0 < len(jti) <= 128):
            raise _malformed("claims sub and jti are required strings")
        if not (_is_number(iat) and _is_number(exp) and _is_number(nbf)):
            raise _malformed("claims iat, exp (and nbf if present) must be NumericDates")
        if not iat < exp or exp - iat > self._max_lifetime:
            raise _malformed("lifetime exp - iat must be positive and within the maximum")
        identity: dict[str, IdentityClaim] = {}
        for name in IDENTITY_CLAIMS:
            if name in claims:
                try:
                    identity[name] = IdentityClaim.from_json(claims[name])
                except ValueError as exc:
                    raise _malformed(f"claim {name}: {exc}") from None
        try:
            passport = VerifiedPassport(
                passport_id=jti,
                owner=sub,
                issuer=source.issuer,
                kid=kid,
                issued_at=_datetime(iat),
                not_before=_datetime(nbf),
                expires_at=_datetime(exp),
                claims=MappingProxyType(identity),
            )
        except (OverflowError, OSError, ValueError):
            raise _malformed("a NumericDate is out of range") from None
        return _Verified(passport, source, key, float(nbf), float(exp))

    # --- steps 6-8 and the cache --------------------------------------------------------------

    def _check_live(
        self,
        entry: _Verified,
        now_ts: float,
        expected_owner: str,
        is_revoked: Callable[[str], bool],
    ) -> None:
        passport = entry.passport
        ref = {"passport_id": passport.passport_id}
        if now_ts + self._leeway < entry.not_before:
            raise PassportNotYetValid(
                "passport is not valid yet",
                details={**ref, "not_before": passport.not_before.isoformat()},
            )
        if now_ts - self._leeway >= entry.expires:
            raise PassportExpired(
                "passport has expired",
                details={**ref, "expired_at": passport.expires_at.isoformat()},
            )
        if passport.owner != expected_owner:
            raise PassportOwnerMismatch("passport belongs to another operator", details=ref)
        if is_revoked(passport.passport_id):
            raise PassportRevoked("passport has been revoked", details=ref)

    def _still_trusted(self, entry: _Verified) -> bool:
        source = self._issuers.get(entry.passport.issuer)
        return source is entry.source and source.verification_key(entry.passport.kid) is entry.key

    def _remember(self, digest: bytes, entry: _Verified) -> None:
        if self._cache_size <= 0:
            return
        with self._cache_lock:
            if len(self._cache) >= self._cache_size:
                # Evict the oldest insertion; dicts keep insertion order.
                self._cache.pop(next(iter(self._cache)), None)
            self._cache[digest] = entry


# --- helpers ----------------------------------------------------------------------------------


def _normalise_claims(
    claims: Mapping[str, Assurance | str | IdentityClaim],
) -> dict[str, IdentityClaim]:
    normalised: dict[str, IdentityClaim] = {}
    for name, value in claims.items():
        if name not in IDENTITY_CLAIMS:
            raise PassportClaimInvalid(
                f"unknown identity claim {str(name)[:50]!r}",
                details={"claim": str(name)[:50], "allowed": list(IDENTITY_CLAIMS)},
            )
        try:
            claim = value if isinstance(value, IdentityClaim) else IdentityClaim(Assurance(value))
        except ValueError:
            raise PassportClaimInvalid(
                f"claim {name}: unknown assurance {str(value)[:50]!r}",
                details={"claim": name, "assurance": str(value)[:50], "allowed": list(Assurance)},
            ) from None
        normalised[name] = claim
    return normalised


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = token.split(".")
    if len(parts) != 3:
        raise _malformed("a passport is a compact JWS: header.payload.signature")
    header, payload, signature = parts
    # One passport, one token string: the signature must be 64 bytes in canonical base64url.
    if len(signature) != 86:
        raise _malformed("signature is not 64 bytes of base64url")
    _b64_decode(signature, "signature")
    return _b64_json(header, "header"), _b64_json(payload, "payload")


def _b64_decode(segment: str, what: str) -> bytes:
    # Strict base64url without padding (RFC 7515 §2), in its canonical form only.
    if not _B64URL.fullmatch(segment):
        raise _malformed(f"{what} is not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error:
        raise _malformed(f"{what} is not base64url") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment.encode():
        raise _malformed(f"{what} is not canonical base64url")
    return raw


def _b64_json(segment: str, what: str) -> dict[str, Any]:
    raw = _b64_decode(segment, what)
    try:
        value = json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except ValueError:  # includes UnicodeDecodeError and duplicate member names
        raise _malformed(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise _malformed(f"{what} is not a JSON object")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate member name")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _malformed(message: str) -> PassportMalformed:
    return PassportMalformed(f"malformed passport: {message}", details={"reason": message})


def _clip(value: Any) -> str:
    return str(value)[:200]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(now: datetime) -> float:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.timestamp()


def _datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
