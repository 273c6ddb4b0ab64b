"""Passports, trust checks and issuers over HTTP on both stores."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey

from tests.conftest import auth
from tests.integration.test_api import assert_error


@pytest.fixture
def admin(operator_factory):
    return operator_factory("root", is_admin=True)[1]


@pytest.fixture
def alice(operator_factory):
    return operator_factory("alice")


@pytest.fixture
def bob(operator_factory):
    return operator_factory("bob")


def issue(api, admin_key, operator_id, **claims):
    response = api.post(
        "/v1/admin/passports",
        json={"operator_id": operator_id, "claims": claims},
        headers=auth(admin_key),
    )
    assert response.status_code == 201, response.text
    return response.json()


def check(api, key, passport_id, **target):
    return api.post(
        "/v1/trust/check", json={"passport_id": passport_id, **target}, headers=auth(key)
    )


class TestTrustCheck:
    @pytest.mark.parametrize(
        ("claims", "level", "allowed", "missing"),
        [
            ({}, "L0", True, None),
            ({}, "L1", False, "verified_human"),
            ({"verified_human": "low"}, "L1", False, "verified_human"),
            ({"verified_human": "substantial"}, "L1", True, None),
            ({"verified_human": "high"}, "L2", False, "verified_identity"),
            ({"verified_identity": "substantial"}, "L2", False, "verified_identity"),
            ({"verified_identity": "high"}, "L2", True, None),
        ],
    )
    def test_levels_match_the_seed(self, api, admin, alice, claims, level, allowed, missing):
        operator, key = alice
        passport = issue(api, admin, operator.id, **claims)
        answer = check(api, key, passport["passport_id"], trust_level=level)
        assert answer.status_code == 200
        body = answer.json()
        assert (body["allowed"], body["missing_claim"]) == (allowed, missing)
        if not allowed:
            assert body["required_assurance"] in {"substantial", "high"}

    def test_check_against_a_skill_uses_its_level(self, api, admin, alice, manifest_factory):
        operator, key = alice
        skill = api.post(
            "/v1/skills", json=manifest_factory(trust_level_required="L2"), headers=auth(key)
        ).json()["skill"]
        passport = issue(api, admin, operator.id, verified_human="high")
        body = check(api, key, passport["passport_id"], skill_id=skill["id"]).json()
        assert body == {
            "passport_id": passport["passport_id"],
            "allowed": False,
            "required_level": "L2",
            "missing_claim": "verified_identity",
            "required_assurance": "high",
            "held_assurance": None,
        }

    def test_check_fails_revoked_passport(self, api, admin, alice):
        operator, key = alice
        passport = issue(api, admin, operator.id)
        revoked = api.post(
            f"/v1/admin/passports/{passport['passport_id']}/revoke",
            json={"reason": "agent leaked"},
            headers=auth(admin),
        )
        assert revoked.json()["revoked_at"] is not None
        assert_error(
            check(api, key, passport["passport_id"], trust_level="L0"), 401, "PASSPORT_REVOKED"
        )

    def test_check_fails_someone_elses_passport(self, api, admin, alice, bob):
        passport = issue(api, admin, alice[0].id)
        assert_error(
            check(api, bob[1], passport["passport_id"], trust_level="L0"),
            403,
            "PASSPORT_OWNER_MISMATCH",
        )

    def test_check_fails_unknown_passport(self, api, alice):
        assert_error(
            check(api, alice[1], "pp_nothing", trust_level="L0"), 404, "PASSPORT_NOT_FOUND"
        )

    def test_check_fails_without_exactly_one_target(self, api, alice):
        assert_error(check(api, alice[1], "pp_x"), 422, "VALIDATION_ERROR")


class TestRegisterExternal:
    @pytest.fixture
    def idp(self, api, admin):
        key = OKPKey.generate_key("Ed25519", parameters={"kid": "idp-1"})
        public = {**key.as_dict(private=False), "kid": "idp-1"}
        response = api.post(
            "/v1/admin/issuers",
            json={"issuer": "https://idp.example", "jwks": {"keys": [public]}},
            headers=auth(admin),
        )
        assert response.status_code == 201
        return key

    def token(self, key, operator_id, *, iss="https://idp.example", lifetime=3600, **claims):
        now = int(datetime.now(UTC).timestamp())
        payload = {
            "iss": iss,
            "sub": operator_id,
            "jti": "pp_external0000000001",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            **claims,
        }
        header = {"alg": "Ed25519", "kid": "idp-1", "typ": "passport+jwt"}
        return jwt.encode(header, payload, key, algorithms=["Ed25519"])

    def test_registered_external_passport_is_usable(self, api, alice, idp):
        operator, key = alice
        token = self.token(idp, operator.id, verified_identity={"assurance": "high"})
        made = api.post("/v1/passports", json={"token": token}, headers=auth(key))
        assert made.status_code == 201
        body = check(api, key, made.json()["id"], trust_level="L2").json()
        assert body["allowed"] is True

    @pytest.mark.parametrize(
        ("mutate", "code", "status"),
        [
            ("tamper_payload", "PASSPORT_SIGNATURE_INVALID", 401),
            ("wrong_issuer", "PASSPORT_ISSUER_UNTRUSTED", 401),
            ("wrong_owner", "PASSPORT_OWNER_MISMATCH", 403),
            ("expired", "PASSPORT_EXPIRED", 401),
            ("garbage", "PASSPORT_MALFORMED", 401),
        ],
    )
    def test_register_fails_bad_passport(self, api, alice, bob, idp, mutate, code, status):
        operator, key = alice
        token = self.token(idp, operator.id)
        if mutate == "tamper_payload":
            head, payload, sig = token.split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
            claims["verified_identity"] = {"assurance": "high"}
            forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            token = f"{head}.{forged}.{sig}"
        elif mutate == "wrong_issuer":
            token = self.token(idp, operator.id, iss="https://evil.example")
        elif mutate == "wrong_owner":
            token = self.token(idp, bob[0].id)
        elif mutate == "expired":
            now = datetime.now(UTC) - timedelta(days=2)
            header = {"alg": "Ed25519", "kid": "idp-1", "typ": "passport+jwt"}
            payload = {
                "iss": "https://idp.example",
                "sub": operator.id,
                "jti": "pp_old",
                "iat": int(now.timestamp()),
                "exp": int(now.timestamp()) + 3600,
            }
            token = jwt.encode(header, payload, idp, algorithms=["Ed25519"])
        else:
            token = "not.a.passport"
        assert_error(
            api.post("/v1/passports", json={"token": token}, headers=auth(key)), status, code
        )
        assert api.get("/v1/passports", headers=auth(key)).json() == []

    def test_distrusted_issuer_stops_verifying(self, api, admin, alice, idp):
        operator, key = alice
        made = api.post(
            "/v1/passports", json={"token": self.token(idp, operator.id)}, headers=auth(key)
        ).json()
        response = api.delete(
            "/v1/admin/issuers", params={"issuer": "https://idp.example"}, headers=auth(admin)
        )
        assert response.status_code == 204
        assert_error(
            check(api, key, made["id"], trust_level="L0"), 401, "PASSPORT_ISSUER_UNTRUSTED"
        )


def test_jwks_is_public_and_verifies_issued_passports(api, admin, alice):
    passport = issue(api, admin, alice[0].id, verified_human="substantial")
    keys = api.get("/.well-known/jwks.json").json()["keys"]
    header = json.loads(base64.urlsafe_b64decode(passport["token"].split(".")[0] + "=="))
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    decoded = jwt.decode(passport["token"], OKPKey.import_key(jwk), algorithms=["Ed25519"])
    assert decoded.claims["sub"] == alice[0].id
    assert decoded.claims["verified_human"] == {"assurance": "substantial"}
