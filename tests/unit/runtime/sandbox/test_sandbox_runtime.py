"""ScriptRuntime behaviour against real sandboxes: seeds, limits, pool, failures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest

from skillmarket.errors import InvalidInput
from skillmarket.runtime.errors import SandboxDied, SandboxUnavailable, ScriptFailed, ScriptTimeout
from skillmarket.runtime.sandbox import ScriptRuntime

SEED_INPUT = json.dumps({"items": [{"price": 10}, {"price": 2.5}], "currency": "EUR"})
SEED_JS = """const data = JSON.parse(input);
const result = {
  total: data.items.reduce((sum, item) => sum + item.price, 0),
  count: data.items.length,
  currency: data.currency ?? "USD"
};
return JSON.stringify(result);"""
SEED_PYTHON = """import json
data = json.loads(input)
result = {
    "total": sum(item["price"] for item in data["items"]),
    "count": len(data["items"]),
    "currency": data.get("currency", "USD"),
}
output = json.dumps(result)"""


class TestSeedExamples:
    def test_javascript_seed_runs_unchanged(self, sandbox):
        result = sandbox.run("javascript", SEED_JS, SEED_INPUT)
        assert json.loads(result.output) == {"total": 12.5, "count": 2, "currency": "EUR"}
        assert result.language == "javascript"
        assert result.duration_ms > 0 and result.cpu_ms > 0

    def test_python_seed_runs_unchanged(self, sandbox):
        result = sandbox.run("python", SEED_PYTHON, SEED_INPUT)
        assert json.loads(result.output) == {"total": 12.5, "count": 2, "currency": "EUR"}
        assert result.cpu_ms > 0

    @pytest.mark.parametrize(
        ("language", "code"), [("javascript", SEED_JS), ("python", SEED_PYTHON)]
    )
    def test_seed_fails_on_bad_input_with_line(self, sandbox, language, code):
        with pytest.raises(ScriptFailed) as caught:
            sandbox.run(language, code, '{"items": 5}')
        assert caught.value.details["line"] in (3, 4)


class TestFreshPerInvocation:
    def test_javascript_globals_fail_to_persist(self, sandbox):
        for _ in range(4):
            out = sandbox.run(
                "javascript",
                "const seen = globalThis.mark; globalThis.mark = 1; return String(seen)",
            )
            assert out.output == "undefined"

    def test_python_module_state_fails_to_persist(self, sandbox):
        for _ in range(4):
            out = sandbox.run(
                "python", 'import json\noutput = str(hasattr(json, "mark"))\njson.mark = 1'
            )
            assert out.output == "False"


class TestLimitsValidation:
    @pytest.mark.parametrize(
        "kwargs",
        [
            {"runtime": "ruby"},
            {"profile": "gpu"},
            {"timeout_ms": 0},
            {"timeout_ms": 60_001},
            {"timeout_ms": 6_000, "profile": "pipeline"},
            {"timeout_ms": True},
            {"code": "x" * (2 << 20)},
        ],
    )
    def test_run_fails_invalid_arguments(self, sandbox, kwargs):
        args = {
            "runtime": "python",
            "code": "output = ''",
            "timeout_ms": None,
            "profile": "script",
            **kwargs,
        }
        with pytest.raises(InvalidInput):
            sandbox.run(args.pop("runtime"), args.pop("code"), **args)

    def test_default_and_maximum_timeouts_resolve(self, sandbox):
        limits = sandbox.runtime.limits("python", "", "", timeout_ms=None, profile="script")
        assert (limits.timeout_ms, limits.memory_bytes, limits.cpu_seconds) == (
            30_000,
            128 << 20,
            30,
        )
        limits = sandbox.runtime.limits("python", "", "", timeout_ms=60_000, profile="script")
        assert (limits.timeout_ms, limits.cpu_seconds) == (60_000, 60)
        limits = sandbox.runtime.limits("javascript", "", "", timeout_ms=None, profile="pipeline")
        assert (limits.timeout_ms, limits.memory_bytes, limits.cpu_seconds) == (5_000, 50 << 20, 5)


def wait_until_exited(pid: int, timeout: float = 5.0) -> None:
    """Wait until ``pid`` has exited: gone, or a zombie waiting to be reaped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):  # reaped meanwhile
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not exit")


