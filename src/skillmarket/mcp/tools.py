"""The agent-facing tools: the seed's ``stack_*`` names plus what closes the loop.

A buyer agent: ``stack_search_skills`` → ``stack_get_skill`` → ``stack_list_passports`` →
``stack_check_trust_level`` → ``stack_invoke_skill`` → ``stack_check_invocation`` →
``stack_rate_skill`` (``stack_get_skill_ratings`` reads what others said). A publisher agent:
``stack_publish_skill``, then for open-mode skills ``stack_list_pending_invocations`` →
``stack_claim_invocation`` → ``stack_complete_invocation``.
Demand side: ``stack_post_skill_request``, ``stack_list_skill_requests``,
``stack_find_matching_skills``, ``stack_suggest_skill_composition``.

Each tool calls one REST endpoint (see ``gateway``); a refused call is a tool error whose text
is the API's ``{"error": {"code", "message", "details"}}`` object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import ToolAnnotations
from pydantic import Field

from skillmarket.mcp.gateway import RestGateway

GatewayFor = Callable[[Context], Awaitable[RestGateway]]

SkillId = Annotated[str, Field(description="A skill version id (skl_…), as search returns it.")]
InvocationId = Annotated[str, Field(description="An invocation id (sinv_…).")]
RequestId = Annotated[str, Field(description="A skill request id (req_…).")]
PassportId = Annotated[
    str, Field(description="One of your passports (stack_list_passports lists them).")
]
Limit = Annotated[int, Field(ge=1, le=50, description="How many to return, best first.")]

READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False)


def _p(value: str) -> str:
    """An id as one URL path segment."""
    return quote(value, safe="")


def register_tools(server: FastMCP, gateway_for: GatewayFor) -> None:  # noqa: C901, PLR0915
    """Add every tool to ``server``; ``gateway_for(ctx)`` gives the calling agent's gateway."""

    @server.tool(annotations=READ)
    async def stack_search_skills(
        ctx: Context,
        query: Annotated[
            str | None,
            Field(description="Free text; every word must match name, tags or description."),
        ] = None,
        trust_level: Annotated[
            Literal["L0", "L1", "L2"] | None,
            Field(description="Only skills requiring exactly this trust level."),
        ] = None,
        tags: Annotated[
            list[str] | None, Field(description="Only skills with all these tags.")
        ] = None,
        min_rating: Annotated[
            float | None, Field(ge=1, le=5, description="Only skills rated at least this mean.")
        ] = None,
        sort: Annotated[
            Literal["relevance", "rating", "newest"],
            Field(description="relevance (default), rating (best rated first) or newest."),
        ] = "relevance",
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0, le=10_000)] = 0,
    ) -> dict[str, Any]:
        """Search the marketplace's skills (latest live version of each), best match first.
        Each result has its id, price_cents, trust_level_required, execution_mode and rating
        in brief; use stack_get_skill for the full input/output JSON Schemas before invoking."""
        gateway = await gateway_for(ctx)
        params = {
            "search": query,
            "trust_level": trust_level,
            "min_rating": min_rating,
            "sort": sort,
            "limit": limit,
            "offset": offset,
        }
        if tags:
            params["tags"] = ",".join(tags)
        return await gateway.call("GET", "/v1/skills", params=params)

    @server.tool(annotations=READ)
    async def stack_get_skill(ctx: Context, skill_id: SkillId) -> dict[str, Any]:
        """One skill version in full: description, input_schema and output_schema (JSON Schema
        2020-12), price_cents, trust_level_required, execution_mode, credential_mode,
        fingerprint. A source-mode skill shows its steps; a sealed one never does."""
        gateway = await gateway_for(ctx)
        return await gateway.call("GET", f"/v1/skills/{_p(skill_id)}")

    @server.tool(annotations=WRITE)
    async def stack_publish_skill(
        ctx: Context,
        manifest: Annotated[
            dict[str, Any],
            Field(
                description="The skill manifest: name, version (semver), description, tags, "
                "execution_mode (sealed|open|source), credential_mode, input_schema, "
                "output_schema, trust_level_required (L0|L1|L2), price_cents, execution_steps "
                "(llm / script steps; none for open mode), timeout_seconds."
            ),
        ],
    ) -> dict[str, Any]:
        """Publish a skill version as the calling operator. Republishing identical content is
        harmless; a published name@version with different content is refused."""
        gateway = await gateway_for(ctx)
        return await gateway.call("POST", "/v1/skills", json=manifest)

    @server.tool(annotations=READ)
    async def stack_list_passports(ctx: Context) -> dict[str, Any]:
        """Your passports (id, claims, expiry, revoked): pass one as passport_id when checking
        trust or invoking."""
        gateway = await gateway_for(ctx)
        return {"passports": await gateway.call("GET", "/v1/passports")}

    @server.tool(annotations=READ)
    async def stack_check_trust_level(
        ctx: Context, skill_id: SkillId, passport_id: PassportId
    ) -> dict[str, Any]:
        """Would this passport be allowed to invoke the skill? Answers allowed true/false and,
        when not, the missing claim and the assurance needed. Call it before invoking."""
        gateway = await gateway_for(ctx)
        return await gateway.call(
            "POST", "/v1/trust/check", json={"skill_id": skill_id, "passport_id": passport_id}
        )

    @server.tool(annotations=WRITE)
    async def stack_invoke_skill(
        ctx: Context,
        skill_id: SkillId,
        input: Annotated[Any, Field(description="The input, valid against the input_schema.")],
        passport_id: PassportId,
        idempotency_key: Annotated[
            str | None,
            Field(
                max_length=255,
                description="Retry-safe key: the same key returns the first invocation and "
                "never runs or charges twice.",
            ),
        ] = None,
        ttl_seconds: Annotated[
            int | None,
            Field(ge=1, le=86_400, description="Open mode: how long the publisher has."),
        ] = None,
        max_cost_micros: Annotated[
            int | None, Field(ge=0, description="Refuse if it could cost more (micro-dollars).")
        ] = None,
    ) -> dict[str, Any]:
        """Invoke (and pay for) a skill. Answers the invocation: status completed with output
        and the cost breakdown, or running / pending (open mode) — then poll
        stack_check_invocation with the invocation_id."""
        gateway = await gateway_for(ctx)
        body = {"input": input, "passport_id": passport_id}
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        if max_cost_micros is not None:
            body["max_cost_micros"] = max_cost_micros
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await gateway.call(
            "POST", f"/v1/skills/{_p(skill_id)}/invoke", json=body, headers=headers
        )

    @server.tool(annotations=READ)
    async def stack_check_invocation(ctx: Context, invocation_id: InvocationId) -> dict[str, Any]:
        """Status of one of your invocations: running, pending, claimed, completed (with output
        and cost), failed (with a stable error code) or expired."""
        gateway = await gateway_for(ctx)
        return await gateway.call("GET", f"/v1/skills/invocations/{_p(invocation_id)}")

    @server.tool(annotations=READ)
    async def stack_list_pending_invocations(
        ctx: Context, limit: Annotated[int, Field(ge=1, le=500)] = 50
    ) -> dict[str, Any]:
        """Open-mode invocations of your skills waiting for you, with their input. Claim one
        with stack_claim_invocation, then answer it with stack_complete_invocation."""
        gateway = await gateway_for(ctx)
        pending = await gateway.call(
            "GET", "/v1/skills/invocations/pending", params={"limit": limit}
        )
        return {"invocations": pending}

    @server.tool(annotations=WRITE)
    async def stack_claim_invocation(
        ctx: Context,
        invocation_id: InvocationId,
        lease_seconds: Annotated[int, Field(ge=1, le=3600)] = 300,
    ) -> dict[str, Any]:
        """Take a pending open-mode invocation of your skill for a lease, so no other worker
        of yours does it twice."""
        gateway = await gateway_for(ctx)
        return await gateway.call(
            "POST",
            f"/v1/skills/invocations/{_p(invocation_id)}/claim",
            json={"lease_seconds": lease_seconds},
        )

    @server.tool(annotations=WRITE)
    async def stack_complete_invocation(
        ctx: Context,
        invocation_id: InvocationId,
        output: Annotated[Any, Field(description="The result, valid against the output_schema.")],
    ) -> dict[str, Any]:
        """Answer an open-mode invocation of your skill with its output; the buyer is charged
        and you are paid. An output that violates the output_schema is refused."""
        gateway = await gateway_for(ctx)
        return await gateway.call(
            "POST",
            f"/v1/skills/invocations/{_p(invocation_id)}/complete",
            json={"output": output},
        )

    @server.tool(annotations=WRITE)
    async def stack_rate_skill(
        ctx: Context,
        skill_id: SkillId,
        invocation_id: Annotated[
            str, Field(description="Your completed invocation of this skill (sinv_…).")
        ],
        score: Annotated[int, Field(ge=1, le=5, description="1 (bad) to 5 (excellent).")],
        comment: Annotated[str | None, Field(max_length=2000)] = None,
    ) -> dict[str, Any]:
        """Rate a skill after a completed invocation of it: one rating per invocation."""
        gateway = await gateway_for(ctx)
        body: dict[str, Any] = {"invocation_id": invocation_id, "score": score}
        if comment is not None:
            body["comment"] = comment
        return await gateway.call("POST", f"/v1/skills/{_p(skill_id)}/rate", json=body)

    @server.tool(annotations=READ)
    async def stack_get_skill_ratings(
        ctx: Context,
        skill_id: SkillId,
        version: Annotated[str | None, Field(description="Only this version, e.g. 1.2.0.")] = None,
        raters: Annotated[
            list[str] | None,
            Field(
                max_length=100,
                description="Operator ids whose ratings alone count: the raters you trust.",
            ),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        """A skill's rating summaries (count, mean, distribution, recency-weighted mean) for
        the whole skill and each version, and its ratings newest first; with `raters`, only
        those operators' ratings count (resists rating spam)."""
        gateway = await gateway_for(ctx)
        params: dict[str, Any] = {"version": version, "limit": limit}
        if raters:
            params["raters"] = ",".join(raters)
        return await gateway.call("GET", f"/v1/skills/{_p(skill_id)}/ratings", params=params)

    @server.tool(annotations=WRITE)
    async def stack_post_skill_request(
        ctx: Context,
        description: Annotated[str, Field(min_length=1, max_length=1024)],
        input_schema: Annotated[
            dict[str, Any], Field(description="What you will send (JSON Schema 2020-12).")
        ],
        output_schema: Annotated[
            dict[str, Any], Field(description="What you need back (JSON Schema 2020-12).")
        ],
        max_price_cents: Annotated[
            int, Field(ge=0, description="Most you will pay per invocation.")
        ],
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Publish a capability request: the schemas you need and your maximum price, for
        publishers to see and for stack_find_matching_skills to match."""
        gateway = await gateway_for(ctx)
        body = {
            "description": description,
            "input_schema": input_schema,
            "output_schema": output_schema,
            "max_price_cents": max_price_cents,
            "tags": tags or [],
        }
        return await gateway.call("POST", "/v1/requests", json=body)

    @server.tool(annotations=READ)
    async def stack_list_skill_requests(
        ctx: Context,
        query: Annotated[str | None, Field(max_length=200)] = None,
        tags: list[str] | None = None,
        status: Literal["open", "closed", "all"] = "open",
        mine: Annotated[bool, Field(description="Only the requests you posted.")] = False,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0, le=10_000)] = 0,
    ) -> dict[str, Any]:
        """Browse skill requests, newest first: what buyers want built."""
        gateway = await gateway_for(ctx)
        params: dict[str, Any] = {
            "search": query,
            "status": status,
            "mine": str(mine).lower(),
            "limit": limit,
            "offset": offset,
        }
        if tags:
            params["tags"] = ",".join(tags)
        return await gateway.call("GET", "/v1/requests", params=params)

    @server.tool(annotations=READ)
    async def stack_find_matching_skills(
        ctx: Context, request_id: RequestId, limit: Limit = 10
    ) -> dict[str, Any]:
        """Skills whose input schema accepts the request's input and whose output schema
        gives what it needs, within its price, best first, each with how its properties map."""
        gateway = await gateway_for(ctx)
        return await gateway.call(
            "GET", f"/v1/requests/{_p(request_id)}/matches", params={"limit": limit}
        )

    @server.tool(annotations=READ)
    async def stack_suggest_skill_composition(
        ctx: Context, request_id: RequestId, limit: Limit = 10
    ) -> dict[str, Any]:
        """Chains of two or three skills whose schemas connect the request's input to its
        output within its price. Advice only: nothing runs — invoke each step yourself and
        pass each output to the next."""
        gateway = await gateway_for(ctx)
        return await gateway.call(
            "GET", f"/v1/requests/{_p(request_id)}/compositions", params={"limit": limit}
        )

    @server.tool(annotations=READ)
    async def stack_get_wallet(ctx: Context) -> dict[str, Any]:
        """Your balances (available, held, earned) and this month's free-skill allowance."""
        gateway = await gateway_for(ctx)
        return await gateway.call("GET", "/v1/wallet")
