"""Fixtures for runtime unit tests that need a real, started sandbox runtime."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from skillmarket.runtime.sandbox import SandboxConfig
from skillmarket.runtime.sandbox.testing import LocalUpstream, SyncScriptRuntime, echo


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SyncScriptRuntime]:
    """A started runtime: two workers per language, recycled after 25 runs."""
    runtime = SyncScriptRuntime(SandboxConfig(js_workers=2, python_workers=2, recycle_after=25))
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture
def upstream() -> LocalUpstream:
    """A local proxy_fetch upstream that echoes https://api.example.com/ and blocks the rest."""
    return LocalUpstream({"https://api.example.com/": echo})
