"""Ledger fixtures: a controllable clock, a ledger on the test store, skills to sell, checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from skillmarket.audit.events import EventType
from skillmarket.audit.tables import audit_events
from skillmarket.catalog.manifest import SkillManifest
from skillmarket.ledger.models import Charge
from skillmarket.ledger.services import LedgerService
from skillmarket.ledger.tables import ledger_accounts, ledger_postings

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(services, clock) -> LedgerService:
    """The ledger with small allowances (free tier: 2 a month) and the test clock."""
    return LedgerService(
        services.db,
        identity=services.identity,
        allowances={"free": 2, "developer": 5},
        clock=clock,
    )


@pytest.fixture
def skill_factory(services, manifest_factory):
    """Publish a skill for ``publisher_id`` at ``price_cents``; returns its detail."""

    def make(publisher_id: str, price_cents: int = 0):
        manifest = SkillManifest.model_validate(manifest_factory(price_cents=price_cents))
        return services.catalog.publish(publisher_id, manifest).skill

    return make


@pytest.fixture
def people(operator_factory):
    """A free-tier buyer and a studio publisher (15 % commission)."""
    buyer, buyer_key = operator_factory("buyer", "free")
    publisher, publisher_key = operator_factory("publisher", "studio")
    return buyer, publisher


def postings_of(database, invocation_id: str) -> list[sa.Row]:
    with database.read() as conn:
        return conn.execute(
            sa.select(ledger_postings)
            .where(ledger_postings.c.invocation_id == invocation_id)
            .order_by(ledger_postings.c.seq)
        ).all()


def balance(database, account_id: str) -> int:
    with database.read() as conn:
        return conn.execute(
            sa.select(ledger_accounts.c.balance).where(ledger_accounts.c.id == account_id)
        ).scalar_one()


def assert_charge_matches_postings(database, charge: Charge) -> None:
    """The cost breakdown equals the postings, to the micro-dollar, line by line."""
    rows = [r for r in postings_of(database, charge.invocation_id) if r.kind != "hold"]
    held = f"held:{charge.buyer_id}"
    from_hold = [r for r in rows if r.debit_account_id == held and r.kind != "release"]
    assert sum(r.amount for r in from_hold) == charge.total_micros
    released = sum(r.amount for r in rows if r.kind == "release")
    assert released == charge.released_micros
    assert charge.total_micros + charge.released_micros == charge.held_micros
    price = sum(r.amount for r in from_hold if r.kind in ("price", "overage"))
    assert price == charge.price_micros
    commission = sum(r.amount for r in rows if r.kind == "commission")
    assert commission == charge.commission_micros
    for line in charge.lines:
        at_step = [r for r in rows if r.step == line.step]
        assert sum(r.amount for r in at_step if r.kind == line.type) == (
            line.upstream_micros - line.absorbed_micros
        )
        assert sum(r.amount for r in at_step if r.kind == "markup") == line.markup_micros
        assert sum(r.amount for r in at_step if r.kind == "absorbed") == line.absorbed_micros
        assert sum(r.amount for r in at_step if r.debit_account_id == held) == line.cost_micros
    assert sum(line.cost_micros for line in charge.lines) == charge.compute_micros
    assert charge.price_micros + charge.compute_micros == charge.total_micros


def assert_every_posting_audited(database) -> None:
    """Each posting is one ``ledger.posting`` audit event naming its accounts and amount."""
    with database.read() as conn:
        postings = {r.id: r for r in conn.execute(sa.select(ledger_postings))}
        events = conn.execute(
            sa.select(audit_events).where(audit_events.c.type == str(EventType.LEDGER_POSTING))
        ).all()
    assert {e.subject for e in events} == set(postings)
    assert len(events) == len(postings)
    for event in events:
        posting = postings[event.subject]
        assert event.data["amount_micros"] == posting.amount
        assert (event.data["debit"], event.data["credit"]) == (
            posting.debit_account_id,
            posting.credit_account_id,
        )
