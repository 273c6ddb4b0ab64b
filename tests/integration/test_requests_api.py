"""/v1/requests over HTTP (in-process ASGI) on both stores."""

from __future__ import annotations

import pytest

from tests.conftest import auth
from tests.integration.test_api import assert_error

STR = {"type": "string"}


def obj(*required, **props):
    return {"type": "object", "required": list(required), "properties": props}


def body(**overrides):
    data = {
        "description": "Summarise a web page",
        "input_schema": obj("url", url=STR),
        "output_schema": obj("summary", summary=STR),
        "max_price_cents": 10,
        "tags": ["Text"],
    }
    data.update(overrides)
    return data


@pytest.fixture
def alice(operator_factory):
    return operator_factory("alice")[1]


@pytest.fixture
def bob(operator_factory):
    return operator_factory("bob")[1]


@pytest.fixture
def skills(api, bob, manifest_factory):
    """Bob publishes a page fetcher, a summariser and a whole-page summariser."""
    made = {}
    for name, inputs, outputs, price in (
        ("fetch-page", obj("url", url=STR), obj("text", text=STR), 2),
        ("summarize", obj("text", text=STR), obj("summary", summary=STR), 3),
        ("page-summary", obj("url", url=STR), obj("summary", summary=STR), 9),
    ):
        manifest = manifest_factory(
            name=name, input_schema=inputs, output_schema=outputs, price_cents=price
        )
        made[name] = api.post("/v1/skills", json=manifest, headers=auth(bob)).json()["skill"]["id"]
    return made


class TestPostRequest:
    def test_post_returns_201_and_the_request(self, api, alice):
        response = api.post("/v1/requests", json=body(), headers=auth(alice))
        assert response.status_code == 201, response.text
        request = response.json()
        assert request["status"] == "open" and request["tags"] == ["text"]
        assert api.get(f"/v1/requests/{request['id']}", headers=auth(alice)).json() == request

    def test_post_fails_invalid_schema(self, api, alice):
        response = api.post(
            "/v1/requests", json=body(input_schema={"type": 5}), headers=auth(alice)
        )
        error = assert_error(response, 422, "INVALID_SCHEMA")
        assert error["details"]["errors"][0]["loc"] == "input_schema"

    def test_post_fails_missing_price(self, api, alice):
        data = body()
        del data["max_price_cents"]
        assert_error(api.post("/v1/requests", json=data, headers=auth(alice)), 422, "MISSING_FIELD")

    def test_post_fails_unknown_field(self, api, alice):
        response = api.post("/v1/requests", json=body(budget=3), headers=auth(alice))
        assert_error(response, 422, "UNKNOWN_FIELD")

    def test_post_fails_bad_tag(self, api, alice):
        response = api.post("/v1/requests", json=body(tags=["no spaces"]), headers=auth(alice))
        assert_error(response, 422, "INVALID_TAG")


class TestBrowse:
    def test_list_filters(self, api, alice, bob):
        first = api.post("/v1/requests", json=body(), headers=auth(alice)).json()
        second = api.post(
            "/v1/requests", json=body(description="Translate a PDF", tags=[]), headers=auth(bob)
        ).json()
        everyone = api.get("/v1/requests", headers=auth(bob)).json()
        assert [r["id"] for r in everyone["items"]] == [second["id"], first["id"]]
        text = api.get("/v1/requests", params={"search": "pdf"}, headers=auth(alice)).json()
        assert [r["id"] for r in text["items"]] == [second["id"]]
        tagged = api.get("/v1/requests", params={"tags": "text"}, headers=auth(bob)).json()
        assert [r["id"] for r in tagged["items"]] == [first["id"]]
        mine = api.get("/v1/requests", params={"mine": True}, headers=auth(alice)).json()
        assert [r["id"] for r in mine["items"]] == [first["id"]]

    def test_get_fails_unknown(self, api, alice):
        assert_error(
            api.get("/v1/requests/req_nope", headers=auth(alice)), 404, "REQUEST_NOT_FOUND"
        )

    def test_list_fails_bad_status(self, api, alice):
        response = api.get("/v1/requests", params={"status": "pending"}, headers=auth(alice))
        assert_error(response, 422, "VALIDATION_ERROR")


class TestClose:
    def test_close_is_idempotent_and_hides_the_request(self, api, alice):
        request = api.post("/v1/requests", json=body(), headers=auth(alice)).json()
        url = f"/v1/requests/{request['id']}/close"
        closed = api.post(url, headers=auth(alice)).json()
        assert closed["status"] == "closed"
        assert api.post(url, headers=auth(alice)).json() == closed
        assert api.get("/v1/requests", headers=auth(alice)).json()["items"] == []
        assert_error(
            api.get(f"/v1/requests/{request['id']}/matches", headers=auth(alice)),
            409,
            "REQUEST_CLOSED",
        )

    def test_close_fails_for_another_operator(self, api, alice, bob):
        request = api.post("/v1/requests", json=body(), headers=auth(alice)).json()
        response = api.post(f"/v1/requests/{request['id']}/close", headers=auth(bob))
        assert_error(response, 403, "NOT_REQUEST_OWNER")


class TestMatching:
    def test_matches_and_compositions(self, api, alice, skills):
        request = api.post("/v1/requests", json=body(), headers=auth(alice)).json()
        found = api.get(f"/v1/requests/{request['id']}/matches", headers=auth(alice)).json()
        assert [m["skill"]["id"] for m in found["items"]] == [skills["page-summary"]]
        match = found["items"][0]
        assert match["proven"] and match["output"] == [
            {"path": "summary", "source": "string", "target": "string"}
        ]
        chains = api.get(f"/v1/requests/{request['id']}/compositions", headers=auth(alice)).json()
        # page-summary alone does the job, so no chain runs through it.
        (chain,) = chains["items"]
        assert [s["skill"]["id"] for s in chain["steps"]] == [
            skills["fetch-page"],
            skills["summarize"],
        ]
        assert chain["total_price_cents"] == 5 and chain["proven"]

    def test_matches_respect_limit_bounds(self, api, alice):
        request = api.post("/v1/requests", json=body(), headers=auth(alice)).json()
        response = api.get(
            f"/v1/requests/{request['id']}/matches", params={"limit": 0}, headers=auth(alice)
        )
        assert_error(response, 422, "VALIDATION_ERROR")

    def test_matches_fail_unknown_request(self, api, alice):
        for kind in ("matches", "compositions"):
            response = api.get(f"/v1/requests/req_nope/{kind}", headers=auth(alice))
            assert_error(response, 404, "REQUEST_NOT_FOUND")
