"""A real local upstream (HTTP and HTTPS on 127.0.0.1) for the egress guard's tests.

The guard reaches it only because each test builds the guard with ``extra_allowed_addresses``
naming 127.0.0.1 and a policy allowing the upstream's port; names resolve through a
StaticResolver built here. Nothing here points at any address but loopback.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.pki import throwaway_pki


@pytest.fixture
def anyio_backend() -> str:
    """The event loop the ``anyio`` marker runs tests on."""
    return "asyncio"


@dataclass
class Seen:
    """One request as the upstream received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


@dataclass
class Upstream:
    """A running upstream: its port, what it saw, and (for TLS) the SNI names offered."""

    port: int
    seen: list[Seen] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: Upstream

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        return None

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.upstream.seen.append(
            Seen(self.command, self.path, headers, body, self.client_address[1])
        )
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = getattr(self, "_" + (parts.path.strip("/") or "echo"))
        # The guard hangs up on purpose after timeouts and size caps.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(query, body)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _echo(self, query: dict[str, str], body: bytes) -> None:
        payload = {"method": self.command, "path": self.path, "body": body.decode("latin-1")}
        payload["headers"] = {k.lower(): v for k, v in self.headers.items()}
        extra = {"Content-Type": "application/json", "X-Upstream": "1", "Keep-Alive": "timeout=5"}
        self._send(200, json.dumps(payload).encode(), extra)

    def _close(self, query: dict[str, str], body: bytes) -> None:
        self._send(200, b"closing", {"Connection": "close"})

    def _redirect(self, query: dict[str, str], body: bytes) -> None:
        self._send(int(query.get("status", "302")), b"", {"Location": query["to"]})

    def _loop(self, query: dict[str, str], body: bytes) -> None:
        self._send(302, b"", {"Location": "/loop"})

    def _big(self, query: dict[str, str], body: bytes) -> None:
        self._send(200, b"x" * int(query["n"]))

    def _chunked(self, query: dict[str, str], body: bytes) -> None:
        total, chunk = int(query["n"]), b"y" * 4096
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while total > 0:
            part = chunk[: min(total, len(chunk))]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            total -= len(part)
        self.wfile.write(b"0\r\n\r\n")

    def _slow(self, query: dict[str, str], body: bytes) -> None:
        time.sleep(float(query.get("s", "2")))
        self._send(200, b"late")

    def _drip(self, query: dict[str, str], body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        for _ in range(100):
            self.wfile.write(b"d")
            self.wfile.flush()
            time.sleep(0.05)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _route


def _serve(tls: ssl.SSLContext | None) -> Iterator[Upstream]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    upstream = Upstream(port=server.server_address[1])
    if tls is not None:
        tls.sni_callback = lambda sslobj, name, ctx: upstream.sni.append(name)  # type: ignore[assignment]
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.RequestHandlerClass = type("Handler", (_Handler,), {"upstream": upstream})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    """A plain-HTTP upstream on 127.0.0.1 and a free port."""
    yield from _serve(None)


@dataclass(frozen=True)
class Pki:
    """A throwaway CA and a server certificate for ``upstream.test`` signed by it."""

    ca_pem: bytes
    server_context: ssl.SSLContext

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the test CA."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))


@pytest.fixture(scope="session")
def pki() -> Pki:
    """Build the CA and the ``upstream.test`` certificate once per session."""
    context, ca_pem = throwaway_pki("egress test CA", "upstream.test")
    return Pki(ca_pem, context)


@pytest.fixture
def tls_upstream(pki: Pki) -> Iterator[Upstream]:
    """An HTTPS upstream on 127.0.0.1 presenting a certificate for ``upstream.test``."""
    yield from _serve(pki.server_context)
