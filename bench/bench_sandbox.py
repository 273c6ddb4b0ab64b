"""Benchmark of the sandboxed script runtime (prints figures; asserts nothing).

    python bench/bench_sandbox.py [--quick]

Workload (as in reference/sandbox.md): a 200-order JSON document of about 17 KB; the script
aggregates per customer, sorts, keeps the top 5, reads a month from a date and returns JSON.
Figures: per-invocation latency p50/p95 per language, throughput with every core busy,
proxy_fetch overhead, worker cold start, timeout overshoot, time to stop a memory bomb.
Goals on the reference machine (2 cores): JS p50 <= 1 ms, Python p50 <= 5 ms, Python >= 350/s
on two cores, overshoot <= 250 ms, memory bomb stopped within 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from skillmarket.runtime.sandbox import (
    FetchResponse,
    SandboxConfig,
    ScriptMemoryExceeded,
    ScriptRuntime,
    ScriptTimeout,
)
from skillmarket.runtime.sandbox.js_host import JsWorker
from skillmarket.runtime.sandbox.py_host import Zygote
from skillmarket.runtime.sandbox.testing import LocalUpstream

JS_TRANSFORM = """const orders = JSON.parse(input).orders;
const totals = {};
for (const o of orders) totals[o.customer] = (totals[o.customer] || 0) + o.amount;
const top = Object.entries(totals).sort((a, b) => b[1] - a[1]).slice(0, 5);
const month = new Date(orders[0].date).getUTCMonth() + 1;
return JSON.stringify({top, month});"""

PY_TRANSFORM = """import json, datetime
orders = json.loads(input)["orders"]
totals = {}
for o in orders:
    totals[o["customer"]] = totals.get(o["customer"], 0) + o["amount"]
top = sorted(totals.items(), key=lambda kv: -kv[1])[:5]
month = datetime.date.fromisoformat(orders[0]["date"][:10]).month
output = json.dumps({"top": top, "month": month})"""

JS_FETCH = (
    'const r = await proxy_fetch("https://api.example.com/x", {service: "bench"}); return r.body'
)
PY_FETCH = 'output = proxy_fetch("https://api.example.com/x", {"service": "bench"})["body"]'
JS_NOFETCH = 'return "ok"'
PY_NOFETCH = 'output = "ok"'


def orders_document() -> str:
    """The 200-order input (~17 KB)."""
    rng = random.Random(7)
    orders = [
        {
            "id": i,
            "customer": f"cust-{rng.randrange(40):02d}",
            "amount": round(rng.uniform(5, 500), 2),
            "date": f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d}T10:00:00Z",
            "sku": f"SKU{i:05d}",
        }
        for i in range(200)
    ]
    return json.dumps({"orders": orders})


def pct(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) of the samples."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(make: Callable[[], Awaitable[object]], n: int) -> list[float]:
    """Wall time in ms of n sequential awaits."""
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await make()
        out.append((time.perf_counter() - start) * 1000)
    return out


async def throughput(
    runtime: ScriptRuntime, language: str, code: str, doc: str, seconds: float
) -> float:
    """Invocations per second with 2 x pool size callers in parallel."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def caller() -> None:
        """Invoke back to back until the deadline."""
        nonlocal done
        while time.perf_counter() < deadline:
            await runtime.run(language, code, doc)
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(2 * runtime.config.workers(language))))
    return done / (time.perf_counter() - start)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process, its reaped children and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    total = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return total + sum(tree_cpu_seconds(int(child)) for child in children)


async def cpu_per_invocation(runtime: ScriptRuntime, language: str, code: str, doc: str, n: int):
    """(host ms, sandbox ms) of CPU per invocation, sequentially, on every worker of the pool."""
    pids = runtime.worker_pids()[language]
    host0, work0 = time.process_time(), sum(map(tree_cpu_seconds, pids))
    for _ in range(n):
        await runtime.run(language, code, doc)
    host1, work1 = time.process_time(), sum(map(tree_cpu_seconds, pids))
    return (host1 - host0) / n * 1000, (work1 - work0) / n * 1000


async def stop_time(
    runtime: ScriptRuntime, language: str, code: str, error: type, **kwargs
) -> float:
    """Seconds until a run ends with ``error``."""
    start = time.perf_counter()
    try:
        await runtime.run(language, code, "", **kwargs)
    except error:
        return time.perf_counter() - start
    raise AssertionError(f"{language} did not fail with {error.__name__}")


async def cold_starts(config: SandboxConfig, n: int) -> dict[str, list[float]]:
    """Start-up time of a JS worker and of a zygote (including its trial child), in ms."""
    out: dict[str, list[float]] = {"javascript": [], "python": []}
    for _ in range(n):
        for language, cls in (("javascript", JsWorker), ("python", Zygote)):
            start = time.perf_counter()
            worker = await cls.start(config)
            out[language].append((time.perf_counter() - start) * 1000)
            await worker.close()
    return out


def row(name: str, value: str, goal: str = "") -> None:
    """Print one result line."""
    print(f"  {name:<46} {value:>22}   {goal}")


