"""The authorization matrix: every endpoint is classified, and no operator reaches another's.

Adding an endpoint without classifying it here fails ``test_every_endpoint_is_classified``.
"""

from __future__ import annotations

import pytest

from tests.conftest import auth
from tests.integration.test_api import assert_error

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/skillmarket-audit-key"),
    ("GET", "/.well-known/skillmarket-sealing-key"),
}
ADMIN = {
    ("GET", "/v1/admin/operators"),
    ("POST", "/v1/admin/operators"),
    ("GET", "/v1/admin/passports"),
    ("POST", "/v1/admin/passports"),
    ("POST", "/v1/admin/passports/{passport_id}/revoke"),
    ("GET", "/v1/admin/issuers"),
    ("POST", "/v1/admin/issuers"),
    ("DELETE", "/v1/admin/issuers"),
    ("POST", "/v1/admin/audit/checkpoint"),
    ("POST", "/v1/admin/deposits"),
    ("POST", "/v1/admin/payouts"),
    ("GET", "/v1/admin/ledger/check"),
}
# Operator endpoints, each with the test below that proves A cannot reach B's data through it.
OPERATOR = {
    ("GET", "/v1/operators/me"): "test_me_is_me",
    ("GET", "/v1/keys"): "test_lists_are_own",
    ("POST", "/v1/keys"): "test_lists_are_own",
    ("DELETE", "/v1/keys/{key_id}"): "test_cannot_touch_anothers_things",
    ("POST", "/v1/skills"): "test_cannot_touch_anothers_things",
    ("GET", "/v1/skills"): "test_sealed_logic_stays_hidden",
    ("GET", "/v1/skills/mine"): "test_lists_are_own",
    ("GET", "/v1/skills/{skill_id}"): "test_sealed_logic_stays_hidden",
    ("POST", "/v1/skills/{skill_id}/deprecate"): "test_cannot_touch_anothers_things",
    ("GET", "/v1/passports"): "test_lists_are_own",
    ("POST", "/v1/passports"): "test_cannot_touch_anothers_things",
    ("GET", "/v1/passports/{passport_id}"): "test_cannot_touch_anothers_things",
    ("POST", "/v1/passports/{passport_id}/revoke"): "test_cannot_touch_anothers_things",
    ("POST", "/v1/trust/check"): "test_cannot_touch_anothers_things",
    ("GET", "/v1/audit/checkpoint"): "test_audit_is_own",
    ("GET", "/v1/audit/events"): "test_audit_is_own",
    ("GET", "/v1/audit/events/{seq}/proof"): "test_audit_is_own",
    ("GET", "/v1/audit/consistency"): "test_audit_is_own",
    ("POST", "/v1/skills/{skill_id}/invoke"): "test_invocations_are_own",
    ("GET", "/v1/skills/invocations/pending"): "test_invocations_are_own",
    ("GET", "/v1/skills/invocations/{invocation_id}"): "test_invocations_are_own",
    ("POST", "/v1/skills/invocations/{invocation_id}/claim"): "test_invocations_are_own",
    ("POST", "/v1/skills/invocations/{invocation_id}/complete"): "test_invocations_are_own",
    ("GET", "/v1/skills/invocations/{invocation_id}/receipt"): "test_invocations_are_own",
    ("GET", "/v1/wallet"): "test_wallet_is_own",
    ("GET", "/v1/wallet/ledger"): "test_wallet_is_own",
    ("GET", "/v1/wallet/statements/{month}"): "test_wallet_is_own",
    ("POST", "/v1/requests"): "test_requests_are_public_but_closed_by_their_poster",
    ("GET", "/v1/requests"): "test_requests_are_public_but_closed_by_their_poster",
    ("GET", "/v1/requests/{request_id}"): "test_requests_are_public_but_closed_by_their_poster",
    ("POST", "/v1/requests/{request_id}/close"): (
        "test_requests_are_public_but_closed_by_their_poster"
    ),
    ("GET", "/v1/requests/{request_id}/matches"): (
        "test_requests_are_public_but_closed_by_their_poster"
    ),
    ("GET", "/v1/requests/{request_id}/compositions"): (
        "test_requests_are_public_but_closed_by_their_poster"
    ),
    ("POST", "/v1/services"): "test_services_are_own",
    ("GET", "/v1/services"): "test_services_are_own",
    ("GET", "/v1/services/{name}"): "test_services_are_own",
    ("DELETE", "/v1/services/{name}"): "test_services_are_own",
    ("POST", "/v1/skills/{skill_id}/rate"): "test_ratings_are_public_but_only_buyers_rate",
    ("GET", "/v1/skills/{skill_id}/ratings"): "test_ratings_are_public_but_only_buyers_rate",
}


def endpoints(api):
    paths = api.get("/openapi.json").json()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


