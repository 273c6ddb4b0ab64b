"""``proxy_fetch`` for running invocations: the one way a script reaches the network.

Before every call the buyer's passport is verified again (a revocation stops the script at its
next call). A call without ``service`` fetches a public http(s) URL through the egress guard,
with no credential. A call with ``service`` goes through the credential proxy:

1. the skill's manifest must declare the service (``SERVICE_NOT_DECLARED``); it says which side
   provides it: the buyer (their connection) or the seller (the publisher's);
2. that side must have connected it (``SERVICE_NOT_CONNECTED``);
3. the URL must be HTTPS on the connection's registrable domain (``EGRESS_BLOCKED``, reason
   ``https_required`` or ``not_service_domain``), and so must every redirect hop
   (``not_allowlisted``);
4. a seller's call must fit in the invocation's hold (``PROXY_BUDGET_EXCEEDED``);

all before the credential is decrypted. Then the credential is injected server-side, the
request goes through the egress guard (which drops the injected header on a cross-origin
redirect), and the response comes back with the secret scrubbed from its headers and body.
Every call is metered (:mod:`~.metering`) and is an audit event with metadata only (service,
side, method, hosts, status, bytes, milliseconds), never a body, URL query or credential.
Errors raised here reach the script as a catchable ``ProxyFetchError`` with their ``code``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.credentials.errors import ServiceNotConnected
from skillmarket.credentials.injection import inject, scrub, scrub_headers
from skillmarket.credentials.models import SealedCredential
from skillmarket.credentials.services import CredentialService
from skillmarket.errors import SkillmarketError
from skillmarket.invocations.errors import ServiceNotDeclared
from skillmarket.invocations.metering import ProxyMeter, Side
from skillmarket.invocations.services import InvocationService, RunContext
from skillmarket.runtime.egress import EgressBlocked, EgressGuard, parse_target
from skillmarket.runtime.egress import registrable_domain as domain_of
from skillmarket.runtime.sandbox import FetchRequest, FetchResponse

ProxyFactory = Callable[[RunContext, ProxyMeter], Any]


def proxy_for(
    invocations: InvocationService, credentials: CredentialService, guard: EgressGuard
) -> ProxyFactory:
    """A factory giving each running script step its ``proxy_fetch`` callback."""

    def make(context: RunContext, meter: ProxyMeter) -> Any:
        return CredentialProxy(invocations, credentials, guard, context, meter).fetch

    return make


class CredentialProxy:
    """The ``proxy_fetch`` of one invocation (see the module docstring for the rules)."""

    def __init__(
        self,
        invocations: InvocationService,
        credentials: CredentialService,
        guard: EgressGuard,
        context: RunContext,
        meter: ProxyMeter,
    ):
        self.invocations = invocations
        self.credentials = credentials
        self.guard = guard
        self.context = context
        self.meter = meter
        self.declared = {s["name"]: s for s in context.skill.services}

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        """Serve one ``proxy_fetch`` call."""
        await run_in_threadpool(self.invocations.check_passport, self.context)
        if request.service is None:
            return await self._public(request)
        return await self._with_service(request, request.service)

    async def _public(self, request: FetchRequest) -> FetchResponse:
        audit: dict[str, Any] = {"method": request.method}
        self.meter.reserve(None, None, 0)
        try:
            response = await self.guard.fetch(
                request.method, request.url, headers=dict(request.headers), body=request.body
            )
        except SkillmarketError as exc:
            self.meter.release(None, None)
            await self._audit({**audit, "error": exc.code})
            raise
        except BaseException:
            self.meter.release(None, None)
            raise
        await self._audit({**audit, **_metadata(response.metadata.to_dict())})
        return FetchResponse(
            status=response.status,
            headers=dict(response.headers),
            body=response.body.decode("utf-8", "replace"),
        )

    async def _with_service(self, request: FetchRequest, name: str) -> FetchResponse:
        audit: dict[str, Any] = {"service": name[:64], "method": request.method}
        try:
            side, sealed, cost = await self._admit(request, name, audit)
        except SkillmarketError as exc:
            await self._audit({**audit, "error": exc.code})
            raise
        try:
            credential = self.credentials.open_sealed(sealed)
            domain = credential.registrable_domain
            injected = inject(credential, request.url, request.headers)
            del credential
            response = await self.guard.fetch(
                request.method,
                str(injected.url),
                headers=injected.headers,
                body=request.body,
                allowlist=[domain, f"*.{domain}"],
                sensitive_headers=injected.sensitive_headers,
            )
        except SkillmarketError as exc:
            self.meter.release(name, side)  # no answer, no charge
            await self._audit({**audit, "error": exc.code})
            raise
        except BaseException:
            self.meter.release(name, side)
            raise
        metadata = _metadata(response.metadata.to_dict())
        await self._audit({**audit, **metadata, "cost_per_call_micros": cost})
        pattern = injected.secret_pattern
        return FetchResponse(
            status=response.status,
            headers=scrub_headers(response.headers, pattern),
            body=scrub(response.body.decode("utf-8", "replace"), pattern),
        )

    async def _admit(
        self, request: FetchRequest, name: str, audit: dict[str, Any]
    ) -> tuple[Side, SealedCredential, int]:
        """Steps 1-4 of the module docstring; returns the side, its connection (credential
        still encrypted) and the cost of the call, which is now reserved on the meter."""
        # 1.-2. Declared, and connected by the side that provides it.
        declared = self.declared.get(name)
        if declared is None:
            raise ServiceNotDeclared(
                f"service {name!r} is not declared by this skill", details={"service": name}
            )
        side: Side = declared["provided_by"]
        audit["provided_by"] = side
        owner = self.context.buyer_id if side == "buyer" else self.context.skill.publisher_id
        connection = await run_in_threadpool(self.credentials.find_sealed, owner, name)
        if connection is None:
            raise ServiceNotConnected(
                f"the {side} has not connected the service {name!r}",
                details={"service": name, "provided_by": side},
            )
        # 3. HTTPS, on the connection's registrable domain.
        target = parse_target(
            request.url,
            allowed_schemes=self.guard.policy.allowed_schemes,
            allowed_ports=self.guard.policy.allowed_ports,
        )
        audit["host"] = target.host
        if target.scheme != "https":
            raise EgressBlocked("https_required", host=target.host, service=name)
        if domain_of(target.host) != connection.registrable_domain:
            raise EgressBlocked(
                "not_service_domain",
                host=target.host,
                service=name,
                domain=connection.registrable_domain,
            )
        # 4. Within the hold: the call is counted now, and uncounted if it gets no answer.
        cost = int(declared.get("cost_per_call_micros") or 0) if side == "seller" else 0
        self.meter.reserve(name, side, cost)
        return side, connection, cost

    async def _audit(self, data: dict[str, Any]) -> None:
        await run_in_threadpool(_record, self.invocations, self.context, data)


def _metadata(raw: dict[str, Any]) -> dict[str, Any]:
    """The guard's metadata for the audit log, with whole milliseconds."""
    out = {k: v for k, v in raw.items() if k != "duration_ms" and v is not None}
    out["ms"] = round(raw["duration_ms"])
    return out


def _record(service: InvocationService, context: RunContext, data: dict[str, Any]) -> None:
    with service.db.write() as conn:
        log.record(
            conn,
            EventType.PROXY_CALL,
            actor=None,
            subject=context.invocation_id,
            parties=[context.buyer_id, context.skill.publisher_id],
            data={k: v for k, v in data.items() if isinstance(v, str | int | bool)},
        )