async def main(quick: bool) -> None:
    """Run every measurement and print the figures."""
    n_js, n_py, tp_seconds = (100, 60, 1.5) if quick else (400, 250, 4.0)
    doc = orders_document()
    upstream = LocalUpstream({"https://api.example.com/": lambda r: FetchResponse(200, {}, "pong")})
    runtime = ScriptRuntime(SandboxConfig(recycle_after=100_000))  # no recycling mid-measure
    await runtime.start()
    config = runtime.config
    print(f"load average {os.getloadavg()[0]:.2f} (other processes skew wall-clock figures)")
    print(
        f"sandbox benchmark: {os.cpu_count()} cores, pools {config.workers('javascript')} JS "
        f"workers / {config.workers('python')} zygotes, bwrap layer {config.bwrap}, "
        f"input {len(doc)} bytes"
    )
    try:
        for language, code in (("javascript", JS_TRANSFORM), ("python", PY_TRANSFORM)):
            await timed(lambda language=language, code=code: runtime.run(language, code, doc), 10)
        print("latency per invocation (sequential, end to end through the pool)")
        for language, code, n, goal in (
            ("javascript", JS_TRANSFORM, n_js, "goal p50 <= 1 ms"),
            ("python", PY_TRANSFORM, n_py, "goal p50 <= 5 ms"),
        ):
            samples = await timed(
                lambda language=language, code=code: runtime.run(language, code, doc), n
            )
            row(
                f"{language} transform p50 / p95",
                f"{pct(samples, 0.5):.2f} / {pct(samples, 0.95):.2f} ms",
                goal,
            )

        print("throughput, all cores busy (2 callers per worker)")
        for language, code, goal in (
            ("javascript", JS_TRANSFORM, ""),
            ("python", PY_TRANSFORM, "goal >= 350/s"),
        ):
            rate = await throughput(runtime, language, code, doc, tp_seconds)
            row(f"{language} transform", f"{rate:.0f} /s", goal)

        print("CPU per invocation (load-independent; capacity = cores / CPU per invocation)")
        for language, code, n in (
            ("javascript", JS_TRANSFORM, n_js),
            ("python", PY_TRANSFORM, n_py),
        ):
            host, work = await cpu_per_invocation(runtime, language, code, doc, n)
            capacity = (os.cpu_count() or 1) * 1000 / (host + work)
            row(
                f"{language} host + sandbox CPU",
                f"{host:.2f} + {work:.2f} ms",
                f"~{capacity:.0f}/s",
            )

        print("proxy_fetch overhead (one fetch to a local upstream, minus a run without it)")
        for language, with_fetch, without in (
            ("javascript", JS_FETCH, JS_NOFETCH),
            ("python", PY_FETCH, PY_NOFETCH),
        ):
            n = n_js if language == "javascript" else n_py
            base = await timed(lambda language=language, c=without: runtime.run(language, c, ""), n)
            fetch = await timed(
                lambda language=language, c=with_fetch: runtime.run(
                    language, c, "", proxy_fetch=upstream
                ),
                n,
            )
            with_p50, without_p50 = pct(fetch, 0.5), pct(base, 0.5)
            row(
                f"{language} p50 with / without / overhead",
                f"{with_p50:.2f} / {without_p50:.2f} / {with_p50 - without_p50:.2f} ms",
                "goal overhead <= 1 ms",
            )

        print("worker cold start (process start + lockdown; zygote includes its trial child)")
        starts = await cold_starts(config, 3 if quick else 7)
        for language, samples in starts.items():
            row(
                f"{language} p50 / max",
                f"{statistics.median(samples):.1f} / {max(samples):.1f} ms",
                "goal <= 100 ms",
            )

        print("timeout overshoot (infinite loop; time past the configured limit)")
        for language, code in (
            ("javascript", "for (;;) {}"),
            ("javascript", "await null; for (;;) {}"),
            ("python", "while True: pass"),
            ("python", "import time\ntime.sleep(60)"),
        ):
            for limit in (1000, 2000):
                elapsed = await stop_time(runtime, language, code, ScriptTimeout, timeout_ms=limit)
                label = code.splitlines()[-1][:22]
                row(
                    f"{language} {label!r} @ {limit} ms",
                    f"+{elapsed * 1000 - limit:.0f} ms",
                    "goal <= 250 ms",
                )

        print("memory bomb stopped (time until SCRIPT_MEMORY)")
        bombs = (
            ("javascript", "const a = []; for (;;) a.push(new Array(10000).fill(7))"),
            ("javascript", 'let s = "xy"; for (;;) s += s'),
            ("python", "a = []\nwhile True: a.append(bytearray(1 << 20))"),
            ("python", "x = bytearray(1 << 30)"),
        )
        for language, code in bombs:
            for profile in ("script", "pipeline"):
                took = await stop_time(
                    runtime, language, code, ScriptMemoryExceeded, profile=profile
                )
                row(
                    f"{language} {code[:24]!r} {profile}", f"{took * 1000:.0f} ms", "goal <= 500 ms"
                )
    finally:
        await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    asyncio.run(main(parser.parse_args().quick))