@pytest.fixture
def world(api, operator_factory, manifest_factory, services):
    """Alice with a sealed skill, a passport and keys; Bob with his own; an admin."""
    alice, alice_key = operator_factory("alice")
    bob, bob_key = operator_factory("bob")
    _, admin_key = operator_factory("root", is_admin=True)
    steps = [{"type": "script", "runtime": "javascript", "code": "return 'ALICE SECRET';"}]
    skill = api.post(
        "/v1/skills",
        json=manifest_factory(name="alice-skill", execution_mode="sealed", execution_steps=steps),
        headers=auth(alice_key),
    ).json()["skill"]
    passport = services.passports.issue(alice.id, {"verified_human": "high"})
    return {
        "alice": (alice, alice_key),
        "bob": (bob, bob_key),
        "admin": admin_key,
        "skill": skill,
        "passport": passport.passport_id,
        "alice_key_id": api.get("/v1/keys", headers=auth(alice_key)).json()[0]["id"],
    }


def test_every_endpoint_is_classified(api):
    assert endpoints(api) - {("GET", "/openapi.json")} == PUBLIC | ADMIN | set(OPERATOR)


def test_public_endpoints_need_no_key(api):
    for method, path in PUBLIC:
        assert api.request(method, path).status_code == 200, path


def test_admin_endpoints_refuse_operators(api, world):
    _, bob_key = world["bob"]
    for method, path in ADMIN:
        url = path.replace("{passport_id}", world["passport"])
        if path in {"/v1/admin/deposits", "/v1/admin/payouts"}:  # bodies are checked after auth
            assert_error(
                api.request(method, url, json={}, headers=auth(bob_key)), 403, "ADMIN_REQUIRED"
            )
            continue
        assert_error(api.request(method, url, headers=auth(bob_key)), 403, "ADMIN_REQUIRED")


def test_admins_are_not_operators_by_default(api, world):
    me = api.get("/v1/operators/me", headers=auth(world["admin"])).json()
    assert me["is_admin"] is True
    bob = api.get("/v1/operators/me", headers=auth(world["bob"][1])).json()
    assert bob["is_admin"] is False


def test_me_is_me(api, world):
    for name in ("alice", "bob"):
        operator, key = world[name]
        assert api.get("/v1/operators/me", headers=auth(key)).json()["id"] == operator.id


def test_lists_are_own(api, world):
    _, bob_key = world["bob"]
    api.post("/v1/keys", json={"label": "bob"}, headers=auth(bob_key))
    keys = api.get("/v1/keys", headers=auth(bob_key)).json()
    assert world["alice_key_id"] not in {k["id"] for k in keys}
    assert api.get("/v1/skills/mine", headers=auth(bob_key)).json() == []
    assert api.get("/v1/passports", headers=auth(bob_key)).json() == []


def test_cannot_touch_anothers_things(api, world, manifest_factory):
    _, bob_key = world["bob"]
    pp, skill = world["passport"], world["skill"]
    assert_error(
        api.delete(f"/v1/keys/{world['alice_key_id']}", headers=auth(bob_key)),
        404,
        "API_KEY_NOT_FOUND",
    )
    assert_error(
        api.post(f"/v1/skills/{skill['id']}/deprecate", headers=auth(bob_key)),
        403,
        "NOT_SKILL_PUBLISHER",
    )
    assert_error(
        api.post(
            "/v1/skills",
            json=manifest_factory(name="alice-skill", version="9.9.9"),
            headers=auth(bob_key),
        ),
        409,
        "SKILL_NAME_TAKEN",
    )
    assert_error(api.get(f"/v1/passports/{pp}", headers=auth(bob_key)), 404, "PASSPORT_NOT_FOUND")
    assert_error(
        api.post(f"/v1/passports/{pp}/revoke", headers=auth(bob_key)), 404, "PASSPORT_NOT_FOUND"
    )
    assert_error(
        api.post(
            "/v1/trust/check", json={"passport_id": pp, "trust_level": "L0"}, headers=auth(bob_key)
        ),
        403,
        "PASSPORT_OWNER_MISMATCH",
    )
    token = api.post(
        "/v1/admin/passports",
        json={"operator_id": world["alice"][0].id},
        headers=auth(world["admin"]),
    ).json()["token"]
    assert_error(
        api.post("/v1/passports", json={"token": token}, headers=auth(bob_key)),
        403,
        "PASSPORT_OWNER_MISMATCH",
    )
    # Nothing of Alice's changed.
    alice_key = world["alice"][1]
    assert api.get(f"/v1/passports/{pp}", headers=auth(alice_key)).json()["revoked_at"] is None
    assert (
        api.get(f"/v1/skills/{skill['id']}", headers=auth(alice_key)).json()["deprecated"] is False
    )
    assert api.get("/v1/operators/me", headers=auth(alice_key)).status_code == 200


