"""Property: any sequence of deposits, holds, captures, releases and payouts keeps the ledger
balanced, every cached balance equal to its postings and no balance below zero.

A hypothesis state machine drives the real service on the real store (SQLite and PostgreSQL).
It keeps a small model of what each buyer should have available and what each publisher
should have earned, and checks the books after every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from skillmarket.ledger.errors import (
    HoldAlreadySettled,
    InsufficientFunds,
    MaxCostTooLow,
    NothingToPayOut,
    PayoutAlreadyMade,
)
from skillmarket.ledger.models import MeteredStep
from skillmarket.ledger.money import month_of
from skillmarket.ledger.services import LedgerService
from tests.integration.ledger.conftest import START, Clock


@dataclass(frozen=True)
class StubSkill:
    """A priced skill as the ledger sees it (the catalog is not under test here)."""

    id: str
    publisher_id: str
    price_cents: int


metered = st.lists(
    st.builds(
        MeteredStep,
        step=st.integers(0, 3),
        type=st.sampled_from(["llm", "script", "proxy"]),
        upstream_micros=st.integers(0, 30_000),
    ),
    max_size=3,
)


def make_machine(services):
    """A state machine class bound to one store (hypothesis instantiates it per example)."""
    counter = iter(range(10**9))

    class LedgerMachine(RuleBasedStateMachine):
        holds = Bundle("holds")

        @initialize(
            tiers=st.lists(st.sampled_from(["free", "developer", "studio"]), min_size=4, max_size=4)
        )
        def setup(self, tiers):
            self.clock = Clock(START)
            self.ledger = LedgerService(
                services.db,
                identity=services.identity,
                allowances={"free": 1, "developer": 2, "studio": 0},
                clock=self.clock,
            )
            run = next(counter)
            ops = [
                services.identity.create_operator(f"prop-{run}-{i}", tier)[0]
                for i, tier in enumerate(tiers)
            ]
            self.buyers, self.publishers = ops[:2], ops[2:]
            self.available = {b.id: 0 for b in self.buyers}
            for buyer in self.buyers:
                self.deposit_to(buyer.id, 500_000)
            self.open_holds: dict[str, int] = {}
            self.paid_out = {p.id: 0 for p in self.publishers}
            self.months: set[str] = set()

        def deposit_to(self, buyer_id, amount):
            self.ledger.deposit(buyer_id, amount)
            self.available[buyer_id] += amount

        @rule(who=st.integers(0, 1), amount=st.integers(1, 300_000))
        def deposit(self, who, amount):
            self.deposit_to(self.buyers[who].id, amount)

        @rule(
            target=holds,
            who=st.integers(0, 1),
            seller=st.integers(0, 1),
            price_cents=st.sampled_from([0, 0, 1, 2, 5]),
            estimate=st.integers(0, 20_000),
            max_cost=st.none() | st.none() | st.integers(5_000, 80_000),
        )
        def hold(self, who, seller, price_cents, estimate, max_cost):
            buyer, publisher = self.buyers[who], self.publishers[seller]
            skill = StubSkill(f"skl_{seller}_{price_cents}", publisher.id, price_cents)
            invocation = f"sinv_{next(counter)}"
            try:
                hold = self.ledger.place_hold(
                    buyer.id, invocation, skill=skill, estimate=estimate, max_cost=max_cost
                )
            except (InsufficientFunds, MaxCostTooLow) as refused:
                event(f"hold refused: {refused.code}")
                return multiple()  # refused: nothing is held, so there is nothing to settle
            assert hold.amount_micros <= (max_cost if max_cost is not None else 10**12)
            self.available[buyer.id] -= hold.amount_micros
            self.open_holds[invocation] = hold.amount_micros
            return invocation

        @rule(
            invocation=consumes(holds),
            outcome=st.sampled_from(["succeeded", "failed", "expired", "terminated"]),
            compute=metered,
        )
        def capture(self, invocation, outcome, compute):
            hold = self.ledger.hold(invocation)
            charge = self.ledger.capture(invocation, outcome=outcome, compute=compute)
            assert charge.total_micros + charge.released_micros == hold.amount_micros
            assert charge.total_micros <= hold.amount_micros
            if outcome != "succeeded":
                assert charge.price_micros == 0
            self.available[hold.buyer_id] += charge.released_micros
            del self.open_holds[invocation]
            event(f"captured {outcome}, price {hold.price_kind}")
            if charge.absorbed_micros:
                event("compute beyond the hold absorbed")
            self.months.add(month_of(self.clock()))
            with pytest.raises(HoldAlreadySettled):
                self.ledger.release(invocation)

        @rule(invocation=consumes(holds))
        def release(self, invocation):
            hold = self.ledger.release(invocation)
            self.available[hold.buyer_id] += hold.amount_micros
            del self.open_holds[invocation]

        @rule(days=st.integers(5, 40))
        def time_passes(self, days):
            self.clock.advance(days=days)

        def finished_months(self) -> list[str]:
            now = month_of(self.clock())
            return sorted(m for m in self.months if m < now)

        @precondition(lambda self: self.finished_months())
        @rule(seller=st.integers(0, 1), pick=st.integers(0, 10))
        def payout(self, seller, pick):
            publisher = self.publishers[seller]
            finished = self.finished_months()
            month = finished[pick % len(finished)]
            try:
                made = self.ledger.payout(publisher.id, month)
            except (NothingToPayOut, PayoutAlreadyMade) as refused:
                event(f"payout refused: {refused.code}")
                return
            event("payout made")
            self.paid_out[publisher.id] += made.amount_micros

        @invariant()
        def books_balance(self):
            if not hasattr(self, "ledger"):
                return
            check = self.ledger.verify()
            assert check.ok, check
            assert check.debit_normal_total_micros == check.credit_normal_total_micros

        @invariant()
        def wallets_match_the_model(self):
            if not hasattr(self, "ledger"):
                return
            for buyer in self.buyers:
                wallet = self.ledger.wallet(buyer.id)
                assert wallet.available_micros == self.available[buyer.id] >= 0
                mine = [
                    a
                    for i, a in self.open_holds.items()
                    if self.ledger.hold(i).buyer_id == buyer.id
                ]
                assert wallet.held_micros == sum(mine)

        def teardown(self):
            """At the end of each sequence: earnings are the statements' net minus payouts."""
            if not hasattr(self, "ledger"):
                return
            for publisher in self.publishers:
                earned = sum(
                    self.ledger.statement(publisher.id, m).totals.net_micros for m in self.months
                )
                wallet = self.ledger.wallet(publisher.id)
                assert wallet.earnings_micros == earned - self.paid_out[publisher.id] >= 0

    return LedgerMachine


def test_any_sequence_keeps_the_ledger_balanced(services):
    run_state_machine_as_test(
        make_machine(services),
        settings=settings(
            max_examples=25,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
