"""Agents with nothing but the official MCP client and an API key: the whole buyer loop and the
publisher's open-mode loop, over Streamable HTTP (inside a real served app) and over stdio (a
real `skillmarket mcp` process talking to that app over HTTP)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from skillmarket.api.app import create_app
from skillmarket.config import Settings
from skillmarket.services import open_services
from tests.support.served import served

SEED_TOOLS = {
    "stack_invoke_skill",
    "stack_check_invocation",
    "stack_list_pending_invocations",
    "stack_complete_invocation",
    "stack_check_trust_level",
    "stack_post_skill_request",
    "stack_list_skill_requests",
    "stack_find_matching_skills",
    "stack_suggest_skill_composition",
}
LOOP_TOOLS = {"stack_search_skills", "stack_get_skill", "stack_publish_skill"}
LOOP_TOOLS |= {"stack_claim_invocation", "stack_rate_skill", "stack_get_skill_ratings"}

TEXT_IN = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
COUNT_OUT = {"type": "object", "required": ["words"], "properties": {"words": {"type": "integer"}}}
WORD_COUNT = {
    "name": "word-count",
    "version": "1.0.0",
    "description": "Counts the words of a text.",
    "tags": ["text"],
    "execution_mode": "source",
    "input_schema": TEXT_IN,
    "output_schema": COUNT_OUT,
    "price_cents": 3,
    "execution_steps": [
        {
            "type": "script",
            "runtime": "javascript",
            "code": "const d = JSON.parse(input);"
            " return JSON.stringify({words: d.text.split(/\\s+/).filter(Boolean).length});",
        }
    ],
}


class Market:
    """A served marketplace: alice publishes, bob buys (funded, with an L1 passport)."""

    def __init__(self, services, url: str):
        self.services, self.url = services, url
        self.alice, alice_key = services.identity.create_operator("alice", "developer")
        self.bob, bob_key = services.identity.create_operator("bob", "free")
        self.alice_key, self.bob_key = alice_key.api_key, bob_key.api_key
        self.passport = services.passports.issue(
            self.bob.id, {"verified_human": "substantial"}
        ).passport_id
        services.ledger.deposit(self.bob.id, 1_000_000, provider_ref="test-1")

    def publish(self, manifest: dict[str, Any]) -> str:
        response = httpx.post(
            f"{self.url}/v1/skills",
            json=manifest,
            headers={"Authorization": f"Bearer {self.alice_key}"},
        )
        assert response.status_code == 201, response.text
        return response.json()["skill"]["id"]

    def events(self, subject: str) -> list[str]:
        return [e["type"] for e in self.services.audit.events(None, limit=1000, subject=subject)]


@pytest.fixture
def market(db_url, tmp_path: Path):
    settings = Settings(
        data_dir=tmp_path / "data", database_url=db_url, seed_examples=False, sync_wait_seconds=10
    )
    services = open_services(settings)
    with served(create_app(services)) as url:
        yield Market(services, url)
    services.close()


@contextlib.asynccontextmanager
async def session(market: Market, key: str, transport: str) -> AsyncIterator[ClientSession]:
    """An initialised MCP client session as the holder of ``key``."""
    async with contextlib.AsyncExitStack() as stack:
        if transport == "http":
            http = await stack.enter_async_context(
                httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60)
            )
            streams = streamable_http_client(f"{market.url}/mcp", http_client=http)
        else:
            streams = stdio_client(_stdio_params(market, key))
        read, write, *_ = await stack.enter_async_context(streams)
        client = await stack.enter_async_context(ClientSession(read, write))
        await client.initialize()
        yield client


def _stdio_params(market: Market, key: str) -> StdioServerParameters:
    """`skillmarket mcp` as an agent's MCP config would start it."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-c", "from skillmarket.cli.main import app; app()", "mcp"],
        env={**os.environ, "SKILLMARKET_URL": market.url, "SKILLMARKET_API_KEY": key},
    )


