"""The credential proxy end to end, on both stores: a served marketplace (real uvicorn, real
HTTP), sealed skills in the real sandboxes calling a real HTTPS upstream through
``proxy_fetch`` with the seller's and the buyer's credentials.

The upstream records what it received and echoes every request header back (in its body and
as response headers), so these tests see both sides: the credential arrived, and the script
never saw it. The guard is the production one, told only how to reach the upstream's names.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
import sqlalchemy as sa

from skillmarket.api.app import create_app
from skillmarket.config import Settings
from skillmarket.ledger.pricing import markup_micros, with_markup
from skillmarket.ledger.tables import ledger_postings
from skillmarket.services import open_services
from tests.conftest import auth
from tests.support.served import served
from tests.support.upstream import https_upstream

API, FILES, OTHER = "api.example.test", "files.example.test", "other.test"
SELLER_SECRET = 'sk_seller_Tr1cky/+= s3cret&"x"'
BUYER_SECRET = "bk_buyer_0123456789abcdef"

# Each script makes the calls its input lists and reports every answer or error code.
CALLS_JS = """const out = [];
for (const c of JSON.parse(input).calls) {
  try {
    const r = await proxy_fetch(c.url, c.opts);
    out.push({status: r.status, headers: r.headers, body: r.body});
  } catch (e) {
    out.push({error: e.code, message: e.message});
  }
}
return JSON.stringify(out);"""
CALLS_PY = """import json
out = []
for c in json.loads(input)["calls"]:
    try:
        r = proxy_fetch(c["url"], c["opts"])
        out.append({"status": r["status"], "headers": r["headers"], "body": r["body"]})
    except ProxyFetchError as e:
        out.append({"error": e.code, "message": str(e)})
