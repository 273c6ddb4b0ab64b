"""Metering ``proxy_fetch`` calls: counted per step, service and side, kept within the hold.

Every call that got a response is counted. The invocation's cost breakdown gets one ``proxy``
line per step and (service, side): calls with the seller's credential cost the service's
declared ``cost_per_call_micros`` each (the ledger adds the 15 % markup and reimburses the
seller); calls with the buyer's own credential, or with none, cost nothing and are listed so
the buyer sees that they happened.

A seller's call is paid from the invocation's hold, and the platform must never pay a seller
for calls the buyer was not charged for. So before each one the meter checks that the hold's
compute budget still covers, at cost + 15 %, every line metered so far plus this step's seller
calls with this one added; if not, the call is refused with ``PROXY_BUDGET_EXCEEDED`` before
anything is sent. The step's proxy lines come before its script line in the breakdown, so they
are paid first; the ledger's own rounding (:func:`~skillmarket.ledger.pricing.with_markup`,
per line) is used for the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from skillmarket.invocations.errors import ProxyBudgetExceeded
from skillmarket.ledger.models import MeteredStep
from skillmarket.ledger.pricing import with_markup

Side = Literal["buyer", "seller"]
_Key = tuple[str | None, Side | None]


class ProxyMeter:
    """The ``proxy_fetch`` calls of one invocation, against its hold's compute budget."""

    def __init__(self, budget_micros: int):
        self.budget_micros = budget_micros
        self.step = 0
        self.committed_micros = 0
        self._calls: dict[_Key, int] = {}
        self._costs: dict[_Key, int] = {}

    def start_step(self, step: int, metered: Sequence[MeteredStep]) -> None:
        """Begin counting for ``step``; ``metered`` is every line billed before it."""
        self.step = step
        self.committed_micros = sum(with_markup(line.upstream_micros) for line in metered)
        self._calls.clear()
        self._costs.clear()

    def reserve(self, service: str | None, side: Side | None, cost_per_call: int) -> None:
        """Count one call before it is sent (``PROXY_BUDGET_EXCEEDED`` if a seller's call
        would not fit in the hold); :meth:`release` it if no response came back."""
        key = (service, side)
        if side == "seller" and cost_per_call > 0:
            calls = {**self._calls, key: self._calls.get(key, 0) + 1}
            costs = {**self._costs, key: cost_per_call}
            needed = self.committed_micros + _seller_cost(calls, costs)
            if needed > self.budget_micros:
                raise ProxyBudgetExceeded(
                    f"the invocation's hold cannot pay for another call to {service!r}",
                    details={
                        "service": service,
                        "cost_per_call_micros": cost_per_call,
                        "budget_micros": self.budget_micros,
                        "needed_micros": needed,
                    },
                )
        self._calls[key] = self._calls.get(key, 0) + 1
        self._costs[key] = cost_per_call if side == "seller" else 0

    def release(self, service: str | None, side: Side | None) -> None:
        """Uncount a reserved call that got no response (it is not billed)."""
        key = (service, side)
        if self._calls.get(key, 0) > 0:
            self._calls[key] -= 1

    def lines(self) -> list[MeteredStep]:
        """This step's ``proxy`` lines (then the step's counts start over)."""
        out = [
            MeteredStep(
                step=self.step,
                type="proxy",
                upstream_micros=calls * self._costs[key],
                service=key[0],
                provided_by=key[1],
                calls=calls,
            )
            for key, calls in sorted(self._calls.items(), key=lambda kv: _order(kv[0]))
            if calls > 0
        ]
        self._calls.clear()
        self._costs.clear()
        return out


def _seller_cost(calls: dict[_Key, int], costs: dict[_Key, int]) -> int:
    return sum(with_markup(n * costs[key]) for key, n in calls.items() if key[1] == "seller")


def _order(key: _Key) -> tuple[str, str]:
    return (key[0] or "", key[1] or "")
