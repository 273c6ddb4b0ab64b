"""MCP over Streamable HTTP at ``/mcp`` inside ``skillmarket serve``, behind the same bearer key.

The endpoint refuses a request without a valid operator key before the MCP SDK sees it (401 in
the REST error shape). Tools then call the REST API in process with the key of the request
that carries the tool call, so an MCP session has no authority of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from skillmarket.errors import SkillmarketError
from skillmarket.mcp.gateway import RestGateway
from skillmarket.mcp.server import build_server
from skillmarket.services import Services

PATH = "/mcp"


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None."""
    scheme, _, key = (authorization or "").partition(" ")
    return (key.strip() or None) if scheme.lower() == "bearer" else None


class BearerGate:
    """Lets a request through to the MCP endpoint only with a valid, unrevoked API key."""

    def __init__(self, inner: ASGIApp, services: Services):
        self.inner = inner
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate, then hand the request to the SDK's session manager."""
        request = Request(scope)
        try:
            await run_in_threadpool(
                self.services.identity.authenticate,
                bearer_key(request.headers.get("authorization")),
            )
        except SkillmarketError as exc:
            response = JSONResponse(
                exc.to_dict(),
                status_code=exc.status,
                headers={"WWW-Authenticate": 'Bearer realm="skillmarket"'},
            )
            await response(scope, receive, send)
            return
        await self.inner(scope, receive, send)


def mount_mcp(app: FastAPI, services: Services) -> FastMCP:
    """Serve MCP at ``/mcp`` on ``app``; the caller runs ``mcp_lifespan`` in the app's lifespan."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://skillmarket.internal",
        timeout=httpx.Timeout(services.settings.sync_wait_seconds + 30.0),
    )

    async def gateway_for(ctx: Context) -> RestGateway:
        request = ctx.request_context.request
        key = bearer_key(request.headers.get("authorization")) if request is not None else None
        if key is None:  # the gate let it in, so this is a bug, not a caller's mistake
            raise ToolError("no API key on this MCP request")
        return RestGateway(client, key)

    server = build_server(gateway_for, host=services.settings.host)
    sdk_app = server.streamable_http_app()
    endpoint = next(r.endpoint for r in sdk_app.routes if getattr(r, "path", None) == PATH)
    app.router.routes.append(
        Route(PATH, endpoint=BearerGate(endpoint, services), methods=["GET", "POST", "DELETE"])
    )
    app.state.mcp_client = client
    return server


@contextlib.asynccontextmanager
async def mcp_lifespan(app: FastAPI, server: FastMCP) -> AsyncIterator[None]:
    """Run the SDK's session manager while the app serves, and close the in-process client."""
    async with server.session_manager.run():
        try:
            yield
        finally:
            await app.state.mcp_client.aclose()
