"""A streaming reverse proxy that adds ``Authorization: Bearer <key>`` to every request.

For clients that cannot send a header of their own (the npm MCP conformance suite): they talk
to this proxy, which forwards method, path, query, headers (Host included, so the server's
DNS-rebinding check still sees what the client sent) and body, and streams the answer back
(SSE included) as it arrives.
"""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length"}


class AuthorizingProxy:
    """An ASGI app forwarding to ``upstream`` with the given API key."""

    def __init__(self, upstream: str, api_key: str):
        self.upstream = upstream.rstrip("/")
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [
            (k.decode(), v.decode())
            for k, v in scope["headers"]
            if k.decode().lower() not in HOP_BY_HOP | {"authorization"}
        ]
        headers.append(("authorization", f"Bearer {self.api_key}"))
        query = scope.get("query_string", b"").decode()
        url = f"{self.upstream}{scope['path']}" + (f"?{query}" if query else "")
        async with httpx.AsyncClient(timeout=None) as client:
            request = client.build_request(scope["method"], url, headers=headers, content=body)
            response = await client.send(request, stream=True)
            try:
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": [
                            (k.encode(), v.encode())
                            for k, v in response.headers.items()
                            if k.lower() not in HOP_BY_HOP
                        ],
                    }
                )
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            finally:
                await response.aclose()
