"""Credential proxy benchmark: what a ``proxy_fetch`` with a ``service`` adds to a request.

Run: ``python bench/bench_credentials.py [--requests 500] [--database-url URL]``. Prints figures
only; nothing here asserts a timing.

A real HTTPS upstream on 127.0.0.1 (the tests' ``https_upstream``, in this process) answers
``/echo``; connections are kept alive. The same sequential GETs go, in alternating rounds:

- ``guard``: ``EgressGuard.fetch`` with the ``Authorization`` header set by hand (the wire
  request the proxy makes, with none of its bookkeeping);
- ``public``: the invocation's ``proxy_fetch`` without a service: the passport re-check and
  the ``proxy.call`` audit event (a write transaction) around the same fetch;
- ``service``: ``proxy_fetch`` with a seller-provided service: also the declared-service and
  domain checks, the metering, reading and decrypting the credential (a read transaction, an
  AES-GCM unwrap and decrypt), injecting it and scrubbing the echoed response.

The store is SQLite in a temporary data dir unless ``--database-url`` names another.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
# Measure this checkout's code, even when another copy of skillmarket is installed.
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT))
from _common import describe_ms  # noqa: E402

from skillmarket.config import Settings  # noqa: E402
from skillmarket.credentials.models import ServiceConnect  # noqa: E402
from skillmarket.invocations.metering import ProxyMeter  # noqa: E402
from skillmarket.invocations.proxy import CredentialProxy  # noqa: E402
from skillmarket.invocations.services import RunContext  # noqa: E402
from skillmarket.runtime.sandbox import FetchRequest  # noqa: E402
from skillmarket.services import open_services  # noqa: E402
from tests.support.upstream import https_upstream  # noqa: E402

HOST = "api.example.test"
SECRET = "sk_bench_0123456789abcdef"
SKILL = {
    "name": "bench-proxy",
    "version": "1.0.0",
    "description": "Calls an upstream through the credential proxy.",
    "execution_mode": "sealed",
    "credential_mode": "seller_provides",
    "services": [{"name": "crm", "cost_per_call_micros": 10}],
    "input_schema": {},
    "output_schema": {},
    "execution_steps": [{"type": "script", "runtime": "javascript", "code": "return input;"}],
}


async def measure(
    rounds: dict[str, Callable[[], Awaitable[object]]], requests: int
) -> dict[str, list[float]]:
    """Alternate the variants, ``requests`` each in all, after a warm-up."""
    samples: dict[str, list[float]] = {name: [] for name in rounds}
    for call in rounds.values():
        for _ in range(20):
            await call()
    per_round = 50
    for _ in range(max(1, requests // per_round)):
        for name, call in rounds.items():
            for _ in range(per_round):
                started = time.perf_counter()
                await call()
                samples[name].append(time.perf_counter() - started)
    return samples


def main() -> None:
    """Set up the store and the upstream, run the rounds, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    from skillmarket.catalog.manifest import SkillManifest

    with tempfile.TemporaryDirectory() as folder, https_upstream(HOST) as upstream:
        settings = Settings(
            data_dir=Path(folder), database_url=args.database_url, seed_examples=False
        )
        services = open_services(settings)
        seller, _ = services.identity.create_operator("bench-seller", "studio")
        buyer, _ = services.identity.create_operator("bench-buyer", "free")
        passport = services.passports.issue(buyer.id, {}).passport_id
        services.credentials.connect(
            seller.id, ServiceConnect(name="crm", domain=HOST, secret=SECRET)
        )
        skill = services.catalog.publish(seller.id, SkillManifest.model_validate(SKILL)).skill
        context = RunContext("sinv_bench", buyer.id, passport, skill, [], "null", 10**12)
        guard = upstream.guard()
        proxy = CredentialProxy(
            services.invocations, services.credentials, guard, context, ProxyMeter(10**12)
        )
        url = upstream.url(HOST)
        wire = {"Authorization": f"Bearer {SECRET}", "Accept-Encoding": "identity"}
        rounds: dict[str, Callable[[], Awaitable[object]]] = {
            "guard": lambda: guard.fetch("GET", url, headers=wire),
            "public": lambda: proxy.fetch(FetchRequest(url=url)),
            "service": lambda: proxy.fetch(FetchRequest(url=url, service="crm")),
        }

        async def run() -> dict[str, list[float]]:
            try:
                return await measure(rounds, args.requests)
            finally:
                await guard.aclose()

        samples = asyncio.run(run())
        services.close()
    store = "SQLite" if not args.database_url else args.database_url.split(":", 1)[0]
    print(f"proxy_fetch over HTTPS keep-alive to a local upstream, store: {store}")
    for name, values in samples.items():
        print(f"  {name:8s} {describe_ms(values)}")
    base = statistics.median(samples["guard"]) * 1000
    for name in ("public", "service"):
        extra = statistics.median(samples[name]) * 1000 - base
        print(f"  {name} adds {extra:+.2f} ms at p50 over the bare guard")


if __name__ == "__main__":
    main()
