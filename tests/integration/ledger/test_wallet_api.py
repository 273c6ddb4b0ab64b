"""The wallet and admin money endpoints over HTTP (in-process ASGI) on both stores."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from skillmarket.api.app import create_app
from skillmarket.ledger.models import MeteredStep
from skillmarket.ledger.services import LedgerService
from tests.conftest import auth


@pytest.fixture
def api(services, clock):
    """The app, its ledger on the test clock (so months can end during a test)."""
    services.ledger = LedgerService(services.db, identity=services.identity, clock=clock)
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def admin(operator_factory):
    return auth(operator_factory("root", "enterprise", is_admin=True)[1])


@pytest.fixture
def trio(operator_factory):
    buyer, buyer_key = operator_factory("buyer", "developer")
    publisher, publisher_key = operator_factory("publisher", "developer")
    return (buyer, auth(buyer_key)), (publisher, auth(publisher_key))


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return body["error"]


def sell(services, buyer_id, skill, invocation_id):
    services.ledger.place_hold(buyer_id, invocation_id, skill=skill, estimate=1_000)
    step = MeteredStep(step=0, type="script", execution_ms=145, upstream_micros=348)
    return services.ledger.capture(invocation_id, outcome="succeeded", compute=[step])


class TestWallet:
    def test_new_wallet_is_empty_with_a_full_allowance(self, api, trio):
        (buyer, headers), _ = trio
        body = api.get("/v1/wallet", headers=headers).json()
        assert body == {
            "operator_id": buyer.id,
            "currency": "USD",
            "available_micros": 0,
            "held_micros": 0,
            "earnings_micros": 0,
            "allowance": {
                "tier": "developer",
                "month": "2026-03",
                "limit": 1_000,
                "used": 0,
                "remaining": 1_000,
            },
        }

    def test_ledger_pages(self, api, admin, trio):
        (buyer, headers), _ = trio
        for ref in ("a", "b", "c"):
            api.post(
                "/v1/admin/deposits",
                json={"operator_id": buyer.id, "amount_micros": 1_000, "provider_ref": ref},
                headers=admin,
            )
        page = api.get("/v1/wallet/ledger", params={"limit": 2}, headers=headers).json()
        assert len(page["items"]) == 2 and page["has_more"]
        assert {i["kind"] for i in page["items"]} == {"deposit"}
        rest = api.get("/v1/wallet/ledger", params={"offset": 2}, headers=headers).json()
        assert len(rest["items"]) == 1 and not rest["has_more"]
        assert_error(
            api.get("/v1/wallet/ledger", params={"limit": 0}, headers=headers),
            422,
            "VALIDATION_ERROR",
        )


class TestDeposits:
    def test_admin_deposit_credits_and_replays(self, api, admin, trio):
        (buyer, headers), _ = trio
        body = {"operator_id": buyer.id, "amount_micros": 5_000_000, "provider_ref": "pi_1"}
        first = api.post("/v1/admin/deposits", json=body, headers=admin)
        assert first.status_code == 201 and first.json()["provider"] == "manual"
        again = api.post("/v1/admin/deposits", json=body, headers=admin)
        assert again.status_code == 200 and again.json()["entry_id"] == first.json()["entry_id"]
        assert api.get("/v1/wallet", headers=headers).json()["available_micros"] == 5_000_000

    def test_deposit_fails_for_operators(self, api, trio):
        (buyer, headers), _ = trio
        body = {"operator_id": buyer.id, "amount_micros": 5_000_000}
        assert_error(
            api.post("/v1/admin/deposits", json=body, headers=headers), 403, "ADMIN_REQUIRED"
        )

    @pytest.mark.parametrize(
        ("amount", "status", "code"),
        [(0, 422, "INVALID_AMOUNT"), (-1, 422, "INVALID_AMOUNT"), (1.5, 422, "VALIDATION_ERROR")],
    )
    def test_deposit_fails_for_bad_amounts(self, api, admin, trio, amount, status, code):
        (buyer, _), _ = trio
        body = {"operator_id": buyer.id, "amount_micros": amount}
        assert_error(api.post("/v1/admin/deposits", json=body, headers=admin), status, code)

    def test_deposit_fails_for_unknown_operator(self, api, admin):
        body = {"operator_id": "op_nobody", "amount_micros": 1}
        assert_error(
            api.post("/v1/admin/deposits", json=body, headers=admin), 404, "OPERATOR_NOT_FOUND"
        )

    def test_deposit_fails_for_reused_reference(self, api, admin, trio):
        (buyer, _), (publisher, _) = trio
        body = {"operator_id": buyer.id, "amount_micros": 1, "provider_ref": "pi_1"}
        api.post("/v1/admin/deposits", json=body, headers=admin)
        body["operator_id"] = publisher.id
        assert_error(
            api.post("/v1/admin/deposits", json=body, headers=admin), 409, "DEPOSIT_CONFLICT"
        )


class TestStatementsAndPayouts:
    def test_statement_json_csv_and_payout(self, api, admin, services, clock, trio, skill_factory):
        (buyer, _), (publisher, headers) = trio
        skill = skill_factory(publisher.id, price_cents=25)
        services.ledger.deposit(buyer.id, 1_000_000)
        for n in range(2):
            sell(services, buyer.id, skill, f"sinv_{n}")

        statement = api.get("/v1/wallet/statements/2026-03", headers=headers).json()
        assert statement["status"] == "open"
        assert statement["totals"]["gross_micros"] == 500_000
        assert statement["totals"]["commission_micros"] == 100_000  # developer: 20 %
        assert statement["totals"]["net_micros"] == 400_000
        response = api.get(
            "/v1/wallet/statements/2026-03", params={"format": "csv"}, headers=headers
        )
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert rows[-1]["skill_id"] == "TOTAL" and rows[-1]["net_micros"] == "400000"

        request = {"publisher_id": publisher.id, "month": "2026-03"}
        assert_error(
            api.post("/v1/admin/payouts", json=request, headers=admin), 409, "MONTH_NOT_CLOSED"
        )
        clock.advance(days=30)
        paid = api.post("/v1/admin/payouts", json=request, headers=admin)
        assert paid.status_code == 201 and paid.json()["amount_micros"] == 400_000
        assert_error(
            api.post("/v1/admin/payouts", json=request, headers=admin), 409, "PAYOUT_ALREADY_MADE"
        )
        statement = api.get("/v1/wallet/statements/2026-03", headers=headers).json()
        assert statement["status"] == "paid" and statement["payout"]["amount_micros"] == 400_000
        assert api.get("/v1/wallet", headers=headers).json()["earnings_micros"] == 0
        check = api.get("/v1/admin/ledger/check", headers=admin).json()
        assert check["ok"] and check["postings"] > 0

    def test_statement_fails_for_bad_month(self, api, trio):
        _, (_, headers) = trio
        assert_error(api.get("/v1/wallet/statements/2026-3", headers=headers), 422, "INVALID_MONTH")
        assert_error(
            api.get("/v1/wallet/statements/2026-03", params={"format": "xml"}, headers=headers),
            422,
            "VALIDATION_ERROR",
        )

    def test_payout_fails_with_nothing_earned(self, api, admin, trio):
        _, (publisher, _) = trio
        request = {"publisher_id": publisher.id, "month": "2026-01"}
        assert_error(
            api.post("/v1/admin/payouts", json=request, headers=admin), 409, "NOTHING_TO_PAY_OUT"
        )

    def test_ledger_check_fails_for_operators(self, api, trio):
        (_, headers), _ = trio
        assert_error(api.get("/v1/admin/ledger/check", headers=headers), 403, "ADMIN_REQUIRED")
