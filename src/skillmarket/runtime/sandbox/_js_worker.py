"""JavaScript worker: a long-lived, locked-down process that runs each script in a fresh QuickJS
context (started by the host as ``python -I -S _js_worker.py CONFIG_JSON``).

Start-up imports ``_quickjs`` and reads the prelude, then applies every kernel layer once
(``_lockdown.lock_down``) and only then says ``ready``. Each ``run`` gets a new ``Context`` with
memory, stack and time limits, the lockdown prelude, and the script wrapped as the body of an
``async function (input)``. Making a context and evaluating the prelude is most of a run's cost,
so the worker makes the next run's context while it waits for the next frame, and frees the
last one only after the answer is sent: a context still serves exactly one run, but its set-up
and tear-down are off the critical path. ``proxy_fetch`` requests leave as ``fetch`` frames;
the host answers with ``settle`` (or ``abort``). The time limit is re-armed with the remaining
wall budget before every evaluation segment, so a loop after an ``await`` is interrupted too.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

_LINE = re.compile(r"<input>:(\d+)(?::\d+)?")
_STACK_BYTES = 1 << 20
_PRELUDE_SECONDS = 5.0  # the prelude is ours and runs in microseconds; this is a backstop
_MEMORY_WORDS = ("out of memory", "string too long")


class _Stop(Exception):
    """Ends a run early with a finished outcome."""

    def __init__(self, outcome: dict):
        super().__init__(outcome.get("kind"))
        self.outcome = outcome


def _line_of(text: str) -> int | None:
    match = _LINE.search(text or "")
    return int(match.group(1)) if match else None


def _from_exception(exc: Exception, ctx) -> dict:
    """Turn a JSException / StackOverflow escaping the engine into an outcome."""
    text = str(exc)
    head = text.split("\n", 1)[0]
    if head.startswith("InternalError: interrupted"):
        return {"kind": "timeout", "recycle": True}
    if any(word in head for word in _MEMORY_WORDS):
        return {"kind": "memory", "message": head, "recycle": True}
    if head.strip() == "null" and ctx is not None:
        usage = ctx.memory()
        if usage["malloc_size"] >= 0.8 * usage["malloc_limit"]:
            return {"kind": "memory", "message": "out of memory", "recycle": True}
    name, _, message = head.partition(": ")
    outcome = {
        "kind": "error",
        "name": name or "Error",
        "message": message or head,
        "line": _line_of(text),
    }
    if type(exc).__name__ == "StackOverflow" or "call stack size exceeded" in head:
        outcome.update(reason="stack_overflow", recycle=True)
    return outcome


def _from_failure(info: dict) -> dict:
    """Turn the prelude's description of a rejected script promise into an outcome."""
    kind = info.get("kind", "error")
    message = str(info.get("message", ""))
    if kind == "error" and any(word in message for word in _MEMORY_WORDS):
        return {"kind": "memory", "message": message, "recycle": True}
    if kind == "error" and info.get("name") == "object" and message == "null":
        # When even the "out of memory" error cannot be allocated QuickJS throws null, and by
        # the time the rejection is seen the heap is freed. A script's own `throw null` is
        # therefore also reported as SCRIPT_MEMORY (documented in docs/sandbox.md).
        return {"kind": "memory", "message": "out of memory", "recycle": True}
    if kind == "error" and message.startswith("could not load module"):
        kind = "forbidden"  # dynamic import(): there is no module loader
    outcome = {
        "kind": kind,
        "name": str(info.get("name", "Error")),
        "message": message,
        "line": _line_of(str(info.get("stack", ""))),
    }
    if "fetch_id" in info:
        outcome["fetch_id"] = info["fetch_id"]
    if "call stack size exceeded" in message:
        outcome.update(reason="stack_overflow", recycle=True)
    return outcome


