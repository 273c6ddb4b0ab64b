"""Ratings: POST /v1/skills/{id}/rate (the seed's path) and GET /v1/skills/{id}/ratings.

The rate body is the one an MCP tool (``stack_rate_skill``) sends too:
``{"invocation_id": "sinv_…", "score": 1-5, "comment": "…"}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from skillmarket.api.deps import OperatorDep, ServicesDep
from skillmarket.reputation.models import (
    MAX_RATERS,
    RateResult,
    RatingDraft,
    RatingsPage,
    parse_raters,
)

router = APIRouter(prefix="/v1/skills", tags=["ratings"])


@router.post("/{skill_id}/rate", response_model=RateResult, status_code=201, summary="Rate a skill")
def rate_skill(
    skill_id: str,
    draft: Annotated[RatingDraft, Body()],
    operator: OperatorDep,
    services: ServicesDep,
) -> RateResult:
    """Rate one of your completed invocations of this skill, 1 to 5, with an optional comment.

    The rating belongs to the version the invocation ran (``skill_id`` may name any version of
    the skill). One rating per invocation, never changed: a second is 409 ``ALREADY_RATED``.
    Refused: someone else's invocation (404 ``INVOCATION_NOT_FOUND``), one of another skill
    (422 ``INVOCATION_SKILL_MISMATCH``), one that did not complete (409
    ``INVOCATION_NOT_COMPLETED``), your own skill (403 ``SELF_RATING_FORBIDDEN``), a score
    outside 1–5 (422 ``RATING_SCORE_INVALID``).
    """
    return services.reputation.rate(operator.id, skill_id, draft)


@router.get("/{skill_id}/ratings", response_model=RatingsPage, summary="A skill's ratings")
def skill_ratings(
    skill_id: str,
    _operator: OperatorDep,
    services: ServicesDep,
    version: Annotated[
        str | None,
        Query(max_length=64, description="Only this version (e.g. 1.2.0) of the skill"),
    ] = None,
    raters: Annotated[
        str | None,
        Query(
            max_length=MAX_RATERS * 40,
            description="Comma-separated operator ids whose ratings alone count (at most "
            f"{MAX_RATERS}): the raters you trust. Default: every rater.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> RatingsPage:
    """Summaries — the whole skill (every version) and each rated version: count, mean,
    distribution, recency-weighted mean and ranking score — and the ratings, newest first.
    With ``raters``, every figure and the list count only those operators' ratings."""
    return services.reputation.ratings(
        skill_id, version=version, raters=parse_raters(raters), limit=limit, offset=offset
    )
