"""The npm MCP conformance suite (@modelcontextprotocol/conformance) against ``/mcp``.

`.ci/run` installs the suite and Node 22 and points SKILLMARKET_MCP_CONFORMANCE_DIR at them.
The suite cannot send our bearer key, so it talks to a local proxy that adds it; everything
else (Host and Origin included) reaches the server as the suite sent it. Scenarios that do not
apply to a tools-only server are listed, with reasons, in mcp_conformance_baseline.yml.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from skillmarket.api.app import create_app
from skillmarket.config import Settings
from skillmarket.services import open_services
from tests.support.auth_proxy import AuthorizingProxy
from tests.support.served import served

ENV = "SKILLMARKET_MCP_CONFORMANCE_DIR"
BASELINE = Path(__file__).with_name("mcp_conformance_baseline.yml")


@pytest.fixture
def suite() -> tuple[Path, Path]:
    """Node 22 and the suite's entry point, from the directory .ci/run installs them in."""
    where = os.environ.get(ENV)
    if not where:
        pytest.skip(
            f"the MCP conformance suite needs {ENV}: .ci/run sets it, or run "
            f"`npm install --prefix DIR @modelcontextprotocol/conformance node@22` and set "
            f"{ENV}=DIR"
        )
    bin_dir = Path(where) / "node_modules" / ".bin"
    node, conformance = bin_dir / "node", bin_dir / "conformance"
    assert node.exists() and conformance.exists(), f"{ENV}={where} holds no installed suite"
    return node, conformance


def test_streamable_http_endpoint_passes_the_conformance_suite(suite, tmp_path):
    node, conformance = suite
    services = open_services(Settings(data_dir=tmp_path / "data", seed_examples=False))
    _operator, key = services.identity.create_operator("conformance", "free")
    try:
        with (
            served(create_app(services)) as url,
            served(AuthorizingProxy(url, key.api_key)) as proxy,
        ):
            run = subprocess.run(
                [str(node), str(conformance), "server", "--url", f"{proxy}/mcp"]
                + ["--expected-failures", str(BASELINE)],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=600,
            )
    finally:
        services.close()
    summary = run.stdout[run.stdout.find("=== SUMMARY") :] or run.stdout[-4000:]
    print(summary)
    assert run.returncode == 0, f"{summary}\n{run.stderr[-4000:]}"
    assert "server-initialize: 1 passed" in summary
    assert "tools-list: 1 passed" in summary
