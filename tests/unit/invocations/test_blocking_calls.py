"""The invocation engine's own thread pool for blocking service calls."""

from __future__ import annotations

import asyncio
import threading

import pytest

from skillmarket.config import Settings
from skillmarket.invocations.runner import BlockingCalls


def test_calls_run_on_the_pool_with_their_arguments_and_errors():
    calls = BlockingCalls(threads=1)

    def where(a, *, b):
        return threading.current_thread().name, a + b

    def fails():
        raise ValueError("from the pool")

    async def main():
        name, total = await calls(where, 2, b=3)
        with pytest.raises(ValueError, match="from the pool"):
            await calls(fails)
        return name, total

    try:
        name, total = asyncio.run(main())
    finally:
        calls.close()
    assert name.startswith("skillmarket-invoke") and total == 5


def test_one_thread_on_sqlite_eight_on_postgresql_unless_set(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert (settings.invocation_threads_for(True), settings.invocation_threads_for(False)) == (1, 8)
    assert Settings(data_dir=tmp_path, invocation_threads=3).invocation_threads_for(True) == 3
