"""/v1/wallet: balances, the ledger, monthly statements; /v1/admin: deposits, payouts, checks.

Every amount is an integer number of micro-dollars (1 USD = 1,000,000), in fields ending in
``_micros``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from skillmarket.api.deps import AdminDep, OperatorDep, ServicesDep
from skillmarket.ledger.models import Deposit, LedgerCheck, LedgerPage, Payout, Statement, Wallet

router = APIRouter(tags=["wallet"])


class DepositRequest(BaseModel):
    """Money an admin records as received for an operator."""

    model_config = ConfigDict(extra="forbid")

    operator_id: str = Field(max_length=32)
    amount_micros: int = Field(description="Micro-dollars (5.00 USD is 5000000).")
    provider_ref: str | None = Field(
        None,
        min_length=1,
        max_length=150,
        description="The payment's reference at the provider; a deposit with a reference is "
        "recorded once however often it is sent.",
    )


class PayoutRequest(BaseModel):
    """A publisher's finished month to pay out."""

    model_config = ConfigDict(extra="forbid")

    publisher_id: str = Field(max_length=32)
    month: str = Field(description="YYYY-MM, a month that has ended (UTC).")


@router.get("/v1/wallet", response_model=Wallet, summary="My balances and allowance")
def get_wallet(operator: OperatorDep, services: ServicesDep) -> Wallet:
    """Available (spendable) and held balances, unpaid earnings, and this month's free-skill
    allowance."""
    return services.ledger.wallet(operator.id)


@router.get("/v1/wallet/ledger", response_model=LedgerPage, summary="My ledger")
def get_ledger(
    operator: OperatorDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> LedgerPage:
    """Every posting on my wallet, held and earnings accounts, newest first (+ in, - out)."""
    return services.ledger.ledger(operator.id, limit, offset)


@router.get(
    "/v1/wallet/statements/{month}",
    response_model=Statement,
    summary="My publisher statement for a month",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def get_statement(
    month: str,
    operator: OperatorDep,
    services: ServicesDep,
    format: Annotated[Literal["json", "csv"], Query(description="json (default) or csv")] = "json",
) -> Statement | Response:
    """Sales at list price, commission by my tier, seller-proxy reimbursements and net, per
    skill, for ``month`` (YYYY-MM, UTC), with the payout once it is made."""
    statement = services.ledger.statement(operator.id, month)
    if format == "csv":
        return Response(
            statement.to_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="statement-{month}.csv"'},
        )
    return statement


@router.post(
    "/v1/admin/deposits",
    response_model=Deposit,
    status_code=201,
    summary="Record a deposit (admin)",
    responses={200: {"description": "Replay of a deposit with the same reference"}},
)
def create_deposit(
    body: DepositRequest, admin: AdminDep, services: ServicesDep, response: Response
) -> Deposit:
    """Credit an operator's wallet with money received through the payment provider."""
    deposit = services.ledger.deposit(
        body.operator_id, body.amount_micros, provider_ref=body.provider_ref, actor=admin.id
    )
    if deposit.replayed:
        response.status_code = 200
    return deposit


@router.post(
    "/v1/admin/payouts", response_model=Payout, status_code=201, summary="Pay out a month (admin)"
)
def create_payout(body: PayoutRequest, admin: AdminDep, services: ServicesDep) -> Payout:
    """Pay a publisher's net earnings for a finished month and post it."""
    return services.ledger.payout(body.publisher_id, body.month, actor=admin.id)


@router.get("/v1/admin/ledger/check", response_model=LedgerCheck, summary="Check the books (admin)")
def check_ledger(_admin: AdminDep, services: ServicesDep) -> LedgerCheck:
    """Cached balances equal the postings, none is negative, debits equal credits, held
    balances equal open holds."""
    return services.ledger.verify()
