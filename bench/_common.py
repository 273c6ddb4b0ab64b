"""Helpers shared by the benchmarks: percentiles, a real uvicorn server in a thread, a
throwaway PostgreSQL schema, a process's CPU time, and a lean HTTP load generator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httptools
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's tests/
from tests.support.postgres import throwaway_schema  # noqa: E402, F401  (the suite's own)

PG_ENV = "SKILLMARKET_TEST_DATABASE_URL"


def percentile(samples: list[float], pct: float) -> float:
    """The pct-th percentile (0–100) of ``samples``."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe_ms(samples: list[float]) -> str:
    """p50 / p95 / p99 / mean of second-valued samples, in milliseconds."""
    ms = [s * 1000 for s in samples]
    return (
        f"p50 {percentile(ms, 50):.2f} ms  p95 {percentile(ms, 95):.2f} ms  "
        f"p99 {percentile(ms, 99):.2f} ms  mean {statistics.fmean(ms):.2f} ms  (n={len(ms)})"
    )


@contextlib.contextmanager
def served(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yield its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process ``pid`` has used so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection of :func:`http_load`: a request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future[tuple[int, bytes]] | None = None
        self.body = bytearray()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result((self.parser.get_status_code(), bytes(self.body)))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("the server closed the connection"))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.done = asyncio.get_running_loop().create_future()
        self.body.clear()
        assert self.transport is not None
        self.transport.write(raw)
        return await self.done


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request for :func:`http_load`."""
    lines = [f"{method} {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def http_load(
    url: str,
    requests: Callable[[int], bytes],
    n: int,
    concurrency: int,
    *,
    expect: bytes = b"",
) -> tuple[list[float], float]:
    """``n`` requests (``requests(i)`` gives the bytes of the i-th) over ``concurrency``
    keep-alive connections, each with one request in flight; returns the latencies and the
    wall time. Any status but 2xx, or a body without ``expect`` in it, raises.

    A load generator lean enough to leave the server the machine: a raw asyncio protocol
    and httptools' parser cost ~0.1 ms of CPU per request, where httpx costs ~1.1 ms, which
    on two cores caps what the server can be seen to do.
    """
    host, port = url.removeprefix("http://").rsplit(":", 1)
    loop = asyncio.get_running_loop()
    connections = [
        (await loop.create_connection(_Connection, host, int(port)))[1] for _ in range(concurrency)
    ]
    samples: list[float] = []
    queue = iter(range(n))

    async def worker(connection: _Connection) -> None:
        for i in queue:
            raw = requests(i)
            t0 = time.perf_counter()
            status, body = await connection.request(raw)
            samples.append(time.perf_counter() - t0)
            if not 200 <= status < 300 or expect not in body:
                raise RuntimeError(f"request {i} answered {status}: {body[:300]!r}")

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in connections))
    finally:
        for connection in connections:
            assert connection.transport is not None
            connection.transport.close()
    return samples, time.perf_counter() - started
