"""Passports: issuance format, and every way verification must fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import OKPKey

from skillmarket.identity.errors import (
    IssuerAlreadyTrusted,
    PassportClaimInvalid,
    PassportError,
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
from skillmarket.identity.issuer_keys import DEFAULT_VERIFY_GRACE, IssuerKeyring, JwksIssuer
from skillmarket.identity.passports import (
    DEFAULT_TTL,
    MAX_TTL,
    IdentityClaim,
    PassportIssuer,
    PassportVerifier,
)
from skillmarket.identity.trust import Assurance, check_trust

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)
OWNER = "op_aaaaaaaaaaaaaaaaaaaa"
NOBODY_REVOKED = frozenset[str]().__contains__


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    return tuple(json.loads(base64.urlsafe_b64decode(s + "==")) for s in (header, payload))


def forge(header, claims, sign=None, *, raw=False) -> str:
    """A compact JWS with any header and payload, signed by ``sign(signing_input)``."""
    h, p = (s if raw else b64(json.dumps(s).encode()) for s in (header, claims))
    signature = sign(f"{h}.{p}".encode()) if sign else b""
    return f"{h}.{p}.{b64(signature)}"


def ed25519_signer(key: OKPKey):
    return key.get_op_key("sign").sign


def signer_of(keyring: IssuerKeyring):
    return ed25519_signer(keyring.signing_key()[1])


@pytest.fixture
def keyring(tmp_path):
    return IssuerKeyring.load_or_create(tmp_path / "data", issuer="https://market.test", now=T0)


@pytest.fixture
def issuer(keyring):
    return PassportIssuer(keyring)


@pytest.fixture
def verifier(keyring):
    return PassportVerifier([keyring])


@pytest.fixture
def passport(issuer):
    return issuer.issue(OWNER, {"verified_human": "substantial"}, now=T0)


@pytest.fixture
def good_claims(passport):
    """The claims and header of a valid passport, to re-sign with changes."""
    return segments(passport.token)


def verify(verifier, token, *, owner=OWNER, now=LATER, is_revoked=NOBODY_REVOKED):
    return verifier.verify(token, expected_owner=owner, now=now, is_revoked=is_revoked)


class TestPassportIssuer:
    def test_issue_produces_the_documented_format(self, keyring, passport):
        header, claims = segments(passport.token)
        assert header == {"alg": "Ed25519", "kid": keyring.active_kid, "typ": "passport+jwt"}
        iat = int(T0.timestamp())
        assert claims == {
            "iss": "https://market.test",
            "sub": OWNER,
            "jti": passport.passport_id,
            "iat": iat,
            "nbf": iat,
            "exp": iat + int(DEFAULT_TTL.total_seconds()),
            "verified_human": {"assurance": "substantial"},
        }
        assert passport.passport_id.startswith("pp_")
        assert (passport.issued_at, passport.expires_at) == (T0, T0 + DEFAULT_TTL)
        assert passport.claims["verified_human"].assurance is Assurance.SUBSTANTIAL

    def test_issue_with_claim_details_and_ttl(self, issuer):
        claim = IdentityClaim(Assurance.HIGH, method="passport-nfc", verified_at=1_700_000_000)
        issued = issuer.issue(
            OWNER,
            {"verified_identity": claim, "verified_human": Assurance.HIGH},
            now=T0,
            ttl=timedelta(minutes=15),
            passport_id="pp_bbbbbbbbbbbbbbbbbbbb",
        )
        _, claims = segments(issued.token)
        assert claims["verified_identity"] == {
            "assurance": "high",
            "method": "passport-nfc",
            "verified_at": 1_700_000_000,
        }
        assert claims["exp"] - claims["iat"] == 900
        assert claims["jti"] == "pp_bbbbbbbbbbbbbbbbbbbb"

    def test_issue_fails_unknown_claim(self, issuer):
        with pytest.raises(PassportClaimInvalid) as info:
            issuer.issue(OWNER, {"verified_robot": "high"}, now=T0)
        assert (info.value.code, info.value.status) == ("PASSPORT_CLAIM_INVALID", 422)

    def test_issue_fails_unknown_assurance(self, issuer):
        with pytest.raises(PassportClaimInvalid) as info:
            issuer.issue(OWNER, {"verified_human": "medium"}, now=T0)
        assert info.value.details["allowed"] == ["low", "substantial", "high"]

    @pytest.mark.parametrize("owner", ["", "alice", "pp_aaaa", "op_" + "a" * 70])
    def test_issue_fails_owner_not_operator_id(self, issuer, owner):
        with pytest.raises(PassportOwnerInvalid):
            issuer.issue(owner, {}, now=T0)

    @pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5), MAX_TTL * 2])
    def test_issue_fails_ttl_out_of_range(self, issuer, ttl):
        with pytest.raises(PassportTtlInvalid) as info:
            issuer.issue(OWNER, {}, now=T0, ttl=ttl)
        assert info.value.code == "PASSPORT_TTL_INVALID"

    def test_issue_fails_passport_id_without_prefix(self, issuer):
        with pytest.raises(ValueError):
            issuer.issue(OWNER, {}, now=T0, passport_id="op_wrongkind")

    def test_issue_uses_a_key_rotated_by_another_process(self, keyring, issuer):
        new = IssuerKeyring.load_or_create(keyring.directory).rotate(now=T0)
        header, _ = segments(issuer.issue(OWNER, {}, now=T0).token)
        assert header["kid"] == new.kid

    def test_rotated_key_grace_covers_the_longest_passport(self):
        assert DEFAULT_VERIFY_GRACE >= MAX_TTL


class TestPassportVerifier:
    def test_verify_returns_the_passport(self, verifier, passport, keyring):
        checked = verify(verifier, passport.token)
        assert checked.passport_id == passport.passport_id
        assert (checked.owner, checked.issuer, checked.kid) == (
            OWNER,
            "https://market.test",
            keyring.active_kid,
        )
        assert (checked.issued_at, checked.not_before, checked.expires_at) == (
            T0,
            T0,
            T0 + DEFAULT_TTL,
        )
        assert checked.assurances == {"verified_human": Assurance.SUBSTANTIAL}
        assert check_trust(checked.assurances, "L1").allowed

    def test_verify_fails_expired(self, verifier, passport):
        verify(verifier, passport.token, now=passport.expires_at + timedelta(seconds=29))
        with pytest.raises(PassportExpired) as info:
            verify(verifier, passport.token, now=passport.expires_at + timedelta(seconds=30))
        assert (info.value.code, info.value.status) == ("PASSPORT_EXPIRED", 401)
        assert info.value.details["passport_id"] == passport.passport_id

    def test_verify_fails_not_yet_valid(self, verifier, passport):
        verify(verifier, passport.token, now=T0 - timedelta(seconds=30))
        with pytest.raises(PassportNotYetValid) as info:
            verify(verifier, passport.token, now=T0 - timedelta(seconds=31))
        assert info.value.code == "PASSPORT_NOT_YET_VALID"

    def test_verify_fails_wrong_owner(self, verifier, passport):
        with pytest.raises(PassportOwnerMismatch) as info:
            verify(verifier, passport.token, owner="op_someoneelse000000000")
        assert (info.value.code, info.value.status) == ("PASSPORT_OWNER_MISMATCH", 403)

    def test_verify_fails_revoked(self, verifier, passport):
        asked = []

        def is_revoked(passport_id: str) -> bool:
            asked.append(passport_id)
            return True

        with pytest.raises(PassportRevoked) as info:
            verify(verifier, passport.token, is_revoked=is_revoked)
        assert info.value.code == "PASSPORT_REVOKED"
        assert asked == [passport.passport_id]

    def test_verify_fails_tampered_payload(self, verifier, passport, good_claims, keyring):
        header, claims = good_claims
        upgraded = {**claims, "verified_identity": {"assurance": "high"}}
        h, _, s = passport.token.split(".")
        token = f"{h}.{b64(json.dumps(upgraded).encode())}.{s}"
        with pytest.raises(PassportSignatureInvalid) as info:
            verify(verifier, token)
        assert info.value.details["reason"] == "signature_mismatch"

    def test_verify_fails_tampered_signature(self, verifier, passport):
        h, p, s = passport.token.split(".")
        sig = bytearray(base64.urlsafe_b64decode(s + "=="))
        sig[10] ^= 0x01
        with pytest.raises(PassportSignatureInvalid):
            verify(verifier, f"{h}.{p}.{b64(bytes(sig))}")

    def test_verify_fails_tampered_header(self, verifier, passport, good_claims):
        header, _ = good_claims
        reordered = b64(json.dumps(dict(reversed(header.items()))).encode())
        _, p, s = passport.token.split(".")
        with pytest.raises(PassportSignatureInvalid):
            verify(verifier, f"{reordered}.{p}.{s}")

    def test_verify_fails_signed_by_untrusted_issuer(self, verifier, tmp_path):
        stranger = IssuerKeyring.load_or_create(tmp_path / "other", issuer="https://evil.test")
        token = PassportIssuer(stranger).issue(OWNER, {}, now=T0).token
        with pytest.raises(PassportIssuerUntrusted) as info:
            verify(verifier, token)
        assert (info.value.code, info.value.status) == ("PASSPORT_ISSUER_UNTRUSTED", 401)
        assert info.value.details["reason"] == "unknown_issuer"

    def test_verify_fails_forged_iss_and_kid(self, verifier, good_claims):
        header, claims = good_claims  # our iss and kid, someone else's key
        token = forge(header, claims, ed25519_signer(OKPKey.generate_key("Ed25519")))
        with pytest.raises(PassportSignatureInvalid):
            verify(verifier, token)

    def test_verify_fails_unknown_kid(self, verifier, good_claims, keyring):
        header, claims = good_claims
        token = forge({**header, "kid": "unknown"}, claims, signer_of(keyring))
        with pytest.raises(PassportIssuerUntrusted) as info:
            verify(verifier, token)
        assert info.value.details == {
            "reason": "unknown_key",
            "issuer": "https://market.test",
            "kid": "unknown",
        }

    @pytest.mark.parametrize("alg", ["none", "None", "NONE", "", None, "EdDSA", "ES256", "RS256"])
    def test_verify_fails_algorithm_not_ed25519(self, verifier, good_claims, keyring, alg):
        header, claims = good_claims
        sign = None if alg in ("none", "None", "NONE") else signer_of(keyring)
        token = forge({**header, "alg": alg}, claims, sign)
        with pytest.raises(PassportError) as info:
            verify(verifier, token)
        # An empty signature cannot even be a candidate; a 64-byte one is refused for its alg.
        if sign is None:
            assert isinstance(info.value, PassportMalformed)
        else:
            assert isinstance(info.value, PassportSignatureInvalid)
            assert info.value.details["reason"] == "algorithm_not_allowed"

    def test_verify_fails_alg_none_with_a_signature_shaped_tail(self, verifier, good_claims):
        header, claims = good_claims
        token = forge({**header, "alg": "none"}, claims, lambda _: b"\0" * 64)
        with pytest.raises(PassportSignatureInvalid) as info:
            verify(verifier, token)
        assert info.value.details["reason"] == "algorithm_not_allowed"

    @pytest.mark.parametrize("secret_from", ["raw", "x", "jwk-json"])
    def test_verify_fails_hs256_with_public_key_as_secret(
        self, verifier, good_claims, keyring, secret_from
    ):
        header, claims = good_claims
        public = keyring.jwks()["keys"][0]
        secret = {
            "raw": base64.urlsafe_b64decode(public["x"] + "="),
            "x": public["x"].encode(),
            "jwk-json": json.dumps(public).encode(),
        }[secret_from]

        def hs256(data: bytes) -> bytes:
            return hmac.new(secret, data, hashlib.sha256).digest() * 2  # pad to 64 bytes

        def hs256_plain(data: bytes) -> bytes:
            return hmac.new(secret, data, hashlib.sha256).digest()

        for sign in (hs256, hs256_plain):
            with pytest.raises(PassportError) as info:
                verify(verifier, forge({**header, "alg": "HS256"}, claims, sign))
            assert isinstance(info.value, PassportSignatureInvalid | PassportMalformed)

    def test_rotated_key_still_verifies(self, verifier, keyring, issuer, passport):
        keyring.rotate(now=T0 + timedelta(minutes=5))
        assert verify(verifier, passport.token).kid != keyring.active_kid
        fresh = issuer.issue(OWNER, {}, now=LATER)
        assert verify(verifier, fresh.token).kid == keyring.active_kid

    def test_verify_fails_retired_key(self, verifier, keyring, passport):
        old = keyring.active_kid
        verify(verifier, passport.token)  # cached now
        keyring.rotate(now=LATER)
        keyring.retire(old, now=LATER)
        with pytest.raises(PassportIssuerUntrusted) as info:
            verify(verifier, passport.token)
        assert info.value.details["reason"] == "unknown_key"

    def test_verify_picks_up_a_rotation_by_another_process(self, keyring, verifier):
        other = IssuerKeyring.load_or_create(keyring.directory)
        other.rotate(now=T0)
        token = PassportIssuer(other).issue(OWNER, {}, now=T0).token
        assert verify(verifier, token).kid == other.active_kid

    def test_unknown_kids_reload_the_keyring_at_most_once_per_interval(self, keyring):
        verifier = PassportVerifier([keyring], refresh_interval=3600)
        header, claims = segments(PassportIssuer(keyring).issue(OWNER, {}, now=T0).token)
        bogus = forge({**header, "kid": "bogus"}, claims, lambda _: b"\0" * 64)
        with pytest.raises(PassportIssuerUntrusted):
            verify(verifier, bogus)  # this miss spends the reload
        other = IssuerKeyring.load_or_create(keyring.directory)
        other.rotate(now=T0)
        token = PassportIssuer(other).issue(OWNER, {}, now=T0).token
        with pytest.raises(PassportIssuerUntrusted):
            verify(verifier, token)

    def test_verify_fails_naive_now(self, verifier, passport):
        with pytest.raises(ValueError):
            verify(verifier, passport.token, now=datetime(2026, 1, 1))


class TestVerifierCache:
    @pytest.mark.parametrize("cache_size", [0, 10])
    def test_every_call_checks_lifetime_owner_and_revocation(self, keyring, passport, cache_size):
        verifier = PassportVerifier([keyring], cache_size=cache_size)
        verify(verifier, passport.token)
        with pytest.raises(PassportRevoked):
            verify(verifier, passport.token, is_revoked={passport.passport_id}.__contains__)
        with pytest.raises(PassportOwnerMismatch):
            verify(verifier, passport.token, owner="op_other")
        with pytest.raises(PassportExpired):
            verify(verifier, passport.token, now=passport.expires_at + timedelta(minutes=1))
        assert verify(verifier, passport.token).passport_id == passport.passport_id

    def test_distrusted_issuer_stops_cached_tokens(self, verifier, keyring, passport):
        verify(verifier, passport.token)
        assert verifier.distrust(keyring.issuer) is True
        with pytest.raises(PassportIssuerUntrusted):
            verify(verifier, passport.token)
        assert verifier.distrust(keyring.issuer) is False

    def test_cache_is_bounded(self, keyring, issuer):
        verifier = PassportVerifier([keyring], cache_size=2)
        for _ in range(5):
            verify(verifier, issuer.issue(OWNER, {}, now=T0).token)
        assert len(verifier._cache) == 2


def _external():
    key = OKPKey.generate_key("Ed25519")
    jwk = {**key.as_dict(private=False), "kid": "ext-2026"}
    return key, JwksIssuer("https://idp.test", {"keys": [jwk]})


def _external_token(key, kid="ext-2026", **overrides):
    iat = int(T0.timestamp())
    claims = {"iss": "https://idp.test", "sub": OWNER, "jti": "ext-123", "iat": iat}
    claims |= {"exp": iat + 3600, "verified_identity": {"assurance": "high"}, **overrides}
    header = {"alg": "Ed25519", "kid": kid, "typ": "passport+jwt"}
    return forge(header, claims, ed25519_signer(key))


class TestExternalIssuers:
    def test_verify_external_passport(self, keyring):
        key, external = _external()
        verifier = PassportVerifier([keyring, external])
        checked = verify(verifier, _external_token(key))
        assert (checked.issuer, checked.passport_id) == ("https://idp.test", "ext-123")
        assert checked.not_before == checked.issued_at  # nbf defaults to iat
        assert check_trust(checked.assurances, "L2").allowed
        assert verifier.issuers == ("https://market.test", "https://idp.test")

    def test_verify_fails_external_key_claiming_our_issuer(self, keyring, verifier):
        key, external = _external()
        verifier.trust(external)
        with pytest.raises(PassportIssuerUntrusted):
            verify(verifier, _external_token(key, iss=keyring.issuer))

    def test_verify_fails_external_lifetime_over_maximum(self, keyring):
        key, external = _external()
        verifier = PassportVerifier([external])
        iat = int(T0.timestamp())
        too_long = _external_token(key, exp=iat + int(MAX_TTL.total_seconds()) + 1)
        with pytest.raises(PassportMalformed):
            verify(verifier, too_long)

    def test_trust_fails_issuer_already_trusted(self, keyring):
        _, external = _external()
        verifier = PassportVerifier([keyring, external])
        with pytest.raises(IssuerAlreadyTrusted) as info:
            verifier.trust(external)
        assert (info.value.code, info.value.status) == ("ISSUER_ALREADY_TRUSTED", 409)
        verifier.trust(external, replace=True)


def _with(claims, **changes):
    merged = {**claims, **changes}
    return {k: v for k, v in merged.items() if v is not _DROP}


_DROP = object()


@pytest.mark.parametrize(
    "change",
    [
        {"iss": _DROP},
        {"iss": 7},
        {"sub": _DROP},
        {"sub": ""},
        {"jti": _DROP},
        {"jti": "x" * 129},
        {"iat": _DROP},
        {"exp": _DROP},
        {"exp": "2027-01-01"},
        {"exp": True},
        {"nbf": None},
        {"exp": 0},
        {"iat": 1e20, "nbf": 1e20, "exp": 1e20 + 60},
        {"verified_human": "substantial"},
        {"verified_human": {"assurance": "medium"}},
        {"verified_human": {}},
        {"verified_identity": {"assurance": "high", "method": 5}},
        {"verified_identity": {"assurance": "high", "verified_at": "yesterday"}},
    ],
    ids=lambda change: ",".join(f"{k}={v!r}"[:30] for k, v in change.items()),
)
def test_verify_fails_malformed_claims(verifier, keyring, good_claims, change):
    header, claims = good_claims
    token = forge(header, _with(claims, **change), signer_of(keyring))
    with pytest.raises(PassportMalformed) as info:
        verify(verifier, token)
    assert (info.value.code, info.value.status) == ("PASSPORT_MALFORMED", 401)


@pytest.mark.parametrize(
    "change",
    [
        {"kid": _DROP},
        {"kid": ""},
        {"kid": 3},
        {"typ": _DROP},
        {"typ": "JWT"},
        {"crit": ["exp"]},
        {"b64": False},
        {"jku": "https://evil.test/jwks.json"},
        {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}},
        {"x5u": "https://evil.test/cert"},
    ],
    ids=lambda change: ",".join(change),
)
def test_verify_fails_malformed_header(verifier, keyring, good_claims, change):
    header, claims = good_claims
    token = forge(_with(header, **change), claims, signer_of(keyring))
    with pytest.raises(PassportMalformed):
        verify(verifier, token)


def _resign(passport_token: str, keyring, header_raw=None, payload_raw=None) -> str:
    h, p, _ = passport_token.split(".")
    h, p = header_raw or h, payload_raw or p
    return forge(h, p, signer_of(keyring), raw=True)


@pytest.mark.parametrize(
    "make",
    [
        lambda token, kr: "",
        lambda token, kr: "not a token",
        lambda token, kr: token.rsplit(".", 1)[0],
        lambda token, kr: token + ".extra",
        lambda token, kr: token + "=",
        lambda token, kr: token[:-1],
        lambda token, kr: "!!!" + token,
        lambda token, kr: token + "A" * 8192,
        lambda token, kr: token.encode(),
        lambda token, kr: token[:10] + "\ud800" + token[11:],
        lambda token, kr: token[:10] + "é" + token[11:],
        lambda token, kr: None,
        lambda token, kr: _resign(token, kr, header_raw=b64(b"not json")),
        lambda token, kr: _resign(token, kr, header_raw=b64(b'["alg", "Ed25519"]')),
        lambda token, kr: _resign(token, kr, payload_raw=b64(b"not json")),
        lambda token, kr: _resign(token, kr, payload_raw=b64(b"[1, 2]")),
        lambda token, kr: _resign(token, kr, payload_raw=b64(b'{"exp": NaN}')),
        lambda token, kr: _resign(token, kr, payload_raw=b64(b"\xff\xfe")),
        lambda token, kr: _resign(token, kr, payload_raw=b64(b'{"sub": "a", "sub": "b"}')),
        lambda token, kr: _resign(token, kr, payload_raw=b64(b"{}") + "="),
    ],
    ids=[
        "empty",
        "words",
        "two-segments",
        "four-segments",
        "padding",
        "short-signature",
        "bad-characters",
        "too-long",
        "bytes",
        "lone-surrogate",
        "non-ascii",
        "none",
        "header-not-json",
        "header-array",
        "payload-not-json",
        "payload-array",
        "payload-nan",
        "payload-not-utf8",
        "payload-duplicate-member",
        "payload-padded",
    ],
)
def test_verify_fails_malformed_token(verifier, keyring, passport, make):
    with pytest.raises(PassportMalformed):
        verify(verifier, make(passport.token, keyring))


def test_verify_fails_non_canonical_signature_encoding(verifier, passport):
    # The last of 86 characters carries 2 unused bits; setting them keeps the signature bytes.
    h, p, s = passport.token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = s[:-1] + alphabet[alphabet.index(s[-1]) | 0b11]
    if twin == s:
        twin = s[:-1] + alphabet[alphabet.index(s[-1]) & ~0b11 | 0b01]
    with pytest.raises(PassportMalformed):
        verify(verifier, f"{h}.{p}.{twin}")


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_one_character_change_is_rejected(verifier, passport, data):
    token = passport.token
    index = data.draw(st.integers(0, len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[index]))
    with pytest.raises(PassportError):
        verify(verifier, token[:index] + replacement + token[index + 1 :])


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(max_size=600))
def test_arbitrary_text_fails_only_with_passport_errors(verifier, token):
    with pytest.raises(PassportError):
        verify(verifier, token)
