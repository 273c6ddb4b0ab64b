"""Money and months as the ledger writes them (pure, no I/O).

Money is an integer number of **micro-dollars** (1 USD = 1,000,000 micros) everywhere: in the
tables, the services, the API (``*_micros`` fields) and the CSV. Decimal text such as ``"5.00"``
is accepted only at the edges (the CLI's ``--usd``) and converted exactly; floats are never used
to compute. ``format_usd`` is for people.

A month is a UTC calendar month written ``YYYY-MM``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from skillmarket.ledger.errors import InvalidAmount, InvalidMonth

MICROS_PER_USD = 1_000_000
MICROS_PER_CENT = 10_000
MAX_DEPOSIT_MICROS = 1_000_000 * MICROS_PER_USD  # one million dollars per deposit

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def cents_to_micros(cents: int) -> int:
    """A list price in cents as micro-dollars."""
    return cents * MICROS_PER_CENT


def parse_usd(text: str) -> int:
    """Exact micro-dollars for a positive decimal dollar amount such as ``"5.00"``.

    More than six decimal places, a sign, an exponent, zero or more than
    :data:`MAX_DEPOSIT_MICROS` is an :class:`InvalidAmount`.
    """
    cleaned = text.strip().removeprefix("$")
    if not re.fullmatch(r"\d+(\.\d{1,6})?", cleaned):
        raise InvalidAmount(
            f"{text!r} is not a dollar amount with at most 6 decimals (e.g. 5.00)",
            details={"value": text},
        )
    micros = int(Decimal(cleaned) * MICROS_PER_USD)
    check_amount(micros, maximum=MAX_DEPOSIT_MICROS)
    return micros


def usd_to_micros(value: Decimal | str | int) -> int:
    """Micro-dollars for a non-negative USD amount reported by a provider, rounded half up.

    Use it for upstream costs such as OpenRouter's ``usage.cost``; pass the provider's JSON
    number as text (``str(cost)``) or a ``Decimal`` so no binary float rounding creeps in.
    """
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise InvalidAmount(f"{value!r} is not a number", details={"value": str(value)}) from None
    if not amount.is_finite() or amount < 0:
        raise InvalidAmount("an upstream cost must be a finite, non-negative number")
    return int((amount * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def check_amount(micros: int, *, maximum: int, allow_zero: bool = False) -> int:
    """``micros`` if it is a whole, positive (or zero) amount up to ``maximum``."""
    if isinstance(micros, bool) or not isinstance(micros, int):
        raise InvalidAmount("amounts are whole micro-dollars (integers)")
    low = 0 if allow_zero else 1
    if not low <= micros <= maximum:
        raise InvalidAmount(
            f"amount must be between {low} and {maximum} micro-dollars",
            details={"amount_micros": micros, "max_micros": maximum},
        )
    return micros


def format_usd(micros: int) -> str:
    """``$5.00``, ``$0.0042``, ``-$1.25``: at least two decimals, at most six, no float."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole:,}.{digits}"


def exact_usd(micros: int) -> str:
    """The amount as a plain six-decimal string (``0.004200``), for CSV and JSON text."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    return f"{sign}{whole}.{frac:06d}"


def micros_to_usd_number(micros: int) -> float:
    """The amount as a JSON number for display fields such as the seed's ``cost_usd``.

    Six-decimal values print exactly (``0.0038``); the ``*_micros`` fields stay the contract.
    """
    return micros / MICROS_PER_USD


def parse_month(text: str) -> str:
    """``text`` if it is a month ``YYYY-MM`` (from 2000 on)."""
    match = _MONTH.match(text)
    if not match or int(match.group(1)) < 2000:
        raise InvalidMonth(f"{text!r} is not a month written YYYY-MM", details={"month": text})
    return text


def month_of(moment: datetime) -> str:
    """The UTC month of an aware datetime."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first instant of ``month`` and of the month after, in UTC."""
    year, mon = (int(p) for p in parse_month(month).split("-"))
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return start, end
