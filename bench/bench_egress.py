"""Egress guard benchmark: added latency per request, and URL checks per second.

Run: ``python bench/bench_egress.py [--requests 2000] [--seconds 2]``. Prints figures only;
nothing here asserts a timing.

Latency: a real uvicorn upstream on 127.0.0.1 answers 64 bytes. The same sequential requests
go through a plain ``httpx.AsyncClient``, an ``httpx.AsyncClient`` over ``EgressTransport``
(same client layer, plus the checks) and ``EgressGuard.fetch`` (which skips the client layer:
no cookie jar, auth or hooks), reaching the loopback upstream through the test-only
``extra_allowed_addresses`` as the tests do. Rounds alternate; connections are kept alive,
then ``Connection: close`` on every response forces a new connection (so a resolve and an
address check) per request. The difference of the medians is the added latency. The upstream
runs in its own process so that it does not share the client's interpreter lock.

URL checks: the pure URL and allowlist rules, the address classification, and the whole
decision (``check_url``: parse, allowlist, resolve through a static table, classify every
answer).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from ipaddress import ip_address
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
# Measure this checkout's code, even when another copy of skillmarket is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from _common import describe_ms  # noqa: E402

from skillmarket.runtime.egress import (  # noqa: E402
    Allowlist,
    EgressGuard,
    EgressPolicy,
    EgressTransport,
    StaticResolver,
    classify_address,
    parse_target,
)

BODY = b"x" * 64


async def upstream_app(scope, receive, send) -> None:
    """A minimal ASGI app: 64 bytes, with ``Connection: close`` on ``/close``."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"64")]
    if scope["path"] == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


@contextlib.contextmanager
def upstream_process() -> Iterator[str]:
    """Run :func:`upstream_app` under uvicorn in a child process; yield its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(timeout=10)


def serve(port: int) -> None:
    """The child process: serve the upstream until terminated."""
    import uvicorn

    uvicorn.run(upstream_app, host="127.0.0.1", port=port, log_level="warning")


async def timed(count: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    """Seconds per call for ``count`` sequential calls."""
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def latency(base: str, requests: int, path: str) -> None:
    """Print plain vs guarded latency for ``path`` on the upstream."""
    port = httpx.URL(base).port
    policy = EgressPolicy(allowed_ports={80, 443, port})
    resolver = StaticResolver({"upstream.bench": ["127.0.0.1"]})
    guarded_url = f"http://upstream.bench:{port}{path}"
    allowance = ["127.0.0.1"]
    transport = EgressTransport(policy, resolver=resolver, extra_allowed_addresses=allowance)
    samples: dict[str, list[float]] = {"plain": [], "transport": [], "guard": []}
    async with (
        httpx.AsyncClient(trust_env=False) as client,
        httpx.AsyncClient(transport=transport) as guarded_client,
        EgressGuard(policy, resolver=resolver, extra_allowed_addresses=allowance) as guard,
    ):
        calls = {
            "plain": lambda: client.get(base + path),
            "transport": lambda: guarded_client.get(guarded_url),
            "guard": lambda: guard.fetch("GET", guarded_url),
        }
        for call in calls.values():  # warm up: pools, SSL context, imports
            await call()
        rounds = 10
        for _ in range(rounds):  # alternate, so drift hits all three alike
            for name, call in calls.items():
                samples[name] += await timed(requests // rounds, call)
    plain = statistics.median(samples["plain"])
    labels = {
        "plain": "plain httpx.AsyncClient",
        "transport": "httpx.AsyncClient over EgressTransport",
        "guard": "EgressGuard.fetch",
    }
    for name, label in labels.items():
        print(f"  {label:<40} {describe_ms(samples[name])}")
    for name in ("transport", "guard"):
        added = statistics.median(samples[name]) - plain
        print(f"  added, {labels[name]:<40} p50 {added * 1000:+.3f} ms per request")


def rate(label: str, seconds: float, work: Callable[[], object], per_call: int) -> None:
    """Print the median rate of ``work`` (which does ``per_call`` checks) over ``seconds``."""
    rates = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rates) < 3:
        start = time.perf_counter()
        work()
        rates.append(per_call / (time.perf_counter() - start))
    print(f"  {label:<52} {statistics.median(rates):>12,.0f} /s")


def url_checks(seconds: float) -> None:
    """Print URL, address and whole-decision checks per second."""
    urls = [
        "https://api.example.com/v1/items?page=2",
        "http://www.example.org/",
        "https://93.184.215.14/",
        "http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/",
    ] * 250
    rules = Allowlist.from_entries(["api.example.com", "*.example.org", "93.184.215.14.example"])
    addresses = [ip_address(a) for a in ("93.184.215.14", "10.0.0.1", "::ffff:7f00:1", "2a00::1")]
    addresses *= 250

    def parse_only() -> None:
        for url in urls:
            parse_target(url)

    def parse_and_allowlist() -> None:
        for url in urls:
            rules.allows(parse_target(url).host)

    def classify() -> None:
        for address in addresses:
            classify_address(address)

    rate("parse_target (scheme, host, port rules)", seconds, parse_only, len(urls))
    rate("parse_target + allowlist match", seconds, parse_and_allowlist, len(urls))
    rate("classify_address (one address)", seconds, classify, len(addresses))

    dns = StaticResolver({"api.example.com": ["93.184.215.14"], "www.example.org": ["1.1.1.1"]})

    async def decisions() -> None:
        async with EgressGuard(resolver=dns) as guard:
            for url in urls:
                await guard.check_url(url)

    loop = asyncio.new_event_loop()
    try:
        rate(
            "EgressGuard.check_url (parse, resolve, classify)",
            seconds,
            lambda: loop.run_until_complete(decisions()),
            len(urls),
        )
    finally:
        loop.close()


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per client")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per rate figure")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    print(f"egress guard benchmark ({args.requests} sequential requests per client)")
    with upstream_process() as base:
        print("keep-alive connections:")
        asyncio.run(latency(base, args.requests, "/"))
        print("a new connection per request (Connection: close):")
        asyncio.run(latency(base, args.requests // 2, "/close"))
    print("URL checks (one thread, no network):")
    url_checks(args.seconds)


if __name__ == "__main__":
    main()
