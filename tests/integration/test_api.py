"""The REST API over HTTP (in-process ASGI) on both stores."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from skillmarket.audit.tables import audit_events
from skillmarket.catalog.tables import skill_names, skills
from tests.conftest import auth


def counts(database):
    with database.read() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (skills, skill_names, audit_events)
        )


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def alice(operator_factory):
    return operator_factory("alice", "developer")


@pytest.fixture
def bob(operator_factory):
    return operator_factory("bob")


class TestAuthentication:
    def test_every_v1_endpoint_fails_without_key(self, api):
        paths = {
            p: ops
            for p, ops in api.get("/openapi.json").json()["paths"].items()
            if p.startswith("/v1")
        }
        assert sum(len(ops) for ops in paths.values()) >= 10
        for template, operations in paths.items():
            path = template.replace("{skill_id}", "skl_x").replace("{key_id}", "key_x")
            for method in operations:
                response = api.request(method, path)
                assert_error(response, 401, "API_KEY_MISSING")
                response = api.request(method, path, headers=auth("smk_wrong"))
                assert_error(response, 401, "API_KEY_INVALID")

    def test_revoked_key_stops_working_at_once(self, api, alice):
        _, key = alice
        created = api.post("/v1/keys", json={"label": "ci"}, headers=auth(key))
        assert created.status_code == 201
        new_key = created.json()
        listed = api.get("/v1/keys", headers=auth(key)).json()
        assert {k["id"] for k in listed} >= {new_key["id"]}
        assert all("api_key" not in k and "key_hash" not in k for k in listed)
        assert api.delete(f"/v1/keys/{new_key['id']}", headers=auth(key)).status_code == 200
        assert_error(
            api.get("/v1/operators/me", headers=auth(new_key["api_key"])), 401, "API_KEY_REVOKED"
        )
        assert api.get("/v1/operators/me", headers=auth(key)).json()["name"] == "alice"

    def test_revoke_fails_for_another_operators_key(self, api, alice, bob):
        keys = api.get("/v1/keys", headers=auth(alice[1])).json()
        assert_error(
            api.delete(f"/v1/keys/{keys[0]['id']}", headers=auth(bob[1])), 404, "API_KEY_NOT_FOUND"
        )

    def test_admin_endpoints_fail_for_operators(self, api, alice, operator_factory):
        assert_error(api.get("/v1/admin/operators", headers=auth(alice[1])), 403, "ADMIN_REQUIRED")
        _, admin_key = operator_factory("root", is_admin=True)
        made = api.post(
            "/v1/admin/operators", json={"name": "carol", "tier": "studio"}, headers=auth(admin_key)
        )
        assert made.status_code == 201
        carol_key = made.json()["api_key"]["api_key"]
        assert api.get("/v1/operators/me", headers=auth(carol_key)).json()["tier"] == "studio"


class TestPublish:
    def test_publish_then_idempotent_then_conflict(self, api, alice, manifest_factory):
        manifest = manifest_factory(name="invoice-total")
        first = api.post("/v1/skills", json=manifest, headers=auth(alice[1]))
        assert first.status_code == 201
        skill = first.json()["skill"]
        assert skill["fingerprint"].startswith("sha256:")
        again = api.post("/v1/skills", json=manifest, headers=auth(alice[1]))
        assert again.status_code == 200 and again.json()["skill"]["id"] == skill["id"]
        changed = {**manifest, "price_cents": 5}
        error = assert_error(
            api.post("/v1/skills", json=changed, headers=auth(alice[1])), 409, "VERSION_CONFLICT"
        )
        assert error["details"]["published_fingerprint"] == skill["fingerprint"]

    def test_publish_fails_name_of_other_publisher(self, api, alice, bob, manifest_factory):
        api.post("/v1/skills", json=manifest_factory(name="taken"), headers=auth(alice[1]))
        assert_error(
            api.post(
                "/v1/skills",
                json=manifest_factory(name="taken", version="9.0.0"),
                headers=auth(bob[1]),
            ),
            409,
            "SKILL_NAME_TAKEN",
        )

    @pytest.mark.parametrize(
        ("override", "status", "code"),
        [
            ({"name": "Bad Name"}, 422, "INVALID_NAME"),
            ({"version": "1.0"}, 422, "INVALID_VERSION"),
            ({"input_schema": {"type": 12}}, 422, "INVALID_SCHEMA"),
            ({"output_schema": {"required": "nope"}}, 422, "INVALID_SCHEMA"),
            ({"surprise": True}, 422, "UNKNOWN_FIELD"),
            ({"execution_steps": [{"type": "shell", "cmd": "rm -rf /"}]}, 422, "UNKNOWN_STEP_TYPE"),
            ({"execution_mode": "open"}, 422, "STEPS_NOT_ALLOWED"),
            ({"trust_level_required": "L9"}, 422, "VALIDATION_ERROR"),
            ({"price_cents": -1}, 422, "VALIDATION_ERROR"),
            ({"price_cents": 1.5}, 422, "VALIDATION_ERROR"),
        ],
    )
    def test_publish_fails_bad_manifest_and_writes_nothing(
        self, api, database, alice, manifest_factory, override, status, code
    ):
        before = counts(database)
        response = api.post("/v1/skills", json=manifest_factory(**override), headers=auth(alice[1]))
        error = assert_error(response, status, code)
        assert error["details"]["errors"]
        assert counts(database) == before

    def test_publish_fails_missing_field_names_it(self, api, alice, manifest_factory):
        manifest = manifest_factory()
        del manifest["output_schema"]
        error = assert_error(
            api.post("/v1/skills", json=manifest, headers=auth(alice[1])), 422, "MISSING_FIELD"
        )
        assert error["details"]["errors"][0]["loc"] == "output_schema"

    def test_publish_fails_malformed_json(self, api, database, alice):
        before = counts(database)
        response = api.post(
            "/v1/skills",
            content=b'{"name": "x",',
            headers={**auth(alice[1]), "content-type": "application/json"},
        )
        assert_error(response, 400, "MALFORMED_JSON")
        response = api.post(
            "/v1/skills",
            content=b"name=x",
            headers={**auth(alice[1]), "content-type": "application/x-www-form-urlencoded"},
        )
        assert_error(response, 400, "MALFORMED_JSON")
        assert counts(database) == before

    def test_publish_fails_oversized_body(self, api, database, alice, manifest_factory):
        before = counts(database)
        manifest = manifest_factory(description="x" * 100)
        manifest["input_schema"]["description"] = "y" * 70_000  # over the 64 KiB test limit
        error = assert_error(
            api.post("/v1/skills", json=manifest, headers=auth(alice[1])), 413, "PAYLOAD_TOO_LARGE"
        )
        assert error["details"]["max_bytes"] == 65_536
        assert counts(database) == before

    def test_oversized_chunked_body_is_refused(self, api, alice):
        def chunks():
            for _ in range(20):
                yield b" " * 8192

        response = api.post(
            "/v1/skills",
            content=chunks(),
            headers={**auth(alice[1]), "content-type": "application/json"},
        )
        assert_error(response, 413, "PAYLOAD_TOO_LARGE")

    def test_error_message_never_echoes_input(self, api, alice, manifest_factory):
        secret = "sk-live-SECRET-in-bad-field"
        response = api.post(
            "/v1/skills", json=manifest_factory(version=secret), headers=auth(alice[1])
        )
        assert response.status_code == 422
        assert secret not in response.text


class TestReading:
    def test_sealed_logic_is_never_returned(self, api, alice, bob, manifest_factory):
        steps = [
            {
                "type": "llm",
                "model": "openai/gpt-4o",
                "system_prompt": "TOP SECRET PROMPT",
                "temperature": 0.3,
                "max_tokens": 2000,
            },
            {"type": "script", "runtime": "javascript", "code": "return 'SECRET CODE';"},
        ]
        manifest = manifest_factory(execution_mode="sealed", execution_steps=steps)
        published = api.post("/v1/skills", json=manifest, headers=auth(alice[1]))
        assert published.status_code == 201 and "SECRET" not in published.text
        skill = published.json()["skill"]
        for key in (alice[1], bob[1]):  # not even the publisher gets it back
            seen = api.get(f"/v1/skills/{skill['id']}", headers=auth(key))
            assert seen.status_code == 200 and "SECRET" not in seen.text
            assert seen.json()["steps_redacted"] is True
        assert seen.json()["execution_steps"][0] == {
            "type": "llm",
            "model": "openai/gpt-4o",
            "temperature": 0.3,
            "max_tokens": 2000,
        }
        listing = api.get("/v1/skills", params={"search": "invoice"}, headers=auth(bob[1]))
        assert "SECRET" not in listing.text

    def test_source_steps_are_shown_to_everyone(self, api, alice, bob, manifest_factory):
        skill = api.post("/v1/skills", json=manifest_factory(), headers=auth(alice[1])).json()
        seen = api.get(f"/v1/skills/{skill['skill']['id']}", headers=auth(bob[1])).json()
        assert seen["execution_steps"][0]["code"] == "return input;"
        assert seen["steps_redacted"] is False

    def test_search_over_http(self, api, alice, bob, manifest_factory):
        for name, tags in [("invoice-total", ["finance"]), ("weather-now", ["weather"])]:
            manifest = manifest_factory(name=name, tags=tags, description=f"The {name} skill.")
            api.post("/v1/skills", json=manifest, headers=auth(alice[1]))
        found = api.get("/v1/skills", params={"search": "invoice"}, headers=auth(bob[1])).json()
        assert [s["name"] for s in found["items"]] == ["invoice-total"]
        tagged = api.get("/v1/skills?tags=weather,missing", headers=auth(bob[1])).json()
        assert tagged["items"] == []
        tagged = api.get("/v1/skills?tags=Weather", headers=auth(bob[1])).json()
        assert [s["name"] for s in tagged["items"]] == ["weather-now"]

    @pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "trust_level=L3"])
    def test_search_fails_bad_parameters(self, api, alice, query):
        assert_error(
            api.get(f"/v1/skills?{query}", headers=auth(alice[1])), 422, "VALIDATION_ERROR"
        )

    def test_mine_lists_every_own_version(self, api, alice, bob, manifest_factory):
        first = api.post(
            "/v1/skills", json=manifest_factory(name="calc"), headers=auth(alice[1])
        ).json()["skill"]
        api.post(
            "/v1/skills",
            json=manifest_factory(name="calc", version="1.1.0"),
            headers=auth(alice[1]),
        )
        api.post(
            f"/v1/skills/{first['id']}/deprecate", json={"reason": "old"}, headers=auth(alice[1])
        )
        mine = api.get("/v1/skills/mine", headers=auth(alice[1])).json()
        assert [(s["version"], s["deprecated"]) for s in mine] == [
            ("1.0.0", True),
            ("1.1.0", False),
        ]
        assert api.get("/v1/skills/mine", headers=auth(bob[1])).json() == []

    def test_deprecate_fails_for_non_publisher(self, api, alice, bob, manifest_factory):
        skill = api.post("/v1/skills", json=manifest_factory(), headers=auth(alice[1])).json()[
            "skill"
        ]
        assert_error(
            api.post(f"/v1/skills/{skill['id']}/deprecate", headers=auth(bob[1])),
            403,
            "NOT_SKILL_PUBLISHER",
        )

    def test_unknown_skill_and_route(self, api, alice):
        assert_error(
            api.get("/v1/skills/skl_nothing", headers=auth(alice[1])), 404, "SKILL_NOT_FOUND"
        )
        assert_error(api.get("/v1/nowhere", headers=auth(alice[1])), 404, "NOT_FOUND")


def test_openapi_documents_every_route(api):
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/v1/skills",
        "/v1/skills/{skill_id}",
        "/v1/skills/mine",
        "/v1/skills/{skill_id}/deprecate",
        "/v1/keys",
        "/v1/operators/me",
    ]:
        assert path in paths
    for path, operations in paths.items():
        for operation in operations.values():
            assert operation.get("summary"), f"{path} has no summary"
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
