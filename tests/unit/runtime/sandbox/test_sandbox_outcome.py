"""Mapping worker outcomes to results and typed errors (pure rules)."""

from __future__ import annotations

import signal

import pytest

from skillmarket.errors import SkillmarketError
from skillmarket.runtime import errors
from skillmarket.runtime.sandbox import Limits
from skillmarket.runtime.sandbox.bridge import FetchBridge
from skillmarket.runtime.sandbox.outcome import result_or_raise
from skillmarket.runtime.sandbox.py_host import _combine

LIMITS = Limits(
    profile="script", timeout_ms=1000, memory_bytes=128 << 20, cpu_seconds=1, max_output_bytes=10
)


def outcome_of(outcome, bridge=None):
    return result_or_raise(
        outcome, language="python", limits=LIMITS, duration_ms=1.5,
        bridge=bridge or FetchBridge(None, max_fetches=1, max_body=1),
    )  # fmt: skip


class Blocked(SkillmarketError):
    code = "EGRESS_BLOCKED"
    status = 403


class TestResultOrRaise:
    def test_ok_returns_result(self):
        result = outcome_of({"kind": "ok", "output": "hi", "cpu_ms": 2.0})
        assert (result.output, result.cpu_ms, result.duration_ms, result.language) == (
            "hi",
            2.0,
            1.5,
            "python",
        )

    @pytest.mark.parametrize(
        ("kind", "error"),
        [
            ("timeout", errors.ScriptTimeout),
            ("aborted", errors.ScriptTimeout),
            ("memory", errors.ScriptMemoryExceeded),
            ("forbidden", errors.ScriptForbidden),
            ("error", errors.ScriptFailed),
            ("type", errors.ScriptFailed),
            ("output_too_large", errors.ScriptOutputTooLarge),
            ("died", errors.SandboxDied),
            ("unavailable", errors.SandboxUnavailable),
            ("fetch", errors.ScriptFailed),  # an id the host never failed: not trusted
            ("something-new", errors.ScriptFailed),
        ],
    )
    def test_kind_fails_with_typed_error(self, kind, error):
        with pytest.raises(error):
            outcome_of({"kind": kind, "fetch_id": 1})

    def test_error_message_names_type_and_line(self):
        with pytest.raises(errors.ScriptFailed) as caught:
            outcome_of({"kind": "error", "name": "KeyError", "message": "'items'", "line": 2})
        assert caught.value.message == "KeyError: 'items' (line 2)"
        assert caught.value.details["line"] == 2

    def test_output_over_limit_fails(self):
        with pytest.raises(errors.ScriptOutputTooLarge):
            outcome_of({"kind": "ok", "output": "x" * 11})

    def test_fetch_fails_with_code_the_host_recorded(self):
        bridge = FetchBridge(None, max_fetches=1, max_body=1)
        original = Blocked("no egress to 10.0.0.1")
        bridge.errors[4] = original
        with pytest.raises(errors.ProxyFetchFailed) as caught:
            outcome_of({"kind": "fetch", "fetch_id": 4}, bridge)
        assert (caught.value.code, caught.value.status, caught.value.__cause__) == (
            "EGRESS_BLOCKED",
            403,
            original,
        )


class TestCombine:
    def report(self, status=0, cpu_ms=1.0, maxrss_kb=10_000):
        return {"type": "exit", "status": status, "cpu_ms": cpu_ms, "maxrss_kb": maxrss_kb}

    def test_done_with_clean_exit_is_kept(self):
        assert (
            _combine({"type": "done", "kind": "ok", "output": "x"}, self.report(), LIMITS, False)[
                "kind"
            ]
            == "ok"
        )

    def test_killed_child_fails_timeout(self):
        assert _combine(None, self.report(signal.SIGKILL), LIMITS, True)["kind"] == "timeout"

    def test_cpu_limit_fails_timeout(self):
        assert (
            _combine(None, self.report(signal.SIGXCPU, cpu_ms=1000), LIMITS, False)["kind"]
            == "timeout"
        )

    def test_crash_near_memory_cap_fails_memory(self):
        report = self.report(signal.SIGABRT, maxrss_kb=(128 << 10))
        assert _combine(None, report, LIMITS, False)["kind"] == "memory"

    def test_crash_fails_died(self):
        assert _combine({"kind": "_closed"}, self.report(signal.SIGSEGV), LIMITS, False) == {
            "kind": "died", "reason": "signal 11", "cpu_ms": 1.0,
        }  # fmt: skip

    def test_lockdown_failure_fails_unavailable(self):
        fatal = {"type": "fatal", "layer": "seccomp", "message": "seccomp: nope"}
        assert _combine(fatal, self.report(3 << 8), LIMITS, False)["kind"] == "unavailable"
