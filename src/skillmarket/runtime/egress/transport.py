"""The guarded httpx transport: every connection goes to an address checked a moment before.

Two layers, so that no request can skip a check:

- :class:`EgressTransport` (an ``httpx.AsyncBaseTransport``) judges each request's URL: scheme,
  user info, host syntax, port and allowlists. Any httpx client can use it, and each redirect
  hop an httpx client follows passes it again.
- :class:`GuardedNetworkBackend` (an ``httpcore`` network backend) is the only way the
  connection pool opens sockets. It resolves the name once, refuses if *any* answer is not
  public, and connects to those same addresses. The URL keeps its host name, so the ``Host``
  header, TLS SNI and certificate verification all use the real name, and the pool keys
  connections by name: a connection made for one name is never reused for another.

Tests reach a local upstream by passing ``extra_allowed_addresses``: exact addresses (never
networks, never metadata endpoints) that skip the address classification only. There is no
switch that turns the checks off.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import typing
from collections.abc import Iterable, Iterator, Sequence
from ipaddress import ip_address

import httpcore
import httpx

from skillmarket.runtime.egress.addresses import (
    CLOUD_METADATA_ADDRESSES,
    IPAddress,
    classify_address,
)
from skillmarket.runtime.egress.allowlist import Allowlist
from skillmarket.runtime.egress.errors import EgressBlocked
from skillmarket.runtime.egress.policy import EgressPolicy
from skillmarket.runtime.egress.resolver import Resolver, SystemResolver
from skillmarket.runtime.egress.urls import parse_host, parse_target

__all__ = ["ALLOWLIST_EXTENSION", "AddressGate", "EgressTransport", "GuardedNetworkBackend"]

#: Request extension carrying a per-request :class:`Allowlist`; it can only narrow.
ALLOWLIST_EXTENSION = "skillmarket.egress.allowlist"


class AddressGate:
    """Resolves a host once and returns its addresses only if every one may be reached."""

    def __init__(
        self,
        policy: EgressPolicy,
        resolver: Resolver,
        extra_allowed_addresses: Iterable[str | IPAddress] = (),
    ):
        self._policy = policy
        self._resolver = resolver
        self._extra = frozenset(_test_allowance(a) for a in extra_allowed_addresses)

    async def addresses(self, host: str, port: int, ip: IPAddress | None) -> tuple[IPAddress, ...]:
        """The addresses to connect to for ``host``; raises :class:`EgressBlocked` if any
        answer is refused (a mixed public and private answer is refused whole)."""
        answers: Sequence[IPAddress] = (
            (ip,) if ip is not None else await self._resolver.resolve(host, port)
        )
        for answer in answers:
            self.check(answer, host)
        return tuple(answers)

    def check(self, address: IPAddress, host: str | None = None) -> None:
        """Raise :class:`EgressBlocked` unless ``address`` is public or explicitly allowed."""
        denied = self._policy.denied_networks
        if address in self._extra and not any(address in net for net in denied):
            return
        refusal = classify_address(address, denied_networks=denied)
        if refusal is not None:
            raise EgressBlocked(refusal.reason, host=host, **refusal.details())


def _test_allowance(value: str | IPAddress) -> IPAddress:
    address = ip_address(value)  # a network such as "127.0.0.0/8" raises ValueError here
    if address in CLOUD_METADATA_ADDRESSES or address.is_unspecified:
        raise ValueError(f"{address} can never be allowed")
    return address


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to checked addresses."""

    def __init__(self, gate: AddressGate, inner: httpcore.AsyncNetworkBackend | None = None):
        self._gate = gate
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host`` once, check every answer, connect to the first that accepts."""
        name, literal = parse_host(host)
        addresses = await self._gate.addresses(name, port, literal)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # addresses is never empty: resolvers raise instead
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: skill traffic only leaves by TCP to public addresses."""
        raise EgressBlocked("unix_socket_not_allowed")

    async def sleep(self, seconds: float) -> None:
        """Sleep on the inner backend (used by the pool's retry back-off)."""
        await self._inner.sleep(seconds)


class EgressTransport(httpx.AsyncBaseTransport):
    """An httpx transport that refuses every request the egress policy does not allow.

    ``allowlist`` (entries or a compiled :class:`Allowlist`) binds every request; a request may
    carry another under :data:`ALLOWLIST_EXTENSION`, and then both must match. ``resolver``
    defaults to the system's. ``extra_allowed_addresses`` is for tests only: see the module
    docstring. ``ssl_context`` defaults to httpx's (certifi roots, hostname checking on).
    """

    def __init__(
        self,
        policy: EgressPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        allowlist: Allowlist | Iterable[str] | None = None,
        extra_allowed_addresses: Iterable[str | IPAddress] = (),
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.policy = policy or EgressPolicy()
        self.gate = AddressGate(self.policy, resolver or SystemResolver(), extra_allowed_addresses)
        if allowlist is not None and not isinstance(allowlist, Allowlist):
            allowlist = Allowlist.from_entries(allowlist)
        self._allowlist = allowlist
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or _default_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=GuardedNetworkBackend(self.gate),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check the request's URL, then send it through the guarded pool."""
        policy = self.policy
        target = parse_target(
            request.url,
            allowed_schemes=policy.allowed_schemes,
            allowed_ports=policy.allowed_ports,
        )
        for allowlist in (self._allowlist, request.extensions.get(ALLOWLIST_EXTENSION)):
            if allowlist is not None and not allowlist.allows(target.host):
                raise EgressBlocked("not_allowlisted", host=target.host)
        if request.method.upper() not in policy.allowed_methods:
            raise EgressBlocked("method_not_allowed", host=target.host, method=request.method)
        timeout = request.extensions.get("timeout") or _default_timeout(policy)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=target.scheme.encode("ascii"),
                host=target.host.encode("ascii"),
                port=target.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=typing.cast(typing.AsyncIterable[bytes], request.stream),
            extensions={"timeout": timeout},  # nothing else: no caller-chosen SNI or tracing
        )
        with _mapped_httpcore_errors():
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(typing.cast(typing.AsyncIterable[bytes], response.stream)),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._pool.aclose()


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~20 ms; one verifying context serves every transport.
    return httpx.create_ssl_context()


def _default_timeout(policy: EgressPolicy) -> dict[str, float]:
    total = policy.total_timeout_s
    return {"connect": policy.connect_timeout_s, "read": total, "write": total, "pool": total}


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]):
        self._stream = stream

    async def __aiter__(self) -> typing.AsyncIterator[bytes]:
        with _mapped_httpcore_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if closer is not None:
            await closer()


# httpcore's errors as httpx's, most specific first, so httpx callers see what they expect.
_ERROR_MAP: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _mapped_httpcore_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for source, mapped in _ERROR_MAP:
            if isinstance(exc, source):
                raise mapped(str(exc)) from exc
        raise
