"""Passports, trust checks and issuers: /v1/passports, /v1/trust/check, /v1/admin/…, JWKS."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from skillmarket.api.deps import AdminDep, OperatorDep, ServicesDep
from skillmarket.identity.passport_service import PassportInfo, TrustCheck

router = APIRouter(tags=["passports"])

Assurance = Literal["low", "substantial", "high"]


class IssueRequest(BaseModel):
    """A passport to issue (admin): the owner, its claims and a lifetime."""

    model_config = ConfigDict(extra="forbid")

    operator_id: str
    claims: dict[Literal["verified_human", "verified_identity"], Assurance] = {}
    ttl_days: int = Field(30, ge=1, le=90)


class IssuedResponse(BaseModel):
    """A newly issued passport with its token."""

    passport_id: str
    token: str
    operator_id: str
    issuer: str
    expires_at: datetime


class RegisterRequest(BaseModel):
    """A passport token from a trusted external issuer, to use here by its id."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=8192)


class RevokeRequest(BaseModel):
    """Why a passport is revoked."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500)


class TrustCheckRequest(BaseModel):
    """Ask whether a passport meets a skill's (or a level's) trust requirement."""

    model_config = ConfigDict(extra="forbid")

    passport_id: str
    skill_id: str | None = None
    trust_level: Literal["L0", "L1", "L2"] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TrustCheckRequest:
        if (self.skill_id is None) == (self.trust_level is None):
            raise ValueError("give exactly one of skill_id or trust_level")
        return self


class TrustIssuerRequest(BaseModel):
    """An external issuer to trust, by its JWKS."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(min_length=1, max_length=200)
    jwks: dict[str, Any]
    replace: bool = False


@router.get("/.well-known/jwks.json", tags=["passports"], summary="Passport issuer keys")
def jwks(services: ServicesDep) -> dict[str, Any]:
    """This marketplace's public passport-signing keys (no auth), for offline verifiers."""
    return services.passports.jwks()


@router.get("/v1/passports", response_model=list[PassportInfo], summary="List my passports")
def my_passports(operator: OperatorDep, services: ServicesDep) -> list[PassportInfo]:
    """The caller's passports (never their tokens)."""
    return services.passports.list(operator.id)


@router.post(
    "/v1/passports",
    response_model=PassportInfo,
    status_code=201,
    summary="Register an external passport",
)
def register_passport(
    body: RegisterRequest, operator: OperatorDep, services: ServicesDep
) -> PassportInfo:
    """Store a passport issued to the caller by a trusted external issuer."""
    return services.passports.register(operator.id, body.token)


@router.get(
    "/v1/passports/{passport_id}", response_model=PassportInfo, summary="Show one of my passports"
)
def get_passport(passport_id: str, operator: OperatorDep, services: ServicesDep) -> PassportInfo:
    """One of the caller's passports."""
    return services.passports.get(passport_id, owner_id=operator.id)


@router.post(
    "/v1/passports/{passport_id}/revoke",
    response_model=PassportInfo,
    summary="Revoke one of my passports",
)
def revoke_own_passport(
    passport_id: str,
    operator: OperatorDep,
    services: ServicesDep,
    body: Annotated[RevokeRequest | None, Body()] = None,
) -> PassportInfo:
    """Revoke a passport of the caller's (for a leaked agent); running work stops."""
    return services.passports.revoke(
        passport_id, actor=operator.id, owner_id=operator.id, reason=body.reason if body else None
    )


@router.post("/v1/trust/check", response_model=TrustCheck, summary="Check a trust level")
def trust_check(
    body: TrustCheckRequest, operator: OperatorDep, services: ServicesDep
) -> TrustCheck:
    """Would this passport be allowed to invoke the skill (or meet the level)? Names the
    missing claim and the assurance needed when not. Invalid passports answer with their error."""
    level = body.trust_level
    if body.skill_id is not None:
        level = services.catalog.get(body.skill_id, operator.id).trust_level_required
    assert level is not None
    return services.passports.check(operator.id, body.passport_id, level)


@router.post(
    "/v1/admin/passports",
    response_model=IssuedResponse,
    status_code=201,
    summary="Issue a passport (admin)",
)
def issue_passport(body: IssueRequest, admin: AdminDep, services: ServicesDep) -> IssuedResponse:
    """Sign a passport for an operator with the given claims."""
    issued = services.passports.issue(
        body.operator_id, dict(body.claims), ttl=timedelta(days=body.ttl_days), actor=admin.id
    )
    return IssuedResponse(
        passport_id=issued.passport_id,
        token=issued.token,
        operator_id=issued.owner,
        issuer=issued.issuer,
        expires_at=issued.expires_at,
    )


@router.get(
    "/v1/admin/passports", response_model=list[PassportInfo], summary="List passports (admin)"
)
def list_passports(
    _admin: AdminDep, services: ServicesDep, operator_id: Annotated[str | None, Query()] = None
) -> list[PassportInfo]:
    """Every passport, or one operator's."""
    return services.passports.list(operator_id)


@router.post(
    "/v1/admin/passports/{passport_id}/revoke",
    response_model=PassportInfo,
    summary="Revoke a passport (admin)",
)
def revoke_passport(
    passport_id: str,
    admin: AdminDep,
    services: ServicesDep,
    body: Annotated[RevokeRequest | None, Body()] = None,
) -> PassportInfo:
    """Revoke any passport; invocations using it terminate at their next check."""
    return services.passports.revoke(
        passport_id, actor=admin.id, reason=body.reason if body else None
    )


@router.get("/v1/admin/issuers", response_model=list[str], summary="List issuers (admin)")
def list_issuers(_admin: AdminDep, services: ServicesDep) -> list[str]:
    """This marketplace's issuer first, then trusted external issuers."""
    return services.passports.list_issuers()


@router.post(
    "/v1/admin/issuers",
    response_model=list[str],
    status_code=201,
    summary="Trust an external issuer (admin)",
)
def trust_issuer(body: TrustIssuerRequest, admin: AdminDep, services: ServicesDep) -> list[str]:
    """Trust another issuer's passports, by its JWKS (public Ed25519 keys)."""
    return services.passports.trust_issuer(
        body.issuer, body.jwks, actor=admin.id, replace=body.replace
    )


@router.delete("/v1/admin/issuers", status_code=204, summary="Distrust an issuer (admin)")
def distrust_issuer(
    admin: AdminDep, services: ServicesDep, issuer: Annotated[str, Query(min_length=1)]
) -> None:
    """Stop trusting an external issuer (by ``?issuer=``)."""
    services.passports.distrust_issuer(issuer, actor=admin.id)
