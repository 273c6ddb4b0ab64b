"""The egress guard: the one gate every outbound HTTP request from skill code passes.

``await guard.fetch(method, url, headers=..., body=..., allowlist=...)`` runs, in order:

1. the method, the URL (scheme, user info, host syntax, port) and the allowlist, before any I/O;
2. the caller's headers (no ``Host``, ``Content-Length``, hop-by-hop or ``Proxy-*``) and the
   request body size;
3. the request through :class:`~.transport.EgressTransport`, which resolves the name once,
   refuses if any answer is not public, and connects to the checked address;
4. each redirect (up to ``max_redirects``) as a new request through steps 1 and 3, with
   ``Authorization``, ``Proxy-Authorization``, ``Cookie`` and the caller's
   ``sensitive_headers`` dropped when the origin changes;
5. the body, streamed and cut at ``max_response_bytes``; the whole fetch runs under
   ``total_timeout_s``.

The result carries metadata for the audit log (method, hosts, status, bytes, milliseconds,
address) and never a body or header value.
"""

from __future__ import annotations

import dataclasses
import re
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import anyio
import httpx

from skillmarket.runtime.egress.addresses import IPAddress
from skillmarket.runtime.egress.allowlist import Allowlist
from skillmarket.runtime.egress.errors import (
    EgressBlocked,
    EgressResponseTooLarge,
    EgressTimeout,
    EgressTooManyRedirects,
    EgressUnreachable,
)
from skillmarket.runtime.egress.policy import EgressPolicy
from skillmarket.runtime.egress.resolver import Resolver
from skillmarket.runtime.egress.transport import ALLOWLIST_EXTENSION, EgressTransport
from skillmarket.runtime.egress.urls import Target, check_url_text, parse_target

__all__ = [
    "CREDENTIAL_HEADERS",
    "FORBIDDEN_REQUEST_HEADERS",
    "EgressGuard",
    "EgressMetadata",
    "EgressResponse",
]

#: Headers the caller may not set (besides every ``Proxy-*`` header): the transport owns them.
FORBIDDEN_REQUEST_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer"}
    | {"upgrade", "expect"}
)
#: Dropped from the request when a redirect changes origin (scheme, host or port).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer"}) | {
    "upgrade",
    "proxy-authenticate",
    "proxy-connection",
}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MAX_HEADER_BYTES = 64 * 1024

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True)
class EgressMetadata:
    """What the audit log records about one fetch: never a body, query or header value."""

    method: str
    host: str
    final_host: str
    status: int
    redirects: int
    bytes_sent: int
    bytes_received: int
    duration_ms: float
    address: str | None

    def to_dict(self) -> dict[str, object]:
        """The metadata as a JSON-safe dict."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EgressResponse:
    """A fetched response: status, headers (lower-case names, hop-by-hop removed), the body
    as sent on the wire (still compressed if the caller asked for that) and metadata."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    metadata: EgressMetadata

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


@dataclass(frozen=True)
class _Hop:
    method: str
    url: httpx.URL
    target: Target
    headers: tuple[tuple[str, str], ...]
    body: bytes | None


