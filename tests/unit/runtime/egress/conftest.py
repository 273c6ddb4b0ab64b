"""Egress unit tests run on asyncio (the installed trio is older than anyio supports)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """The event loop the ``anyio`` marker runs tests on."""
    return "asyncio"