async def call(client: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured result."""
    result = await client.call_tool(tool, arguments)
    assert not result.isError, result.content
    assert result.structuredContent is not None
    return result.structuredContent


async def refused(client: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must fail; the API error object its text carries."""
    result = await client.call_tool(tool, arguments)
    assert result.isError
    text = result.content[0].text
    return json.loads(text[text.index("{") :])["error"]


TRANSPORTS = pytest.mark.parametrize("transport", ["http", "stdio"])


@TRANSPORTS
def test_tools_are_listed_with_descriptions_and_schemas(market, transport):
    async def run() -> None:
        async with session(market, market.bob_key, transport) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) >= SEED_TOOLS | LOOP_TOOLS
        for tool in tools.values():
            assert len(tool.description or "") > 40, tool.name
            assert tool.inputSchema["type"] == "object"
            assert "ctx" not in tool.inputSchema.get("properties", {})
        invoke = tools["stack_invoke_skill"].inputSchema
        assert set(invoke["required"]) == {"skill_id", "input", "passport_id"}

    anyio.run(run)


@TRANSPORTS
def test_buyer_agent_searches_checks_invokes_polls_and_rates(market, transport):
    skill_id = market.publish(WORD_COUNT)
    bob_id = market.bob.id

    async def run() -> None:
        async with session(market, market.bob_key, transport) as bob:
            found = await call(bob, "stack_search_skills", query="words")
            assert [s["id"] for s in found["items"]] == [skill_id]
            detail = await call(bob, "stack_get_skill", skill_id=skill_id)
            assert detail["input_schema"] == TEXT_IN
            passports = (await call(bob, "stack_list_passports"))["passports"]
            assert [p["id"] for p in passports] == [market.passport]
            trust = await call(
                bob, "stack_check_trust_level", skill_id=skill_id, passport_id=market.passport
            )
            assert trust["allowed"] is True
            done = await call(
                bob,
                "stack_invoke_skill",
                skill_id=skill_id,
                input={"text": "one two three"},
                passport_id=market.passport,
                idempotency_key="order-1",
            )
            assert (done["status"], done["output"]) == ("completed", {"words": 3})
            again = await call(
                bob,
                "stack_invoke_skill",
                skill_id=skill_id,
                input={"text": "one two three"},
                passport_id=market.passport,
                idempotency_key="order-1",
            )
            assert again["invocation_id"] == done["invocation_id"]
            polled = await call(bob, "stack_check_invocation", invocation_id=done["invocation_id"])
            assert polled["output"] == {"words": 3}
            rated = await call(
                bob,
                "stack_rate_skill",
                skill_id=skill_id,
                invocation_id=done["invocation_id"],
                score=5,
                comment="exact",
            )
            assert rated["rating"]["score"] == 5
            trusted = await call(bob, "stack_get_skill_ratings", skill_id=skill_id, raters=[bob_id])
            assert trusted["summary"]["count"] == 1
            nobody = await call(
                bob, "stack_get_skill_ratings", skill_id=skill_id, raters=[market.alice.id]
            )
            assert nobody["summary"]["count"] == 0
            best = await call(bob, "stack_search_skills", min_rating=4.5, sort="rating")
            assert [s["id"] for s in best["items"]] == [skill_id]
            wallet = await call(bob, "stack_get_wallet")
        spent = 1_000_000 - wallet["available_micros"]
        assert spent == done["cost"]["total_micros"] >= 30_000  # charged once, not twice
        assert market.events(done["invocation_id"])[:1] == ["skill.invoke"]

    anyio.run(run)