def test_sealed_logic_stays_hidden(api, world):
    _, bob_key = world["bob"]
    for url in (f"/v1/skills/{world['skill']['id']}", "/v1/skills?search=alice"):
        response = api.get(url, headers=auth(bob_key))
        assert response.status_code == 200 and "ALICE SECRET" not in response.text


def test_audit_is_own(api, world):
    alice, alice_key = world["alice"]
    _, bob_key = world["bob"]
    api.post("/v1/admin/audit/checkpoint", headers=auth(world["admin"]))
    mine = api.get("/v1/audit/events", params={"limit": 1000}, headers=auth(bob_key)).json()
    assert mine and all(e["actor"] != alice.id for e in mine)
    alices = api.get("/v1/audit/events", params={"limit": 1000}, headers=auth(alice_key)).json()
    seq = alices[0]["seq"]
    assert_error(
        api.get(f"/v1/audit/events/{seq}/proof", headers=auth(bob_key)),
        404,
        "AUDIT_EVENT_NOT_FOUND",
    )
    assert api.get(f"/v1/audit/events/{seq}/proof", headers=auth(alice_key)).status_code == 200
    everything = api.get(
        "/v1/audit/events", params={"limit": 1000}, headers=auth(world["admin"])
    ).json()
    assert len(everything) > len(mine) + len(alices) - 1
    checkpoint = api.get("/v1/audit/checkpoint", headers=auth(bob_key)).json()
    assert checkpoint["size"] == len(everything)
    size = checkpoint["size"]
    proof = api.get(
        "/v1/audit/consistency", params={"first": size, "second": size}, headers=auth(bob_key)
    )
    assert proof.status_code == 200 and proof.json()["proof"] == []
    assert_error(
        api.get(
            "/v1/audit/consistency", params={"first": 1, "second": size}, headers=auth(bob_key)
        ),
        422,
        "AUDIT_RANGE_INVALID",
    )  # 1 was never signed


def test_invocations_are_own(api, world, manifest_factory, services):
    alice, alice_key = world["alice"]
    bob, bob_key = world["bob"]
    services.ledger.deposit(alice.id, 1_000_000, provider_ref="alice-1")
    services.ledger.deposit(bob.id, 1_000_000, provider_ref="bob-1")
    bob_passport = services.passports.issue(bob.id, {}).passport_id
    opened = api.post(
        "/v1/skills",
        json=manifest_factory(name="alice-open", execution_mode="open", execution_steps=[]),
        headers=auth(alice_key),
    ).json()["skill"]
    # Bob cannot invoke with Alice's passport.
    assert_error(
        api.post(
            f"/v1/skills/{opened['id']}/invoke",
            json={"input": {"items": []}, "passport_id": world["passport"]},
            headers=auth(bob_key),
        ),
        403,
        "PASSPORT_OWNER_MISMATCH",
    )
    # Alice (as a buyer) invokes her own open skill; Bob can neither see nor touch it.
    mine = api.post(
        f"/v1/skills/{opened['id']}/invoke",
        json={"input": {"items": []}, "passport_id": world["passport"]},
        headers=auth(alice_key),
    ).json()["invocation_id"]
    assert_error(
        api.get(f"/v1/skills/invocations/{mine}", headers=auth(bob_key)),
        404,
        "INVOCATION_NOT_FOUND",
    )
    assert api.get("/v1/skills/invocations/pending", headers=auth(bob_key)).json() == []
    for action in ("claim", "complete"):
        body = {"output": {}} if action == "complete" else {}
        assert_error(
            api.post(f"/v1/skills/invocations/{mine}/{action}", json=body, headers=auth(bob_key)),
            403,
            "NOT_INVOCATION_PUBLISHER",
        )
    # Bob's own invocation of Alice's skill: Alice sees its input as publisher, not its result.
    theirs = api.post(
        f"/v1/skills/{opened['id']}/invoke",
        json={"input": {"items": [1]}, "passport_id": bob_passport},
        headers=auth(bob_key),
    ).json()["invocation_id"]
    pending = api.get("/v1/skills/invocations/pending", headers=auth(alice_key)).json()
    assert {p["invocation_id"] for p in pending} == {mine, theirs}
    assert_error(
        api.get(f"/v1/skills/invocations/{theirs}", headers=auth(alice_key)),
        404,
        "INVOCATION_NOT_FOUND",
    )


def test_wallet_is_own(api, world, services):
    alice, alice_key = world["alice"]
    bob, bob_key = world["bob"]
    services.ledger.deposit(alice.id, 700_000, provider_ref="alice-2")
    assert api.get("/v1/wallet", headers=auth(bob_key)).json()["available_micros"] == 0
    assert api.get("/v1/wallet", headers=auth(alice_key)).json()["available_micros"] == 700_000
    bob_ledger = api.get("/v1/wallet/ledger", headers=auth(bob_key)).json()
    assert "700000" not in str(bob_ledger) and "700_000" not in str(bob_ledger)
    month = services.ledger.wallet(bob.id).allowance.month
    statement = api.get(f"/v1/wallet/statements/{month}", headers=auth(bob_key))
    assert statement.status_code == 200 and alice.id not in statement.text


