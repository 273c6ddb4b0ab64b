"""Host handle of one Python zygote (see ``_py_zygote.py`` and ``_py_child.py``).

Per run the host makes a fresh socketpair, sends one end with the ``run`` control message
(the zygote forks a child onto it), writes the script to its own end, serves ``fetch`` frames
synchronously (the child blocks on each), and at the deadline asks the zygote to SIGKILL the
child. The zygote's ``exit`` report (status, CPU, peak RSS) closes every run, so the control
socket never accumulates unread messages (reference/sandbox.md §7.8).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from typing import Any

from skillmarket.runtime.errors import SandboxUnavailable
from skillmarket.runtime.sandbox.bridge import FetchBridge
from skillmarket.runtime.sandbox.channel import (
    ChannelClosed,
    ControlChannel,
    FrameChannel,
    ProtocolViolation,
)
from skillmarket.runtime.sandbox.interfaces import Limits, SandboxConfig
from skillmarket.runtime.sandbox.process import WorkerProcess, start_worker

EXIT_WAIT_S = 2.0


class Zygote:
    """One warm Python zygote; one child (invocation) at a time."""

    def __init__(self, proc: WorkerProcess, control: ControlChannel, config: SandboxConfig):
        self.proc = proc
        self.control = control
        self.config = config
        self.runs = 0
        self._dead = False

    @classmethod
    async def start(cls, config: SandboxConfig) -> Zygote:
        """Start a zygote; it proves with a trial child that every layer applies."""
        proc = await start_worker("_py_zygote.py", config, {}, socket.SOCK_SEQPACKET)
        control = ControlChannel(proc.sock)
        try:
            hello = await asyncio.wait_for(control.recv(), config.start_timeout_s)
        except (TimeoutError, ChannelClosed, ProtocolViolation) as exc:
            await proc.kill()
            raise SandboxUnavailable(f"Python zygote did not start: {exc!r}") from exc
        if hello.get("type") != "ready":
            await proc.kill()
            raise SandboxUnavailable(
                f"Python sandbox refused to start: {hello.get('message')}",
                details={"layer": hello.get("layer")},
            )
        return cls(proc, control, config)

    @property
    def pid(self) -> int:
        """The worker process id."""
        return self.proc.pid

    @property
    def alive(self) -> bool:
        """False once the zygote died or was killed."""
        return not self._dead and self.proc.process.returncode is None and not self.proc.exited

    async def close(self) -> None:
        """Kill the zygote (its children die with it: parent-death signal)."""
        self._dead = True
        await self.proc.kill()

    async def run(
        self, code: str, input_: str, limits: Limits, bridge: FetchBridge
    ) -> dict[str, Any]:
        """Fork a child for one script; returns the outcome dict."""
        self.runs += 1
        max_frame = self.config.frame_limit()
        ours, theirs = socket.socketpair()
        channel = FrameChannel(ours, max_frame)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.timeout_ms / 1000
        try:
            await self.control.send(
                {
                    "op": "run",
                    "id": self.runs,
                    "memory_bytes": limits.memory_bytes,
                    "cpu_seconds": limits.cpu_seconds,
                    "max_frame": max_frame,
                },
                fd=theirs.fileno(),
            )
            theirs.close()
            await channel.send(
                {"max_output": limits.max_output_bytes}, raw={"code": code, "input": input_}
            )
            done = await self._converse(channel, bridge, deadline)
            report = None
            if done is not None and done.pop("_kill", False):
                await self.control.send({"op": "kill", "id": self.runs})
                await asyncio.wait_for(self._exit_report(), EXIT_WAIT_S)
                return done
            if done is not None:
                # A child exits right after its last frame; one that lingers is killed at the
                # deadline like any other (a script can forge frames, not outlive its budget).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(deadline - loop.time(), 0.05)):
                        report = await self._exit_report()
            killed_by_us = report is None
            if killed_by_us:
                await self.control.send({"op": "kill", "id": self.runs})
                report = await asyncio.wait_for(self._exit_report(), EXIT_WAIT_S)
        except (ChannelClosed, ProtocolViolation, TimeoutError) as exc:
            await self.close()
            return {"kind": "died", "reason": f"zygote: {type(exc).__name__}"}
        finally:
            theirs.close()
            channel.close()
        return _combine(done, report, limits, killed_by_us)

    async def _converse(
        self, channel: FrameChannel, bridge: FetchBridge, deadline: float
    ) -> dict[str, Any] | None:
        """Serve the child until its ``done`` frame; None when the deadline passed first."""
        loop = asyncio.get_running_loop()
        fetch_id = 0
        while True:
            try:
                async with asyncio.timeout_at(deadline):  # no Task per call, unlike wait_for
                    frame = await channel.recv()
            except TimeoutError:
                return None
            except (ChannelClosed, ProtocolViolation):
                return {"kind": "_closed"}  # the exit report says how the child ended
            if frame.get("type") in ("done", "fatal"):
                return frame
            if frame.get("type") != "fetch":
                return {"kind": "_closed"}
            fetch_id += 1
            if fetch_id > 2 * bridge.max_fetches + 10:
                # Refusals past the limit are cheap but not free; a script that keeps asking
                # (or writes raw frames) would otherwise spend host CPU until its deadline.
                return {
                    "kind": "error",
                    "name": "ProxyFetchError",
                    "line": None,
                    "_kill": True,
                    "reason": "fetch_flood",
                    "message": f"too many proxy_fetch calls (limit {bridge.max_fetches})",
                }
            try:
                ok, payload = await asyncio.wait_for(
                    bridge.serve(fetch_id, frame.get("request")), max(deadline - loop.time(), 0)
                )
            except TimeoutError:
                return None
            with contextlib.suppress(ChannelClosed):
                await channel.send({"type": "settle", "ok": ok, "payload": payload})

    async def _exit_report(self) -> dict[str, Any]:
        while True:
            message = await self.control.recv()
            if message.get("type") == "exit" and message.get("id") == self.runs:
                return message


def _combine(
    done: dict[str, Any] | None, report: dict[str, Any], limits: Limits, killed: bool
) -> dict[str, Any]:
    """Merge the child's own verdict with how the zygote saw it end."""
    cpu_ms = float(report.get("cpu_ms") or 0.0)
    status = int(report.get("status") or 0)
    term_signal = status & 0x7F
    if done is not None and done.get("type") == "fatal":
        return {"kind": "unavailable", "layer": done.get("layer"), "message": done.get("message")}
    if done is not None and done.get("type") == "done" and status == 0:
        return {**done, "cpu_ms": cpu_ms}
    if killed:
        return {"kind": "timeout", "cpu_ms": cpu_ms}
    if (
        term_signal in (signal.SIGXCPU, signal.SIGKILL)
        and cpu_ms >= limits.cpu_seconds * 1000 * 0.9
    ):
        return {"kind": "timeout", "cpu_ms": cpu_ms, "reason": "cpu"}
    maxrss = int(report.get("maxrss_kb") or 0) * 1024
    if term_signal and maxrss >= limits.memory_bytes * 0.9:
        return {"kind": "memory", "cpu_ms": cpu_ms}
    reason = f"signal {term_signal}" if term_signal else f"exit status {status >> 8}"
    return {"kind": "died", "reason": reason, "cpu_ms": cpu_ms}
