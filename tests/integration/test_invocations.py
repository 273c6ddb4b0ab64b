"""Invocations end to end over HTTP on both stores: sealed, source and open modes, chains,
LLM and script steps, billing, trust, idempotency, expiry and revocation mid-run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from skillmarket.api.app import create_app
from skillmarket.config import Settings
from skillmarket.invocations.tables import invocations
from skillmarket.ledger.pricing import markup_micros
from skillmarket.runtime.steps.pricing import PriceTable
from skillmarket.services import open_services
from tests.conftest import auth
from tests.integration.test_api import assert_error
from tests.support.openai_server import Reply

SEED_JS = """const data = JSON.parse(input);
const result = {
  total: data.items.reduce((sum, item) => sum + item.price, 0),
  count: data.items.length,
  currency: data.currency ?? "USD"
};
return JSON.stringify(result);"""

SEED_PY = """import json
data = json.loads(input)
result = {
    "total": sum(item["price"] for item in data["items"]),
    "count": len(data["items"]),
    "currency": data.get("currency", "USD"),
}
output = json.dumps(result)"""

ITEMS_IN = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["price"],
                "properties": {"price": {"type": "number"}},
            },
        }
    },
}
TOTAL_OUT = {
    "type": "object",
    "required": ["total", "count", "currency"],
    "properties": {
        "total": {"type": "number"},
        "count": {"type": "integer"},
        "currency": {"type": "string"},
    },
}
INPUT = {"items": [{"price": 2.5}, {"price": 4}], "currency": "EUR"}


class Market:
    """A served marketplace with a publisher, a buyer with money and passports, and an admin."""

    def __init__(self, services, client: TestClient):
        self.services, self.client = services, client
        self.alice, self.alice_key = services.identity.create_operator("alice", "developer")
        self.bob, self.bob_key = services.identity.create_operator("bob", "free")
        self.passport = services.passports.issue(
            self.bob.id, {"verified_human": "substantial"}
        ).passport_id
        services.ledger.deposit(self.bob.id, 5_000_000, provider_ref="test-1")

    def publish(self, **manifest) -> dict:
        body = {
            "name": "skill-x",
            "version": "1.0.0",
            "description": "A test skill.",
            "execution_mode": "source",
            "input_schema": ITEMS_IN,
            "output_schema": TOTAL_OUT,
            **manifest,
        }
        response = self.client.post("/v1/skills", json=body, headers=auth(self.alice_key.api_key))
        assert response.status_code == 201, response.text
        return response.json()["skill"]

    def invoke(self, skill_id, payload=INPUT, key=None, headers=None, **extra):
        body = {"input": payload, "passport_id": self.passport, **extra}
        return self.client.post(
            f"/v1/skills/{skill_id}/invoke",
            json=body,
            headers={**auth(key or self.bob_key.api_key), **(headers or {})},
        )

    def poll(self, invocation_id, key=None):
        return self.client.get(
            f"/v1/skills/invocations/{invocation_id}", headers=auth(key or self.bob_key.api_key)
        )

    def wallet(self, operator_id=None):
        return self.services.ledger.wallet(operator_id or self.bob.id)

    def events(self, invocation_id):
        return [
            e["type"] for e in self.services.audit.events(None, limit=10_000, subject=invocation_id)
        ]


@pytest.fixture
def market(db_url, tmp_path: Path, openai_server):
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        seed_examples=False,
        llm_base_url=openai_server.base_url,
        sync_wait_seconds=10,
        sweep_interval_seconds=0.2,
    )
    services = open_services(settings)
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield Market(services, client)
    services.close()


def script(code=SEED_JS, runtime="javascript", **extra):
    return {"type": "script", "runtime": runtime, "code": code, **extra}


def llm(prompt="Extract the items as JSON.", model="openai/gpt-4o", **extra):
    return {"type": "llm", "model": model, "system_prompt": prompt, "temperature": 0.3, **extra}


class TestSourceAndSealed:
    @pytest.mark.parametrize("step", [script(), script(SEED_PY, "python")])
    def test_seed_script_runs_unchanged_and_is_billed(self, market, step):
        skill = market.publish(execution_steps=[step], price_cents=2)
        before = market.wallet()
        response = market.invoke(skill["id"])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "completed"
        assert body["output"] == {"total": 6.5, "count": 2, "currency": "EUR"}
        assert body["invocation_id"].startswith("sinv_")
        [line] = body["cost"]["breakdown"]
        assert line["type"] == "script" and line["step"] == 0 and "execution_ms" in line
        spent = before.available_micros - market.wallet().available_micros
        assert spent == body["cost"]["total_micros"] == 20_000 + line["cost_micros"]
        assert market.wallet().held_micros == 0
        assert market.events(body["invocation_id"]) == [
            "skill.invoke",
            "skill.step",
            "skill.complete",
        ]

    def test_sealed_chain_llm_script_llm_is_metered_per_step(self, market, openai_server):
        extract = Reply.completion(
            '{"items": [{"price": 1.25}, {"price": 2}]}', prompt_tokens=850, completion_tokens=320
        )
        openai_server.script(extract)  # the last LLM step echoes the script's output
        steps = [llm(), script(SEED_JS), llm("Format it.", model="openai/gpt-4o-mini")]
        skill = market.publish(
            execution_mode="sealed",
            execution_steps=steps,
            output_schema={"type": "object"},
            input_schema={},
        )
        body = market.invoke(skill["id"], payload="Invoice: pen 1.25, ink 2").json()
        assert body["status"] == "completed", body
        assert body["output"] == {"echo": '{"total":3.25,"count":2,"currency":"USD"}'}
        lines = body["cost"]["breakdown"]
        assert [(x["step"], x["type"]) for x in lines] == [(0, "llm"), (1, "script"), (2, "llm")]
        assert (lines[0]["prompt_tokens"], lines[0]["completion_tokens"]) == (850, 320)
        # gpt-4o at list price ($2.50 / M prompt, $10 / M completion), then + 15 %.
        upstream = PriceTable().cost_micros("openai/gpt-4o", 850, 320)
        assert upstream == 5_325
        assert lines[0]["cost_micros"] == upstream + markup_micros(upstream)
        compute = sum(x["cost_micros"] for x in lines)
        assert body["cost"]["total_micros"] == compute + body["cost"]["price_micros"]
        sent = [r.json for r in openai_server.requests]
        assert sent[0]["messages"][0] == {"role": "system", "content": "Extract the items as JSON."}
        assert sent[0]["messages"][1]["content"] == '"Invoice: pen 1.25, ink 2"'
        assert sent[1]["model"] == "openai/gpt-4o-mini"

    def test_input_schema_violation_names_the_path_and_holds_nothing(self, market):
        skill = market.publish(execution_steps=[script()], price_cents=2)
        before = market.wallet()
        error = assert_error(
            market.invoke(skill["id"], payload={"items": [{"price": "x"}]}),
            422,
            "INPUT_SCHEMA_VIOLATION",
        )
        assert error["details"]["path"] == "items/0/price"
        assert market.wallet() == before

    def test_output_schema_violation_fails_and_charges_only_compute(self, market):
        skill = market.publish(
            execution_steps=[script("return JSON.stringify({total: 'no'});")], price_cents=50
        )
        before = market.wallet()
        body = market.invoke(skill["id"]).json()
        assert body["status"] == "failed"
        assert body["error"]["code"] == "OUTPUT_SCHEMA_VIOLATION"
        assert body["cost"]["price_micros"] == 0
        spent = before.available_micros - market.wallet().available_micros
        compute = sum(x["cost_micros"] for x in body["cost"]["breakdown"])
        assert spent == body["cost"]["total_micros"] == compute < 500_000

    @pytest.mark.parametrize(
        ("code", "error"),
        [
            ("throw new Error('boom');", "SCRIPT_ERROR"),
            ("while (true) {}", "SCRIPT_TIMEOUT"),
        ],
    )
    def test_script_failure_ends_the_invocation_with_its_code(self, market, code, error):
        skill = market.publish(execution_steps=[script(code, timeout_ms=300)], timeout_seconds=1)
        body = market.invoke(skill["id"]).json()
        assert (body["status"], body["error"]["code"]) == ("failed", error)
        assert market.events(body["invocation_id"])[-1] == "skill.fail"

    def test_llm_error_fails_the_invocation(self, market, openai_server):
        openai_server.script(Reply.error(400, "bad request"))
        skill = market.publish(
            execution_mode="sealed", execution_steps=[llm()], input_schema={}, output_schema={}
        )
        body = market.invoke(skill["id"], payload="hi").json()
        assert (body["status"], body["error"]["code"]) == ("failed", "LLM_ERROR")

    def test_trust_level_insufficient_names_the_claim(self, market):
        skill = market.publish(execution_steps=[script()], trust_level_required="L2")
        error = assert_error(market.invoke(skill["id"]), 403, "TRUST_LEVEL_INSUFFICIENT")
        assert error["details"]["missing_claim"] == "verified_identity"

    def test_insufficient_funds_before_anything_runs(self, market):
        skill = market.publish(execution_steps=[script()], price_cents=10_000)  # $100
        before = market.services.audit.events(None, limit=10_000)
        assert_error(market.invoke(skill["id"]), 402, "INSUFFICIENT_FUNDS")
        assert market.wallet().available_micros == 5_000_000
        # The refused hold ends the invoke transaction: no row, no entry, no event.
        with market.services.db.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(invocations)).scalar() == 0
        assert market.services.audit.events(None, limit=10_000) == before

    def test_idempotency_key_returns_the_first_result_and_charges_once(self, market):
        skill = market.publish(execution_steps=[script()], price_cents=3)
        headers = {"Idempotency-Key": "order-42"}
        first = market.invoke(skill["id"], headers=headers).json()
        after_first = market.wallet()
        again = market.invoke(skill["id"], headers=headers).json()
        assert again["invocation_id"] == first["invocation_id"]
        assert again["output"] == first["output"]
        assert market.wallet() == after_first
        assert_error(
            market.invoke(skill["id"], payload={"items": []}, headers=headers),
            409,
            "IDEMPOTENCY_KEY_REUSED",
        )

    def test_slow_invocation_answers_202_then_completes(self, market, openai_server):
        market.services.settings.__dict__["sync_wait_seconds"] = 0.2
        openai_server.script(Reply.echo().delayed(1.0))
        skill = market.publish(
            execution_mode="sealed", execution_steps=[llm()], input_schema={}, output_schema={}
        )
        response = market.invoke(skill["id"], payload="slow")
        assert response.status_code == 202
        assert response.headers["location"] == response.json()["poll_url"]
        deadline = time.monotonic() + 10
        while market.poll(response.json()["invocation_id"]).json()["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert market.poll(response.json()["invocation_id"]).json()["output"] == {"echo": '"slow"'}

    def test_revocation_mid_execution_terminates_and_nothing_after_runs(
        self, market, openai_server
    ):
        openai_server.script(Reply.echo().delayed(1.0))
        skill = market.publish(
            execution_mode="sealed",
            input_schema={},
            output_schema={},
            execution_steps=[llm(), llm("second step")],
        )
        revoker = threading.Timer(
            0.3,
            market.services.passports.revoke,
            args=(market.passport,),
            kwargs={"actor": None, "reason": "stolen"},
        )
        revoker.start()
        body = market.invoke(skill["id"], payload="x").json()
        revoker.join()
        assert body["status"] == "terminated"
        assert body["error"]["code"] == "PASSPORT_REVOKED"
        assert len(openai_server.requests) == 1  # the second step never ran
        assert market.events(body["invocation_id"])[-1] == "skill.terminate"
        assert body["cost"]["price_micros"] == 0

    def test_revocation_is_checked_before_every_proxy_call(self, market):
        code = (
            "const until = Date.now() + 600; while (Date.now() < until) {}\n"
            "await proxy_fetch('https://example.com/');\n"
            "return JSON.stringify({total: 1, count: 1, currency: 'USD'});"
        )
        skill = market.publish(execution_steps=[script(code, timeout_ms=5000)])
        revoker = threading.Timer(
            0.2,
            market.services.passports.revoke,
            args=(market.passport,),
            kwargs={"actor": None, "reason": "stolen"},
        )
        revoker.start()
        body = market.invoke(skill["id"]).json()
        revoker.join()
        assert (body["status"], body["error"]["code"]) == ("terminated", "PASSPORT_REVOKED")
        events = market.events(body["invocation_id"])
        assert "proxy.call" not in events and events[-1] == "skill.terminate"

    def test_another_operator_cannot_poll(self, market):
        skill = market.publish(execution_steps=[script()])
        body = market.invoke(skill["id"]).json()
        assert_error(
            market.poll(body["invocation_id"], key=market.alice_key.api_key),
            404,
            "INVOCATION_NOT_FOUND",
        )


class TestOpenMode:
    def test_publisher_claims_and_completes_and_buyer_polls(self, market):
        skill = market.publish(execution_mode="open", price_cents=25)
        created = market.invoke(skill["id"])
        assert created.status_code == 202 and created.json()["status"] == "pending"
        invocation_id = created.json()["invocation_id"]
        assert market.wallet().held_micros == 250_000
        publisher = auth(market.alice_key.api_key)
        pending = market.client.get("/v1/skills/invocations/pending", headers=publisher).json()
        assert [(p["invocation_id"], p["input"]) for p in pending] == [(invocation_id, INPUT)]
        assert (
            market.client.get(
                "/v1/skills/invocations/pending", headers=auth(market.bob_key.api_key)
            ).json()
            == []
        )
        claimed = market.client.post(
            f"/v1/skills/invocations/{invocation_id}/claim",
            json={"lease_seconds": 60},
            headers=publisher,
        )
        assert claimed.json()["status"] == "claimed"
        bad = market.client.post(
            f"/v1/skills/invocations/{invocation_id}/complete",
            json={"output": {"total": "x"}},
            headers=publisher,
        )
        assert_error(bad, 422, "OUTPUT_SCHEMA_VIOLATION")
        assert_error(
            market.client.post(
                f"/v1/skills/invocations/{invocation_id}/complete",
                json={"output": {}},
                headers=auth(market.bob_key.api_key),
            ),
            403,
            "NOT_INVOCATION_PUBLISHER",
        )
        output = {"total": 6.5, "count": 2, "currency": "EUR"}
        done = market.client.post(
            f"/v1/skills/invocations/{invocation_id}/complete",
            json={"output": output},
            headers=publisher,
        )
        assert done.status_code == 200 and done.json()["status"] == "completed"
        polled = market.poll(invocation_id).json()
        assert polled["output"] == output and polled["cost"]["price_micros"] == 250_000
        assert market.wallet().held_micros == 0
        assert market.events(invocation_id) == ["skill.invoke", "skill.claim", "skill.complete"]
        again = market.client.post(
            f"/v1/skills/invocations/{invocation_id}/complete",
            json={"output": output},
            headers=publisher,
        )
        assert_error(again, 409, "INVOCATION_NOT_PENDING")

    def test_unclaimed_invocation_expires_and_releases_the_hold(self, market):
        skill = market.publish(execution_mode="open", price_cents=25)
        before = market.wallet()
        invocation_id = market.invoke(skill["id"], ttl_seconds=1).json()["invocation_id"]
        time.sleep(1.5)
        polled = market.poll(invocation_id).json()
        assert polled["status"] == "expired"
        assert polled["error"]["code"] == "INVOCATION_EXPIRED"
        assert market.wallet() == before
        assert_error(
            market.client.post(
                f"/v1/skills/invocations/{invocation_id}/claim",
                headers=auth(market.alice_key.api_key),
            ),
            409,
            "INVOCATION_NOT_PENDING",
        )


class TestReceipts:
    def test_receipt_verifies_offline_and_binds_the_result(self, market):
        from skillmarket.audit.keys import NoteVerifier
        from skillmarket.audit.receipts import Receipt, verify_receipt
        from skillmarket.invocations.models import content_hash

        skill = market.publish(execution_steps=[script()], price_cents=2)
        body = market.invoke(skill["id"]).json()
        response = market.client.get(
            f"/v1/skills/invocations/{body['invocation_id']}/receipt",
            headers=auth(market.bob_key.api_key),
        )
        assert response.status_code == 200
        key = market.client.get("/.well-known/skillmarket-audit-key").json()["verifier_key"]
        receipt = verify_receipt(Receipt.from_json(response.json()), NoteVerifier.from_string(key))
        assert receipt.claims == {
            "invocation_id": body["invocation_id"],
            "skill_fingerprint": skill["fingerprint"],
            "input_hash": content_hash(INPUT),
            "output_hash": content_hash(body["output"]),
            "cost_micro_usd": body["cost"]["total_micros"],
        }
        again = market.client.get(
            f"/v1/skills/invocations/{body['invocation_id']}/receipt",
            headers=auth(market.bob_key.api_key),
        )
        assert again.json() == response.json()  # made once, then kept
        forged = {**response.json(), "cost_micro_usd": 1}
        with pytest.raises(Exception) as info:
            verify_receipt(Receipt.from_json(forged), NoteVerifier.from_string(key))
        assert getattr(info.value, "code", "") == "RECEIPT_INVALID"

    def test_receipt_fails_for_unfinished_or_foreign_invocations(self, market):
        skill = market.publish(execution_mode="open")
        pending = market.invoke(skill["id"]).json()["invocation_id"]
        url = f"/v1/skills/invocations/{pending}/receipt"
        assert_error(
            market.client.get(url, headers=auth(market.bob_key.api_key)),
            409,
            "INVOCATION_NOT_FINISHED",
        )
        assert_error(
            market.client.get(url, headers=auth(market.alice_key.api_key)),
            404,
            "INVOCATION_NOT_FOUND",
        )
