"""Helpers shared by the benchmarks: percentiles, a real uvicorn server in a thread, a
throwaway PostgreSQL schema, and a process's CPU time."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import sqlalchemy as sa
import uvicorn

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


@contextlib.contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A URL of a fresh, empty schema of the PostgreSQL at ``base``, dropped afterwards."""
    schema = f"bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process ``pid`` has used so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