class EgressGuard:
    """The egress gate for skill code; see the module docstring for what it checks.

    ``resolver`` defaults to the system's. ``extra_allowed_addresses`` exists for tests that
    reach a local upstream: exact addresses that skip the address classification (never
    networks, never cloud metadata; scheme, port and allowlist rules still apply). Production
    code passes neither. Use as ``async with EgressGuard(...) as guard`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        policy: EgressPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        extra_allowed_addresses: Iterable[str | IPAddress] = (),
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.policy = policy or EgressPolicy()
        self.transport = EgressTransport(
            self.policy,
            resolver=resolver,
            extra_allowed_addresses=extra_allowed_addresses,
            ssl_context=ssl_context,
        )

    async def __aenter__(self) -> EgressGuard:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self.transport.aclose()

    async def check_url(
        self, url: str | httpx.URL, allowlist: Allowlist | Iterable[str] | None = None
    ) -> tuple[IPAddress, ...]:
        """Decide whether ``url`` may be fetched: raise :class:`EgressBlocked` if not, else
        return the addresses it resolves to. Resolves DNS; sends nothing."""
        target = self._target(url, _compile(allowlist))
        return await self.transport.gate.addresses(target.host, target.port, target.ip)

    async def fetch(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: HeaderInput | None = None,
        body: bytes | str | None = None,
        allowlist: Allowlist | Iterable[str] | None = None,
        sensitive_headers: Iterable[str] = (),
    ) -> EgressResponse:
        """Send one request under the policy and return the whole (capped) response.

        ``allowlist``: the skill's declared hosts, if it declared any (see
        :mod:`~.allowlist`). ``sensitive_headers``: more header names to drop on a
        cross-origin redirect (the credential proxy names the headers it injected). Raises
        :class:`~.errors.EgressError` subclasses (and ``TypeError`` for a body that is
        neither bytes nor str). ``metadata.method`` is the method asked for, even when a
        303 turned a later hop into a GET.
        """
        started = time.perf_counter()
        rules = _compile(allowlist)
        verb = self._method(method)
        target = self._target(url, rules)
        hop = _Hop(
            method=verb,
            url=httpx.URL(url) if isinstance(url, str) else url,
            target=target,
            headers=self._headers(headers),
            body=self._body(body),
        )
        strip = CREDENTIAL_HEADERS | {name.lower() for name in sensitive_headers}
        state = {"host": target.host}
        try:
            with anyio.fail_after(self.policy.total_timeout_s):
                return await self._follow(hop, rules, strip, state, started)
        except (TimeoutError, httpx.TimeoutException) as exc:
            timeout_ms = round(self.policy.total_timeout_s * 1000)
            raise EgressTimeout(host=state["host"], timeout_ms=timeout_ms) from exc
        except httpx.ConnectError as exc:
            reason = "tls_failed" if _caused_by(exc, ssl.SSLError) else "connect_failed"
            raise EgressUnreachable(reason, host=state["host"]) from exc
        except httpx.ProtocolError as exc:
            raise EgressUnreachable("protocol_error", host=state["host"]) from exc
        except httpx.TransportError as exc:
            raise EgressUnreachable("transport_error", host=state["host"]) from exc

    async def _follow(
        self,
        hop: _Hop,
        rules: Allowlist | None,
        strip: frozenset[str],
        state: dict[str, str],
        started: float,
    ) -> EgressResponse:
        first, redirects, sent = hop, 0, 0
        extensions = {} if rules is None else {ALLOWLIST_EXTENSION: rules}
        while True:
            state["host"] = hop.target.host
            request = httpx.Request(
                hop.method, hop.url, headers=hop.headers, content=hop.body, extensions=extensions
            )
            sent += len(hop.body or b"")
            response = await self.transport.handle_async_request(request)
            try:
                if response.status_code in _REDIRECT_STATUSES and "location" in response.headers:
                    if redirects >= self.policy.max_redirects:
                        raise EgressTooManyRedirects(
                            host=hop.target.host, max_redirects=self.policy.max_redirects
                        )
                    hop = self._redirect(hop, response, rules, strip)
                    redirects += 1
                    continue
                address = _peer_address(response)
                body = await self._read_capped(response, hop.target.host)
            finally:
                await response.aclose()
            metadata = EgressMetadata(
                method=first.method,
                host=first.target.host,
                final_host=hop.target.host,
                status=response.status_code,
                redirects=redirects,
                bytes_sent=sent,
                bytes_received=len(body),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                address=address,
            )
            return EgressResponse(response.status_code, _passed_on(response), body, metadata)

    def _redirect(
        self, hop: _Hop, response: httpx.Response, rules: Allowlist | None, strip: frozenset[str]
    ) -> _Hop:
        # 1. The new URL is judged like the first one (and again by the transport).
        location = response.headers["location"]
        check_url_text(location)
        try:
            url = hop.url.join(location)
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
            raise EgressBlocked("invalid_url", host=hop.target.host) from exc
        target = self._target(url, rules)
        # 2. Method and body as browsers do: 303 (and 301/302 after POST) become a GET.
        method, body, headers = hop.method, hop.body, hop.headers
        status = response.status_code
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, body = "GET", None
            headers = _without(headers, {"content-type", "content-encoding"})
        # 3. Credentials never follow a request to another origin.
        if target.origin != hop.target.origin:
            headers = _without(headers, strip)
        return _Hop(method=method, url=url, target=target, headers=headers, body=body)

    async def _read_capped(self, response: httpx.Response, host: str) -> bytes:
        cap = self.policy.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise EgressResponseTooLarge(host=host, max_bytes=cap)
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.aiter_raw():
            total += len(chunk)
            if total > cap:
                raise EgressResponseTooLarge(host=host, max_bytes=cap)
            chunks.append(chunk)
        return b"".join(chunks)

    def _target(self, url: str | httpx.URL, rules: Allowlist | None) -> Target:
        target = parse_target(
            url,
            allowed_schemes=self.policy.allowed_schemes,
            allowed_ports=self.policy.allowed_ports,
        )
        if rules is not None and not rules.allows(target.host):
            raise EgressBlocked("not_allowlisted", host=target.host)
        return target

    def _method(self, method: str) -> str:
        verb = method.upper() if isinstance(method, str) else ""
        if not _TOKEN.fullmatch(verb) or verb not in self.policy.allowed_methods:
            raise EgressBlocked("method_not_allowed", method=str(method)[:16])
        return verb

    def _headers(self, headers: HeaderInput | None) -> tuple[tuple[str, str], ...]:
        items = headers.items() if isinstance(headers, Mapping) else (headers or ())
        checked: list[tuple[str, str]] = []
        size = 0
        for name, value in items:
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                raise EgressBlocked("header_not_allowed", header=str(name)[:64])
            lower = name.lower()
            if lower in FORBIDDEN_REQUEST_HEADERS or lower.startswith("proxy-"):
                raise EgressBlocked("header_not_allowed", header=lower)
            if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
                raise EgressBlocked("header_not_allowed", header=lower)
            size += len(name) + len(value)
            checked.append((name, value))
        if size > _MAX_HEADER_BYTES:
            raise EgressBlocked("request_too_large", max_bytes=_MAX_HEADER_BYTES)
        if not any(name.lower() == "user-agent" for name, _ in checked):
            checked.append(("User-Agent", self.policy.user_agent))
        return tuple(checked)

    def _body(self, body: bytes | str | None) -> bytes | None:
        if body is None:
            return None
        if not isinstance(body, bytes | bytearray | memoryview | str):
            raise TypeError(f"body must be bytes or str, not {type(body).__name__}")
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        if len(data) > self.policy.max_request_bytes:
            raise EgressBlocked("request_too_large", max_bytes=self.policy.max_request_bytes)
        return data


def _compile(allowlist: Allowlist | Iterable[str] | None) -> Allowlist | None:
    if allowlist is None or isinstance(allowlist, Allowlist):
        return allowlist
    return Allowlist.from_entries(allowlist)


def _without(
    headers: tuple[tuple[str, str], ...], names: frozenset[str] | set[str]
) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in headers if k.lower() not in names)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):  # httpx error <- httpcore error <- ssl error, usually
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _passed_on(response: httpx.Response) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in response.headers.multi_items() if k not in _HOP_BY_HOP)


def _peer_address(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    return str(peer[0]) if peer else None
