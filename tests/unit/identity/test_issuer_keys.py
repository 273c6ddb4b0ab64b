"""The issuer keyring (files, rotation, retirement) and external issuers registered by JWKS."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from joserfc.jwk import OKPKey, RSAKey

from skillmarket.identity.errors import (
    IssuerJwksInvalid,
    IssuerKeyActive,
    IssuerKeyNotFound,
    IssuerKeyringCorrupt,
    IssuerKeyringInsecure,
)
from skillmarket.identity.issuer_keys import (
    DEFAULT_VERIFY_GRACE,
    KEYRING_FILE,
    IssuerKeyring,
    JwksIssuer,
    KeyState,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def keyring(tmp_path):
    return IssuerKeyring.load_or_create(tmp_path / "data", issuer="https://market.test", now=T0)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class TestLoadOrCreate:
    def test_creates_private_files_with_one_active_key(self, keyring):
        path = keyring.directory / KEYRING_FILE
        assert _mode(path) == 0o600
        assert _mode(keyring.directory) == 0o700
        assert _mode(keyring.directory / "issuer_keys.lock") == 0o600
        (info,) = keyring.list_keys()
        assert info.state is KeyState.ACTIVE and info.kid == keyring.active_kid
        assert info.created_at == T0
        assert keyring.issuer == "https://market.test"
        assert keyring.signing_key()[0] == keyring.active_kid
        assert keyring.signing_key()[1].is_private

    def test_loading_again_returns_the_same_keys_and_issuer(self, keyring):
        again = IssuerKeyring.load_or_create(keyring.directory, issuer="ignored")
        assert again.issuer == "https://market.test"
        assert again.active_kid == keyring.active_kid
        assert again.jwks() == keyring.jwks()

    def test_default_issuer_is_a_random_urn(self, tmp_path):
        one = IssuerKeyring.load_or_create(tmp_path / "a")
        two = IssuerKeyring.load_or_create(tmp_path / "b")
        assert one.issuer.startswith("urn:skillmarket:issuer:")
        assert one.issuer != two.issuer

    def test_kid_is_the_rfc7638_thumbprint(self, keyring):
        (jwk,) = keyring.jwks()["keys"]
        public = OKPKey.import_key({k: jwk[k] for k in ("kty", "crv", "x")})
        assert public.thumbprint() == jwk["kid"]

    def test_load_fails_file_readable_by_others(self, keyring):
        os.chmod(keyring.directory / KEYRING_FILE, 0o644)
        with pytest.raises(IssuerKeyringInsecure) as info:
            IssuerKeyring.load_or_create(keyring.directory)
        assert info.value.code == "ISSUER_KEYRING_INSECURE"
        assert info.value.details["mode"] == "0o644"

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda doc: "not json {",
            lambda doc: json.dumps({**doc, "format": "other/1"}),
            lambda doc: json.dumps({**doc, "keys": []}),
            lambda doc: json.dumps({**doc, "keys": [{**doc["keys"][0], "kid": "forged"}]}),
            lambda doc: json.dumps({**doc, "keys": doc["keys"] * 2}),
        ],
        ids=["not-json", "format", "no-active-key", "kid-not-thumbprint", "duplicate"],
    )
    def test_load_fails_corrupt_file(self, keyring, mangle):
        path = keyring.directory / KEYRING_FILE
        path.write_text(mangle(json.loads(path.read_text())))
        with pytest.raises(IssuerKeyringCorrupt) as info:
            IssuerKeyring.load_or_create(keyring.directory)
        assert info.value.code == "ISSUER_KEYRING_CORRUPT"

    def test_create_fails_issuer_with_whitespace(self, tmp_path):
        with pytest.raises(ValueError):
            IssuerKeyring.load_or_create(tmp_path, issuer="my market")

    def test_create_fails_naive_now(self, tmp_path):
        with pytest.raises(ValueError):
            IssuerKeyring.load_or_create(tmp_path, now=datetime(2026, 1, 1))


class TestRotation:
    def test_rotate_makes_a_new_active_key_and_keeps_the_old_one_verifying(self, keyring):
        old_kid = keyring.active_kid
        later = T0 + timedelta(days=3)
        new = keyring.rotate(now=later)
        assert keyring.active_kid == new.kid != old_kid
        old = next(k for k in keyring.list_keys() if k.kid == old_kid)
        assert old.state is KeyState.VERIFYING
        assert (old.deactivated_at, old.verify_until) == (later, later + DEFAULT_VERIFY_GRACE)
        assert keyring.verification_key(old_kid) is not None
        assert [k["kid"] for k in keyring.jwks()["keys"]] == [new.kid, old_kid]

    def test_rotate_erases_the_old_private_key_on_disk(self, keyring):
        old_kid = keyring.active_kid
        keyring.rotate(now=T0)
        document = json.loads((keyring.directory / KEYRING_FILE).read_text())
        by_kid = {item["kid"]: item["jwk"] for item in document["keys"]}
        assert "d" not in by_kid[old_kid]
        assert "d" in by_kid[keyring.active_kid]
        assert _mode(keyring.directory / KEYRING_FILE) == 0o600

    def test_retire_stops_verification_and_publication(self, keyring):
        old_kid = keyring.active_kid
        keyring.rotate(now=T0)
        info = keyring.retire(old_kid, now=T0 + timedelta(hours=1))
        assert info.state is KeyState.RETIRED
        assert keyring.verification_key(old_kid) is None
        assert [k["kid"] for k in keyring.jwks()["keys"]] == [keyring.active_kid]
        reloaded = IssuerKeyring.load_or_create(keyring.directory)
        assert reloaded.verification_key(old_kid) is None

    def test_retire_fails_active_key(self, keyring):
        with pytest.raises(IssuerKeyActive) as info:
            keyring.retire(keyring.active_kid)
        assert (info.value.code, info.value.status) == ("ISSUER_KEY_ACTIVE", 409)

    def test_retire_fails_unknown_kid(self, keyring):
        with pytest.raises(IssuerKeyNotFound) as info:
            keyring.retire("nope")
        assert (info.value.code, info.value.status) == ("ISSUER_KEY_NOT_FOUND", 404)

    def test_prune_retires_keys_past_their_grace(self, keyring):
        first = keyring.active_kid
        keyring.rotate(now=T0, verify_grace=timedelta(days=1))
        assert keyring.prune(now=T0 + timedelta(hours=23)) == []
        assert keyring.prune(now=T0 + timedelta(days=1)) == [first]
        assert keyring.verification_key(first) is None

    def test_refresh_picks_up_a_rotation_by_another_process(self, keyring):
        other = IssuerKeyring.load_or_create(keyring.directory)
        assert keyring.refresh() is False
        new = other.rotate(now=T0)
        assert keyring.verification_key(new.kid) is None
        assert keyring.refresh() is True
        assert keyring.active_kid == new.kid

    def test_rotate_keeps_a_change_made_by_another_process(self, keyring):
        other = IssuerKeyring.load_or_create(keyring.directory)
        first = other.rotate(now=T0)
        second = keyring.rotate(now=T0 + timedelta(seconds=1))  # stale in memory until now
        kids = {k.kid for k in keyring.list_keys()}
        assert {first.kid, second.kid} <= kids and len(kids) == 3
        assert keyring.active_kid == second.kid


def _public_jwk(kid: str = "ext-1") -> dict:
    key = OKPKey.generate_key("Ed25519")
    return {**key.as_dict(private=False), "kid": kid, "alg": "Ed25519", "use": "sig"}


class TestJwksIssuer:
    def test_selects_keys_by_kid(self):
        one, two = _public_jwk("a"), _public_jwk("b")
        issuer = JwksIssuer("https://idp.test", {"keys": [one, two]})
        assert issuer.issuer == "https://idp.test"
        assert issuer.verification_key("b").as_dict()["x"] == two["x"]
        assert issuer.verification_key("c") is None
        assert issuer.refresh() is False
        assert issuer.jwks() == {"keys": [one, two]}

    def test_accepts_keys_without_alg_and_use(self):
        jwk = _public_jwk()
        del jwk["alg"], jwk["use"]
        assert JwksIssuer("https://idp.test", {"keys": [jwk]}).verification_key("ext-1")

    @pytest.mark.parametrize(
        ("jwks", "reason"),
        [
            ({}, None),
            ({"keys": []}, None),
            ({"keys": "x"}, None),
            ({"keys": [_public_jwk() for _ in range(65)]}, None),
            ({"keys": [_public_jwk("a"), _public_jwk("a")]}, "duplicate kid"),
            ({"keys": [{**_public_jwk(), "kid": ""}]}, "kid is required"),
            ({"keys": [{k: v for k, v in _public_jwk().items() if k != "kid"}]}, "kid"),
            ({"keys": [{**_public_jwk(), "alg": "EdDSA"}]}, "alg must be Ed25519"),
            ({"keys": [{**_public_jwk(), "use": "enc"}]}, "use must be sig"),
            ({"keys": [{**_public_jwk(), "crv": "X25519"}]}, "only OKP keys"),
            ({"keys": [{**_public_jwk(), "x": "AAAA"}]}, "bad public key"),
            ({"keys": ["not an object"]}, "not an object"),
        ],
        ids=[
            "no-keys-member",
            "empty",
            "keys-not-list",
            "too-many",
            "duplicate-kid",
            "empty-kid",
            "missing-kid",
            "alg-eddsa",
            "use-enc",
            "x25519",
            "short-x",
            "not-object",
        ],
    )
    def test_register_fails_invalid_jwks(self, jwks, reason):
        with pytest.raises(IssuerJwksInvalid) as info:
            JwksIssuer("https://idp.test", jwks)
        assert (info.value.code, info.value.status) == ("ISSUER_JWKS_INVALID", 422)
        if reason:
            assert reason in info.value.details["reason"]

    def test_register_fails_private_key(self):
        private = {**OKPKey.generate_key("Ed25519").as_dict(private=True), "kid": "k"}
        with pytest.raises(IssuerJwksInvalid, match="private key material"):
            JwksIssuer("https://idp.test", {"keys": [private]})

    def test_register_fails_rsa_key(self):
        rsa = {**RSAKey.generate_key(2048).as_dict(private=False), "kid": "r"}
        with pytest.raises(IssuerJwksInvalid, match="only OKP keys"):
            JwksIssuer("https://idp.test", {"keys": [rsa]})

    def test_register_fails_bad_issuer(self):
        with pytest.raises(IssuerJwksInvalid):
            JwksIssuer("", {"keys": [_public_jwk()]})
