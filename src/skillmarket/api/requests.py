"""/v1/requests: post, browse, read and close skill requests; their matches and compositions.

Requests are public to every operator (publishers pick them up); only the poster may close one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query

from skillmarket.api.deps import OperatorDep, ServicesDep
from skillmarket.requests.models import (
    CompositionList,
    MatchList,
    RequestDraft,
    RequestPage,
    SkillRequest,
)
from skillmarket.requests.services import RequestFilters

router = APIRouter(prefix="/v1/requests", tags=["requests"])

Limit = Annotated[int, Query(ge=1, le=50, description="How many to return, best first.")]
ProvenOnly = Annotated[
    bool, Query(description="Leave out results whose fit has a caveat (not proven).")
]


@router.post("", response_model=SkillRequest, status_code=201, summary="Post a skill request")
def post_request(
    draft: Annotated[RequestDraft, Body()], operator: OperatorDep, services: ServicesDep
) -> SkillRequest:
    """Describe a capability you need — input and output JSON Schemas (2020-12), the most you
    will pay per invocation — for every operator to see. Schemas are checked like a skill's
    (``INVALID_SCHEMA``)."""
    return services.requests.post(operator.id, draft)


@router.get("", response_model=RequestPage, summary="Browse skill requests")
def list_requests(
    operator: OperatorDep,
    services: ServicesDep,
    search: Annotated[
        str | None,
        Query(max_length=200, description="Every word must appear in the description."),
    ] = None,
    tags: Annotated[
        list[str],
        Query(description="Only requests with every one of these tags (repeat, or commas)."),
    ] = [],  # noqa: B006
    status: Annotated[
        Literal["open", "closed", "all"], Query(description="Default: open requests only.")
    ] = "open",
    mine: Annotated[bool, Query(description="Only requests the caller posted.")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> RequestPage:
    """Requests of every operator, newest first."""
    wanted = tuple(sorted({t.strip().lower() for raw in tags for t in raw.split(",") if t.strip()}))
    return services.requests.list(
        RequestFilters(
            query=search,
            tags=wanted,
            status=status,
            poster_id=operator.id if mine else None,
            limit=limit,
            offset=offset,
        )
    )


@router.get("/{request_id}", response_model=SkillRequest, summary="Show one skill request")
def get_request(request_id: str, _operator: OperatorDep, services: ServicesDep) -> SkillRequest:
    """A request, open or closed."""
    return services.requests.get(request_id)


@router.post("/{request_id}/close", response_model=SkillRequest, summary="Close a skill request")
def close_request(request_id: str, operator: OperatorDep, services: ServicesDep) -> SkillRequest:
    """Close your request: it leaves the default listing and is no longer matched. Closing a
    closed request changes nothing. Anyone else gets 403 ``NOT_REQUEST_OWNER``."""
    return services.requests.close(operator.id, request_id)


@router.get("/{request_id}/matches", response_model=MatchList, summary="Skills matching a request")
def request_matches(
    request_id: str,
    _operator: OperatorDep,
    services: ServicesDep,
    limit: Limit = 10,
    proven_only: ProvenOnly = False,
) -> MatchList:
    """Latest skills whose input schema accepts the request's input and whose output schema
    gives what it needs, priced within its maximum, best first; each says which properties
    map and any caveat. A closed request is 409 ``REQUEST_CLOSED``."""
    return services.requests.matches(request_id, limit=limit, proven_only=proven_only)


@router.get(
    "/{request_id}/compositions",
    response_model=CompositionList,
    summary="Chains of skills for a request",
)
def request_compositions(
    request_id: str,
    _operator: OperatorDep,
    services: ServicesDep,
    limit: Limit = 10,
    proven_only: ProvenOnly = False,
) -> CompositionList:
    """Chains of two or three skills whose schemas connect the request's input to its output,
    total price within its maximum, fewer steps first. Advice only: nothing runs; your agent
    invokes each step and hands each output on."""
    return services.requests.compositions(request_id, limit=limit, proven_only=proven_only)
