"""Benchmark the LLM step executor's own overhead against a local fake upstream.

Run: ``python bench/bench_llm.py [--steps 500] [--concurrency 16]``. Prints figures only;
nothing here asserts a timing. The upstream is ``tests/support/openai_server.py`` answering at
once, so the figures are the executor's cost (openai client, HTTP on loopback, strict parsing,
metering) plus the fake server's, not an LLM's. Real calls take 0.5–30 s; this overhead should
stay in the low milliseconds so it never matters.

Figures: sequential steps (latency per step), concurrent steps on one executor (steps/s), and
a 503-then-success step (one retry with a zero back-off).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Measure this checkout's code, even when another copy of skillmarket is installed.
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from skillmarket.catalog.manifest import LlmStep  # noqa: E402
from skillmarket.runtime.steps.llm import LlmStepExecutor  # noqa: E402
from tests.support.openai_server import OpenAIServer, Reply  # noqa: E402

STEP = LlmStep(type="llm", model="openai/gpt-4o", system_prompt="s", max_tokens=200)
PROMPT = "You summarise invoices. " * 20
INPUT = '{"items": [{"description": "widget", "price": 9.5}], "currency": "EUR"}'


def describe_ms(samples: list[float]) -> str:
    """p50 / p95 / max / mean of second-valued samples, in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    p = lambda q: ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]  # noqa: E731
    return (
        f"p50 {p(0.5):.2f} ms  p95 {p(0.95):.2f} ms  max {ms[-1]:.2f} ms  "
        f"mean {statistics.fmean(ms):.2f} ms  (n={len(ms)})"
    )


async def sequential(executor: LlmStepExecutor, steps: int) -> list[float]:
    """Latency of one step after another."""
    samples = []
    for i in range(steps):
        started = time.perf_counter()
        await executor.run(STEP, PROMPT, INPUT, invocation_id=f"sinv_{i}")
        samples.append(time.perf_counter() - started)
    return samples


async def concurrent(executor: LlmStepExecutor, steps: int, width: int) -> float:
    """Steps per second with ``width`` steps in flight on one executor."""
    gate = asyncio.Semaphore(width)

    async def one(i: int) -> None:
        async with gate:
            await executor.run(STEP, PROMPT, INPUT, invocation_id=f"sinv_c{i}")

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(steps)))
    return steps / (time.perf_counter() - started)


async def main(args: argparse.Namespace, upstream: OpenAIServer) -> None:
    """Run the three measurements and print them."""
    async with LlmStepExecutor(
        base_url=upstream.base_url, api_key="k", retry_backoff_seconds=0
    ) as executor:
        await sequential(executor, 20)  # warm-up: imports, connection pool
        print(f"sequential      {describe_ms(await sequential(executor, args.steps))}")
        rate = await concurrent(executor, args.steps, args.concurrency)
        print(f"concurrent x{args.concurrency:<3} {rate:,.0f} steps/s")
        retried = []
        logging.getLogger("skillmarket.runtime.steps.llm").setLevel(logging.ERROR)  # quiet retries
        for i in range(min(args.steps, 100)):
            upstream.script(Reply.error(503))
            started = time.perf_counter()
            result = await executor.run(STEP, PROMPT, INPUT, invocation_id=f"sinv_r{i}")
            retried.append(time.perf_counter() - started)
            assert result.attempts == 2
        print(f"503 then ok     {describe_ms(retried)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()
    with OpenAIServer() as server:
        asyncio.run(main(arguments, server))
