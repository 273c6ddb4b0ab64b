"""A real HTTPS upstream on 127.0.0.1 for credential proxy tests.

It presents a certificate (from a throwaway CA) for every name given, records each request it
receives (host, path with query, headers), and answers:

- ``/echo``: the request's method, host, path, headers and body as JSON, and every request
  header again as an ``x-echo-<name>`` response header (so an echoed credential shows up in the
  response's headers and body, where the proxy must scrub it);
- ``/redirect?to=URL[&status=302]``: a redirect.

Tests reach it only through an ``EgressGuard`` built with a ``StaticResolver`` mapping the test
names to 127.0.0.1, ``extra_allowed_addresses=["127.0.0.1"]``, the upstream's port allowed and
an SSL context trusting the test CA (:meth:`Upstream.guard`).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from skillmarket.runtime.egress import EgressGuard, EgressPolicy, StaticResolver
from tests.support.pki import throwaway_pki


@dataclass
class Seen:
    """One request as the upstream received it."""

    method: str
    host: str
    path: str
    headers: dict[str, str]


@dataclass
class Upstream:
    """A running HTTPS upstream: its port, its names, the CA to trust, what it saw."""

    port: int
    names: tuple[str, ...]
    ca_pem: bytes
    seen: list[Seen] = field(default_factory=list)

    def url(self, name: str, path: str = "/echo") -> str:
        """``https://name:port/path``."""
        return f"https://{name}:{self.port}{path}"

    def guard(self) -> EgressGuard:
        """The production guard, told only how to reach this upstream."""
        return EgressGuard(
            EgressPolicy(allowed_ports=frozenset({80, 443, self.port})),
            resolver=StaticResolver({name: ["127.0.0.1"] for name in self.names}),
            extra_allowed_addresses=["127.0.0.1"],
            ssl_context=ssl.create_default_context(cadata=self.ca_pem.decode("ascii")),
        )


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    upstream: Upstream

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        return None

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = headers.get("host", "").rsplit(":", 1)[0]
        self.upstream.seen.append(Seen(self.command, host, self.path, headers))
        parts = urlsplit(self.path)
        if parts.path == "/redirect":
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            self._send(int(query.get("status", "302")), b"", {"Location": query["to"]})
            return
        payload = {
            "method": self.command,
            "host": host,
            "path": self.path,
            "headers": headers,
            "body": body.decode("latin-1"),
        }
        extra = {f"X-Echo-{k}": v for k, v in headers.items()}
        self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json", **extra})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _route


@contextlib.contextmanager
def https_upstream(*names: str) -> Iterator[Upstream]:
    """Serve the upstream on 127.0.0.1 and a free port until the block ends."""
    context, ca_pem = throwaway_pki("proxy test CA", *names)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    upstream = Upstream(port=server.server_address[1], names=names, ca_pem=ca_pem)
    server.RequestHandlerClass = type("Handler", (_Handler,), {"upstream": upstream})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
