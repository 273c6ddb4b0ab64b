"""Errors of the ledger domain.

::

    SkillmarketError
     ├── InsufficientFunds          402  INSUFFICIENT_FUNDS
     ├── PaymentProviderError       502  PAYMENT_PROVIDER_ERROR
     ├── InvalidInput
     │    ├── InvalidAmount         422  INVALID_AMOUNT
     │    ├── InvalidMonth          422  INVALID_MONTH
     │    └── MaxCostTooLow         422  MAX_COST_TOO_LOW
     ├── NotFound
     │    └── HoldNotFound          404  HOLD_NOT_FOUND
     └── Conflict
          ├── HoldAlreadyExists     409  HOLD_ALREADY_EXISTS
          ├── HoldAlreadySettled    409  HOLD_ALREADY_SETTLED
          ├── DepositConflict       409  DEPOSIT_CONFLICT
          ├── MonthNotClosed        409  MONTH_NOT_CLOSED
          ├── PayoutAlreadyMade     409  PAYOUT_ALREADY_MADE
          └── NothingToPayOut       409  NOTHING_TO_PAY_OUT

Amounts in ``details`` are integer micro-dollars (keys end in ``_micros``).
"""

from __future__ import annotations

from skillmarket.errors import Conflict, InvalidInput, NotFound, SkillmarketError


class InsufficientFunds(SkillmarketError):
    """The buyer's available balance cannot cover the hold; nothing ran and nothing was written.

    ``details``: ``available_micros`` and ``required_micros``.
    """

    code = "INSUFFICIENT_FUNDS"
    status = 402


class PaymentProviderError(SkillmarketError):
    """The payment provider refused or failed a deposit confirmation or a payout."""

    code = "PAYMENT_PROVIDER_ERROR"
    status = 502


class InvalidAmount(InvalidInput):
    """An amount is not a positive whole number of micro-dollars within the limits."""

    code = "INVALID_AMOUNT"


class InvalidMonth(InvalidInput):
    """A month is not written ``YYYY-MM``."""

    code = "INVALID_MONTH"


class MaxCostTooLow(InvalidInput):
    """The buyer's ``max_cost`` is below the skill's price, so no invocation could succeed."""

    code = "MAX_COST_TOO_LOW"


class HoldNotFound(NotFound):
    """No hold was placed for that invocation."""

    code = "HOLD_NOT_FOUND"


class HoldAlreadyExists(Conflict):
    """A hold was already placed for that invocation (an invocation is billed once)."""

    code = "HOLD_ALREADY_EXISTS"


class HoldAlreadySettled(Conflict):
    """The hold was already captured (or released) and cannot be settled the other way."""

    code = "HOLD_ALREADY_SETTLED"


class DepositConflict(Conflict):
    """A deposit with that provider reference exists for another operator or amount."""

    code = "DEPOSIT_CONFLICT"


class MonthNotClosed(Conflict):
    """Payouts are for finished months only; the month has not ended yet."""

    code = "MONTH_NOT_CLOSED"


class PayoutAlreadyMade(Conflict):
    """That publisher's statement for that month was already paid out."""

    code = "PAYOUT_ALREADY_MADE"


class NothingToPayOut(Conflict):
    """The publisher's statement for that month has no net earnings to pay."""

    code = "NOTHING_TO_PAY_OUT"
