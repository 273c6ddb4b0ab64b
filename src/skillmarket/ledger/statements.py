"""Monthly publisher statements and the payouts that settle them.

A statement reads the postings on the publisher's ``earnings`` account during one UTC month
(by capture time): sales at list price (``price``), the platform's ``commission`` on them, and
reimbursements for calls made with the seller's credentials (``proxy``, and ``absorbed`` when
the platform paid them because a buyer's hold ran out). ``net = gross - commission +
reimbursed``. A finished month cannot change, so its net is paid out once, through the payment
provider, as a ``payout`` posting from earnings to the platform's cash.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.ledger import accounts
from skillmarket.ledger.book import Posting, open_entry, post_all
from skillmarket.ledger.errors import MonthNotClosed, NothingToPayOut, PayoutAlreadyMade
from skillmarket.ledger.models import Payout, Statement, StatementLine
from skillmarket.ledger.money import month_bounds
from skillmarket.ledger.tables import ledger_entries, ledger_postings

if TYPE_CHECKING:
    from skillmarket.ledger.services import LedgerService

_p = ledger_postings.c
STATEMENT_KINDS = ("price", "commission", "proxy", "absorbed")


def payout_key(publisher_id: str, month: str) -> str:
    """The idempotency key of one publisher's payout for one month."""
    return f"payout:{publisher_id}:{month}"


def _payout(conn: Connection, publisher_id: str, month: str) -> Payout | None:
    row = conn.execute(
        sa.select(ledger_entries).where(
            ledger_entries.c.idempotency_key == payout_key(publisher_id, month)
        )
    ).first()
    if row is None:
        return None
    return Payout(
        entry_id=row.id,
        publisher_id=publisher_id,
        month=month,
        amount_micros=row.amount,
        provider_ref=row.provider_ref,
        created_at=row.created_at,
    )


def _line(skill_id: str | None, sums: dict[str, int], invocations: int) -> StatementLine:
    gross, commission = sums["price"], sums["commission"]
    reimbursed = sums["proxy"] + sums["absorbed"]
    return StatementLine(
        skill_id=skill_id,
        invocations=invocations,
        gross_micros=gross,
        commission_micros=commission,
        reimbursed_micros=reimbursed,
        net_micros=gross - commission + reimbursed,
    )


def build_statement(conn: Connection, publisher_id: str, month: str, now: datetime) -> Statement:
    """The publisher's statement for ``month`` as of ``now``."""
    start, end = month_bounds(month)
    earned = accounts.earnings(publisher_id)
    rows = conn.execute(
        sa.select(_p.kind, _p.skill_id, _p.invocation_id, sa.func.sum(_p.amount).label("total"))
        .where(
            sa.or_(_p.credit_account_id == earned, _p.debit_account_id == earned),
            _p.kind.in_(STATEMENT_KINDS),
            _p.created_at >= start,
            _p.created_at < end,
        )
        .group_by(_p.kind, _p.skill_id, _p.invocation_id)
    ).all()
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATEMENT_KINDS, 0))
    sold: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        sums[row.skill_id][row.kind] += int(row.total)
        if row.kind == "price":
            sold[row.skill_id].add(row.invocation_id)
    lines = [_line(skill, sums[skill], len(sold[skill])) for skill in sorted(sums)]
    totals = dict.fromkeys(STATEMENT_KINDS, 0)
    for per_skill in sums.values():
        for kind, amount in per_skill.items():
            totals[kind] += amount
    payout = _payout(conn, publisher_id, month)
    status = "paid" if payout else ("closed" if now >= end else "open")
    return Statement(
        publisher_id=publisher_id,
        month=month,
        status=status,
        lines=lines,
        totals=_line(None, totals, sum(len(s) for s in sold.values())),
        payout=payout,
    )


def pay_out(service: LedgerService, due: Statement, *, actor: str | None) -> Payout:
    """Settle a closed, unpaid statement: the provider pays, then the payout is posted.

    The provider gets the same idempotency key on every attempt for this publisher and month,
    so a crash between paying and posting cannot pay twice when the payout is retried.
    """
    if due.status == "open":
        raise MonthNotClosed(
            f"{due.month} has not ended yet; payouts are for finished months",
            details={"month": due.month},
        )
    if due.payout is not None:
        raise PayoutAlreadyMade(
            f"{due.month} was already paid out to {due.publisher_id}",
            details={"month": due.month, "entry_id": due.payout.entry_id},
        )
    amount = due.totals.net_micros
    if amount <= 0:
        raise NothingToPayOut(
            f"{due.publisher_id} has no net earnings in {due.month}",
            details={"month": due.month},
        )
    key = payout_key(due.publisher_id, due.month)
    reference = service.provider.send_payout(due.publisher_id, amount, idempotency_key=key)
    now = service.clock()
    with service.transaction(None) as conn:
        if _payout(conn, due.publisher_id, due.month) is not None:
            raise PayoutAlreadyMade(
                f"{due.month} was already paid out to {due.publisher_id}",
                details={"month": due.month},
            )
        entry_id = open_entry(
            conn,
            kind="payout",
            operator_id=due.publisher_id,
            amount=amount,
            now=now,
            actor=actor,
            idempotency_key=key,
            provider_ref=reference,
        )
        payout = Posting("payout", accounts.earnings(due.publisher_id), accounts.CASH, amount)
        post_all(conn, entry_id, [payout], entry_kind="payout", actor=actor, now=now)
    return Payout(
        entry_id=entry_id,
        publisher_id=due.publisher_id,
        month=due.month,
        amount_micros=amount,
        provider_ref=reference,
        created_at=now,
    )
