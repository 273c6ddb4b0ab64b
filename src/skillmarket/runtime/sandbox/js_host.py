"""Host handle of one JavaScript worker process (see ``_js_worker.py`` for the other side).

A run sends one ``run`` frame and then serves the worker's ``fetch`` frames concurrently
(each answered with a ``settle``) until ``done`` arrives. The worker enforces the time limit
itself, but on CPU time (``clock()``): on a loaded machine a busy script reaches the wall
deadline before its CPU budget. So the host keeps a wall-clock guard on top: ``GRACE_S`` after
the deadline it asks the worker to ``abort`` (enough when the script is only waiting on
fetches), and if that is not answered within ``ABORT_WAIT_S`` it kills the worker, which the
pool replaces. A timed-out worker is recycled either way, so killing it costs nothing extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
from typing import Any

from skillmarket.runtime.errors import SandboxUnavailable
from skillmarket.runtime.sandbox.bridge import FetchBridge
from skillmarket.runtime.sandbox.channel import (
    ChannelClosed,
    FrameChannel,
    ProtocolViolation,
)
from skillmarket.runtime.sandbox.interfaces import Limits, SandboxConfig
from skillmarket.runtime.sandbox.process import WorkerProcess, start_worker

GRACE_S = 0.05
ABORT_WAIT_S = 0.05
_HEADROOM = 64 << 20  # worker interpreter + engine bookkeeping on top of the largest profile
_MAX_PROFILE_MEMORY = 128 << 20


class JsWorker:
    """One locked-down QuickJS worker; one invocation at a time."""

    def __init__(self, proc: WorkerProcess, channel: FrameChannel):
        self.proc = proc
        self.channel = channel
        self.runs = 0
        self._rid = 0
        self._dead = False

    @classmethod
    async def start(cls, config: SandboxConfig) -> JsWorker:
        """Start a worker and wait until it reports that every layer is applied."""
        max_frame = config.frame_limit()
        settings = {
            "quickjs_path": _quickjs_dir(),
            "memory_ceiling": _MAX_PROFILE_MEMORY + _HEADROOM,
            "max_frame": max_frame,
        }
        proc = await start_worker("_js_worker.py", config, settings, socket.SOCK_STREAM)
        channel = FrameChannel(proc.sock, max_frame)
        try:
            hello = await asyncio.wait_for(channel.recv(), config.start_timeout_s)
        except (TimeoutError, ChannelClosed, ProtocolViolation) as exc:
            await proc.kill()
            raise SandboxUnavailable(f"JavaScript worker did not start: {exc!r}") from exc
        if hello.get("type") != "ready":
            await proc.kill()
            raise SandboxUnavailable(
                f"JavaScript sandbox refused to start: {hello.get('message')}",
                details={"layer": hello.get("layer")},
            )
        return cls(proc, channel)

    @property
    def pid(self) -> int:
        """The worker process id."""
        return self.proc.pid

    @property
    def alive(self) -> bool:
        """False once the worker died, was killed or broke protocol."""
        return not self._dead and self.proc.process.returncode is None and not self.proc.exited

    async def close(self) -> None:
        """Kill the worker process."""
        self._dead = True
        await self.proc.kill()

    async def run(
        self, code: str, input_: str, limits: Limits, bridge: FetchBridge
    ) -> dict[str, Any]:
        """Run one script; returns the outcome dict (never raises for script failures)."""
        self.runs += 1
        self._rid += 1
        rid = self._rid
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.timeout_ms / 1000
        tasks: set[asyncio.Task[None]] = set()
        fetches = 0
        try:
            await self.channel.send(
                {
                    "type": "run",
                    "rid": rid,
                    "timeout_ms": limits.timeout_ms,
                    "memory_bytes": limits.memory_bytes,
                    "max_output": limits.max_output_bytes,
                    "max_fetches": bridge.max_fetches,
                },
                raw={"code": code, "input": input_},
            )
            while True:
                frame = await self._next(rid, deadline + GRACE_S - loop.time())
                if frame is None:
                    return await self._abort(rid)
                if frame.get("type") == "done":
                    return frame
                if frame.get("type") == "fetch":
                    fetches += 1
                    if fetches > bridge.max_fetches:  # the prelude stops at the limit
                        raise ProtocolViolation("more fetch requests than the prelude allows")
                    task = asyncio.ensure_future(
                        self._settle(rid, frame.get("request"), bridge, deadline)
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        except (ChannelClosed, ProtocolViolation) as exc:
            await self.close()
            return {"kind": "died", "reason": type(exc).__name__}
        finally:
            for task in tasks:
                task.cancel()

    async def _next(self, rid: int, timeout: float) -> dict[str, Any] | None:
        while True:
            try:
                async with asyncio.timeout(max(timeout, 0)):  # no Task per call, unlike wait_for
                    frame = await self.channel.recv()
            except TimeoutError:
                return None
            if frame.get("rid") == rid:
                return frame

    async def _settle(self, rid: int, request: Any, bridge: FetchBridge, deadline: float) -> None:
        fetch_id = request.get("id") if isinstance(request, dict) else None
        if (
            not isinstance(fetch_id, int)
            or fetch_id in bridge.requests
            or fetch_id in bridge.errors
        ):
            await self.close()  # the prelude never does this: the worker is compromised
            return
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            ok, payload = await asyncio.wait_for(bridge.serve(fetch_id, request), max(remaining, 0))
        except TimeoutError:
            return  # the run's own deadline handling takes over
        with contextlib.suppress(ChannelClosed):
            await self.channel.send(
                {"type": "settle", "rid": rid, "id": fetch_id, "ok": ok, "payload": payload}
            )

    async def _abort(self, rid: int) -> dict[str, Any]:
        """Past the deadline: ask the worker to drop the run, else kill it."""
        with contextlib.suppress(ChannelClosed):
            await self.channel.send({"type": "abort", "rid": rid})
            frame = await self._next(rid, ABORT_WAIT_S)
            if frame is not None and frame.get("type") == "done":
                frame["kind"] = (
                    "timeout" if frame.get("kind") in ("aborted", "timeout") else frame["kind"]
                )
                return frame
        await self.close()
        return {"kind": "timeout"}


def _quickjs_dir() -> str:
    """Where the engine's extension module lives, found without loading it into the host."""
    spec = importlib.util.find_spec("_quickjs")
    if spec is None or spec.origin is None:
        raise SandboxUnavailable("quickjs: the quickjs-ng package is not installed")
    return os.path.dirname(os.path.abspath(spec.origin))
