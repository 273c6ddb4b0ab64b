"""Hold mechanics inside a ledger transaction: allowance units, the hold row, capture postings.

The service decides *when*; these functions write *what*. Each takes the transaction's
connection and assumes the audit log lock is held (see :mod:`skillmarket.ledger.services`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.db import UtcDateTime
from skillmarket.identity.errors import OperatorNotFound
from skillmarket.ledger import accounts
from skillmarket.ledger.book import Posting, insert_ignore
from skillmarket.ledger.errors import HoldAlreadyExists, HoldAlreadySettled, HoldNotFound
from skillmarket.ledger.models import Charge, ChargeLine, Hold, MeteredStep
from skillmarket.ledger.pricing import Outcome, Settlement
from skillmarket.ledger.tables import ledger_accounts, ledger_allowance_usage, ledger_holds

_usage = ledger_allowance_usage.c
_holds = ledger_holds.c
_take_unit = (
    sa.update(ledger_allowance_usage)
    .where(
        _usage.operator_id == sa.bindparam("buyer"),
        _usage.month == sa.bindparam("month_"),
        _usage.used < sa.bindparam("limit"),
    )
    .values(used=_usage.used + 1)
)
_give_unit = (
    sa.update(ledger_allowance_usage)
    .where(
        _usage.operator_id == sa.bindparam("buyer"),
        _usage.month == sa.bindparam("month_"),
        _usage.used > 0,
    )
    .values(used=_usage.used - 1)
)
# The hold, with whether its publisher's accounts are open yet (a capture that pays earnings
# to a publisher who never had any opens them first; in the common case, no statement more).
_lock_hold = (
    sa.select(
        ledger_holds,
        sa.exists()
        .where(ledger_accounts.c.operator_id == _holds.publisher_id)
        .label("publisher_accounts_open"),
    )
    .where(_holds.invocation_id == sa.bindparam("invocation"))
    .with_for_update(of=ledger_holds)
)
_settle = (
    sa.update(ledger_holds)
    .where(_holds.invocation_id == sa.bindparam("invocation"), _holds.status == "held")
    .values(
        status=sa.bindparam("status_"),
        outcome=sa.bindparam("outcome_"),
        charged=sa.bindparam("charged_"),
        charge=sa.bindparam("charge_", type_=sa.JSON),
        settled_at=sa.bindparam("settled_at_", type_=UtcDateTime),
    )
)


def insert_hold(conn: Connection, values: dict[str, Any]) -> None:
    """Insert a hold row: ``HOLD_ALREADY_EXISTS`` if the invocation has one, ``OperatorNotFound``
    if its buyer is unknown (the publisher of a priced skill was read before)."""
    try:
        inserted = insert_ignore(conn, ledger_holds, [values])
    except sa.exc.IntegrityError:  # conflicts are ignored, so only an operator FK is left
        raise OperatorNotFound(
            f"no operator {values['buyer_id']!r}", details={"operator_id": values["buyer_id"]}
        ) from None
    if inserted == 0:
        raise HoldAlreadyExists(
            f"invocation {values['invocation_id']!r} already has a hold",
            details={"invocation_id": values["invocation_id"]},
        )


def hold_from(values: Mapping[str, Any]) -> Hold:
    """A :class:`Hold` from a ``ledger_holds`` row (or the values inserted as one)."""
    return Hold(
        invocation_id=values["invocation_id"],
        buyer_id=values["buyer_id"],
        publisher_id=values["publisher_id"],
        skill_id=values["skill_id"],
        amount_micros=values["amount"],
        price_micros=values["price"],
        price_kind=values["price_kind"],
        commission_percent=values["commission_percent"],
        estimate_micros=values["estimate"],
        max_cost_micros=values["max_cost"],
        status=values["status"],
        created_at=values["created_at"],
    )


def hold_not_found(invocation_id: str) -> HoldNotFound:
    """The error for an invocation without a hold."""
    return HoldNotFound(
        f"no hold for invocation {invocation_id!r}", details={"invocation_id": invocation_id}
    )


def take_allowance(conn: Connection, buyer_id: str, limit: int, month: str) -> bool:
    """Count one free-skill invocation against ``month``'s allowance if any is left."""
    if limit <= 0:
        return False
    insert_ignore(
        conn, ledger_allowance_usage, [{"operator_id": buyer_id, "month": month, "used": 0}]
    )
    taken = conn.execute(_take_unit, {"buyer": buyer_id, "month_": month, "limit": limit}).rowcount
    return taken == 1


