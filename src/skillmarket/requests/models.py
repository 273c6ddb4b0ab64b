"""Requests views and the validated body of a new request (pure)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, field_validator

from skillmarket.catalog.manifest import check_schema, normal_tags
from skillmarket.catalog.models import SkillSummary

FINGERPRINT_DOMAIN = b"skillmarket/skill-request/v1\x00"
MAX_PRICE_CENTS = 10_000_000  # the catalog's own ceiling on a skill's price


class RequestDraft(BaseModel):
    """What an operator posts: the capability it needs, as schemas, and what it will pay."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(min_length=1, max_length=1024)
    input_schema: dict[str, Any] = Field(description="What you will send (JSON Schema 2020-12).")
    output_schema: dict[str, Any] = Field(description="What you need back (JSON Schema 2020-12).")
    max_price_cents: int = Field(
        ge=0, le=MAX_PRICE_CENTS, description="Most you will pay per invocation (per chain)."
    )
    tags: tuple[str, ...] = Field((), max_length=20)

    @field_validator("input_schema", "output_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_schema(value)

    @field_validator("tags")
    @classmethod
    def _normal_tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return normal_tags(value)

    def fingerprint(self) -> str:
        """sha256 over a domain tag and the draft's RFC 8785 canonical form."""
        canonical = rfc8785.dumps(self.model_dump(mode="json"))
        return "sha256:" + hashlib.sha256(FINGERPRINT_DOMAIN + canonical).hexdigest()


class SkillRequest(BaseModel):
    """A posted request as every operator sees it."""

    id: str
    poster_id: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    max_price_cents: int
    tags: list[str]
    fingerprint: str
    status: Literal["open", "closed"]
    created_at: datetime
    closed_at: datetime | None


class RequestPage(BaseModel):
    """One page of requests, newest first."""

    items: list[SkillRequest]
    limit: int
    offset: int
    has_more: bool


class PropertyMapping(BaseModel):
    """A property handed over by name: its path and its type on each side."""

    path: str = Field(description="Dotted path; `[]` stands for every array item.")
    source: str = Field(description="Its type where it comes from.")
    target: str = Field(description="Its type where it goes.")


class SkillMatch(BaseModel):
    """One skill that does what the request asks, and why."""

    skill: SkillSummary
    score: float = Field(description="0–1, higher is better; see docs/requests.md.")
    relevance: float = Field(description="0–1 text relevance of the skill to the description.")
    proven: bool = Field(description="False when a caveat leaves part of the fit unchecked.")
    input: list[PropertyMapping] = Field(description="Request input → skill input.")
    output: list[PropertyMapping] = Field(description="Skill output → request output.")
    caveats: list[str]


class MatchList(BaseModel):
    """The best matches of a request."""

    request_id: str
    items: list[SkillMatch]
    candidates_checked: int = Field(description="Skills whose schemas were fully checked.")
    truncated: bool = Field(description="True when more skills passed the pre-filter than the cap.")


class CompositionStep(BaseModel):
    """One skill in a suggested chain and what it receives."""

    skill: SkillSummary
    input: list[PropertyMapping] = Field(
        description="Request input (first step) or the previous step's output → this input."
    )


class Composition(BaseModel):
    """A chain of skills the buyer's agent could run in order (advice: nothing runs)."""

    steps: list[CompositionStep]
    output: list[PropertyMapping] = Field(description="Last step's output → request output.")
    total_price_cents: int
    score: float
    proven: bool
    caveats: list[str]


class CompositionList(BaseModel):
    """The best suggested chains for a request."""

    request_id: str
    items: list[Composition]
    candidates_checked: int = Field(description="Skills examined as first, middle or last steps.")
    truncated: bool = Field(description="True when a cap cut the search short.")
