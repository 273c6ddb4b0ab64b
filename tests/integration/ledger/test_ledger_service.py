"""The ledger service on a real store (SQLite and PostgreSQL): deposits, holds, captures."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.audit.tables import audit_events
from skillmarket.identity.errors import OperatorNotFound
from skillmarket.ledger import accounts, book
from skillmarket.ledger.errors import (
    DepositConflict,
    HoldAlreadyExists,
    HoldAlreadySettled,
    HoldNotFound,
    InsufficientFunds,
    InvalidAmount,
    MaxCostTooLow,
)
from skillmarket.ledger.models import MeteredStep
from skillmarket.ledger.tables import (
    ledger_allowance_usage,
    ledger_entries,
    ledger_holds,
    ledger_postings,
)
from tests.integration.ledger.conftest import (
    assert_charge_matches_postings,
    assert_every_posting_audited,
    balance,
    postings_of,
)

SEED_STEPS = [
    MeteredStep(
        step=0,
        type="llm",
        model="openai/gpt-4o",
        prompt_tokens=850,
        completion_tokens=320,
        upstream_micros=3_304,
    ),
    MeteredStep(step=1, type="script", execution_ms=145, upstream_micros=348),
]


def counts(database) -> tuple[int, ...]:
    with database.read() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (ledger_entries, ledger_postings, ledger_holds, audit_events)
        )


class TestDeposit:
    def test_deposit_credits_the_wallet_from_cash(self, ledger, database, people):
        buyer, _ = people
        deposit = ledger.deposit(buyer.id, 5_000_000, provider_ref="bank-1", actor=None)
        assert deposit.amount_micros == 5_000_000 and not deposit.replayed
        assert ledger.wallet(buyer.id).available_micros == 5_000_000
        assert balance(database, "platform:cash") == 5_000_000
        assert ledger.verify().ok
        assert_every_posting_audited(database)

    def test_deposit_is_idempotent_on_the_provider_reference(self, ledger, database, people):
        buyer, _ = people
        first = ledger.deposit(buyer.id, 1_000_000, provider_ref="bank-1")
        before = counts(database)
        again = ledger.deposit(buyer.id, 1_000_000, provider_ref="bank-1")
        assert again.replayed and again.entry_id == first.entry_id
        assert counts(database) == before
        assert ledger.wallet(buyer.id).available_micros == 1_000_000

    def test_deposit_fails_when_reference_was_used_otherwise(self, ledger, people):
        buyer, publisher = people
        ledger.deposit(buyer.id, 1_000_000, provider_ref="bank-1")
        with pytest.raises(DepositConflict):
            ledger.deposit(buyer.id, 2_000_000, provider_ref="bank-1")
        with pytest.raises(DepositConflict):
            ledger.deposit(publisher.id, 1_000_000, provider_ref="bank-1")

    def test_deposit_fails_for_unknown_operator(self, ledger):
        with pytest.raises(OperatorNotFound):
            ledger.deposit("op_nobody", 1_000)

    @pytest.mark.parametrize("amount", [0, -5, 10**15])
    def test_deposit_fails_for_bad_amount(self, ledger, people, amount):
        with pytest.raises(InvalidAmount):
            ledger.deposit(people[0].id, amount)


class TestPlaceHold:
    def test_hold_moves_price_and_marked_up_estimate_to_held(
        self, ledger, database, people, skill_factory
    ):
        buyer, publisher = people
        skill = skill_factory(publisher.id, price_cents=5)
        ledger.deposit(buyer.id, 1_000_000)
        hold = ledger.place_hold(buyer.id, "sinv_a", skill=skill, estimate=4_000)
        assert (hold.amount_micros, hold.price_micros, hold.price_kind) == (54_600, 50_000, "list")
        assert hold.commission_percent == 15 and hold.compute_budget_micros == 4_600
        wallet = ledger.wallet(buyer.id)
        assert (wallet.available_micros, wallet.held_micros) == (945_400, 54_600)
        assert ledger.hold("sinv_a") == hold
        assert ledger.verify().ok

    def test_hold_fails_with_insufficient_funds_and_writes_nothing(
        self, ledger, database, people, skill_factory
    ):
        buyer, publisher = people
        skill = skill_factory(publisher.id, price_cents=5)
        ledger.deposit(buyer.id, 49_999)
        before = counts(database)
        with pytest.raises(InsufficientFunds) as caught:
            ledger.place_hold(buyer.id, "sinv_a", skill=skill)
        assert caught.value.status == 402 and caught.value.code == "INSUFFICIENT_FUNDS"
        assert caught.value.details["available_micros"] == 49_999
        assert caught.value.details["required_micros"] == 50_000
        assert counts(database) == before
        assert ledger.wallet(buyer.id).available_micros == 49_999

    def test_hold_fails_without_any_deposit(self, ledger, people, skill_factory):
        buyer, publisher = people
        with pytest.raises(InsufficientFunds):
            ledger.place_hold(buyer.id, "sinv_a", skill=skill_factory(publisher.id, 1))

    def test_refused_hold_leaves_nothing_in_the_callers_transaction(
        self, ledger, database, people, skill_factory
    ):
        buyer, publisher = people
        skill = skill_factory(publisher.id, price_cents=0)
        ledger.deposit(buyer.id, 100)
        with database.write() as conn:
            log.record(conn, EventType.SKILL_PUBLISH, actor=buyer.id, subject="caller-event")
            with pytest.raises(InsufficientFunds):
                ledger.place_hold(buyer.id, "sinv_a", skill=skill, estimate=1_000, conn=conn)
            # The caller goes on and commits its own work.
        with database.read() as conn:
            assert conn.execute(sa.select(ledger_holds)).first() is None
            assert conn.execute(sa.select(ledger_allowance_usage.c.used)).scalar() in (None, 0)
            subjects = {e.subject for e in conn.execute(sa.select(audit_events))}
        assert "caller-event" in subjects
        assert ledger.wallet(buyer.id).allowance.used == 0
        assert ledger.verify().ok

    def test_hold_in_callers_transaction_commits_and_rolls_back_with_it(
        self, ledger, database, people, skill_factory
    ):
        buyer, publisher = people
        skill = skill_factory(publisher.id, price_cents=1)
        ledger.deposit(buyer.id, 100_000)
        with pytest.raises(RuntimeError), database.write() as conn:
            ledger.place_hold(buyer.id, "sinv_a", skill=skill, conn=conn)
            raise RuntimeError("the invocation could not be queued")
        assert ledger.wallet(buyer.id).held_micros == 0
        with pytest.raises(HoldNotFound):
            ledger.hold("sinv_a")
        with database.write() as conn:
            ledger.place_hold(buyer.id, "sinv_a", skill=skill, conn=conn)
        assert ledger.wallet(buyer.id).held_micros == 10_000
        assert ledger.verify().ok

    @pytest.mark.parametrize("price_cents", [0, 3])
    def test_hold_fails_for_unknown_buyer(
        self, ledger, database, people, skill_factory, price_cents
    ):
        skill = skill_factory(people[1].id, price_cents=price_cents)
        before = counts(database)
        with database.write() as conn:
            with pytest.raises(OperatorNotFound):
                ledger.place_hold("op_nobody", "sinv_a", skill=skill, conn=conn)
            log.record(conn, EventType.SKILL_PUBLISH, actor=None, subject="still-usable")
        assert counts(database)[:3] == before[:3]

    def test_hold_fails_twice_for_one_invocation(self, ledger, people, skill_factory):
        buyer, publisher = people
        skill = skill_factory(publisher.id, price_cents=1)
        ledger.deposit(buyer.id, 100_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill)
        with pytest.raises(HoldAlreadyExists):
            ledger.place_hold(buyer.id, "sinv_a", skill=skill)
        assert ledger.wallet(buyer.id).held_micros == 10_000

    def test_max_cost_caps_the_hold(self, ledger, people, skill_factory):
        buyer, publisher = people
        skill = skill_factory(publisher.id, price_cents=1)
        ledger.deposit(buyer.id, 1_000_000)
        hold = ledger.place_hold(buyer.id, "sinv_a", skill=skill, estimate=500_000, max_cost=12_000)
        assert hold.amount_micros == 12_000 and hold.compute_budget_micros == 2_000

    def test_hold_fails_when_max_cost_is_below_price(self, ledger, database, people, skill_factory):
        buyer, publisher = people
        skill = skill_factory(publisher.id, price_cents=1)
        ledger.deposit(buyer.id, 1_000_000)
        before = counts(database)
        with pytest.raises(MaxCostTooLow):
            ledger.place_hold(buyer.id, "sinv_a", skill=skill, max_cost=9_999)
        assert counts(database) == before

    def test_free_skills_use_the_allowance_then_cost_overage(self, ledger, people, skill_factory):
        buyer, publisher = people  # free tier: 2 a month in this fixture
        skill = skill_factory(publisher.id)
        ledger.deposit(buyer.id, 10_000)
        kinds = [ledger.place_hold(buyer.id, f"sinv_{i}", skill=skill).price_kind for i in range(3)]
        assert kinds == ["allowance", "allowance", "overage"]
        assert ledger.hold("sinv_2").amount_micros == 1_000
        allowance = ledger.wallet(buyer.id).allowance
        assert (allowance.limit, allowance.used, allowance.remaining) == (2, 2, 0)

    def test_allowance_renews_each_month(self, ledger, clock, people, skill_factory):
        buyer, publisher = people
        skill = skill_factory(publisher.id)
        ledger.deposit(buyer.id, 10_000)
        for i in range(2):
            ledger.place_hold(buyer.id, f"sinv_{i}", skill=skill)
        clock.advance(days=31)
        assert ledger.wallet(buyer.id).allowance.used == 0
        assert ledger.place_hold(buyer.id, "sinv_next", skill=skill).price_kind == "allowance"


class TestCapture:
    def test_capture_reproduces_the_seed_cost_example(
        self, ledger, database, people, skill_factory
    ):
        buyer, publisher = people
        skill = skill_factory(publisher.id)  # free, inside the allowance
        ledger.deposit(buyer.id, 1_000_000)
        ledger.place_hold(buyer.id, "sinv_x1y2z3", skill=skill, estimate=5_000)
        charge = ledger.capture("sinv_x1y2z3", outcome="succeeded", compute=SEED_STEPS)
        cost = charge.cost()
        assert cost["total_usd"] == 0.0042
        assert [item["cost_usd"] for item in cost["breakdown"]] == [0.0038, 0.0004]
        assert charge.total_micros == 4_200 and charge.price_micros == 0
        assert_charge_matches_postings(database, charge)
        assert balance(database, "platform:upstream") == 3_304 + 348
        assert balance(database, "platform:revenue") == 496 + 52
        assert ledger.wallet(buyer.id).available_micros == 1_000_000 - 4_200
        assert ledger.wallet(buyer.id).held_micros == 0
        assert ledger.charge("sinv_x1y2z3") == charge
        assert ledger.verify().ok
        assert_every_posting_audited(database)

    @pytest.mark.parametrize(
        ("tier", "commission"),
        [("free", 30_000), ("developer", 20_000), ("studio", 15_000), ("enterprise", 10_000)],
    )
    def test_paid_skill_pays_publisher_minus_commission(
        self, ledger, database, operator_factory, skill_factory, tier, commission
    ):
        buyer, _ = operator_factory("buyer", "developer")
        publisher, _ = operator_factory("publisher", tier)
        skill = skill_factory(publisher.id, price_cents=10)
        ledger.deposit(buyer.id, 1_000_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill, estimate=1_000)
        charge = ledger.capture("sinv_a", outcome="succeeded", compute=SEED_STEPS[1:])
        assert charge.price_micros == 100_000 and charge.commission_micros == commission
        assert ledger.wallet(publisher.id).earnings_micros == 100_000 - commission
        assert balance(database, "platform:revenue") == commission + 52
        assert_charge_matches_postings(database, charge)
        assert ledger.verify().ok

    @pytest.mark.parametrize("outcome", ["failed", "expired", "terminated"])
    def test_unsuccessful_invocation_pays_compute_never_the_price(
        self, ledger, database, people, skill_factory, outcome
    ):
        buyer, publisher = people
        skill = skill_factory(publisher.id, price_cents=5)
        ledger.deposit(buyer.id, 1_000_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill, estimate=5_000)
        charge = ledger.capture("sinv_a", outcome=outcome, compute=SEED_STEPS[:1])
        assert charge.price_micros == 0 and charge.commission_micros == 0
        assert charge.total_micros == 3_800
        assert ledger.wallet(buyer.id).available_micros == 1_000_000 - 3_800
        assert ledger.wallet(publisher.id).earnings_micros == 0
        assert_charge_matches_postings(database, charge)
        assert ledger.verify().ok

    def test_failed_free_invocation_gives_the_allowance_back(self, ledger, people, skill_factory):
        buyer, publisher = people
        skill = skill_factory(publisher.id)
        ledger.deposit(buyer.id, 10_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill)
        assert ledger.wallet(buyer.id).allowance.used == 1
        ledger.capture("sinv_a", outcome="failed")
        assert ledger.wallet(buyer.id).allowance.used == 0

    def test_overage_goes_to_platform_revenue(self, ledger, database, people, skill_factory):
        buyer, publisher = people
        skill = skill_factory(publisher.id)
        ledger.deposit(buyer.id, 10_000)
        for i in range(3):
            ledger.place_hold(buyer.id, f"sinv_{i}", skill=skill)
            charge = ledger.capture(f"sinv_{i}", outcome="succeeded")
        assert charge.price_kind == "overage" and charge.total_micros == 1_000
        assert balance(database, "platform:revenue") == 1_000
        assert ledger.wallet(publisher.id).earnings_micros == 0
        assert_charge_matches_postings(database, charge)

    def test_seller_proxy_calls_reimburse_the_seller_at_cost_plus_markup(
        self, ledger, database, people, skill_factory
    ):
        buyer, publisher = people
        skill = skill_factory(publisher.id)
        ledger.deposit(buyer.id, 100_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill, estimate=2_000)
        proxy = MeteredStep(step=0, type="proxy", service="github", calls=2, upstream_micros=2_000)
        charge = ledger.capture("sinv_a", outcome="succeeded", compute=[proxy])
        assert charge.total_micros == 2_300
        assert ledger.wallet(publisher.id).earnings_micros == 2_000
        assert balance(database, "platform:revenue") == 300
        assert_charge_matches_postings(database, charge)

    def test_compute_beyond_the_hold_is_absorbed_not_charged(
        self, ledger, database, people, skill_factory
    ):
        buyer, publisher = people
        skill = skill_factory(publisher.id, price_cents=1)
        ledger.deposit(buyer.id, 1_000_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill, estimate=500_000, max_cost=12_000)
        charge = ledger.capture("sinv_a", outcome="succeeded", compute=SEED_STEPS)
        assert charge.total_micros == 12_000  # the price and 2,000 of compute: the whole hold
        assert [line.cost_micros for line in charge.lines] == [2_000, 0]
        assert charge.absorbed_micros == (3_304 - 2_000) + 348
        assert ledger.wallet(buyer.id).available_micros == 1_000_000 - 12_000
        assert balance(database, "platform:upstream") == 3_304 + 348
        assert balance(database, "platform:absorbed") == charge.absorbed_micros
        assert_charge_matches_postings(database, charge)
        assert ledger.verify().ok

    def test_capture_twice_returns_the_first_charge(self, ledger, database, people, skill_factory):
        buyer, publisher = people
        ledger.deposit(buyer.id, 100_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill_factory(publisher.id, 1))
        first = ledger.capture("sinv_a", outcome="succeeded", compute=SEED_STEPS)
        before = counts(database)
        assert ledger.capture("sinv_a", outcome="failed") == first
        assert counts(database) == before

    def test_capture_fails_after_release(self, ledger, people, skill_factory):
        buyer, publisher = people
        ledger.deposit(buyer.id, 100_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill_factory(publisher.id, 1))
        ledger.release("sinv_a")
        with pytest.raises(HoldAlreadySettled):
            ledger.capture("sinv_a", outcome="succeeded")

    def test_capture_fails_without_hold(self, ledger):
        with pytest.raises(HoldNotFound):
            ledger.capture("sinv_none", outcome="succeeded")


class TestRelease:
    def test_release_returns_the_whole_hold(self, ledger, database, people, skill_factory):
        buyer, publisher = people
        ledger.deposit(buyer.id, 100_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill_factory(publisher.id, 1), estimate=10)
        hold = ledger.release("sinv_a")
        assert hold.status == "released"
        assert ledger.wallet(buyer.id).available_micros == 100_000
        assert ledger.charge("sinv_a") is None
        assert [r.kind for r in postings_of(database, "sinv_a")] == ["hold", "release"]
        before = counts(database)
        assert ledger.release("sinv_a").status == "released"
        assert counts(database) == before
        assert ledger.verify().ok

    def test_release_fails_after_capture(self, ledger, people, skill_factory):
        buyer, publisher = people
        ledger.deposit(buyer.id, 100_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill_factory(publisher.id, 1))
        ledger.capture("sinv_a", outcome="succeeded")
        with pytest.raises(HoldAlreadySettled):
            ledger.release("sinv_a")


class TestLedgerView:
    def test_ledger_pages_newest_first(self, ledger, people, skill_factory):
        buyer, publisher = people
        ledger.deposit(buyer.id, 100_000)
        ledger.place_hold(buyer.id, "sinv_a", skill=skill_factory(publisher.id, 1))
        ledger.capture("sinv_a", outcome="succeeded")
        everything = ledger.ledger(buyer.id, limit=100).items
        assert [(line.kind, line.account, line.amount_micros) for line in everything] == [
            ("price", "held", -10_000),
            ("hold", "held", 10_000),
            ("hold", "wallet", -10_000),
            ("deposit", "wallet", 100_000),
        ]
        assert everything[0].counterparty == "earnings"  # another operator: kind only
        assert everything[-1].counterparty == "platform:cash"
        page = ledger.ledger(buyer.id, limit=2, offset=1)
        assert page.items == everything[1:3] and page.has_more
        assert not ledger.ledger(buyer.id, limit=2, offset=2).has_more

    def test_wallet_of_new_operator_is_empty(self, ledger, people):
        wallet = ledger.wallet(people[0].id)
        assert (wallet.available_micros, wallet.held_micros, wallet.earnings_micros) == (0, 0, 0)
        assert ledger.ledger(people[0].id).items == []


class TestVerify:
    def test_verify_fails_when_a_cached_balance_is_tampered_with(self, ledger, database, people):
        from skillmarket.ledger.tables import ledger_accounts

        ledger.deposit(people[0].id, 1_000)
        with database.write() as conn:
            conn.execute(
                ledger_accounts.update()
                .where(ledger_accounts.c.id == f"wallet:{people[0].id}")
                .values(balance=2_000)
            )
        check = ledger.verify()
        assert not check.ok
        assert check.cached_mismatches == [
            {"account": f"wallet:{people[0].id}", "cached_micros": 2_000, "derived_micros": 1_000}
        ]


class TestBalanceMoves:
    """Debits are refused below zero one by one; credits go in one executemany."""

    def test_a_credit_to_an_account_that_is_not_open_is_refused(
        self, ledger, database, people, clock
    ):
        buyer, _publisher = people
        ledger.deposit(buyer.id, 1_000)
        before = counts(database)
        with pytest.raises(InsufficientFunds) as caught, database.write() as conn:
            entry = book.open_entry(
                conn, kind="hold", operator_id=buyer.id, amount=300, now=clock(), actor=None
            )
            book.post_all(
                conn,
                entry,
                [
                    book.Posting("hold", accounts.wallet(buyer.id), accounts.held(buyer.id), 100),
                    book.Posting("hold", accounts.wallet(buyer.id), "held:op_nobody", 200),
                ],
                entry_kind="hold",
                actor=None,
                now=clock(),
            )
        assert caught.value.details["account"] == "held"
        assert counts(database) == before
        assert ledger.wallet(buyer.id).available_micros == 1_000

    def test_every_credit_of_an_entry_lands(self, ledger, database, people, clock):
        buyer, publisher = people
        ledger.deposit(buyer.id, 1_000)
        with database.write() as conn:
            book.ensure_operator_accounts(conn, publisher.id, clock())
            entry = book.open_entry(
                conn, kind="hold", operator_id=buyer.id, amount=700, now=clock(), actor=None
            )
            book.post_all(
                conn,
                entry,
                [
                    book.Posting(
                        "hold", accounts.wallet(buyer.id), accounts.earnings(publisher.id), 300
                    ),
                    book.Posting(
                        "hold", accounts.wallet(buyer.id), accounts.wallet(publisher.id), 400
                    ),
                ],
                entry_kind="hold",
                actor=None,
                now=clock(),
            )
        assert ledger.wallet(buyer.id).available_micros == 300
        assert ledger.wallet(publisher.id).earnings_micros == 300
        assert ledger.wallet(publisher.id).available_micros == 400
        assert ledger.verify().ok
