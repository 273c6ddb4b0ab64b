"""Monthly publisher statements and payouts on a real store."""

from __future__ import annotations

import csv
import io

import pytest

from skillmarket.ledger.errors import (
    InvalidMonth,
    MonthNotClosed,
    NothingToPayOut,
    PayoutAlreadyMade,
)
from skillmarket.ledger.models import MeteredStep
from tests.integration.ledger.conftest import assert_every_posting_audited, balance


@pytest.fixture
def march_sales(ledger, clock, operator_factory, skill_factory):
    """In March 2026 a studio publisher (15 %) sells: skill A three times at 10 cents (one
    failed), skill B once at 25 cents with a seller proxy call; two buyers."""
    publisher, _ = operator_factory("publisher", "studio")
    skill_a = skill_factory(publisher.id, price_cents=10)
    skill_b = skill_factory(publisher.id, price_cents=25)
    buyers = [operator_factory(f"buyer-{i}", "developer")[0] for i in range(2)]
    for buyer in buyers:
        ledger.deposit(buyer.id, 10_000_000)
    sales = [
        (buyers[0], skill_a, "succeeded", []),
        (buyers[1], skill_a, "succeeded", []),
        (buyers[1], skill_a, "failed", []),
        (
            buyers[0],
            skill_b,
            "succeeded",
            [MeteredStep(step=0, type="proxy", upstream_micros=2_000)],
        ),
    ]
    for number, (buyer, skill, outcome, compute) in enumerate(sales):
        invocation = f"sinv_{number}"
        ledger.place_hold(buyer.id, invocation, skill=skill, estimate=2_000)
        ledger.capture(invocation, outcome=outcome, compute=compute)
    return publisher, skill_a, skill_b


class TestStatement:
    def test_statement_lists_sales_commission_and_reimbursements(self, ledger, march_sales):
        publisher, skill_a, skill_b = march_sales
        statement = ledger.statement(publisher.id, "2026-03")
        assert statement.status == "open" and statement.payout is None
        lines = {line.skill_id: line for line in statement.lines}
        assert (lines[skill_a.id].invocations, lines[skill_a.id].gross_micros) == (2, 200_000)
        assert lines[skill_a.id].commission_micros == 30_000
        assert lines[skill_a.id].net_micros == 170_000
        assert lines[skill_b.id].gross_micros == 250_000
        assert lines[skill_b.id].commission_micros == 37_500
        assert lines[skill_b.id].reimbursed_micros == 2_000
        assert lines[skill_b.id].net_micros == 250_000 - 37_500 + 2_000
        totals = statement.totals
        assert (totals.invocations, totals.gross_micros, totals.commission_micros) == (
            3,
            450_000,
            67_500,
        )
        assert totals.net_micros == ledger.wallet(publisher.id).earnings_micros

    def test_statement_as_csv(self, ledger, march_sales):
        publisher, skill_a, _ = march_sales
        rows = list(csv.DictReader(io.StringIO(ledger.statement(publisher.id, "2026-03").to_csv())))
        assert rows[-1]["skill_id"] == "TOTAL" and rows[-1]["net_micros"] == "384500"
        assert rows[-1]["net_usd"] == "0.384500"
        assert {r["skill_id"] for r in rows[:-1]} == {skill_a.id, march_sales[2].id}

    def test_other_months_are_empty(self, ledger, march_sales):
        publisher = march_sales[0]
        assert ledger.statement(publisher.id, "2026-02").totals.net_micros == 0
        assert ledger.statement(publisher.id, "2026-04").lines == []

    def test_capture_in_the_next_month_counts_in_that_month(
        self, ledger, clock, march_sales, operator_factory
    ):
        publisher, skill_a, _ = march_sales
        buyer, _ = operator_factory("late", "free")
        ledger.deposit(buyer.id, 1_000_000)
        ledger.place_hold(buyer.id, "sinv_late", skill=skill_a)
        clock.advance(days=25)  # 4 April
        ledger.capture("sinv_late", outcome="succeeded")
        assert ledger.statement(publisher.id, "2026-03").totals.invocations == 3
        assert ledger.statement(publisher.id, "2026-04").totals.gross_micros == 100_000

    def test_statement_fails_for_bad_month(self, ledger, march_sales):
        with pytest.raises(InvalidMonth):
            ledger.statement(march_sales[0].id, "March")


class TestPayout:
    def test_payout_settles_a_closed_month(self, ledger, database, clock, march_sales):
        publisher = march_sales[0]
        clock.advance(days=22)  # 1 April, 12:00
        assert ledger.statement(publisher.id, "2026-03").status == "closed"
        cash_before = balance(database, "platform:cash")
        payout = ledger.payout(publisher.id, "2026-03", actor="op_admin")
        assert payout.amount_micros == 384_500
        assert payout.provider_ref == f"manual:payout:{publisher.id}:2026-03"
        assert ledger.wallet(publisher.id).earnings_micros == 0
        assert balance(database, "platform:cash") == cash_before - 384_500
        statement = ledger.statement(publisher.id, "2026-03")
        assert statement.status == "paid" and statement.payout == payout
        assert ledger.verify().ok
        assert_every_posting_audited(database)

    def test_payout_fails_while_the_month_runs(self, ledger, march_sales):
        with pytest.raises(MonthNotClosed):
            ledger.payout(march_sales[0].id, "2026-03")

    def test_payout_fails_twice(self, ledger, clock, march_sales):
        clock.advance(days=30)
        ledger.payout(march_sales[0].id, "2026-03")
        with pytest.raises(PayoutAlreadyMade):
            ledger.payout(march_sales[0].id, "2026-03")

    def test_payout_fails_with_nothing_earned(self, ledger, march_sales):
        with pytest.raises(NothingToPayOut):
            ledger.payout(march_sales[0].id, "2026-01")

    def test_payout_calls_the_provider_with_a_stable_idempotency_key(
        self, services, clock, march_sales
    ):
        from skillmarket.ledger.services import LedgerService

        calls = []

        class RecordingProvider:
            name = "recording"

            def confirm_deposit(self, operator_id, amount_micros, reference):
                return reference or "r"

            def send_payout(self, publisher_id, amount_micros, *, idempotency_key):
                calls.append((publisher_id, amount_micros, idempotency_key))
                return "tr_123"

        ledger = LedgerService(
            services.db, identity=services.identity, provider=RecordingProvider(), clock=clock
        )
        clock.advance(days=30)
        payout = ledger.payout(march_sales[0].id, "2026-03")
        assert calls == [(march_sales[0].id, 384_500, f"payout:{march_sales[0].id}:2026-03")]
        assert payout.provider_ref == "tr_123"
