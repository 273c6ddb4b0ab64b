"""`skillmarket mcp`: the MCP tools over stdio, for an agent running on this machine."""

from __future__ import annotations

import anyio
import httpx

from skillmarket.cli.output import fail
from skillmarket.config import ClientSettings


def mcp() -> None:
    """Serve the MCP tools over stdio (for an agent's MCP client config).

    The tools call the marketplace at SKILLMARKET_URL with SKILLMARKET_API_KEY, so the agent
    acts as that operator with exactly the REST API's permissions. Nothing but MCP messages is
    written to stdout.
    """
    from skillmarket.mcp import RestGateway, build_server

    settings = ClientSettings()
    if not settings.api_key:
        fail(
            "set SKILLMARKET_API_KEY to an operator API key "
            "(skillmarket operator create NAME prints one)",
            "API_KEY_MISSING",
        )
    api_key = settings.api_key

    async def main() -> None:
        async with httpx.AsyncClient(
            base_url=settings.url.rstrip("/"), timeout=httpx.Timeout(120.0, connect=5.0)
        ) as client:
            gateway = RestGateway(client, api_key)

            async def gateway_for(_ctx: object) -> RestGateway:
                return gateway

            await build_server(gateway_for).run_stdio_async()

    anyio.run(main)
