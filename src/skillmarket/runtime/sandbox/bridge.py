"""Host side of ``proxy_fetch``: validate what a sandbox asked for, call the host callback,
and turn the answer (or the refusal) into the payload the script receives.

Everything arriving here came out of a sandbox and is validated as hostile input. Only JSON
strings and numbers go back in; secrets never do. Errors the callback raised are remembered by
fetch id, so that when the script leaves one uncaught the run can fail with that error's code
(and a script cannot forge a code by throwing its own ``ProxyFetchError``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from skillmarket.errors import SkillmarketError
from skillmarket.runtime.sandbox.interfaces import FetchRequest, FetchResponse, ProxyFetch

log = logging.getLogger(__name__)

_METHOD = re.compile(r"^[A-Z]{1,16}$")
_MAX_URL = 8192
_MAX_HEADERS = 100
_MAX_HEADER_BYTES = 64 * 1024

Payload = tuple[bool, dict[str, Any]]


class FetchRefused(Exception):
    """A fetch the bridge refuses itself, with the code the script sees."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_request(raw: Any, max_body: int) -> FetchRequest:
    """Validate a sandbox's fetch request into a :class:`FetchRequest`."""
    if not isinstance(raw, Mapping):
        raise FetchRefused("FETCH_INVALID", "request must be an object")
    url, method, service = raw.get("url"), raw.get("method") or "GET", raw.get("service")
    headers, body = raw.get("headers") or {}, raw.get("body")
    if not isinstance(url, str) or not url or len(url) > _MAX_URL:
        raise FetchRefused("FETCH_INVALID", "url must be a non-empty string")
    if not isinstance(method, str) or not _METHOD.match(method.upper()):
        raise FetchRefused("FETCH_INVALID", "method must be an HTTP method name")
    if service is not None and (not isinstance(service, str) or len(service) > 200):
        raise FetchRefused("FETCH_INVALID", "service must be a short string")
    if not isinstance(headers, Mapping) or len(headers) > _MAX_HEADERS:
        raise FetchRefused("FETCH_INVALID", f"headers must be an object of at most {_MAX_HEADERS}")
    size = 0
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise FetchRefused("FETCH_INVALID", "header names and values must be strings")
        size += len(key) + len(value)
    if size > _MAX_HEADER_BYTES:
        raise FetchRefused("FETCH_INVALID", "headers are too large")
    if body is not None and (
        not isinstance(body, str) or len(body.encode("utf-8", "replace")) > max_body
    ):
        raise FetchRefused("FETCH_TOO_LARGE", f"body must be a string of at most {max_body} bytes")
    return FetchRequest(
        url=url, method=method.upper(), service=service, headers=dict(headers), body=body
    )


class FetchBridge:
    """Serves the fetches of one invocation."""

    def __init__(self, callback: ProxyFetch | None, *, max_fetches: int, max_body: int):
        self.callback = callback
        self.max_fetches = max_fetches
        self.max_body = max_body
        self.count = 0
        self.errors: dict[int, BaseException] = {}
        self.requests: dict[int, FetchRequest] = {}

    async def serve(self, fetch_id: int, raw: Any) -> Payload:
        """Answer one request: ``(True, {status, headers, body})`` or ``(False, {code, message})``.

        Never raises: refusals and callback failures become the error payload.
        """
        try:
            return True, await self._serve(fetch_id, raw)
        except FetchRefused as exc:
            return False, {"code": exc.code, "message": exc.message}
        except SkillmarketError as exc:
            self.errors[fetch_id] = exc
            return False, {"code": exc.code, "message": exc.message}
        except Exception as exc:  # noqa: BLE001 — a callback bug must not reach the script
            log.warning("proxy_fetch callback failed: %s", type(exc).__name__)
            self.errors[fetch_id] = exc
            return False, {"code": "PROXY_FETCH_FAILED", "message": "proxy_fetch failed"}

    async def _serve(self, fetch_id: int, raw: Any) -> dict[str, Any]:
        self.count += 1
        if self.count > self.max_fetches:
            raise FetchRefused(
                "FETCH_LIMIT", f"at most {self.max_fetches} proxy_fetch calls per run"
            )
        request = parse_request(raw, self.max_body)
        if self.callback is None:
            raise FetchRefused("PROXY_FETCH_DISABLED", "proxy_fetch is not available for this run")
        self.requests[fetch_id] = request
        response = await self.callback(request)
        if not isinstance(response, FetchResponse):
            raise TypeError("proxy_fetch callback must return a FetchResponse")
        if len(response.body.encode("utf-8", "replace")) > self.max_body:
            raise FetchRefused("FETCH_TOO_LARGE", f"response body exceeds {self.max_body} bytes")
        return {
            "status": int(response.status),
            "headers": {str(k): str(v) for k, v in response.headers.items()},
            "body": str(response.body),
        }
