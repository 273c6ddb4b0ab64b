"""Price table and cost arithmetic: integer micro-dollars, rounded up once per step."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from skillmarket.runtime.steps.errors import LlmModelUnpriced, LlmPriceTableInvalid
from skillmarket.runtime.steps.pricing import (
    DEFAULT_PRICES,
    ModelPrice,
    PriceTable,
    upstream_cost_micros,
    usd_to_micros,
)


class TestModelPrice:
    def test_cost_is_exact_when_it_divides(self):
        # 850 prompt + 320 completion tokens of gpt-4o: 2125 + 3200 micro-dollars.
        assert ModelPrice(2_500_000, 10_000_000).cost_micros(850, 320) == 5325

    def test_cost_rounds_up_to_the_next_micro_dollar(self):
        assert ModelPrice(150_000, 600_000).cost_micros(1, 1) == 1  # 0.75 µ$
        assert ModelPrice(150_000, 600_000).cost_micros(10, 0) == 2  # 1.5 µ$

    def test_cost_is_zero_without_tokens(self):
        assert ModelPrice(2_500_000, 10_000_000).cost_micros(0, 0) == 0

    @pytest.mark.parametrize("value", [-1, 1.5, True, 10**10])
    def test_create_fails_bad_price(self, value):
        with pytest.raises(ValueError):
            ModelPrice(value, 0)

    def test_cost_fails_negative_tokens(self):
        with pytest.raises(ValueError):
            ModelPrice(1, 1).cost_micros(-1, 0)


class TestUsdToMicros:
    @pytest.mark.parametrize(
        ("value", "micros"),
        [
            (0.0038, 3800),
            (0, 0),
            ("0.0042", 4200),
            (Decimal("0.0038001"), 3801),
            (0.0000001, 1),
            (1, 1_000_000),
            (0.1 + 0.2, 300_001),  # the float's own decimal form, rounded up
        ],
    )
    def test_convert_rounds_up(self, value, micros):
        assert usd_to_micros(value) == micros

    @pytest.mark.parametrize("value", [-0.01, "nan", "inf", float("inf"), True, None, "abc", [1]])
    def test_convert_fails_not_a_cost(self, value):
        with pytest.raises(ValueError):
            usd_to_micros(value)


class TestUpstreamCost:
    def test_cost_absent_or_null_is_none(self):
        assert upstream_cost_micros({"prompt_tokens": 1}) is None
        assert upstream_cost_micros({"cost": None}) is None
        assert upstream_cost_micros(None) is None

    def test_cost_is_read_exactly(self):
        assert upstream_cost_micros({"cost": Decimal("0.0038")}) == 3800

    def test_byok_adds_upstream_inference_cost(self):
        usage = {
            "cost": Decimal("0.0002"),
            "is_byok": True,
            "cost_details": {"upstream_inference_cost": Decimal("0.004")},
        }
        assert upstream_cost_micros(usage) == 4200

    def test_non_byok_ignores_upstream_inference_cost(self):
        usage = {"cost": 0.004, "cost_details": {"upstream_inference_cost": 0.004}}
        assert upstream_cost_micros(usage) == 4000

    def test_cost_fails_negative(self):
        with pytest.raises(ValueError):
            upstream_cost_micros({"cost": -1})


class TestPriceTable:
    def test_defaults_price_the_seed_models(self):
        table = PriceTable()
        assert set(table.models()) >= {
            "openai/gpt-4o",
            "openai/gpt-4o-mini",
            "anthropic/claude-sonnet-4",
        }
        assert table.get("openai/gpt-4o") == DEFAULT_PRICES["openai/gpt-4o"]
        assert "openai/gpt-4o" in table

    def test_cost_fails_unpriced_model(self):
        with pytest.raises(LlmModelUnpriced) as info:
            PriceTable().cost_micros("mistral/unknown", 1, 1)
        assert info.value.code == "LLM_MODEL_UNPRICED"
        assert info.value.details == {"model": "mistral/unknown"}

    def test_max_cost_for_a_hold(self):
        table = PriceTable()
        assert table.max_cost_micros("openai/gpt-4o", 1000, 2000) == 22_500
        assert table.max_cost_micros("mistral/unknown", 1000, 2000) is None

    def test_from_json_overrides_and_adds(self):
        table = PriceTable.from_json(
            {
                "openai/gpt-4o": {"prompt_micros_per_mtok": 1, "completion_micros_per_mtok": 2},
                "local/llama": {"prompt_micros_per_mtok": 0, "completion_micros_per_mtok": 0},
            }
        )
        assert table.get("openai/gpt-4o") == ModelPrice(1, 2)
        assert table.get("local/llama") == ModelPrice(0, 0)
        assert table.get("openai/gpt-4o-mini") == DEFAULT_PRICES["openai/gpt-4o-mini"]

    @pytest.mark.parametrize(
        "data",
        [
            [],
            {"m": 1},
            {"m": {"prompt_micros_per_mtok": 1}},
            {"m": {"prompt_micros_per_mtok": 1, "completion_micros_per_mtok": 1, "x": 1}},
            {"m": {"prompt_micros_per_mtok": -1, "completion_micros_per_mtok": 1}},
            {"m": {"prompt_micros_per_mtok": 2.5, "completion_micros_per_mtok": 1}},
            {"": {"prompt_micros_per_mtok": 1, "completion_micros_per_mtok": 1}},
        ],
    )
    def test_from_json_fails_bad_shape(self, data):
        with pytest.raises(LlmPriceTableInvalid) as info:
            PriceTable.from_json(data)
        assert info.value.code == "LLM_PRICE_TABLE_INVALID"

    def test_from_file_reads_json(self, tmp_path):
        path = tmp_path / "prices.json"
        path.write_text(
            json.dumps({"x/y": {"prompt_micros_per_mtok": 7, "completion_micros_per_mtok": 8}})
        )
        assert PriceTable.from_file(path).get("x/y") == ModelPrice(7, 8)

    @pytest.mark.parametrize("content", [None, "{not json", "\xff"])
    def test_from_file_fails_unreadable(self, tmp_path, content):
        path = tmp_path / "prices.json"
        if content is not None:
            path.write_bytes(content.encode("latin-1"))
        with pytest.raises(LlmPriceTableInvalid) as info:
            PriceTable.from_file(path)
        assert info.value.details == {"path": str(path)}
