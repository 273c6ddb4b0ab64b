"""The chart of accounts (pure, no I/O).

Every account has a *normal side*: the side of a posting that increases it. Operators' accounts
and the platform's revenue and upstream accounts are what the platform owes or has earned
(credit-normal); the cash the payment provider holds and the compute the platform absorbed are
what it has or spent (debit-normal). With that convention no balance is ever below zero, and the
books balance when the debit-normal balances add up to the credit-normal ones.

=====================  ======  ===================================================================
account                normal  holds
=====================  ======  ===================================================================
``wallet:<op>``        credit  the operator's spendable balance
``held:<op>``          credit  the operator's money on hold for invocations in flight
``earnings:<op>``      credit  the publisher's earnings not yet paid out (net of commission)
``platform:revenue``   credit  commission, markups and overage fees
``platform:upstream``  credit  upstream compute (LLM, script runtime) owed to its providers
``platform:cash``      debit   money received through the payment provider, less payouts
``platform:absorbed``  debit   upstream cost the platform paid because a hold ran out
=====================  ======  ===================================================================
"""

from __future__ import annotations

from typing import Literal

AccountKind = Literal["wallet", "held", "earnings", "revenue", "upstream", "cash", "absorbed"]
NormalSide = Literal["debit", "credit"]

OPERATOR_KINDS: tuple[AccountKind, ...] = ("wallet", "held", "earnings")
REVENUE = "platform:revenue"
UPSTREAM = "platform:upstream"
CASH = "platform:cash"
ABSORBED = "platform:absorbed"

# id → (kind, normal side); created by the migration.
PLATFORM_ACCOUNTS: dict[str, tuple[AccountKind, NormalSide]] = {
    REVENUE: ("revenue", "credit"),
    UPSTREAM: ("upstream", "credit"),
    CASH: ("cash", "debit"),
    ABSORBED: ("absorbed", "debit"),
}


def wallet(operator_id: str) -> str:
    """The operator's spendable balance."""
    return f"wallet:{operator_id}"


def held(operator_id: str) -> str:
    """The operator's money on hold."""
    return f"held:{operator_id}"


def earnings(operator_id: str) -> str:
    """The publisher's unpaid earnings."""
    return f"earnings:{operator_id}"


def kind_of(account_id: str) -> str:
    """The kind part of an account id (``wallet``, ``revenue``, …)."""
    prefix, _, rest = account_id.partition(":")
    return rest if prefix == "platform" else prefix


def normal_side(account_id: str) -> NormalSide:
    """The side that increases ``account_id``."""
    platform = PLATFORM_ACCOUNTS.get(account_id)
    return platform[1] if platform else "credit"


def delta(normal_side: str, side: Literal["debit", "credit"], amount: int) -> int:
    """How a posting of ``amount`` on ``side`` changes an account with ``normal_side``."""
    return amount if side == normal_side else -amount