@TRANSPORTS
def test_publisher_agent_serves_open_mode_work(market, transport):
    async def run() -> None:
        async with session(market, market.alice_key, transport) as alice:
            manifest = {**WORD_COUNT, "name": "human-count", "execution_mode": "open"}
            del manifest["execution_steps"]
            published = await call(alice, "stack_publish_skill", manifest=manifest)
            skill_id = published["skill"]["id"]
            async with session(market, market.bob_key, transport) as bob:
                asked = await call(
                    bob,
                    "stack_invoke_skill",
                    skill_id=skill_id,
                    input={"text": "a b"},
                    passport_id=market.passport,
                    ttl_seconds=600,
                )
                assert asked["status"] == "pending"
                pending = (await call(alice, "stack_list_pending_invocations"))["invocations"]
                assert [(p["invocation_id"], p["input"]) for p in pending] == [
                    (asked["invocation_id"], {"text": "a b"})
                ]
                error = await refused(
                    bob, "stack_claim_invocation", invocation_id=asked["invocation_id"]
                )
                assert error["code"] == "NOT_INVOCATION_PUBLISHER"
                claimed = await call(
                    alice, "stack_claim_invocation", invocation_id=asked["invocation_id"]
                )
                assert claimed["status"] == "claimed"
                error = await refused(
                    alice,
                    "stack_complete_invocation",
                    invocation_id=asked["invocation_id"],
                    output={"words": "two"},
                )
                assert error["code"] == "OUTPUT_SCHEMA_VIOLATION"
                await call(
                    alice,
                    "stack_complete_invocation",
                    invocation_id=asked["invocation_id"],
                    output={"words": 2},
                )
                done = await call(
                    bob, "stack_check_invocation", invocation_id=asked["invocation_id"]
                )
        assert (done["status"], done["output"]) == ("completed", {"words": 2})

    anyio.run(run)


def test_refusals_carry_the_rest_error_codes(market):
    skill_id = market.publish({**WORD_COUNT, "name": "id-check", "trust_level_required": "L2"})

    async def run() -> None:
        async with session(market, market.bob_key, "http") as bob:
            error = await refused(
                bob,
                "stack_invoke_skill",
                skill_id=skill_id,
                input={"text": "x"},
                passport_id=market.passport,
            )
            assert error["code"] == "TRUST_LEVEL_INSUFFICIENT"
            assert error["details"]["missing_claim"] == "verified_identity"
            error = await refused(bob, "stack_get_skill", skill_id="skl_nothing")
            assert error["code"] == "SKILL_NOT_FOUND"
            error = await refused(
                bob, "stack_invoke_skill", skill_id=skill_id, input={}, passport_id="pp_x"
            )
            assert error["code"] in {"PASSPORT_NOT_FOUND", "INPUT_SCHEMA_VIOLATION"}

    anyio.run(run)
    assert market.services.ledger.wallet(market.bob.id).available_micros == 1_000_000


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "API_KEY_MISSING"), ({"Authorization": "Bearer smk_not_a_key"}, "API_KEY_INVALID")],
)
def test_http_endpoint_needs_a_valid_key(market, headers, code):
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    response = httpx.post(
        f"{market.url}/mcp",
        json=hello,
        headers={"Accept": "application/json, text/event-stream", **headers},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_demand_side_request_matches_and_compositions(market):
    skill_id = market.publish(WORD_COUNT)

    async def run() -> None:
        async with session(market, market.bob_key, "http") as bob:
            posted = await call(
                bob,
                "stack_post_skill_request",
                description="count the words of a text",
                input_schema=TEXT_IN,
                output_schema=COUNT_OUT,
                max_price_cents=10,
            )
            listed = await call(bob, "stack_list_skill_requests", mine=True)
            assert [r["id"] for r in listed["items"]] == [posted["id"]]
            matches = await call(bob, "stack_find_matching_skills", request_id=posted["id"])
            assert [m["skill"]["id"] for m in matches["items"]] == [skill_id]
            chains = await call(bob, "stack_suggest_skill_composition", request_id=posted["id"])
            assert chains["request_id"] == posted["id"]

    anyio.run(run)
