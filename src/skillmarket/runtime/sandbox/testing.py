"""Test and development helpers: a local ``proxy_fetch`` upstream and a synchronous facade.

:class:`LocalUpstream` stands in for the credential proxy (its own issue): routes are matched
by URL prefix and served in-process; anything else is refused with ``EGRESS_BLOCKED``, the way
the egress guard will refuse it. :class:`SyncScriptRuntime` drives a :class:`ScriptRuntime` on
its own event loop so that tests and the benchmark can call it without async fixtures.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from skillmarket.errors import SkillmarketError
from skillmarket.runtime.sandbox.interfaces import (
    FetchRequest,
    FetchResponse,
    Language,
    ProfileName,
    ProxyFetch,
    SandboxConfig,
    ScriptResult,
)
from skillmarket.runtime.sandbox.runtime import ScriptRuntime

T = TypeVar("T")
Handler = Callable[[FetchRequest], FetchResponse | Awaitable[FetchResponse]]


class EgressBlocked(SkillmarketError):
    """The local upstream refuses a URL no route covers (what the egress guard will do)."""

    code = "EGRESS_BLOCKED"
    status = 403


class LocalUpstream:
    """An in-process ``proxy_fetch`` callback: ``{url prefix: handler}``; records every call."""

    def __init__(self, routes: dict[str, Handler] | None = None):
        self.routes = dict(routes or {})
        self.calls: list[FetchRequest] = []

    def route(self, prefix: str, handler: Handler) -> None:
        """Serve URLs starting with ``prefix`` with ``handler``."""
        self.routes[prefix] = handler

    async def __call__(self, request: FetchRequest) -> FetchResponse:
        """Serve one request, or raise :class:`EgressBlocked`."""
        self.calls.append(request)
        for prefix, handler in sorted(self.routes.items(), key=lambda item: -len(item[0])):
            if request.url.startswith(prefix):
                response = handler(request)
                if inspect.isawaitable(response):
                    response = await response
                return response
        raise EgressBlocked(f"egress to {request.url} is not allowed", details={"url": request.url})


def echo(request: FetchRequest) -> FetchResponse:
    """A handler answering with the request it got, as JSON."""
    body = json.dumps(
        {"url": request.url, "method": request.method, "service": request.service,
         "headers": dict(request.headers), "body": request.body}
    )  # fmt: skip
    return FetchResponse(200, {"content-type": "application/json"}, body)


class SyncScriptRuntime:
    """A started :class:`ScriptRuntime` on a private event loop, with blocking methods."""

    def __init__(self, config: SandboxConfig | None = None):
        self._runner = asyncio.Runner()
        self.runtime = ScriptRuntime(config)
        self.call(self.runtime.start())

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the runtime's loop."""
        return self._runner.run(coro)

    def run(
        self,
        runtime: Language,
        code: str,
        input: str = "{}",  # noqa: A002 — the name scripts see
        *,
        timeout_ms: int | None = None,
        profile: ProfileName = "script",
        proxy_fetch: ProxyFetch | None = None,
    ) -> ScriptResult:
        """Blocking :meth:`ScriptRuntime.run`."""
        return self.call(
            self.runtime.run(runtime, code, input, timeout_ms=timeout_ms, profile=profile,
                             proxy_fetch=proxy_fetch)
        )  # fmt: skip

    def close(self) -> None:
        """Stop the runtime and its loop."""
        try:
            self.call(self.runtime.close())
        finally:
            self._runner.close()
