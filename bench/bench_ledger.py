"""Ledger benchmark: postings per second, and the latency billing adds to an invoke.

Run: ``python bench/bench_ledger.py [--invocations 2000] [--threads 8]``. Prints figures only;
nothing here asserts a timing. Runs on SQLite in a temporary data dir, and on PostgreSQL too
when ``SKILLMARKET_TEST_DATABASE_URL`` is set (in a throwaway schema, dropped afterwards).

Per database:

1. deposits per second: one entry, one posting, its audit event, one transaction each;
2. hold + capture of a typical paid invocation (a price, an LLM step and a script step): eight
   postings in two transactions; postings per second, and p50/p99 of ``place_hold``,
   ``capture`` and the two together, which is what billing adds to an invoke;
3. the same from ``--threads`` threads at once (throughput and tail under contention);
4. ``verify`` over everything written (one pass over the postings).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

# Measure this checkout's code, even when another copy of skillmarket is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PG_ENV, describe_ms, percentile, throwaway_schema  # noqa: E402

from skillmarket.config import Settings  # noqa: E402
from skillmarket.ledger.models import MeteredStep  # noqa: E402
from skillmarket.ledger.tables import ledger_postings  # noqa: E402
from skillmarket.services import Services, open_services  # noqa: E402

STEPS = [
    MeteredStep(step=0, type="llm", model="openai/gpt-4o", upstream_micros=3_304),
    MeteredStep(step=1, type="script", execution_ms=145, upstream_micros=348),
]


@dataclass(frozen=True)
class BenchSkill:
    """A 5-cent skill as the ledger sees it."""

    id: str
    publisher_id: str
    price_cents: int = 5


@contextmanager
def stores() -> Iterator[tuple[str, Services]]:
    """SQLite in a temp dir, then PostgreSQL in a throwaway schema when configured."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), seed_examples=False)
        services = open_services(settings)
        try:
            yield "sqlite", services
        finally:
            services.close()


@contextmanager
def postgres_store(base: str) -> Iterator[tuple[str, Services]]:
    """A migrated store in a fresh schema of the PostgreSQL at ``base``."""
    with throwaway_schema(base, "bench") as url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=url, seed_examples=False)
        services = open_services(settings)
        try:
            yield "postgresql", services
        finally:
            services.close()


def postings(services: Services) -> int:
    """How many postings the store holds."""
    with services.db.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ledger_postings)).scalar_one()


def bill_one(services: Services, buyer_id: str, skill: BenchSkill, invocation: str):
    """Hold then capture one invocation; return (hold seconds, capture seconds)."""
    t0 = time.perf_counter()
    services.ledger.place_hold(buyer_id, invocation, skill=skill, estimate=5_000)
    t1 = time.perf_counter()
    services.ledger.capture(invocation, outcome="succeeded", compute=STEPS)
    return t1 - t0, time.perf_counter() - t1


def run(label: str, services: Services, invocations: int, threads: int) -> None:
    """Measure one store and print its figures."""
    print(f"\n== {label}")
    buyer, _ = services.identity.create_operator(f"bench-buyer-{label}", "developer")
    publisher, _ = services.identity.create_operator(f"bench-pub-{label}", "studio")
    skill = BenchSkill(id="skl_bench", publisher_id=publisher.id)

    # 1. Deposits: the simplest use case, one posting each.
    count = max(invocations // 2, 100)
    started = time.perf_counter()
    for _ in range(count):
        services.ledger.deposit(buyer.id, 1_000_000)
    elapsed = time.perf_counter() - started
    print(f"deposits (1 posting, 1 transaction each): {count / elapsed:,.0f}/s")

    # 2. Hold + capture, one after another: the latency billing adds to one invoke.
    for n in range(50):  # warm up the pool and the statement cache
        bill_one(services, buyer.id, skill, f"sinv_warm{n}")
    before, holds, captures = postings(services), [], []
    started = time.perf_counter()
    for n in range(invocations):
        hold, capture = bill_one(services, buyer.id, skill, f"sinv_seq{n}")
        holds.append(hold)
        captures.append(capture)
    elapsed = time.perf_counter() - started
    written = postings(services) - before
    print(
        f"hold + capture, sequential: {written / elapsed:,.0f} postings/s "
        f"({invocations / elapsed:,.0f} invocations/s, {written // invocations} postings each)"
    )
    print(f"  place_hold        {describe_ms(holds)}")
    print(f"  capture           {describe_ms(captures)}")
    together = [h + c for h, c in zip(holds, captures, strict=True)]
    print(f"  hold + capture    {describe_ms(together)}")

    # 3. The same from several threads at once.
    before = postings(services)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pairs = list(
            pool.map(
                lambda n: bill_one(services, buyer.id, skill, f"sinv_par{n}"), range(invocations)
            )
        )
    elapsed = time.perf_counter() - started
    written = postings(services) - before
    together = [(h + c) * 1000 for h, c in pairs]
    print(
        f"hold + capture, {threads} threads: {written / elapsed:,.0f} postings/s "
        f"({invocations / elapsed:,.0f} invocations/s); hold + capture "
        f"p50 {percentile(together, 50):.2f} ms  p99 {percentile(together, 99):.2f} ms"
    )

    # 4. Checking the books.
    started = time.perf_counter()
    check = services.ledger.verify()
    print(
        f"verify: {'ok' if check.ok else 'FAILED'} over {check.postings:,} postings "
        f"in {(time.perf_counter() - started) * 1000:.0f} ms"
    )


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=2000, help="hold + capture pairs")
    parser.add_argument("--threads", type=int, default=8, help="threads for the parallel run")
    args = parser.parse_args()
    print(f"ledger benchmark: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with stores() as (label, services):
        run(label, services, args.invocations, args.threads)
    base = os.environ.get(PG_ENV)
    if base:
        with postgres_store(base) as (label, services):
            run(label, services, args.invocations, args.threads)
    else:
        print(f"\n(PostgreSQL skipped: set {PG_ENV} to include it)")


if __name__ == "__main__":
    main()
