"""/v1/operators and /v1/keys: who am I, my API keys, and admin operator management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from skillmarket.api.deps import AdminDep, OperatorDep, ServicesDep
from skillmarket.identity.models import OPERATOR_NAME_PATTERN, ApiKeyInfo, NewApiKey, Operator, Tier

router = APIRouter(tags=["operators"])


class NewKeyRequest(BaseModel):
    """An optional label for a new key."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(None, max_length=100)


class NewOperatorRequest(BaseModel):
    """An operator to create (admin only)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=OPERATOR_NAME_PATTERN)
    tier: Tier = "free"
    is_admin: bool = False


class NewOperatorResponse(BaseModel):
    """The new operator and its first API key, shown once."""

    operator: Operator
    api_key: NewApiKey


@router.get("/v1/operators/me", response_model=Operator, summary="The calling operator")
def me(operator: OperatorDep) -> Operator:
    """Who the API key belongs to."""
    return operator


@router.get("/v1/keys", response_model=list[ApiKeyInfo], summary="List my API keys")
def list_keys(operator: OperatorDep, services: ServicesDep) -> list[ApiKeyInfo]:
    """The caller's keys, by prefix only."""
    return services.identity.list_keys(operator.id)


@router.post("/v1/keys", response_model=NewApiKey, status_code=201, summary="Create an API key")
def create_key(
    operator: OperatorDep,
    services: ServicesDep,
    body: Annotated[NewKeyRequest | None, Body()] = None,
) -> NewApiKey:
    """A new key for the caller; the whole key is in this response and never again."""
    return services.identity.create_key(operator.id, body.label if body else None)


@router.delete("/v1/keys/{key_id}", response_model=ApiKeyInfo, summary="Revoke an API key")
def revoke_key(key_id: str, operator: OperatorDep, services: ServicesDep) -> ApiKeyInfo:
    """Revoke one of the caller's keys; it stops working at once."""
    return services.identity.revoke_key(key_id, operator_id=operator.id)


@router.get("/v1/admin/operators", response_model=list[Operator], summary="List operators (admin)")
def list_operators(_admin: AdminDep, services: ServicesDep) -> list[Operator]:
    """Every operator."""
    return services.identity.list_operators()


@router.post(
    "/v1/admin/operators",
    response_model=NewOperatorResponse,
    status_code=201,
    summary="Create an operator (admin)",
)
def create_operator(
    body: NewOperatorRequest, _admin: AdminDep, services: ServicesDep
) -> NewOperatorResponse:
    """A new operator and its first key (shown once)."""
    operator, key = services.identity.create_operator(body.name, body.tier, is_admin=body.is_admin)
    return NewOperatorResponse(operator=operator, api_key=key)
