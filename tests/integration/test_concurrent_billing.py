"""Money under concurrency, over real HTTP: 500 parallel invokes on a wallet that can pay for
100 run exactly 100 times, and no balance ever goes negative."""

from __future__ import annotations

import asyncio

import httpx

from skillmarket.api.app import create_app
from tests.conftest import auth
from tests.support.served import served


def test_500_parallel_invokes_on_a_wallet_for_100_run_exactly_100(
    services, operator_factory, manifest_factory
):
    publisher, publisher_key = operator_factory("publisher")
    buyer, buyer_key = operator_factory("buyer")
    passport = services.passports.issue(buyer.id, {}).passport_id
    price_cents = 7
    services.ledger.deposit(buyer.id, 100 * price_cents * 10_000, provider_ref="exactly-100")
    with served(create_app(services)) as url:
        with httpx.Client(base_url=url) as client:
            skill = client.post(
                "/v1/skills",
                headers=auth(publisher_key),
                json=manifest_factory(
                    execution_mode="open",
                    execution_steps=[],
                    price_cents=price_cents,
                    input_schema={"type": "object"},
                ),
            ).json()["skill"]

        async def storm() -> list[int]:
            limits = httpx.Limits(max_connections=64)
            async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

                async def one(i: int) -> int:
                    response = await client.post(
                        f"/v1/skills/{skill['id']}/invoke",
                        headers=auth(buyer_key),
                        json={"input": {"n": i}, "passport_id": passport},
                    )
                    return response.status_code

                return await asyncio.gather(*(one(i) for i in range(500)))

        statuses = asyncio.run(storm())
    assert sorted(set(statuses)) == [202, 402]
    assert statuses.count(202) == 100
    wallet = services.ledger.wallet(buyer.id)
    assert wallet.available_micros == 0
    assert wallet.held_micros == 100 * price_cents * 10_000
    assert services.ledger.verify().ok
