"""Ledger types as callers see them (pure). Every amount is integer micro-dollars."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from skillmarket.identity.models import Tier
from skillmarket.ledger.money import exact_usd, micros_to_usd_number
from skillmarket.ledger.pricing import LineType, Outcome, PriceKind

_FROZEN = ConfigDict(frozen=True)
MAX_UPSTREAM_MICROS = 1_000_000_000_000


class PricedSkill(Protocol):
    """What the ledger needs of a skill; the catalog's ``SkillSummary`` and ``SkillDetail`` fit."""

    @property
    def id(self) -> str:
        """The skill version's id."""
        ...

    @property
    def publisher_id(self) -> str:
        """Who is paid for it."""
        ...

    @property
    def price_cents(self) -> int:
        """The list price in cents (0 for a free skill)."""
        ...


class MeteredStep(BaseModel):
    """One metered line an invocation reports at capture.

    ``type`` is ``llm`` (tokens), ``script`` (runtime) or ``proxy`` (``proxy_fetch`` calls: with
    the seller's credentials they cost ``upstream_micros``, reimbursed to the seller; with the
    buyer's own, or with none, they cost 0 and are listed so the buyer sees them);
    ``upstream_micros`` is what it cost upstream, before the 15 % markup. The other fields are
    descriptive and copied into the cost breakdown.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int = Field(ge=0, le=1000)
    type: LineType
    upstream_micros: int = Field(ge=0, le=MAX_UPSTREAM_MICROS)
    model: str | None = None
    prompt_tokens: int | None = Field(None, ge=0)
    completion_tokens: int | None = Field(None, ge=0)
    execution_ms: int | None = Field(None, ge=0)
    service: str | None = None
    calls: int | None = Field(None, ge=0)
    provided_by: Literal["buyer", "seller"] | None = None


HoldStatus = Literal["held", "captured", "released"]


class Hold(BaseModel):
    """Money reserved for one invocation before it runs."""

    model_config = _FROZEN

    invocation_id: str
    buyer_id: str
    publisher_id: str
    skill_id: str
    amount_micros: int
    price_micros: int
    price_kind: PriceKind
    commission_percent: int
    estimate_micros: int
    max_cost_micros: int | None
    status: HoldStatus
    created_at: datetime

    @property
    def compute_budget_micros(self) -> int:
        """What the hold can pay for metered lines (at cost + 15 %) after the price."""
        return self.amount_micros - self.price_micros


class ChargeLine(BaseModel):
    """One metered line as billed: ``cost_micros`` = upstream paid + ``markup_micros``."""

    model_config = _FROZEN

    step: int
    type: LineType
    upstream_micros: int
    markup_micros: int
    cost_micros: int
    absorbed_micros: int
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    execution_ms: int | None = None
    service: str | None = None
    calls: int | None = None
    provided_by: Literal["buyer", "seller"] | None = None


class Charge(BaseModel):
    """What one invocation cost, exactly as posted."""

    model_config = _FROZEN

    invocation_id: str
    outcome: Outcome
    buyer_id: str
    publisher_id: str
    skill_id: str
    held_micros: int
    price_micros: int
    price_kind: PriceKind
    commission_micros: int
    compute_micros: int
    total_micros: int
    released_micros: int
    absorbed_micros: int
    lines: tuple[ChargeLine, ...]

    def cost(self) -> dict[str, Any]:
        """The seed's ``cost`` object: ``total_usd`` and a per-step ``breakdown`` (plus micros)."""
        breakdown = []
        for line in self.lines:
            item: dict[str, Any] = {"step": line.step, "type": line.type}
            for key in ("model", "prompt_tokens", "completion_tokens", "execution_ms"):
                if getattr(line, key) is not None:
                    item[key] = getattr(line, key)
            for key in ("service", "provided_by", "calls"):
                if getattr(line, key) is not None:
                    item[key] = getattr(line, key)
            item["cost_usd"] = micros_to_usd_number(line.cost_micros)
            item["cost_micros"] = line.cost_micros
            breakdown.append(item)
        return {
            "total_usd": micros_to_usd_number(self.total_micros),
            "total_micros": self.total_micros,
            "price_usd": micros_to_usd_number(self.price_micros),
            "price_micros": self.price_micros,
            "breakdown": breakdown,
        }


class Allowance(BaseModel):
    """The buyer's free-skill allowance this month."""

    model_config = _FROZEN

    tier: Tier
    month: str
    limit: int
    used: int
    remaining: int


class Wallet(BaseModel):
    """An operator's balances."""

    model_config = _FROZEN

    operator_id: str
    currency: Literal["USD"] = "USD"
    available_micros: int
    held_micros: int
    earnings_micros: int
    allowance: Allowance


class LedgerLine(BaseModel):
    """One posting as it touched one of the operator's accounts (+ in, − out)."""

    model_config = _FROZEN

    posting_id: str
    entry_id: str
    created_at: datetime
    entry_kind: str
    kind: str
    account: Literal["wallet", "held", "earnings"]
    amount_micros: int
    counterparty: str
    invocation_id: str | None
    skill_id: str | None
    step: int | None


class LedgerPage(BaseModel):
    """One page of an operator's ledger, newest first."""

    items: list[LedgerLine]
    limit: int
    offset: int
    has_more: bool


class Deposit(BaseModel):
    """Money in: a deposit into an operator's wallet."""

    model_config = _FROZEN

    entry_id: str
    operator_id: str
    amount_micros: int
    provider: str
    provider_ref: str
    created_at: datetime
    replayed: bool = False


class Payout(BaseModel):
    """Money out: a publisher's monthly statement settled through the payment provider."""

    model_config = _FROZEN

    entry_id: str
    publisher_id: str
    month: str
    amount_micros: int
    provider_ref: str
    created_at: datetime


class StatementLine(BaseModel):
    """One skill's month for its publisher (``skill_id`` is ``None`` on the totals line)."""

    model_config = _FROZEN

    skill_id: str | None
    invocations: int
    gross_micros: int
    commission_micros: int
    reimbursed_micros: int
    net_micros: int


StatementStatus = Literal["open", "closed", "paid"]
CSV_COLUMNS = (
    "skill_id",
    "invocations",
    "gross_micros",
    "commission_micros",
    "reimbursed_micros",
    "net_micros",
    "gross_usd",
    "commission_usd",
    "reimbursed_usd",
    "net_usd",
)


class Statement(BaseModel):
    """A publisher's month: sales, commission, seller-proxy reimbursements, net and payout.

    ``open`` while the month runs, ``closed`` once it has ended, ``paid`` after the payout.
    """

    model_config = _FROZEN

    publisher_id: str
    month: str
    status: StatementStatus
    currency: Literal["USD"] = "USD"
    lines: list[StatementLine]
    totals: StatementLine
    payout: Payout | None

    def to_csv(self) -> str:
        """The statement as CSV: one row per skill, then a ``TOTAL`` row."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for line in [*self.lines, self.totals]:
            amounts = (
                line.gross_micros,
                line.commission_micros,
                line.reimbursed_micros,
                line.net_micros,
            )
            writer.writerow(
                (line.skill_id or "TOTAL", line.invocations, *amounts)
                + tuple(exact_usd(a) for a in amounts)
            )
        return out.getvalue()


class LedgerCheck(BaseModel):
    """The result of checking the books (:meth:`LedgerService.verify`)."""

    ok: bool
    accounts: int
    postings: int
    debit_normal_total_micros: int
    credit_normal_total_micros: int
    cached_mismatches: list[dict[str, Any]]
    negative_accounts: list[str]
    hold_mismatches: list[str]