output = json.dumps(out)"""
UNCAUGHT_JS = "await proxy_fetch(JSON.parse(input).url, {service: 'nope'}); return 'no';"


class Market:
    """A served marketplace, an HTTPS upstream, a studio seller and a funded buyer."""

    def __init__(self, services, http: httpx.Client, upstream):
        self.services, self.http, self.upstream = services, http, upstream
        self.seller, self.seller_key = services.identity.create_operator("seller", "studio")
        self.buyer, self.buyer_key = services.identity.create_operator("buyer", "free")
        self.passport = services.passports.issue(self.buyer.id, {}).passport_id
        services.ledger.deposit(self.buyer.id, 5_000_000, provider_ref="test-1")

    def connect(self, key, **body) -> dict:
        body = {"name": "crm", "domain": API, "auth": "bearer", **body}
        response = self.http.post("/v1/services", json=body, headers=auth(key.api_key))
        assert response.status_code in (200, 201), response.text
        return response.json()["service"]

    def publish(self, code=CALLS_JS, runtime="javascript", **manifest) -> dict:
        body = {
            "name": "proxy-skill",
            "version": "1.0.0",
            "description": "Calls an upstream through the credential proxy.",
            "execution_mode": "sealed",
            "input_schema": {},
            "output_schema": {},
            "execution_steps": [{"type": "script", "runtime": runtime, "code": code}],
            **manifest,
        }
        response = self.http.post("/v1/skills", json=body, headers=auth(self.seller_key.api_key))
        assert response.status_code == 201, response.text
        return response.json()["skill"]

    def invoke(self, skill, calls=None, **extra) -> httpx.Response:
        body = {"input": {"calls": calls or []}, "passport_id": self.passport, **extra}
        return self.http.post(
            f"/v1/skills/{skill['id']}/invoke", json=body, headers=auth(self.buyer_key.api_key)
        )

    def call(self, name=API, path="/echo", **opts) -> dict:
        return {"url": self.upstream.url(name, path), "opts": opts}

    def postings(self, invocation_id) -> list[tuple[str, str, str, int]]:
        p = ledger_postings.c
        with self.services.db.read() as conn:
            rows = conn.execute(
                sa.select(p.kind, p.debit_account_id, p.credit_account_id, p.amount)
                .where(p.invocation_id == invocation_id)
                .order_by(p.seq)
            ).all()
        return [tuple(r) for r in rows]

    def proxy_events(self, invocation_id) -> list[dict]:
        events = self.services.audit.events(None, limit=10_000, subject=invocation_id)
        return [e["data"] for e in events if e["type"] == "proxy.call"]

    def whole_audit_log(self) -> str:
        return json.dumps(self.services.audit.events(None, limit=100_000))


@pytest.fixture
def market(db_url, tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, seed_examples=False)
    services = open_services(settings)
    with https_upstream(API, FILES, OTHER) as upstream:
        app = create_app(services, egress_guard=upstream.guard())
        with served(app) as base_url, httpx.Client(base_url=base_url, timeout=60) as http:
            yield Market(services, http, upstream)
    services.close()


def secret_forms(secret: str, username: str | None = None) -> list[str]:
    forms = [secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]]
    if username is not None:
        forms.append(base64.b64encode(f"{username}:{secret}".encode()).decode())
    return forms


def assert_no_secret(text: str, forms: list[str]) -> None:
    for form in forms:
        assert form.lower() not in text.lower(), form


def assert_not_stored_in_plain_text(tmp_path: Path, db_url: str, *secrets: str) -> None:
    if not db_url.startswith("sqlite"):
        return
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, path


class TestSellerCredential:
    def test_is_injected_scrubbed_billed_at_cost_plus_15_and_audited(
        self, market, db_url, tmp_path
    ):
        market.connect(market.seller_key, secret=SELLER_SECRET)
        skill = market.publish(
            credential_mode="seller_provides",
            services=[{"name": "crm", "cost_per_call_micros": 1_000}],
            price_cents=2,
        )
        forged = {"service": "crm", "headers": {"Authorization": "Bearer forged"}}
        response = market.invoke(skill, [market.call(**forged)] * 3)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "completed", body

        # The upstream got the seller's credential, not the script's forgery.
        assert [s.headers["authorization"] for s in market.upstream.seen] == [
            f"Bearer {SELLER_SECRET}"
        ] * 3
        # The script saw it scrubbed from the echoed body and headers.
        assert_no_secret(response.text, secret_forms(SELLER_SECRET))
        first = body["output"][0]
        assert first["status"] == 200
        assert first["headers"]["x-echo-authorization"] == "Bearer [REDACTED]"
        assert json.loads(first["body"])["headers"]["authorization"] == "Bearer [REDACTED]"

        # Billed: 3 calls at 1,000 micros, + 15 %, before the script's runtime.
        proxy, script = body["cost"]["breakdown"]
        assert proxy == {
            "step": 0,
            "type": "proxy",
            "service": "crm",
            "provided_by": "seller",
            "calls": 3,
            "cost_usd": 0.00345,
            "cost_micros": 3_450,
        }
        assert script["type"] == "script"
        invocation = body["invocation_id"]
        buyer, seller = f"held:{market.buyer.id}", f"earnings:{market.seller.id}"
        postings = market.postings(invocation)
        assert ("proxy", buyer, seller, 3_000) in postings
        assert ("markup", buyer, "platform:revenue", 450) in postings
        assert not [p for p in postings if p[0] == "absorbed"]
        assert body["cost"]["total_micros"] == 20_000 + 3_450 + script["cost_micros"]
        wallet = market.services.ledger.wallet(market.buyer.id)
        assert wallet.available_micros == 5_000_000 - body["cost"]["total_micros"]
        # The seller nets the price less the studio commission, plus the upstream cost paid.
        earned = market.services.ledger.wallet(market.seller.id).earnings_micros
        assert earned == 20_000 - 3_000 + 3_000
        assert market.services.ledger.verify().ok

        # Every call is an audit event with metadata only; no event anywhere holds the secret.
        events = market.proxy_events(invocation)
        assert len(events) == 3
        for data in events:
            assert (data["service"], data["provided_by"], data["host"]) == ("crm", "seller", API)
            assert (data["method"], data["status"], data["cost_per_call_micros"]) == (
                "GET",
                200,
                1_000,
            )
            assert data["bytes_received"] > 0 and isinstance(data["ms"], int)
        assert_no_secret(market.whole_audit_log(), secret_forms(SELLER_SECRET))
        assert_not_stored_in_plain_text(tmp_path, db_url, SELLER_SECRET)

    def test_calls_beyond_the_hold_are_refused_not_absorbed(self, market):
        market.connect(market.seller_key, secret=SELLER_SECRET)
        skill = market.publish(
            credential_mode="seller_provides",
            services=[{"name": "crm", "cost_per_call_micros": 100_000}],
        )
        body = market.invoke(
            skill, [market.call(service="crm")] * 4, max_cost_micros=250_000
        ).json()
        assert body["status"] == "completed", body
        answers = [o.get("status") or o["error"] for o in body["output"]]
        # 2 calls cost 230,000 with the markup; a third would need 345,000.
        assert answers == [200, 200, "PROXY_BUDGET_EXCEEDED", "PROXY_BUDGET_EXCEEDED"]
        assert len(market.upstream.seen) == 2
        proxy = body["cost"]["breakdown"][0]
        assert (proxy["calls"], proxy["cost_micros"]) == (2, with_markup(200_000))
        assert market.services.ledger.wallet(market.seller.id).earnings_micros == 200_000
        assert not [p for p in market.postings(body["invocation_id"]) if p[0] == "absorbed"]
        refused = [e for e in market.proxy_events(body["invocation_id"]) if "error" in e]
        assert [e["error"] for e in refused] == ["PROXY_BUDGET_EXCEEDED"] * 2


class TestBuyerCredential:
    def test_python_skill_uses_the_buyers_credential_at_no_extra_cost(
        self, market, db_url, tmp_path
    ):
        market.connect(
            market.buyer_key, name="files", auth="header", header_name="X-Api-Key",
            secret=BUYER_SECRET,
        )  # fmt: skip
        skill = market.publish(
            CALLS_PY,
            "python",
            credential_mode="buyer_provides",
            services=[{"name": "files"}],
            price_cents=1,
        )
        response = market.invoke(skill, [market.call(FILES, service="files")])
        body = response.json()
        assert body["status"] == "completed", body
        [seen] = market.upstream.seen
        assert (seen.host, seen.headers["x-api-key"]) == (FILES, BUYER_SECRET)
        assert_no_secret(response.text, secret_forms(BUYER_SECRET))
        assert body["output"][0]["headers"]["x-echo-x-api-key"] == "[REDACTED]"
        proxy, script = body["cost"]["breakdown"]
        assert proxy == {
            "step": 0,
            "type": "proxy",
            "service": "files",
            "provided_by": "buyer",
            "calls": 1,
            "cost_usd": 0.0,
            "cost_micros": 0,
        }
        assert body["cost"]["total_micros"] == 10_000 + script["cost_micros"]
        kinds = {p[0] for p in market.postings(body["invocation_id"])}
        assert "proxy" not in kinds and "absorbed" not in kinds
        [event] = market.proxy_events(body["invocation_id"])
        assert (event["service"], event["provided_by"], event["cost_per_call_micros"]) == (
            "files",
            "buyer",
            0,
        )
        assert_no_secret(market.whole_audit_log(), secret_forms(BUYER_SECRET))
        assert_not_stored_in_plain_text(tmp_path, db_url, BUYER_SECRET)

    def test_both_sides_credentials_in_one_skill(self, market):
        market.connect(market.seller_key, secret=SELLER_SECRET)
        market.connect(market.buyer_key, name="files", domain=FILES, secret=BUYER_SECRET)
        skill = market.publish(
            credential_mode="both",
            services=[
                {"name": "crm", "provided_by": "seller", "cost_per_call_micros": 500},
                {"name": "files", "provided_by": "buyer"},
            ],
        )
        calls = [market.call(service="crm"), market.call(FILES, service="files")]
        response = market.invoke(skill, calls)
        body = response.json()
        assert body["status"] == "completed", body
        assert [(s.host, s.headers["authorization"]) for s in market.upstream.seen] == [
            (API, f"Bearer {SELLER_SECRET}"),
            (FILES, f"Bearer {BUYER_SECRET}"),
        ]
        assert_no_secret(response.text, secret_forms(SELLER_SECRET) + secret_forms(BUYER_SECRET))
        lines = {
            (x["service"], x["provided_by"]): x["cost_micros"]
            for x in body["cost"]["breakdown"]
            if x["type"] == "proxy"
        }
        assert lines == {("crm", "seller"): 500 + markup_micros(500), ("files", "buyer"): 0}


class TestSchemes:
    @pytest.mark.parametrize(
        ("connection", "where"),
        [
            ({"auth": "bearer"}, lambda s: s.headers["authorization"] == f"Bearer {SELLER_SECRET}"),
            (
                {"auth": "header", "header_name": "X-Api-Key"},
                lambda s: s.headers["x-api-key"] == SELLER_SECRET,
            ),
            (
                {"auth": "query", "param_name": "api_key"},
                lambda s: httpx.URL(s.path).params["api_key"] == SELLER_SECRET,
            ),
            (
                {"auth": "basic", "username": "ada"},
                lambda s: (
                    s.headers["authorization"]
                    == "Basic " + base64.b64encode(f"ada:{SELLER_SECRET}".encode()).decode()
                ),
            ),
        ],
        ids=["bearer", "header", "query", "basic"],
    )
    def test_each_scheme_is_injected_and_every_form_of_it_scrubbed(self, market, connection, where):
        market.connect(market.seller_key, secret=SELLER_SECRET, **connection)
        skill = market.publish(credential_mode="seller_provides", services=[{"name": "crm"}])
        response = market.invoke(skill, [market.call(service="crm")])
        assert response.json()["status"] == "completed", response.text
        [seen] = market.upstream.seen
        assert where(seen)
        assert_no_secret(response.text, secret_forms(SELLER_SECRET, connection.get("username")))
        assert "[REDACTED]" in response.text


class TestRefusals:
    @pytest.mark.parametrize(("code", "runtime"), [(CALLS_JS, "javascript"), (CALLS_PY, "python")])
    def test_refusals_reach_the_script_as_catchable_codes(self, market, code, runtime):
        market.connect(market.seller_key, secret=SELLER_SECRET)
        skill = market.publish(
            code,
            runtime,
            credential_mode="both",
            services=[
                {"name": "crm", "provided_by": "seller", "cost_per_call_micros": 1_000},
                {"name": "files", "provided_by": "buyer"},
            ],
        )
        off_domain = market.upstream.url(OTHER)
        calls = [
            market.call(service="nope"),
            market.call(FILES, service="files"),  # the buyer has not connected it
            market.call(OTHER, service="crm"),
            {"url": f"http://{API}:{market.upstream.port}/echo", "opts": {"service": "crm"}},
            market.call(path=f"/redirect?to={quote(off_domain)}", service="crm"),
        ]
        body = market.invoke(skill, calls).json()
        assert body["status"] == "completed", body
        assert [o["error"] for o in body["output"]] == [
            "SERVICE_NOT_DECLARED",
            "SERVICE_NOT_CONNECTED",
            "EGRESS_BLOCKED",
            "EGRESS_BLOCKED",
            "EGRESS_BLOCKED",
        ]
        reasons = [o["message"] for o in body["output"][2:]]
        assert "not_service_domain" in reasons[0] and "https_required" in reasons[1]
        assert "not_allowlisted" in reasons[2]
        # Only the redirecting request left; nothing reached the other domain.
        assert [s.host for s in market.upstream.seen] == [API]
        assert not [x for x in body["cost"]["breakdown"] if x["type"] == "proxy"]
        errors = [e["error"] for e in market.proxy_events(body["invocation_id"])]
        assert errors == [o["error"] for o in body["output"]]

    def test_an_uncaught_refusal_fails_the_invocation_with_its_code(self, market):
        skill = market.publish(
            UNCAUGHT_JS, credential_mode="seller_provides", services=[{"name": "crm"}]
        )
        response = market.http.post(
            f"/v1/skills/{skill['id']}/invoke",
            json={"input": {"url": market.upstream.url(API)}, "passport_id": market.passport},
            headers=auth(market.buyer_key.api_key),
        )
        body = response.json()
        assert (body["status"], body["error"]["code"]) == ("failed", "SERVICE_NOT_DECLARED")
        assert market.upstream.seen == []


class TestRedirects:
    def test_cross_origin_redirect_drops_the_injected_header(self, market):
        market.connect(
            market.seller_key, auth="header", header_name="X-Api-Key", secret=SELLER_SECRET
        )
        skill = market.publish(credential_mode="seller_provides", services=[{"name": "crm"}])
        same = market.call(path="/redirect?to=/echo", service="crm")
        cross = market.call(path=f"/redirect?to={quote(market.upstream.url(FILES))}", service="crm")
        response = market.invoke(skill, [same, cross])
        body = response.json()
        assert body["status"] == "completed", body
        hops = [(s.host, s.path, s.headers.get("x-api-key")) for s in market.upstream.seen]
        assert hops[:2] == [
            (API, "/redirect?to=/echo", SELLER_SECRET),
            (API, "/echo", SELLER_SECRET),  # same origin: kept
        ]
        assert hops[2][2] == SELLER_SECRET and hops[3] == (FILES, "/echo", None)
        assert [o["status"] for o in body["output"]] == [200, 200]
        assert_no_secret(response.text, secret_forms(SELLER_SECRET))