class Worker:
    """The worker's state after start-up: engine module, prelude, channel, limits."""

    def __init__(self, quickjs, frames, prelude: str, fd: int, max_frame: int):
        self.qjs = quickjs
        self.frames = frames
        self.prelude = prelude
        self.fd = fd
        self.max_frame = max_frame
        self.spare: tuple | None = None  # (memory_bytes, ctx, bridge) made for the next run
        self.spent: object = None  # the last run's context, freed once its answer is out

    def fresh(self, memory_bytes: int) -> tuple:
        """A new context with its limits and the prelude evaluated: (ctx, bridge)."""
        ctx = self.qjs.Context()
        ctx.set_memory_limit(memory_bytes)
        ctx.set_max_stack_size(_STACK_BYTES)
        ctx.set_time_limit(_PRELUDE_SECONDS)
        return ctx, ctx.eval(self.prelude)

    def prepare(self, memory_bytes: int) -> None:
        """Free the last run's context and make the next one (between runs)."""
        self.spent = None
        try:
            self.spare = (memory_bytes, *self.fresh(memory_bytes))
        except Exception:  # noqa: BLE001 — the next run makes its own and reports any failure
            self.spare = None

    def take(self, memory_bytes: int) -> tuple:
        """The prepared context if it has these limits, else a new one."""
        spare, self.spare = self.spare, None
        if spare is not None and spare[0] == memory_bytes:
            return spare[1], spare[2]
        return self.fresh(memory_bytes)

    def send(self, message: dict) -> None:
        """Write one frame to the host."""
        self.frames.write_all(self.fd, self.frames.encode_frame(message))

    def serve(self) -> None:
        """Answer ``run`` frames until the host closes the channel."""
        while True:
            try:
                message = self.frames.read_frame(self.fd, self.max_frame)
            except self.frames.FrameError:
                return
            if message.get("type") != "run":
                continue  # a late settle/abort for a finished run
            started = time.process_time()
            outcome = self.run(message)
            outcome.update(type="done", rid=message["rid"])
            outcome["cpu_ms"] = (time.process_time() - started) * 1000
            try:
                self.send(outcome)
            except UnicodeEncodeError:
                self.send(
                    {
                        "type": "done",
                        "rid": message["rid"],
                        "kind": "error",
                        "name": "TypeError",
                        "message": "output is not valid Unicode",
                        "cpu_ms": outcome["cpu_ms"],
                    }
                )
            self.prepare(message["memory_bytes"])

    def run(self, message: dict) -> dict:
        """One invocation in a fresh context; never raises."""
        deadline = time.monotonic() + message["timeout_ms"] / 1000
        ctx = bridge = None
        try:
            ctx, bridge = self.take(message["memory_bytes"])
            self._arm(ctx, deadline)
            main = ctx.eval("(async function (input) {" + message["code"] + "\n})")
            self._arm(ctx, deadline)
            bridge("start", main, message["input"], message["max_output"], message["max_fetches"])
            del main
            return self._drive(ctx, bridge, deadline, message["rid"])
        except _Stop as stop:
            return stop.outcome
        except (self.qjs.JSException, self.qjs.StackOverflow) as exc:
            return _from_exception(exc, ctx)
        except MemoryError:
            return {"kind": "memory", "message": "worker out of memory", "recycle": True}
        except Exception as exc:  # noqa: BLE001 — e.g. a lone surrogate the binding cannot convert
            return {"kind": "error", "name": type(exc).__name__, "message": str(exc)[:500],
                    "line": None, "recycle": True}  # fmt: skip
        finally:
            bridge = None
            self.spent, ctx = ctx, None  # freed by prepare(), after the answer is sent

    @staticmethod
    def _arm(ctx, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Stop({"kind": "timeout", "recycle": False})
        ctx.set_time_limit(remaining)

    def _drive(self, ctx, bridge, deadline: float, rid: int) -> dict:
        """Run jobs; ship fetch requests; apply settlements; until the script settles."""
        while True:
            while True:
                self._arm(ctx, deadline)
                if not ctx.execute_pending_job():
                    break
            status = bridge("status")
            if status == 1:
                return {"kind": "ok", "output": bridge("output")}
            if status == 2:
                return _from_failure(json.loads(bridge("failure")))
            for request in json.loads(bridge("drain")):
                self.send({"type": "fetch", "rid": rid, "request": request})
            if bridge("pending") == 0:
                return {
                    "kind": "error",
                    "name": "Error",
                    "line": None,
                    "message": "the script awaited a promise that can never settle",
                }
            self._apply_reply(ctx, bridge, deadline, rid)

    def _apply_reply(self, ctx, bridge, deadline: float, rid: int) -> None:
        while True:
            reply = self.frames.read_frame(self.fd, self.max_frame)
            if reply.get("rid") == rid:
                break
        if reply.get("type") == "abort":
            raise _Stop({"kind": "aborted"})
        self._arm(ctx, deadline)
        payload = json.dumps(reply["payload"], ensure_ascii=False)
        bridge("settle", int(reply["id"]), bool(reply["ok"]), payload)


def main(argv: list[str]) -> int:
    """Start up, lock down, serve."""
    config = json.loads(argv[1])
    parent = os.getppid()
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [here, config["quickjs_path"]]
    import _frames
    import _lockdown
    import _quickjs

    with open(os.path.join(here, "_prelude.js"), encoding="utf-8") as source:
        prelude = source.read()
    fd = config["channel_fd"]
    try:
        seccomp = _lockdown.SeccompFilter(config["seccomp_library"])
        abi = _lockdown.landlock_abi()
        if abi < config["min_landlock_abi"]:
            raise _lockdown.LockdownError(
                "landlock", f"kernel ABI {abi} < required {config['min_landlock_abi']}"
            )
        fd = _lockdown.lock_down(
            channel_fd=fd,
            seccomp=seccomp,
            abi=abi,
            memory_bytes=config["memory_ceiling"],
            cpu_seconds=None,
            parent_pid=parent,
            allow_unprivileged=config["allow_unprivileged"],
        )
    except _lockdown.LockdownError as exc:
        _frames.write_all(
            fd, _frames.encode_frame({"type": "fatal", "layer": exc.layer, "message": str(exc)})
        )
        return 3
    del sys.path[:2]
    for name in ("ctypes", "_ctypes", "resource", "_lockdown"):
        sys.modules.pop(name, None)  # cosmetic: the kernel layers hold regardless (§7.15)
    worker = Worker(_quickjs, _frames, prelude, fd, config["max_frame"])
    worker.send({"type": "ready", "landlock_abi": abi})
    worker.serve()
    return 0


if __name__ == "__main__":
    os._exit(main(sys.argv))
