"""``proxy_fetch`` for running invocations: the one way a script reaches the network.

Before every call the buyer's passport is verified again (a revocation stops the script at its
next call). A call names no ``service`` here: it fetches a public http(s) URL through the egress
guard, bounded by the skill's domain allowlist when it declares one. Calls that need a
credential (``service``) are refused until the credential proxy is configured for the skill.
Every call is an audit event with metadata only (host, method, status, bytes, ms).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.errors import SkillmarketError
from skillmarket.invocations.services import InvocationService, RunContext
from skillmarket.runtime.egress import EgressGuard
from skillmarket.runtime.sandbox import FetchRequest, FetchResponse


class ServiceNotDeclared(SkillmarketError):
    """The script asked for a service the skill's manifest does not declare."""

    code = "SERVICE_NOT_DECLARED"
    status = 403


def proxy_for(service: InvocationService, guard: EgressGuard):  # noqa: ANN201
    """A factory giving each invocation its ``proxy_fetch`` callback."""

    def make(context: RunContext) -> Any:
        async def proxy_fetch(request: FetchRequest) -> FetchResponse:
            await run_in_threadpool(service.check_passport, context)
            if request.service is not None:
                raise ServiceNotDeclared(
                    f"service {request.service!r} is not declared by this skill",
                    details={"service": request.service},
                )
            try:
                response = await guard.fetch(
                    request.method, request.url, headers=dict(request.headers), body=request.body
                )
            except SkillmarketError as exc:
                await run_in_threadpool(
                    _audit, service, context, {"method": request.method, "error": exc.code}
                )
                raise
            await run_in_threadpool(_audit, service, context, response.metadata.to_dict())
            return FetchResponse(
                status=response.status,
                headers=dict(response.headers),
                body=response.body.decode("utf-8", "replace"),
            )

        return proxy_fetch

    return make


def _audit(service: InvocationService, context: RunContext, metadata: dict[str, Any]) -> None:
    with service.db.write() as conn:
        log.record(
            conn,
            EventType.PROXY_CALL,
            actor=None,
            subject=context.invocation_id,
            parties=[context.buyer_id],
            data={k: v for k, v in metadata.items() if isinstance(v, str | int | bool)},
        )