def give_back_allowance(conn: Connection, row: sa.Row) -> None:
    """Uncount the allowance unit a hold took (the invocation did not succeed)."""
    if row.allowance_month is None:
        return
    conn.execute(_give_unit, {"buyer": row.buyer_id, "month_": row.allowance_month})


def locked_hold(conn: Connection, invocation_id: str) -> sa.Row:
    """The hold row, locked for this transaction (``HOLD_NOT_FOUND`` if there is none)."""
    row = conn.execute(_lock_hold, {"invocation": invocation_id}).first()
    if row is None:
        raise hold_not_found(invocation_id)
    return row


def settle_row(
    conn: Connection,
    row: sa.Row,
    status: str,
    outcome: str | None,
    charge: Charge | None,
    now: datetime,
) -> None:
    """Mark the hold captured or released, storing the charge; only ever from ``held``."""
    settled = conn.execute(
        _settle,
        {
            "invocation": row.invocation_id,
            "status_": status,
            "outcome_": outcome,
            "charged_": charge.total_micros if charge else 0,
            "charge_": charge.model_dump(mode="json") if charge else None,
            "settled_at_": now,
        },
    ).rowcount
    if settled != 1:  # unreachable under the lock; the condition makes settling twice impossible
        raise HoldAlreadySettled(
            f"the hold of {row.invocation_id!r} was settled concurrently",
            details={"invocation_id": row.invocation_id},
        )


def capture_postings(row: sa.Row, s: Settlement) -> list[Posting]:
    """Every posting of a capture, zero amounts included (they are skipped when written)."""
    held, earned = accounts.held(row.buyer_id), accounts.earnings(row.publisher_id)
    ids: dict[str, Any] = {"invocation_id": row.invocation_id, "skill_id": row.skill_id}
    out = []
    if s.price_kind == "list":
        out.append(Posting("price", held, earned, s.price, **ids))
        out.append(Posting("commission", earned, accounts.REVENUE, s.commission, **ids))
    else:
        out.append(Posting("overage", held, accounts.REVENUE, s.price, **ids))
    for line in s.lines:
        # Seller-provided proxy calls reimburse the seller; compute is owed upstream.
        target = earned if line.type == "proxy" else accounts.UPSTREAM
        step = {**ids, "step": line.step}
        out.append(Posting(line.type, held, target, line.upstream_paid, **step))
        out.append(Posting("markup", held, accounts.REVENUE, line.markup, **step))
        out.append(Posting("absorbed", accounts.ABSORBED, target, line.absorbed, **step))
    out.append(Posting("release", held, accounts.wallet(row.buyer_id), s.released, **ids))
    return out


def build_charge(
    row: sa.Row, outcome: Outcome, s: Settlement, compute: Sequence[MeteredStep]
) -> Charge:
    """The charge of a capture, line for line what :func:`capture_postings` posts."""
    lines = tuple(
        ChargeLine(
            **step.model_dump(exclude={"upstream_micros"}),
            upstream_micros=line.upstream,
            markup_micros=line.markup,
            cost_micros=line.cost,
            absorbed_micros=line.absorbed,
        )
        for step, line in zip(compute, s.lines, strict=True)
    )
    return Charge(
        invocation_id=row.invocation_id,
        outcome=outcome,
        buyer_id=row.buyer_id,
        publisher_id=row.publisher_id,
        skill_id=row.skill_id,
        held_micros=s.held,
        price_micros=s.price,
        price_kind=s.price_kind,
        commission_micros=s.commission,
        compute_micros=s.compute,
        total_micros=s.charged,
        released_micros=s.released,
        absorbed_micros=s.absorbed,
        lines=lines,
    )
