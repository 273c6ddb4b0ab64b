"""Catalog views: how skills look to callers (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from skillmarket.catalog.manifest import CredentialMode, ExecutionMode, TrustLevel


class RatingBrief(BaseModel):
    """How a skill is rated, in brief (the full summary is at ``/v1/skills/{id}/ratings``)."""

    model_config = ConfigDict(frozen=True)

    count: int = 0
    mean: float | None = Field(None, description="Mean score 1–5; null when unrated")
    score: float | None = Field(
        None, description="Ranking score 1–5 (recency-weighted, shrunk towards 3); null if unrated"
    )

    @classmethod
    def of(cls, count: int | None, mean: float | None, score: float | None) -> RatingBrief:
        """A brief from stored figures (no count: unrated)."""
        if not count:
            return cls()
        return cls(
            count=count,
            mean=None if mean is None else round(mean, 4),
            score=None if score is None else round(score, 4),
        )


class SkillSummary(BaseModel):
    """A skill version as listed in search results."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    version: str
    description: str
    tags: list[str]
    publisher_id: str
    execution_mode: ExecutionMode
    credential_mode: CredentialMode
    trust_level_required: TrustLevel
    price_cents: int
    fingerprint: str
    is_latest: bool
    deprecated: bool
    created_at: datetime
    rating: RatingBrief = Field(
        default_factory=RatingBrief, description="Ratings of every version of this skill together"
    )


class VersionRef(BaseModel):
    """One version of a skill name, for the detail view's version list."""

    id: str
    version: str
    deprecated: bool
    is_latest: bool


class SkillDetail(SkillSummary):
    """Everything a caller may see of one skill version.

    ``execution_steps`` is complete for source-mode skills and for the publisher; for anyone
    else a sealed skill shows each step's shape (type, model, runtime, limits) but never its
    prompt or code. Open-mode skills have no steps.
    """

    services: list[dict[str, Any]]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    execution_steps: list[dict[str, Any]]
    steps_redacted: bool
    timeout_seconds: int
    deprecated_at: datetime | None
    deprecation_reason: str | None
    versions: list[VersionRef]
    version_rating: RatingBrief = Field(
        default_factory=RatingBrief, description="Ratings of this version alone"
    )


class SkillPage(BaseModel):
    """One page of search or browse results."""

    items: list[SkillSummary]
    limit: int
    offset: int
    has_more: bool


class PublishResult(BaseModel):
    """The outcome of a publish: ``created`` is false for an identical republish."""

    skill: SkillDetail
    created: bool
