"""How MCP tools reach the marketplace: through its REST API, with the caller's own key.

Every tool is a thin call to a documented ``/v1`` endpoint, so MCP has exactly the REST
contract's authentication, errors, limits and audit — there is no second code path to drift.
Inside ``skillmarket serve`` the call goes to the same app in process (``httpx.ASGITransport``,
no socket); ``skillmarket mcp`` (stdio) calls ``SKILLMARKET_URL`` over HTTP.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from mcp.server.fastmcp.exceptions import ToolError

from skillmarket import __version__

USER_AGENT = f"skillmarket-mcp/{__version__}"


class RestGateway:
    """One MCP caller's view of the REST API: a shared client plus that caller's key."""

    def __init__(self, client: httpx.AsyncClient, api_key: str):
        self._client = client
        self._headers = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request; return its JSON body, or raise ``ToolError`` carrying the API's
        error object (``{"error": {"code", "message", "details"}}``) as the tool's text."""
        try:
            response = await self._client.request(
                method,
                path,
                json=json,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers={**self._headers, **(headers or {})},
            )
        except httpx.TransportError as exc:
            raise ToolError(
                _error_text(
                    "UNREACHABLE",
                    f"cannot reach the marketplace ({exc.__class__.__name__}); "
                    "is `skillmarket serve` running, and is SKILLMARKET_URL right?",
                )
            ) from exc
        if response.is_error:
            raise ToolError(_api_error_text(response))
        if not response.content:
            return None
        return response.json()


def _api_error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return orjson.dumps({"error": body["error"]}).decode()
    return _error_text("HTTP_ERROR", f"HTTP {response.status_code} {response.reason_phrase}")


def _error_text(code: str, message: str) -> str:
    return orjson.dumps({"error": {"code": code, "message": message, "details": {}}}).decode()
