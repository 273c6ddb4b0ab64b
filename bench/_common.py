"""Helpers shared by the benchmarks: percentiles and a real uvicorn server in a thread."""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import uvicorn


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
