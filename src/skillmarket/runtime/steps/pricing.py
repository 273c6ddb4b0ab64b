"""LLM prices and cost arithmetic in integer micro-dollars (pure, apart from reading a file).

A price is micro-dollars per million tokens, one figure for prompt tokens and one for completion
tokens: US$2.50 per million prompt tokens is ``2_500_000``. A step's cost is

    ceil((prompt_tokens × prompt_price + completion_tokens × completion_price) / 1_000_000)

micro-dollars. Rounding is always **up to the next whole micro-dollar**, once per step, so a
step that used tokens never costs less than the upstream charged and never costs zero when
its price is not zero. An upstream-reported cost in US dollars is converted the same way:
exactly (as a decimal, never through float arithmetic), then rounded up.

No markup is applied here: these are upstream costs; billing adds the pass-through markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from skillmarket.runtime.steps.errors import LlmModelUnpriced, LlmPriceTableInvalid

MICROS_PER_USD = 1_000_000
TOKENS_PER_PRICE_UNIT = 1_000_000
MAX_PRICE_MICROS_PER_MTOK = 1_000_000_000  # US$1,000 per million tokens: a typo guard


@dataclass(frozen=True)
class ModelPrice:
    """What one model costs upstream, in micro-dollars per million tokens."""

    prompt_micros_per_mtok: int
    completion_micros_per_mtok: int

    def __post_init__(self) -> None:
        for name in ("prompt_micros_per_mtok", "completion_micros_per_mtok"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= MAX_PRICE_MICROS_PER_MTOK:
                raise ValueError(f"{name} must be an integer from 0 to {MAX_PRICE_MICROS_PER_MTOK}")

    def cost_micros(self, prompt_tokens: int, completion_tokens: int) -> int:
        """The cost of a call with these token counts, rounded up to a whole micro-dollar."""
        if prompt_tokens < 0 or completion_tokens < 0:
            raise ValueError("token counts cannot be negative")
        scaled = (
            prompt_tokens * self.prompt_micros_per_mtok
            + completion_tokens * self.completion_micros_per_mtok
        )
        return -(-scaled // TOKENS_PER_PRICE_UNIT)


# List prices of the models the seeds and examples use (US$ per million tokens:
# gpt-4o 2.50 / 10.00, gpt-4o-mini 0.15 / 0.60, claude-sonnet-4 3.00 / 15.00).
DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    "openai/gpt-4o": ModelPrice(2_500_000, 10_000_000),
    "openai/gpt-4o-mini": ModelPrice(150_000, 600_000),
    "anthropic/claude-sonnet-4": ModelPrice(3_000_000, 15_000_000),
}


def usd_to_micros(value: object) -> int:
    """A non-negative US-dollar amount (number or decimal string) as micro-dollars, rounded up.

    Raises ``ValueError`` for anything else: booleans, negatives, NaN, infinities, junk text.
    A float is read through its shortest decimal form (``0.0038`` → 3800, not 3801).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("a cost must be a number")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("a cost must be a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("a cost must be a finite, non-negative number")
    micros = (amount * MICROS_PER_USD).to_integral_value(rounding=ROUND_CEILING)
    return int(micros)


def upstream_cost_micros(usage: object) -> int | None:
    """The cost a usage block reports, in micro-dollars rounded up; ``None`` if it has none.

    OpenRouter's ``usage.cost`` is what the account was charged in US dollars. On a BYOK
    request (``is_byok: true``) the provider bills its part to the key owner separately, as
    ``cost_details.upstream_inference_cost``, so the two are added. Raises ``ValueError`` on a
    cost that is not a non-negative number.
    """
    if not isinstance(usage, dict) or usage.get("cost") is None:
        return None
    total = usd_to_micros(usage["cost"])
    details = usage.get("cost_details")
    if usage.get("is_byok") is True and isinstance(details, dict):
        extra = details.get("upstream_inference_cost")
        if extra is not None:
            total += usd_to_micros(extra)
    return total


class PriceTable:
    """Per-model prices, looked up by the exact model id a step names (``openai/gpt-4o``)."""

    def __init__(self, prices: Mapping[str, ModelPrice] | None = None):
        self._prices: dict[str, ModelPrice] = dict(DEFAULT_PRICES if prices is None else prices)

    @classmethod
    def from_json(cls, data: object, *, base: PriceTable | None = None) -> PriceTable:
        """A table from the file format, laid over ``base`` (the defaults when not given).

        The format is an object of model id → ``{"prompt_micros_per_mtok": int,
        "completion_micros_per_mtok": int}``; a listed model replaces its default entry.
        """
        if not isinstance(data, dict):
            raise LlmPriceTableInvalid("the price table must be a JSON object of model → price")
        prices = dict((base or cls())._prices)
        for model, entry in data.items():
            prices[model] = _parse_entry(model, entry)
        return cls(prices)

    @classmethod
    def from_file(cls, path: Path | str) -> PriceTable:
        """The defaults with the entries of a JSON price table file laid over them."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LlmPriceTableInvalid(
                f"cannot read the price table {str(path)!r}: {type(exc).__name__}",
                details={"path": str(path)},
            ) from None
        return cls.from_json(data)

    def get(self, model: str) -> ModelPrice | None:
        """The price of ``model``, or ``None`` when the table does not know it."""
        return self._prices.get(model)

    def cost_micros(self, model: str, prompt_tokens: int, completion_tokens: int) -> int:
        """What a call to ``model`` cost by the table; ``LLM_MODEL_UNPRICED`` if it is unknown."""
        price = self._prices.get(model)
        if price is None:
            raise LlmModelUnpriced(
                f"model {model!r} has no price and the upstream reported no cost",
                details={"model": model},
            )
        return price.cost_micros(prompt_tokens, completion_tokens)

    def max_cost_micros(self, model: str, prompt_tokens: int, max_tokens: int) -> int | None:
        """The most a call can cost (for a wallet hold), or ``None`` for an unpriced model."""
        price = self._prices.get(model)
        return None if price is None else price.cost_micros(prompt_tokens, max_tokens)

    def models(self) -> tuple[str, ...]:
        """The priced model ids, sorted."""
        return tuple(sorted(self._prices))

    def __contains__(self, model: object) -> bool:
        return model in self._prices


def _parse_entry(model: object, entry: Any) -> ModelPrice:
    fields = {"prompt_micros_per_mtok", "completion_micros_per_mtok"}
    if not isinstance(model, str) or not model:
        raise LlmPriceTableInvalid("a price table key must be a model id")
    if not isinstance(entry, dict) or set(entry) != fields:
        raise LlmPriceTableInvalid(
            f"price of {model!r} must have exactly the fields {sorted(fields)}",
            details={"model": model},
        )
    try:
        return ModelPrice(entry["prompt_micros_per_mtok"], entry["completion_micros_per_mtok"])
    except ValueError as exc:
        raise LlmPriceTableInvalid(f"price of {model!r}: {exc}", details={"model": model}) from None


__all__ = [
    "DEFAULT_PRICES",
    "MICROS_PER_USD",
    "ModelPrice",
    "PriceTable",
    "upstream_cost_micros",
    "usd_to_micros",
]
