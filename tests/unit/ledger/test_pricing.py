"""Pricing rules: the seed's percentages, the rounding rule, holds and settlement."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillmarket.ledger.errors import MaxCostTooLow
from skillmarket.ledger.pricing import (
    COMMISSION_PERCENT,
    OUTCOMES,
    OVERAGE_MICROS,
    MeteredCost,
    commission_micros,
    free_skill_price,
    hold_amount,
    markup_micros,
    percent_of,
    script_upstream_micros,
    settle,
    upstream_within,
    with_markup,
)

amounts = st.integers(min_value=0, max_value=10**12)


class TestPercentages:
    @pytest.mark.parametrize(
        ("tier", "commission"),
        [("free", 300_000), ("developer", 200_000), ("studio", 150_000), ("enterprise", 100_000)],
    )
    def test_commission_matches_seed(self, tier, commission):
        assert commission_micros(1_000_000, tier) == commission

    def test_commission_table_is_exactly_the_seeds(self):
        assert COMMISSION_PERCENT == {"free": 30, "developer": 20, "studio": 15, "enterprise": 10}

    @pytest.mark.parametrize(
        ("amount", "percent", "expected"),
        [(10, 15, 2), (9, 15, 1), (3, 50, 2), (1, 50, 1), (1, 49, 0), (0, 15, 0), (100, 15, 15)],
    )
    def test_percent_rounds_half_up_to_the_micro(self, amount, percent, expected):
        assert percent_of(amount, percent) == expected

    @given(amounts, st.integers(min_value=0, max_value=100))
    def test_percent_is_the_nearest_integer(self, amount, percent):
        exact_twice = 2 * amount * percent  # twice the exact value times 100
        assert abs(percent_of(amount, percent) * 200 - exact_twice) <= 100

    def test_markup_reproduces_the_seed_cost_example(self):
        # The seed: an LLM step at $0.0038 and a 145 ms script step at $0.0004, $0.0042 in all.
        assert with_markup(3_304) == 3_800 and markup_micros(3_304) == 496
        assert script_upstream_micros(145) == 348
        assert with_markup(348) == 400
        assert with_markup(3_304) + with_markup(script_upstream_micros(145)) == 4_200

    @given(amounts)
    def test_upstream_within_is_the_largest_that_fits(self, budget):
        upstream = upstream_within(budget)
        assert with_markup(upstream) <= budget < with_markup(upstream + 1)


class TestFreeSkills:
    def test_allowance_is_free_and_overage_costs_a_tenth_of_a_cent(self):
        assert free_skill_price(True) == ("allowance", 0)
        assert free_skill_price(False) == ("overage", OVERAGE_MICROS) == ("overage", 1_000)


class TestHoldAmount:
    def test_hold_is_price_plus_marked_up_estimate(self):
        assert hold_amount(50_000, 4_000, None) == 50_000 + 4_600

    def test_max_cost_caps_the_hold(self):
        assert hold_amount(50_000, 4_000, 52_000) == 52_000
        assert hold_amount(50_000, 4_000, 99_000) == 54_600

    def test_hold_fails_when_max_cost_is_below_price(self):
        with pytest.raises(MaxCostTooLow) as caught:
            hold_amount(50_000, 0, 49_999)
        assert caught.value.details == {"max_cost_micros": 49_999, "price_micros": 50_000}


metered = st.lists(
    st.builds(
        MeteredCost,
        step=st.integers(0, 9),
        type=st.sampled_from(["llm", "script", "proxy"]),
        upstream=st.integers(0, 10**7),
    ),
    max_size=6,
)


class TestSettle:
    def test_succeeded_pays_price_commission_and_compute(self):
        s = settle(
            held=54_600,
            price=50_000,
            price_kind="list",
            commission_percent=20,
            outcome="succeeded",
            metered=[MeteredCost(0, "llm", 3_304), MeteredCost(1, "script", 348)],
        )
        assert (s.price, s.commission, s.compute, s.charged, s.released) == (
            50_000,
            10_000,
            4_200,
            54_200,
            400,
        )
        assert [(line.upstream, line.markup, line.cost) for line in s.lines] == [
            (3_304, 496, 3_800),
            (348, 52, 400),
        ]

    @pytest.mark.parametrize("outcome", ["failed", "expired", "terminated"])
    def test_unsuccessful_pays_compute_never_the_price(self, outcome):
        s = settle(
            held=54_600,
            price=50_000,
            price_kind="list",
            commission_percent=20,
            outcome=outcome,
            metered=[MeteredCost(0, "llm", 3_304)],
        )
        assert (s.price, s.commission, s.charged, s.released) == (0, 0, 3_800, 50_800)

    def test_overage_has_no_commission(self):
        s = settle(
            held=1_000,
            price=1_000,
            price_kind="overage",
            commission_percent=0,
            outcome="succeeded",
            metered=[],
        )
        assert (s.price, s.commission, s.released) == (1_000, 0, 0)

    def test_compute_beyond_the_hold_is_absorbed_not_charged(self):
        s = settle(
            held=1_000,
            price=0,
            price_kind="allowance",
            commission_percent=0,
            outcome="succeeded",
            metered=[MeteredCost(0, "llm", 900), MeteredCost(1, "script", 500)],
        )
        first, second = s.lines
        assert (first.cost, first.upstream_paid, first.markup, first.absorbed) == (
            1_000,
            900,
            100,
            0,
        )
        assert (second.cost, second.absorbed) == (0, 500)
        assert s.charged == 1_000 and s.released == 0 and s.absorbed == 500

    @given(
        price=st.integers(0, 10**7),
        extra=amounts,
        kind=st.sampled_from(["list", "allowance", "overage"]),
        percent=st.sampled_from([10, 15, 20, 30]),
        outcome=st.sampled_from(OUTCOMES),
        lines=metered,
    )
    def test_settlement_conserves_the_hold(self, price, extra, kind, percent, outcome, lines):
        held = price + extra
        s = settle(
            held=held,
            price=price,
            price_kind=kind,
            commission_percent=percent,
            outcome=outcome,
            metered=lines,
        )
        assert s.charged + s.released == held
        assert 0 <= s.charged <= held and s.released >= 0
        assert s.price == (price if outcome == "succeeded" else 0)
        assert 0 <= s.commission <= s.price
        for line, item in zip(s.lines, lines, strict=True):
            assert line.cost == line.upstream_paid + line.markup
            assert line.upstream_paid + line.absorbed == item.upstream
            assert 0 <= line.markup <= markup_micros(item.upstream)
        if held >= s.price + sum(with_markup(i.upstream) for i in lines):
            assert s.absorbed == 0
            assert s.compute == sum(with_markup(i.upstream) for i in lines)
