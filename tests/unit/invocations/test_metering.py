"""Metering proxy_fetch calls against the hold (pure)."""

from __future__ import annotations

import pytest

from skillmarket.invocations.errors import ProxyBudgetExceeded
from skillmarket.invocations.metering import ProxyMeter
from skillmarket.ledger.models import MeteredStep
from skillmarket.ledger.pricing import MeteredCost, settle, with_markup


class TestProxyMeter:
    def test_lines_per_service_and_side_with_calls_and_cost(self):
        meter = ProxyMeter(1_000_000)
        meter.start_step(2, [])
        for _ in range(3):
            meter.reserve("crm", "seller", 1_000)
        meter.reserve("files", "buyer", 0)
        meter.reserve(None, None, 0)
        lines = meter.lines()
        assert [(x.service, x.provided_by, x.calls, x.upstream_micros) for x in lines] == [
            (None, None, 1, 0),
            ("crm", "seller", 3, 3_000),
            ("files", "buyer", 1, 0),
        ]
        assert all(x.step == 2 and x.type == "proxy" for x in lines)
        assert meter.lines() == []

    def test_released_calls_are_not_billed(self):
        meter = ProxyMeter(1_000_000)
        meter.reserve("crm", "seller", 1_000)
        meter.release("crm", "seller")
        assert meter.lines() == []

    def test_seller_call_fails_when_the_hold_cannot_pay_it(self):
        # 10,000 of budget; an earlier line took with_markup(5,000) = 5,750.
        meter = ProxyMeter(10_000)
        meter.start_step(1, [MeteredStep(step=0, type="llm", upstream_micros=5_000)])
        meter.reserve("crm", "seller", 1_800)  # 5,750 + 2,070 = 7,820
        with pytest.raises(ProxyBudgetExceeded) as caught:
            meter.reserve("crm", "seller", 1_800)  # 5,750 + with_markup(3,600) = 9,890: fits
            meter.reserve("crm", "seller", 1_800)  # 5,750 + with_markup(5,400) = 11,960
        assert caught.value.details["needed_micros"] == 5_750 + with_markup(5_400)
        assert caught.value.code == "PROXY_BUDGET_EXCEEDED"
        meter.reserve("files", "buyer", 0)  # the buyer's own calls cost nothing: never refused
        [crm, files] = meter.lines()
        assert (crm.calls, files.calls) == (2, 1)

    def test_what_the_meter_admits_the_ledger_pays_in_full(self):
        budget = 9_999
        meter = ProxyMeter(budget)
        earlier = [MeteredStep(step=0, type="script", upstream_micros=1_234)]
        meter.start_step(1, earlier)
        with pytest.raises(ProxyBudgetExceeded):
            while True:
                meter.reserve("crm", "seller", 777)
        lines = [*earlier, *meter.lines()]
        settled = settle(
            held=budget,
            price=0,
            price_kind="allowance",
            commission_percent=0,
            outcome="succeeded",
            metered=[_cost(x) for x in lines],
        )
        assert settled.absorbed == 0 and settled.released >= 0


def _cost(line: MeteredStep) -> MeteredCost:
    return MeteredCost(line.step, line.type, line.upstream_micros)
