"""The ledger service: deposits, invocation holds and their capture or release, balances.

Each use case is one transaction that writes its postings, their audit events and the cached
balances together. Write transactions take the audit log's append lock first
(:func:`skillmarket.audit.log.lock`), the one global lock order, so concurrent use cases queue
instead of deadlocking on PostgreSQL; balances are moved by conditional updates that never let
one go below zero, whatever the isolation.

The invocation runtime calls, in its own transaction when it passes ``conn``:

1. :meth:`LedgerService.place_hold` before anything runs (``INSUFFICIENT_FUNDS`` otherwise);
2. :meth:`LedgerService.capture` with the outcome and the metered lines when it ends, or
   :meth:`LedgerService.release` if it never started.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.audit import log
from skillmarket.db import Database, utcnow
from skillmarket.identity.models import Tier
from skillmarket.identity.services import IdentityService
from skillmarket.ledger import accounts, checks, deposits, holds, statements
from skillmarket.ledger.book import (
    Posting,
    ensure_operator_accounts,
    open_entry,
    post_all,
)
from skillmarket.ledger.errors import (
    HoldAlreadySettled,
    InsufficientFunds,
)
from skillmarket.ledger.models import (
    Allowance,
    Charge,
    Deposit,
    Hold,
    LedgerCheck,
    LedgerPage,
    MeteredStep,
    Payout,
    PricedSkill,
    Statement,
    Wallet,
)
from skillmarket.ledger.money import (
    MAX_DEPOSIT_MICROS,
    cents_to_micros,
    check_amount,
    month_of,
)
from skillmarket.ledger.pricing import (
    COMMISSION_PERCENT,
    DEFAULT_ALLOWANCES,
    OUTCOMES,
    MeteredCost,
    Outcome,
    free_skill_price,
    hold_amount,
    settle,
)
from skillmarket.ledger.providers import ManualPaymentProvider, PaymentProvider
from skillmarket.ledger.tables import ledger_holds
from skillmarket.ledger.views import allowance_used, ledger_page, wallet_balances

MAX_ESTIMATE_MICROS = 1_000_000_000_000
_holds = ledger_holds.c


_hold_by_invocation = sa.select(ledger_holds).where(
    _holds.invocation_id == sa.bindparam("invocation_id")
)


class LedgerService:
    """Wallets, holds, charges, statements and payouts on the database."""

    def __init__(
        self,
        db: Database,
        *,
        identity: IdentityService | None = None,
        provider: PaymentProvider | None = None,
        allowances: Mapping[Tier, int] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.db = db
        self.identity = identity or IdentityService(db)
        self.provider: PaymentProvider = provider or ManualPaymentProvider()
        self.allowances: dict[Tier, int] = {**DEFAULT_ALLOWANCES, **(allowances or {})}
        self.clock = clock

    @contextlib.contextmanager
    def transaction(self, conn: Connection | None, savepoint: bool = True) -> Iterator[Connection]:
        """A ledger write transaction: our own, or a savepoint in the caller's ``conn`` (from
        ``Database.write()``), so a refused hold leaves nothing behind even when the caller
        catches the error and commits. A caller whose transaction ends with any error the
        ledger raises passes ``savepoint=False`` and saves the savepoint's two statements.
        The audit log's lock is taken first."""
        if conn is None:
            with self.db.write() as own:
                log.lock(own)
                yield own
        elif not savepoint:
            log.lock(conn)
            yield conn
        else:
            with conn.begin_nested():
                log.lock(conn)
                yield conn

    # --- money in and out ----------------------------------------------------------------------

    def deposit(
        self,
        operator_id: str,
        amount_micros: int,
        *,
        provider_ref: str | None = None,
        actor: str | None = None,
    ) -> Deposit:
        """Credit ``amount_micros`` to the operator's wallet, once per provider reference.

        The payment provider confirms the money first. Repeating a deposit with the same
        ``provider_ref`` returns the first one (``replayed``); the same reference with another
        operator or amount is a ``DEPOSIT_CONFLICT``.
        """
        check_amount(amount_micros, maximum=MAX_DEPOSIT_MICROS)
        self.identity.get_operator(operator_id)
        return deposits.deposit(self, operator_id, amount_micros, provider_ref, actor=actor)

    def payout(self, publisher_id: str, month: str, *, actor: str | None = None) -> Payout:
        """Pay a finished month's net earnings through the payment provider and post it
        (``MONTH_NOT_CLOSED``, ``PAYOUT_ALREADY_MADE``, ``NOTHING_TO_PAY_OUT`` otherwise)."""
        due = self.statement(publisher_id, month)
        return statements.pay_out(self, due, actor=actor)

    # --- invocations ---------------------------------------------------------------------------

    def place_hold(
        self,
        buyer_id: str,
        invocation_id: str,
        *,
        skill: PricedSkill,
        estimate: int = 0,
        max_cost: int | None = None,
        conn: Connection | None = None,
        savepoint: bool = True,
    ) -> Hold:
        """Reserve the price plus the compute ``estimate`` (upstream micros, marked up 15 %),
        capped by ``max_cost``, before anything runs.

        A free skill takes one unit of the buyer's monthly allowance, or is priced at the
        overage fee when none is left. Raises ``INSUFFICIENT_FUNDS`` (402) when the wallet
        cannot cover the hold, ``MAX_COST_TOO_LOW`` when ``max_cost`` is below the price, and
        ``HOLD_ALREADY_EXISTS`` for a second hold on one invocation; then nothing is written.
        """
        check_amount(estimate, maximum=MAX_ESTIMATE_MICROS, allow_zero=True)
        if max_cost is not None:
            check_amount(max_cost, maximum=MAX_ESTIMATE_MICROS, allow_zero=True)
        # One identity lookup: the buyer's tier prices a free skill (allowance), the publisher's
        # tier sets a paid skill's commission. An unknown buyer fails when its accounts open.
        paid = skill.price_cents > 0
        now = self.clock()
        with self.transaction(conn, savepoint) as tx:
            tier = self.identity.get_operator(skill.publisher_id if paid else buyer_id, tx).tier
            month, commission = None, 0
            if paid:
                price_kind, price = "list", cents_to_micros(skill.price_cents)
                commission = COMMISSION_PERCENT[tier]
            else:
                covered = holds.take_allowance(tx, buyer_id, self.allowances[tier], month_of(now))
                price_kind, price = free_skill_price(covered)
                month = month_of(now) if covered else None
            amount = hold_amount(price, estimate, max_cost)
            values = {
                "invocation_id": invocation_id,
                "buyer_id": buyer_id,
                "publisher_id": skill.publisher_id,
                "skill_id": skill.id,
                "amount": amount,
                "price": price,
                "price_kind": price_kind,
                "commission_percent": commission,
                "estimate": estimate,
                "max_cost": max_cost,
                "allowance_month": month,
                "status": "held",
                "created_at": now,
            }
            # First, so a second hold or an unknown buyer is refused before anything moves. A
            # buyer whose wallet can pay has its accounts open (deposits open them); one with
            # nothing to pay (a covered free skill) needs none.
            holds.insert_hold(tx, values)
            entry_id = open_entry(
                tx,
                kind="hold",
                operator_id=buyer_id,
                amount=amount,
                now=now,
                actor=buyer_id,
                invocation_id=invocation_id,
            )
            hold = Posting(
                "hold",
                accounts.wallet(buyer_id),
                accounts.held(buyer_id),
                amount,
                invocation_id=invocation_id,
                skill_id=skill.id,
            )
            try:
                post_all(tx, entry_id, [hold], entry_kind="hold", actor=buyer_id, now=now)
            except InsufficientFunds as exc:
                raise InsufficientFunds(
                    "the wallet cannot cover this invocation: "
                    f"{exc.details['available_micros']} micro-dollars available, "
                    f"{amount} needed (price plus compute estimate)",
                    details={
                        "available_micros": exc.details["available_micros"],
                        "required_micros": amount,
                        "invocation_id": invocation_id,
                    },
                ) from None
        return holds.hold_from(values)

    def capture(
        self,
        invocation_id: str,
        *,
        outcome: Outcome,
        compute: Sequence[MeteredStep] = (),
        conn: Connection | None = None,
        savepoint: bool = True,
    ) -> Charge:
        """Charge what the invocation cost and release the rest of its hold.

        ``succeeded`` pays the price (minus commission to the publisher, or the overage fee to
        the platform); ``failed``, ``expired`` and ``terminated`` pay only the metered lines
        that ran. Each metered line costs upstream + 15 %, paid from the hold in order; what the
        hold cannot cover is absorbed by the platform, never charged. Capturing again returns
        the first charge unchanged; capturing a released hold is ``HOLD_ALREADY_SETTLED``.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        now = self.clock()
        with self.transaction(conn, savepoint) as tx:
            row = holds.locked_hold(tx, invocation_id)
            if row.status == "captured":
                return Charge.model_validate(row.charge)
            if row.status == "released":
                raise HoldAlreadySettled(
                    f"the hold of {invocation_id!r} was released",
                    details={"invocation_id": invocation_id, "status": row.status},
                )
            settlement = settle(
                held=row.amount,
                price=row.price,
                price_kind=row.price_kind,
                commission_percent=row.commission_percent,
                outcome=outcome,
                metered=[MeteredCost(s.step, s.type, s.upstream_micros) for s in compute],
            )
            postings = holds.capture_postings(row, settlement)
            pays_publisher = any(
                p.credit == accounts.earnings(row.publisher_id) for p in postings if p.amount
            )
            if pays_publisher and not row.publisher_accounts_open:
                ensure_operator_accounts(tx, row.publisher_id, now)
            entry_id = open_entry(
                tx,
                kind="capture",
                operator_id=row.buyer_id,
                amount=settlement.charged,
                now=now,
                actor=row.buyer_id,
                invocation_id=invocation_id,
            )
            post_all(
                tx,
                entry_id,
                postings,
                entry_kind="capture",
                actor=row.buyer_id,
                now=now,
            )
            if outcome != "succeeded":
                holds.give_back_allowance(tx, row)
            charge = holds.build_charge(row, outcome, settlement, compute)
            holds.settle_row(tx, row, "captured", outcome, charge, now)
        return charge

    def release(self, invocation_id: str, *, conn: Connection | None = None) -> Hold:
        """Give the whole hold back (the invocation never started); releasing twice is harmless,
        releasing a captured hold is ``HOLD_ALREADY_SETTLED``."""
        now = self.clock()
        with self.transaction(conn) as tx:
            row = holds.locked_hold(tx, invocation_id)
            if row.status == "captured":
                raise HoldAlreadySettled(
                    f"the hold of {invocation_id!r} was captured",
                    details={"invocation_id": invocation_id, "status": row.status},
                )
            if row.status == "held":
                entry_id = open_entry(
                    tx,
                    kind="release",
                    operator_id=row.buyer_id,
                    amount=row.amount,
                    now=now,
                    actor=row.buyer_id,
                    invocation_id=invocation_id,
                )
                back = Posting(
                    "release",
                    accounts.held(row.buyer_id),
                    accounts.wallet(row.buyer_id),
                    row.amount,
                    invocation_id=invocation_id,
                    skill_id=row.skill_id,
                )
                post_all(tx, entry_id, [back], entry_kind="release", actor=row.buyer_id, now=now)
                holds.give_back_allowance(tx, row)
                holds.settle_row(tx, row, "released", None, None, now)
            row = holds.locked_hold(tx, invocation_id)
        return holds.hold_from(row._mapping)

    def hold(self, invocation_id: str, conn: Connection | None = None) -> Hold:
        """The hold of one invocation (read in ``conn``'s transaction when given)."""
        if conn is None:
            with self.db.read() as own:
                return self.hold(invocation_id, own)
        row = conn.execute(_hold_by_invocation, {"invocation_id": invocation_id}).first()
        if row is None:
            raise holds.hold_not_found(invocation_id)
        return holds.hold_from(row._mapping)

    def charge(self, invocation_id: str) -> Charge | None:
        """What a captured invocation cost (``None`` while held or after a release)."""
        with self.db.read() as conn:
            stored = conn.execute(
                sa.select(_holds.charge).where(_holds.invocation_id == invocation_id)
            ).scalar()
        return Charge.model_validate(stored) if stored else None

    # --- reading -------------------------------------------------------------------------------

    def wallet(self, operator_id: str) -> Wallet:
        """The operator's balances and this month's free-skill allowance."""
        operator = self.identity.get_operator(operator_id)
        month = month_of(self.clock())
        limit = self.allowances[operator.tier]
        with self.db.read() as conn:
            balances = wallet_balances(conn, operator_id)
            used = allowance_used(conn, operator_id, month)
        return Wallet(
            operator_id=operator_id,
            available_micros=balances["wallet"],
            held_micros=balances["held"],
            earnings_micros=balances["earnings"],
            allowance=Allowance(
                tier=operator.tier,
                month=month,
                limit=limit,
                used=used,
                remaining=max(limit - used, 0),
            ),
        )

    def ledger(self, operator_id: str, limit: int = 50, offset: int = 0) -> LedgerPage:
        """The postings that touched the operator's accounts, newest first."""
        with self.db.read() as conn:
            return ledger_page(conn, operator_id, limit, offset)

    def statement(self, publisher_id: str, month: str) -> Statement:
        """A publisher's statement for ``month`` (``YYYY-MM``): JSON via the model,
        CSV via :meth:`Statement.to_csv`."""
        self.identity.get_operator(publisher_id)
        with self.db.read() as conn:
            return statements.build_statement(conn, publisher_id, month, self.clock())

    def verify(self) -> LedgerCheck:
        """Check the books: cached balances equal the postings, none is negative, debits equal
        credits, and every buyer's held balance equals their open holds."""
        with self.db.read() as conn:
            return checks.verify(conn)
