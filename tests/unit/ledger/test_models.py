"""Ledger views: the seed's cost shape and the statement CSV."""

from __future__ import annotations

import csv
import io

from skillmarket.ledger.models import Charge, ChargeLine, Statement, StatementLine


def seed_charge() -> Charge:
    return Charge(
        invocation_id="sinv_x1y2z3",
        outcome="succeeded",
        buyer_id="op_b",
        publisher_id="op_p",
        skill_id="skl_s",
        held_micros=5_000,
        price_micros=0,
        price_kind="allowance",
        commission_micros=0,
        compute_micros=4_200,
        total_micros=4_200,
        released_micros=800,
        absorbed_micros=0,
        lines=(
            ChargeLine(
                step=0,
                type="llm",
                model="openai/gpt-4o",
                prompt_tokens=850,
                completion_tokens=320,
                upstream_micros=3_304,
                markup_micros=496,
                cost_micros=3_800,
                absorbed_micros=0,
            ),
            ChargeLine(
                step=1,
                type="script",
                execution_ms=145,
                upstream_micros=348,
                markup_micros=52,
                cost_micros=400,
                absorbed_micros=0,
            ),
        ),
    )


class TestCharge:
    def test_cost_has_the_seeds_shape_and_numbers(self):
        cost = seed_charge().cost()
        assert cost["total_usd"] == 0.0042
        assert cost["breakdown"] == [
            {
                "step": 0,
                "type": "llm",
                "model": "openai/gpt-4o",
                "prompt_tokens": 850,
                "completion_tokens": 320,
                "cost_usd": 0.0038,
                "cost_micros": 3_800,
            },
            {
                "step": 1,
                "type": "script",
                "execution_ms": 145,
                "cost_usd": 0.0004,
                "cost_micros": 400,
            },
        ]
        assert cost["total_micros"] == sum(item["cost_micros"] for item in cost["breakdown"])

    def test_charge_round_trips_through_json(self):
        charge = seed_charge()
        assert Charge.model_validate(charge.model_dump(mode="json")) == charge


class TestStatementCsv:
    def test_csv_has_one_row_per_skill_and_a_total(self):
        line = StatementLine(
            skill_id="skl_a",
            invocations=2,
            gross_micros=100_000,
            commission_micros=20_000,
            reimbursed_micros=1_150,
            net_micros=81_150,
        )
        statement = Statement(
            publisher_id="op_p",
            month="2026-03",
            status="closed",
            lines=[line],
            totals=line.model_copy(update={"skill_id": None}),
            payout=None,
        )
        rows = list(csv.DictReader(io.StringIO(statement.to_csv())))
        assert [r["skill_id"] for r in rows] == ["skl_a", "TOTAL"]
        assert rows[0]["net_micros"] == "81150" and rows[0]["net_usd"] == "0.081150"
        assert rows[1]["commission_usd"] == "0.020000"
        assert "e-" not in statement.to_csv()  # no float formatting anywhere
