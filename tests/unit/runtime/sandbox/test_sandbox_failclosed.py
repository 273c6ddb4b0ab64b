"""Fail closed: a missing mandatory layer stops the runtime with a message naming it."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from skillmarket.runtime.errors import SandboxUnavailable
from skillmarket.runtime.sandbox import SandboxConfig, ScriptRuntime, _lockdown
from skillmarket.runtime.sandbox.js_host import JsWorker
from skillmarket.runtime.sandbox.py_host import Zygote
from skillmarket.runtime.sandbox.testing import SyncScriptRuntime

MISSING_SECCOMP = SandboxConfig(seccomp_library="libseccomp-missing.so.9", bwrap="off")


class TestProbe:
    def test_probe_passes_on_this_machine(self):
        assert _lockdown.probe("libseccomp.so.2", 1, False) == []

    def test_probe_fails_without_libseccomp(self):
        (problem,) = _lockdown.probe("libseccomp-missing.so.9", 1, False)
        assert problem.startswith("seccomp: cannot load libseccomp-missing.so.9")

    def test_probe_fails_when_landlock_abi_too_old(self):
        (problem,) = _lockdown.probe("libseccomp.so.2", 99, False)
        assert problem.startswith("landlock: kernel ABI")

    def test_probe_fails_when_not_root(self, monkeypatch):
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
        assert _lockdown.probe("libseccomp.so.2", 1, False) == [
            "uid: cannot drop to uid nobody: not running as root"
        ]
        assert _lockdown.probe("libseccomp.so.2", 1, True) == []


class TestStart:
    def test_start_fails_naming_every_missing_layer(self, monkeypatch):
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
        runtime = ScriptRuntime(
            SandboxConfig(seccomp_library="libseccomp-missing.so.9", min_landlock_abi=99)
        )
        with pytest.raises(SandboxUnavailable) as caught:
            asyncio.run(runtime.start())
        assert [p.split(":")[0] for p in caught.value.details["problems"]] == [
            "landlock",
            "seccomp",
            "uid",
        ]

    @pytest.mark.parametrize("worker", [JsWorker, Zygote], ids=["javascript", "python"])
    def test_worker_refuses_to_start_without_seccomp(self, worker):
        # Past the host's probe: the worker itself must refuse, naming the layer.
        with pytest.raises(SandboxUnavailable) as caught:
            asyncio.run(worker.start(MISSING_SECCOMP))
        assert caught.value.details["layer"] == "seccomp"
        assert "libseccomp-missing.so.9" in caught.value.message

    @pytest.mark.parametrize("worker", [JsWorker, Zygote], ids=["javascript", "python"])
    def test_worker_refuses_to_start_with_landlock_too_old(self, worker):
        with pytest.raises(SandboxUnavailable) as caught:
            asyncio.run(worker.start(SandboxConfig(min_landlock_abi=99, bwrap="off")))
        assert caught.value.details["layer"] == "landlock"


class TestNamespaceLayer:
    def test_required_bwrap_fails_when_missing(self):
        runtime = ScriptRuntime(SandboxConfig(bwrap="required", bwrap_path="bwrap-not-installed"))
        with pytest.raises(SandboxUnavailable, match="bwrap"):
            asyncio.run(runtime.start())

    def test_auto_bwrap_runs_without_it_when_missing(self):
        runtime = SyncScriptRuntime(
            SandboxConfig(
                bwrap="auto", bwrap_path="bwrap-not-installed", js_workers=1, python_workers=1
            )
        )
        try:
            assert runtime.runtime.config.bwrap == "off"
            assert runtime.run("python", "output = 'ran'").output == "ran"
        finally:
            runtime.close()

    @pytest.mark.skipif(
        shutil.which("bwrap") is None, reason="bubblewrap not installed (optional layer)"
    )
    def test_required_bwrap_puts_workers_in_new_namespaces(self):
        runtime = SyncScriptRuntime(SandboxConfig(bwrap="required", js_workers=1, python_workers=1))
        try:
            assert runtime.run("javascript", "return 'ran'").output == "ran"
            assert runtime.run("python", "output = 'ran'").output == "ran"
            for pid in sum(runtime.runtime.worker_pids().values(), []):
                inner = _deepest_descendant(pid)
                for ns in ("net", "pid", "ipc", "uts"):
                    assert os.readlink(f"/proc/{inner}/ns/{ns}") != os.readlink(
                        f"/proc/self/ns/{ns}"
                    )
        finally:
            runtime.close()


def _deepest_descendant(pid: int) -> int:
    while children := Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        pid = int(children[0])
    return pid


def _nobody_can_run_python() -> bool:
    try:
        done = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                "import skillmarket.runtime, _quickjs",
            ],
            capture_output=True,
            env={"PYTHONPATH": os.pathsep.join(sys.path)},
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class TestUnprivilegedService:
    """Run the service itself as a non-root uid (as a real deployment without root would)."""

    SCRIPT = textwrap.dedent(
        """
        import asyncio, sys
        from skillmarket.runtime.sandbox import SandboxUnavailable, ScriptRuntime, SandboxConfig
        async def main(allow):
            config = SandboxConfig(allow_unprivileged=allow, js_workers=1, python_workers=1)
            runtime = ScriptRuntime(config)
            try:
                await runtime.start()
            except SandboxUnavailable as exc:
                return "refused: " + exc.message
            try:
                outs = [(await runtime.run(lang, code, "")).output for lang, code in
                        (("javascript", "return 'js'"), ("python", "output = 'py'"))]
                return "ran: " + ",".join(outs)
            finally:
                await runtime.close()
        print(asyncio.run(main(sys.argv[1] == "allow")))
        """
    )

    @pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another uid")
    @pytest.mark.parametrize(
        ("mode", "expected"),
        [
            ("refuse", "refused: sandbox layers unavailable: uid: cannot drop to uid nobody"),
            ("allow", "ran: js,py"),
        ],
    )
    def test_non_root_service_refuses_unless_allowed(self, mode, expected):
        if not _nobody_can_run_python():
            pytest.skip("uid nobody cannot read this Python installation and its packages")
        user = pwd.getpwuid(65534).pw_name
        done = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                self.SCRIPT,
                mode,
            ],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": os.pathsep.join(sys.path), "USER": user},
            timeout=60,
        )
        assert done.stdout.strip().startswith(expected), done.stderr