def test_requests_are_public_but_closed_by_their_poster(api, world):
    alice, alice_key = world["alice"]
    _, bob_key = world["bob"]
    schema = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array"}}}
    request = api.post(
        "/v1/requests",
        json={
            "description": "alice needs this",
            "input_schema": schema,
            "output_schema": {"type": "object"},
            "max_price_cents": 0,
        },
        headers=auth(alice_key),
    ).json()
    assert request["poster_id"] == alice.id
    url = f"/v1/requests/{request['id']}"
    # Public: Bob lists, reads and matches Alice's request (a publisher picking it up) ...
    listed = api.get("/v1/requests", headers=auth(bob_key)).json()["items"]
    assert [r["id"] for r in listed] == [request["id"]]
    assert (
        api.get("/v1/requests", params={"mine": True}, headers=auth(bob_key)).json()["items"] == []
    )
    assert api.get(url, headers=auth(bob_key)).json() == request
    for kind in ("matches", "compositions"):
        response = api.get(f"{url}/{kind}", headers=auth(bob_key))
        assert response.status_code == 200 and "ALICE SECRET" not in response.text
    # ... but only Alice may close it.
    assert_error(api.post(f"{url}/close", headers=auth(bob_key)), 403, "NOT_REQUEST_OWNER")
    assert api.get(url, headers=auth(alice_key)).json()["status"] == "open"
    assert api.post(f"{url}/close", headers=auth(alice_key)).json()["status"] == "closed"


def test_services_are_own(api, world):
    _, alice_key = world["alice"]
    _, bob_key = world["bob"]
    body = {"name": "crm", "domain": "api.example.com", "secret": "ALICE-CREDENTIAL-1"}
    made = api.post("/v1/services", json=body, headers=auth(alice_key))
    assert made.status_code == 201 and "ALICE-CREDENTIAL" not in made.text
    # Bob sees none of Alice's connections and cannot read or remove them by name ...
    assert api.get("/v1/services", headers=auth(bob_key)).json() == []
    for method in ("GET", "DELETE"):
        assert_error(
            api.request(method, "/v1/services/crm", headers=auth(bob_key)),
            404,
            "SERVICE_CONNECTION_NOT_FOUND",
        )
    # ... and connecting the same name makes his own, leaving hers untouched.
    bobs = {**body, "secret": "BOB-CREDENTIAL-22"}
    assert api.post("/v1/services", json=bobs, headers=auth(bob_key)).json()["replaced"] is False
    mine = api.get("/v1/services/crm", headers=auth(alice_key)).json()
    assert mine["id"] == made.json()["service"]["id"]
    assert mine["updated_at"] == made.json()["service"]["updated_at"]


def test_ratings_are_public_but_only_buyers_rate(api, world, manifest_factory, services):
    alice, alice_key = world["alice"]
    bob, bob_key = world["bob"]
    services.ledger.deposit(bob.id, 1_000_000, provider_ref="bob-rates")
    bob_passport = services.passports.issue(bob.id, {}).passport_id
    opened = api.post(
        "/v1/skills",
        json=manifest_factory(name="alice-rated", execution_mode="open", execution_steps=[]),
        headers=auth(alice_key),
    ).json()["skill"]
    bought = api.post(
        f"/v1/skills/{opened['id']}/invoke",
        json={"input": {"items": []}, "passport_id": bob_passport},
        headers=auth(bob_key),
    ).json()["invocation_id"]
    api.post(
        f"/v1/skills/invocations/{bought}/complete",
        json={"output": {}},
        headers=auth(alice_key),
    )
    url = f"/v1/skills/{opened['id']}/rate"
    # Alice (the publisher) cannot rate Bob's invocation of her skill, nor learn it is his.
    assert_error(
        api.post(url, json={"invocation_id": bought, "score": 5}, headers=auth(alice_key)),
        404,
        "INVOCATION_NOT_FOUND",
    )
    assert (
        api.post(url, json={"invocation_id": bought, "score": 2}, headers=auth(bob_key)).status_code
        == 201
    )
    # Everyone reads the ratings: Alice sees Bob's, with his operator id (for whitelists).
    page = api.get(f"/v1/skills/{opened['id']}/ratings", headers=auth(alice_key)).json()
    assert [(i["rater_id"], i["score"]) for i in page["items"]] == [(bob.id, 2)]
    assert "invocation_id" not in page["items"][0]  # whose purchase it was stays private
