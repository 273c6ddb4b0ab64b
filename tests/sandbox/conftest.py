"""Fixtures for the escape and pitfall suites: one real, started runtime per module."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from skillmarket.runtime.sandbox import SandboxConfig
from skillmarket.runtime.sandbox.testing import LocalUpstream, SyncScriptRuntime, echo

SECRET_ENV = "SKILLMARKET_TEST_SANDBOX_SECRET"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SyncScriptRuntime]:
    """A started runtime with two workers per language (the host env holds a planted secret)."""
    os.environ[SECRET_ENV] = "s3cret-value"
    runtime = SyncScriptRuntime(SandboxConfig(js_workers=2, python_workers=2))
    try:
        yield runtime
    finally:
        runtime.close()
        os.environ.pop(SECRET_ENV, None)


@pytest.fixture
def upstream() -> LocalUpstream:
    """A local proxy_fetch upstream: https://api.example.com/ echoes, everything else is blocked."""
    return LocalUpstream({"https://api.example.com/": echo})


class Listeners:
    """A TCP server and a UDP socket on 127.0.0.1 that no sandbox may ever reach."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        for sock in (self.tcp, self.udp):
            sock.setblocking(False)
        self.tcp_port = self.tcp.getsockname()[1]
        self.udp_port = self.udp.getsockname()[1]

    def assert_untouched(self) -> None:
        """Neither listener saw a connection or a datagram."""
        with pytest.raises(BlockingIOError):
            self.tcp.accept()
        with pytest.raises(BlockingIOError):
            self.udp.recvfrom(64)

    def close(self) -> None:
        """Close both sockets."""
        self.tcp.close()
        self.udp.close()


@pytest.fixture
def listeners() -> Iterator[Listeners]:
    """Local TCP and UDP listeners for network escape attempts."""
    found = Listeners()
    try:
        yield found
    finally:
        found.close()
