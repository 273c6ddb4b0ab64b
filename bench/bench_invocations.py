"""End-to-end invocations over HTTP: a paid one-step JavaScript skill, billed and audited.

Run: python bench/bench_invocations.py [--requests 2000]
Prints, from one run on the same machine: the bare sandbox, then per store (SQLite, and
PostgreSQL in a throwaway schema when SKILLMARKET_TEST_DATABASE_URL is set) a bare FastAPI
endpoint of the same server and full invokes at concurrency 1 and 16: latency p50/p95/p99,
throughput, and the CPU time per request of the server process and of the load generator
(a raw asyncio HTTP/1.1 client in this process, which shares the machine's cores). Every
invoke must answer ``completed``, or the run stops: a failing sandbox cannot pass for speed.
Goal on the 2-core reference machine: >= 1,000 invocations/s and p50 <= 5 ms at concurrency 16.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import (  # noqa: E402
    PG_ENV,
    cpu_seconds,
    describe_ms,
    http_load,
    http_request,
    throwaway_schema,
)

from skillmarket.catalog.manifest import SkillManifest  # noqa: E402
from skillmarket.config import Settings  # noqa: E402
from skillmarket.runtime.sandbox import ScriptRuntime  # noqa: E402
from skillmarket.services import open_services  # noqa: E402

CODE = "const d = JSON.parse(input); return JSON.stringify({n: d.n + 1});"
COMPLETED = b'"status":"completed"'  # every invoke must have run, not just been answered


def prepare(data_dir: Path, database_url: str | None) -> tuple[str, str, str]:
    """An operator with money and a passport, and a paid one-step JS skill."""
    settings = Settings(data_dir=data_dir, database_url=database_url, seed_examples=False)
    services = open_services(settings)
    operator, key = services.identity.create_operator("bench", "studio")
    services.ledger.deposit(operator.id, 900_000_000_000, provider_ref="bench")
    passport = services.passports.issue(operator.id, {}).passport_id
    skill = services.catalog.publish(
        operator.id,
        SkillManifest.model_validate(
            {
                "name": "plus-one",
                "version": "1.0.0",
                "description": "Adds one.",
                "execution_mode": "source",
                "price_cents": 1,
                "input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
                "output_schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
                "execution_steps": [{"type": "script", "runtime": "javascript", "code": CODE}],
            }
        ),
    ).skill
    services.close()
    return key.api_key, passport, skill.id


async def bare_sandbox(n: int) -> list[float]:
    """The sandbox alone, in this process."""
    samples = []
    async with ScriptRuntime() as runtime:
        for i in range(n):
            t0 = time.perf_counter()
            await runtime.run("javascript", CODE, f'{{"n": {i}}}')
            samples.append(time.perf_counter() - t0)
    return samples


def invoke_requests(path: str, api_key: str, passport: str) -> Callable[[int], bytes]:
    """The i-th invoke request: input ``{"n": i}``."""
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    def request(i: int) -> bytes:
        body = json.dumps({"passport_id": passport, "input": {"n": i}}).encode()
        return http_request("POST", path, headers, body)

    return request


@contextlib.contextmanager
def serving(data_dir: Path, database_url: str | None) -> Iterator[tuple[str, int]]:
    """``skillmarket serve`` on a free port in a subprocess; yields its URL and pid."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SKILLMARKET_DATA_DIR": str(data_dir), "SKILLMARKET_PORT": str(port)}
    if database_url:
        env["SKILLMARKET_DATABASE_URL"] = database_url
    server = subprocess.Popen(
        [sys.executable, "-m", "skillmarket.cli.main", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=20)


def measure_store(label: str, database_url: str | None, requests: int) -> None:
    """The bare endpoint and invokes at c=1 and c=16 against one store."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        api_key, passport, skill_id = prepare(data_dir, database_url)
        with serving(data_dir, database_url) as (url, pid):
            invoke = invoke_requests(f"/v1/skills/{skill_id}/invoke", api_key, passport)
            asyncio.run(http_load(url, invoke, 200, 4))  # warm up the workers
            healthz = http_request("GET", "/healthz", {})
            runs = [("bare FastAPI endpoint, c=16", lambda _i: healthz, b"", requests, 16)]
            runs += [
                (f"invoke (paid JS, billed, audited), c={c:<2}", invoke, COMPLETED, n, c)
                for c, n in ((1, min(requests, 500)), (16, requests))
            ]
            print(f"[{label}]")
            for title, request, expect, n, concurrency in runs:
                server, client = cpu_seconds(pid), time.process_time()
                samples, wall = asyncio.run(http_load(url, request, n, concurrency, expect=expect))
                server_ms = (cpu_seconds(pid) - server) / n * 1000
                client_ms = (time.process_time() - client) / n * 1000
                print(
                    f"  {title}: {describe_ms(samples)}  {n / wall:,.0f}/s  "
                    f"CPU per request: server {server_ms:.2f} ms, client {client_ms:.2f} ms"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    sandbox = asyncio.run(bare_sandbox(500))
    print(f"bare sandbox (JS, in-process): {describe_ms(sandbox[50:])}")
    measure_store("sqlite", None, args.requests)
    base = os.environ.get(PG_ENV)
    if base:
        with throwaway_schema(base, "bench") as url:
            measure_store("postgresql", url, args.requests)
    else:
        print(f"[postgresql] skipped: set {PG_ENV} to measure it too")


if __name__ == "__main__":
    main()
