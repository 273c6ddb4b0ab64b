"""Pricing rules, in integers only (pure, no I/O).

The seed's numbers:

- **Commission** on a paid skill's list price, by the *publisher's* tier: 30 % free, 20 %
  developer, 15 % studio, 10 % enterprise.
- **Pass-through**: metered compute (LLM tokens, script runtime) and ``seller_provides`` proxy
  calls are billed at cost + 15 %.
- **Free skills** count against the *buyer's* tier monthly allowance; beyond it each invocation
  costs $0.001 (:data:`OVERAGE_MICROS`).

Rounding: every percentage is applied to one integer amount and rounded **half up to the
micro-dollar** (:func:`percent_of`); the markup is computed per metered line, so each line of a
cost breakdown is exact and the breakdown sums to what was posted.

:func:`settle` turns a hold and what actually ran into the amounts to post; the service only
writes them down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from skillmarket.identity.models import Tier
from skillmarket.ledger.errors import MaxCostTooLow

COMMISSION_PERCENT: dict[Tier, int] = {"free": 30, "developer": 20, "studio": 15, "enterprise": 10}
MARKUP_PERCENT = 15
OVERAGE_MICROS = 1_000  # $0.001 per free-skill invocation beyond the monthly allowance
DEFAULT_ALLOWANCES: dict[Tier, int] = {
    "free": 100,
    "developer": 1_000,
    "studio": 10_000,
    "enterprise": 100_000,
}
DEFAULT_SCRIPT_MICROS_PER_SECOND = 2_400  # $0.0024 per second of script runtime

PriceKind = Literal["list", "allowance", "overage"]
Outcome = Literal["succeeded", "failed", "expired", "terminated"]
LineType = Literal["llm", "script", "proxy"]
OUTCOMES: tuple[Outcome, ...] = ("succeeded", "failed", "expired", "terminated")


def percent_of(amount: int, percent: int) -> int:
    """``amount × percent / 100`` rounded half up to the micro-dollar (``amount`` ≥ 0)."""
    return (amount * percent + 50) // 100


def markup_micros(upstream: int) -> int:
    """The 15 % pass-through markup on one upstream cost."""
    return percent_of(upstream, MARKUP_PERCENT)


def with_markup(upstream: int) -> int:
    """What the buyer pays for ``upstream`` micro-dollars of compute or proxy calls."""
    return upstream + markup_micros(upstream)


def upstream_within(budget: int) -> int:
    """The largest upstream cost whose marked-up price fits in ``budget`` (for step caps)."""
    guess = budget * 100 // (100 + MARKUP_PERCENT)
    while with_markup(guess + 1) <= budget:
        guess += 1
    while guess > 0 and with_markup(guess) > budget:
        guess -= 1
    return guess


def commission_micros(price: int, tier: Tier) -> int:
    """The platform's commission on a sale at ``price`` by a publisher of ``tier``."""
    return percent_of(price, COMMISSION_PERCENT[tier])


def script_upstream_micros(
    execution_ms: int, micros_per_second: int = DEFAULT_SCRIPT_MICROS_PER_SECOND
) -> int:
    """The upstream cost of ``execution_ms`` of script runtime, rounded half up."""
    return (execution_ms * micros_per_second + 500) // 1000


def free_skill_price(covered_by_allowance: bool) -> tuple[PriceKind, int]:
    """The price of one free-skill invocation: 0 inside the allowance, else the overage fee."""
    return ("allowance", 0) if covered_by_allowance else ("overage", OVERAGE_MICROS)


def hold_amount(price: int, estimate: int, max_cost: int | None) -> int:
    """What to hold before anything runs: the price plus the marked-up compute estimate,
    capped by the buyer's ``max_cost`` (which must at least cover the price)."""
    full = price + with_markup(estimate)
    if max_cost is None:
        return full
    if max_cost < price:
        raise MaxCostTooLow(
            "max_cost is below the skill's price",
            details={"max_cost_micros": max_cost, "price_micros": price},
        )
    return min(full, max_cost)


@dataclass(frozen=True)
class MeteredCost:
    """One metered line of an invocation: an LLM call, a script run or seller proxy calls."""

    step: int
    type: LineType
    upstream: int


@dataclass(frozen=True)
class SettledLine:
    """How one metered line is paid: ``cost`` = ``upstream_paid`` + ``markup`` comes from the
    hold; ``absorbed`` is upstream cost the hold could not cover (the platform pays it)."""

    step: int
    type: LineType
    upstream: int
    markup: int
    cost: int
    absorbed: int

    @property
    def upstream_paid(self) -> int:
        """The part of the upstream cost the buyer pays."""
        return self.upstream - self.absorbed


@dataclass(frozen=True)
class Settlement:
    """The amounts a capture posts. ``charged + released == held`` always."""

    held: int
    price: int
    price_kind: PriceKind
    commission: int
    lines: tuple[SettledLine, ...]
    released: int

    @property
    def compute(self) -> int:
        """What the buyer pays for metered lines."""
        return sum(line.cost for line in self.lines)

    @property
    def charged(self) -> int:
        """Everything the buyer pays: price plus metered lines."""
        return self.price + self.compute

    @property
    def absorbed(self) -> int:
        """Upstream cost the platform pays because the hold ran out."""
        return sum(line.absorbed for line in self.lines)


def settle(
    *,
    held: int,
    price: int,
    price_kind: PriceKind,
    commission_percent: int,
    outcome: Outcome,
    metered: Sequence[MeteredCost],
) -> Settlement:
    """Split a hold into price, commission, metered lines and the release.

    1. The price is charged only when the invocation succeeded.
    2. Metered lines are paid in order at cost + 15 % from what is left of the hold; once it
       runs out the rest of a line is not billed and its upstream cost is ``absorbed``.
    3. Whatever is left is released to the buyer's wallet.
    """
    if price > held:
        raise ValueError("a hold always covers the price")
    charged_price = price if outcome == "succeeded" else 0
    commission = percent_of(charged_price, commission_percent) if price_kind == "list" else 0
    remaining = held - charged_price
    lines = []
    for item in metered:
        if item.upstream < 0:
            raise ValueError("an upstream cost is never negative")
        paid = min(with_markup(item.upstream), remaining)
        remaining -= paid
        upstream_paid = min(item.upstream, paid)
        lines.append(
            SettledLine(
                step=item.step,
                type=item.type,
                upstream=item.upstream,
                markup=paid - upstream_paid,
                cost=paid,
                absorbed=item.upstream - upstream_paid,
            )
        )
    return Settlement(
        held=held,
        price=charged_price,
        price_kind=price_kind,
        commission=commission,
        lines=tuple(lines),
        released=remaining,
    )
