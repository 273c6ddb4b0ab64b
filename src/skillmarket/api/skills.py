"""/v1/skills: publish, browse and search, detail, own skills, deprecate."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from skillmarket.api.deps import OperatorDep, ServicesDep
from skillmarket.catalog.manifest import SkillManifest, TrustLevel
from skillmarket.catalog.models import PublishResult, SkillDetail, SkillPage, SkillSummary
from skillmarket.catalog.search import SearchFilters, Sort
from skillmarket.crypto.sealing import INPUT_INFO, LOGIC_INFO

router = APIRouter(prefix="/v1/skills", tags=["skills"])
public_router = APIRouter(tags=["skills"])


class SealingKeyInfo(BaseModel):
    """How to seal logic or input to this marketplace (HPKE, RFC 9180)."""

    kem: str = "X25519"
    kdf: str = "HKDF-SHA256"
    aead: str = "AES-256-GCM"
    public_key: str = Field(description="Raw X25519 public key, base64url without padding")
    info: dict[str, str] = Field(description="The HPKE info string for each purpose")
    format: str = "enc_v1_ + base64url(enc || ciphertext || tag), no padding"


@public_router.get(
    "/.well-known/skillmarket-sealing-key",
    response_model=SealingKeyInfo,
    summary="The key to seal logic and inputs to",
)
def sealing_key(services: ServicesDep) -> SealingKeyInfo:
    """Publishers seal ``code_encrypted`` / ``system_prompt_encrypted`` to this key (no auth)."""
    raw = services.sealing_key.public_key
    return SealingKeyInfo(
        public_key=base64.urlsafe_b64encode(raw).decode().rstrip("="),
        info={"logic": LOGIC_INFO.decode(), "input": INPUT_INFO.decode()},
    )


class DeprecateRequest(BaseModel):
    """Why a version is deprecated (shown to buyers)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500)


@router.post(
    "",
    response_model=PublishResult,
    status_code=201,
    summary="Publish a skill version",
    responses={
        200: {
            "description": "Identical content was already published (idempotent)",
            "model": PublishResult,
        }
    },
)
def publish_skill(
    manifest: Annotated[SkillManifest, Body()],
    operator: OperatorDep,
    services: ServicesDep,
    response: Response,
) -> PublishResult:
    """Publish name@version. Republishing identical content returns 200 and the same skill;
    different content under a published version is a 409 ``VERSION_CONFLICT``."""
    result = services.catalog.publish(operator.id, manifest)
    if not result.created:
        response.status_code = 200
    return result


@router.get("", response_model=SkillPage, summary="Browse and search skills")
def search_skills(
    _operator: OperatorDep,
    services: ServicesDep,
    search: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Free text: every word must match name, tags or description (as a prefix)",
        ),
    ] = None,
    trust_level: Annotated[
        TrustLevel | None, Query(description="Only skills requiring this trust level")
    ] = None,
    tags: Annotated[
        list[str],
        Query(
            description="Only skills carrying every one of these "
            "tags (repeat, or separate with commas)"
        ),
    ] = [],  # noqa: B006
    min_rating: Annotated[
        float | None,
        Query(ge=1, le=5, description="Only skills whose mean rating (every version) is at least"),
    ] = None,
    sort: Annotated[
        Sort,
        Query(
            description="relevance: best match first (by name without a query); rating: "
            "ranking score first (unrated skills rank as neutral, 3); newest: latest "
            "version first"
        ),
    ] = "relevance",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SkillPage:
    """The latest live version of each matching skill, in the ``sort`` order, each with its
    rating in brief (count, mean, ranking score)."""
    wanted = tuple(sorted({t.strip().lower() for raw in tags for t in raw.split(",") if t.strip()}))
    return services.catalog.search(
        SearchFilters(
            query=search,
            trust_level=trust_level,
            tags=wanted,
            min_rating=min_rating,
            sort=sort,
            limit=limit,
            offset=offset,
        )
    )


@router.get("/mine", response_model=list[SkillSummary], summary="List my published skills")
def my_skills(operator: OperatorDep, services: ServicesDep) -> list[SkillSummary]:
    """Every version the calling operator has published, deprecated ones included."""
    return services.catalog.list_published(operator.id)


@router.get("/{skill_id}", response_model=SkillDetail, summary="Show one skill version")
def get_skill(skill_id: str, operator: OperatorDep, services: ServicesDep) -> SkillDetail:
    """A skill version's detail, with its ratings in brief (``rating``: every version of the
    skill; ``version_rating``: this one). A sealed skill's prompts and code are never shown;
    a source skill shows its steps to everyone."""
    return services.catalog.get(skill_id, operator.id)


@router.post(
    "/{skill_id}/deprecate", response_model=SkillDetail, summary="Deprecate a skill version"
)
def deprecate_skill(
    skill_id: str,
    operator: OperatorDep,
    services: ServicesDep,
    body: Annotated[DeprecateRequest | None, Body()] = None,
) -> SkillDetail:
    """Take a version out of search and off 'latest'; it stays readable by id."""
    return services.catalog.deprecate(operator.id, skill_id, body.reason if body else None)
