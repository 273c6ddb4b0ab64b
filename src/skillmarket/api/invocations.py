"""Invocations: POST /v1/skills/{id}/invoke, GET /v1/skills/invocations/{id}, and open mode's
pending list, claim and complete (paths as in the seed)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response

from skillmarket.api.deps import OperatorDep, ServicesDep
from skillmarket.invocations.models import (
    ClaimRequest,
    CompleteRequest,
    InvocationView,
    InvokeRequest,
    PendingInvocation,
)

router = APIRouter(tags=["invocations"])


@router.post(
    "/v1/skills/{skill_id}/invoke",
    response_model=InvocationView,
    summary="Invoke a skill",
    responses={
        202: {"model": InvocationView, "description": "Accepted: poll `poll_url` for the result"}
    },
)
async def invoke(
    skill_id: str,
    body: InvokeRequest,
    request: Request,
    response: Response,
    operator: OperatorDep,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> InvocationView:
    """Check the passport and trust level, validate the input, hold the funds, then run.

    Sealed and source skills run now: the answer is the finished invocation (200) unless it
    takes longer than the synchronous wait (202, poll the URL). Open skills answer 202 with
    ``pending`` until their publisher completes them. A retried call with the same
    ``Idempotency-Key`` returns the first invocation and never runs or charges twice.
    """
    engine = request.app.state.engine
    invoked = await engine.writes.run(
        lambda conn: services.invocations.invoke(
            operator.id, skill_id, body, idempotency_key, conn=conn, runner_id=engine.runner_id
        )
    )
    view = invoked.view
    if view.status == "running":
        task = engine.queue.submit(view.invocation_id, invoked.context)
        done, _ = await asyncio.wait({task}, timeout=services.settings.sync_wait_seconds)
        if done:
            # The runner answers with the finished invocation; read it only if the run broke.
            finished = None if task.cancelled() or task.exception() else task.result()
            if isinstance(finished, InvocationView):
                view = finished
            else:
                view = await engine.call(services.invocations.view, view.invocation_id, operator.id)
    if view.status in ("running", "pending", "claimed"):
        response.status_code = 202
        response.headers["Location"] = view.poll_url
    return view


@router.get(
    "/v1/skills/invocations/pending",
    response_model=list[PendingInvocation],
    summary="Open-mode invocations waiting for me",
)
def pending(
    operator: OperatorDep, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[PendingInvocation]:
    """Open-mode invocations of the caller's skills that wait to be claimed, with their input
    (only a skill's publisher sees its invocations' input)."""
    return services.invocations.list_pending(operator.id, limit)


@router.get(
    "/v1/skills/invocations/{invocation_id}",
    response_model=InvocationView,
    summary="Poll an invocation",
)
def get_invocation(
    invocation_id: str, operator: OperatorDep, services: ServicesDep
) -> InvocationView:
    """Status, output (once completed), error and cost breakdown of one of the caller's
    invocations."""
    return services.invocations.view(invocation_id, operator.id)


@router.post(
    "/v1/skills/invocations/{invocation_id}/claim",
    response_model=PendingInvocation,
    summary="Claim an open-mode invocation",
)
def claim(
    invocation_id: str,
    operator: OperatorDep,
    services: ServicesDep,
    body: Annotated[ClaimRequest | None, Body()] = None,
) -> PendingInvocation:
    """Take a pending invocation of one of the caller's skills for a lease (default 5 min)."""
    lease = timedelta(seconds=(body or ClaimRequest()).lease_seconds)
    return services.invocations.claim(operator.id, invocation_id, lease)


@router.post(
    "/v1/skills/invocations/{invocation_id}/complete",
    response_model=InvocationView,
    summary="Complete an open-mode invocation",
)
def complete(
    invocation_id: str, body: CompleteRequest, operator: OperatorDep, services: ServicesDep
) -> InvocationView:
    """The publisher returns ``output`` (validated against the skill's output_schema; a
    violating output is refused and the invocation stays open)."""
    return services.invocations.complete(operator.id, invocation_id, body.output)


@router.get("/v1/skills/invocations/{invocation_id}/receipt", summary="Receipt of an invocation")
def receipt(invocation_id: str, operator: OperatorDep, services: ServicesDep) -> dict:
    """A receipt signed by the audit log: skill fingerprint, input and output hashes, cost, the
    logged event, a signed checkpoint and the inclusion proof. Verify it offline with
    ``skillmarket audit verify-receipt`` and the key at ``/.well-known/skillmarket-audit-key``."""
    return services.invocations.receipt(invocation_id, operator.id, services.audit)