class TestPool:
    def test_concurrent_invocations_all_succeed(self, sandbox):
        async def burst():
            runs = [
                sandbox.runtime.run(lang, code, json.dumps({"i": i}))
                for i in range(12)
                for lang, code in (
                    ("javascript", "return String(JSON.parse(input).i)"),
                    ("python", "import json\noutput = str(json.loads(input)['i'])"),
                )
            ]
            return await asyncio.gather(*runs)

        outputs = [r.output for r in sandbox.call(burst())]
        assert outputs == [str(i) for i in range(12) for _ in range(2)]

    def test_workers_are_recycled_after_n_runs(self, sandbox):
        before = set(sandbox.runtime.worker_pids()["javascript"])
        replaced = sandbox.runtime.stats()["javascript"]["replaced"]
        for _ in range(60):
            sandbox.run("javascript", 'return "x"')
        assert sandbox.runtime.stats()["javascript"]["replaced"] >= replaced + 2
        assert not before & set(sandbox.runtime.worker_pids()["javascript"])

    @pytest.mark.parametrize("language", ["javascript", "python"])
    def test_killed_worker_fails_run_and_is_replaced(self, sandbox, language):
        code = "for (;;) {}" if language == "javascript" else "while True: pass"

        async def kill_mid_run():
            task = asyncio.ensure_future(sandbox.runtime.run(language, code, "", timeout_ms=5000))
            await asyncio.sleep(0.2)
            for pid in sandbox.runtime.worker_pids()[language]:
                os.kill(pid, signal.SIGKILL)
            return await task

        with pytest.raises(SandboxDied):
            sandbox.call(kill_mid_run())
        ok = "return 'alive'" if language == "javascript" else "output = 'alive'"
        assert sandbox.run(language, ok).output == "alive"

    @pytest.mark.parametrize("language", ["javascript", "python"])
    def test_workers_killed_while_idle_cost_the_next_run_nothing(self, sandbox, language):
        ok = "return 'alive'" if language == "javascript" else "output = 'alive'"
        for _ in range(3):
            pids = sandbox.runtime.worker_pids()[language]
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):  # one may be gone already
                    os.kill(pid, signal.SIGKILL)
            for pid in pids:  # dead (a zombie at most), though maybe not yet reaped by the host
                wait_until_exited(pid)
            assert sandbox.run(language, ok).output == "alive"

    @pytest.mark.parametrize("language", ["javascript", "python"])
    def test_cancelled_run_fails_to_leak_worker(self, sandbox, language):
        code = "for (;;) {}" if language == "javascript" else "while True: pass"

        async def cancel_mid_run():
            task = asyncio.ensure_future(sandbox.runtime.run(language, code, "", timeout_ms=5000))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        sandbox.call(cancel_mid_run())
        ok = "return 'alive'" if language == "javascript" else "output = 'alive'"
        for _ in range(3):
            assert sandbox.run(language, ok).output == "alive"

    def test_timeout_keeps_serving(self, sandbox):
        with pytest.raises(ScriptTimeout):
            sandbox.run("javascript", "for (;;) {}", timeout_ms=200)
        assert sandbox.run("javascript", "return 'ok'").output == "ok"


class TestLifecycle:
    def test_run_fails_before_start(self):
        with pytest.raises(SandboxUnavailable):
            asyncio.run(ScriptRuntime().run("python", "output = ''", ""))

    def test_close_is_idempotent(self):
        async def scenario():
            runtime = ScriptRuntime()
            await runtime.start()
            result = await runtime.run("python", "output = 'x'", "")
            await runtime.close()
            await runtime.close()
            return result.output

        assert asyncio.run(scenario()) == "x"


class TestChannelLimits:
    @pytest.mark.parametrize(
        ("language", "code"),
        [
            ("javascript", 'return "\\u0001".repeat(1 << 20)'),
            ("python", 'output = "\\x01" * (1 << 20)'),
        ],
    )
    def test_output_at_the_limit_of_escaped_characters_succeeds(self, sandbox, language, code):
        # JSON spends 6 bytes per control character; the channel must still carry 1 MiB of them.
        assert len(sandbox.run(language, code).output) == 1 << 20

    def test_input_of_escaped_characters_succeeds(self, sandbox):
        data = "\x02" * (1 << 20)
        assert sandbox.run("javascript", "return String(input.length)", data).output == str(1 << 20)
        assert sandbox.run("python", "output = str(len(input))", data).output == str(1 << 20)


class TestJavaScriptStrings:
    @pytest.mark.parametrize(
        "expression",
        [
            '"[" + "x".repeat(5000) + "]"',
            '"x".repeat(5000) + "y".repeat(5000)',
            '(() => { let t = "abc"; for (let i = 0; i < 12; i++) t = t + t; return t })()',
        ],
    )
    def test_concatenated_output_succeeds(self, sandbox, expression):
        # quickjs-ng returns long concatenations as ropes; the prelude must flatten them.
        out = sandbox.run("javascript", f"return {expression}").output
        assert len(out) in (5002, 10000, 3 << 12)

    def test_concatenated_error_message_is_reported(self, sandbox):
        with pytest.raises(ScriptFailed) as caught:
            sandbox.run("javascript", 'throw new Error("[" + "x".repeat(5000))')
        assert caught.value.message.startswith("Error: [xxx")


class TestFetchFlood:
    def test_js_calls_past_the_limit_fail_in_the_script(self, sandbox, upstream):
        code = """const out = [];
            for (let i = 0; i < 200; i++) out.push(proxy_fetch("https://api.example.com/x").then(
              () => "ok", (e) => e.code));
            const codes = await Promise.all(out);
            return codes.filter((c) => c === "FETCH_LIMIT").length + "/" + codes.length"""
        assert sandbox.run("javascript", code, proxy_fetch=upstream).output == "150/200"
        assert len(upstream.calls) == 50

    def test_python_fetch_loop_fails_flood(self, sandbox, upstream):
        code = (
            "while True:\n    try:\n        proxy_fetch('https://api.example.com/x')\n"
            "    except ProxyFetchError:\n        pass"
        )
        with pytest.raises(ScriptFailed) as caught:
            sandbox.run("python", code, timeout_ms=5000, proxy_fetch=upstream)
        assert caught.value.details["reason"] == "fetch_flood"
        assert len(upstream.calls) == 50
