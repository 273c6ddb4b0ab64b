"""Connected services from the CLI: a real `skillmarket serve`, the real CLI, real HTTP.

The secret goes in through an environment variable or standard input, never on the command
line, and no command prints it back.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.test_serve_and_cli import cli, marketplace  # noqa: F401  (the served fixture)

SECRET = "tok_e2e_SECRET_4242424242"


def test_connect_list_replace_disconnect_from_the_cli(marketplace):  # noqa: F811
    env, tmp_path = marketplace
    made = json.loads(cli(env, "operator", "create", "alice", "--json").stdout)
    env = {**env, "SKILLMARKET_API_KEY": made["api_key"], "CRM_TOKEN": SECRET}

    connected = cli(env, "service", "connect", "crm", "--domain", "api.example.com",
                    "--secret-env", "CRM_TOKEN")  # fmt: skip
    assert "connected crm (bearer) for example.com" in connected.stdout
    assert SECRET not in connected.stdout + connected.stderr

    piped = subprocess.run(
        [
            sys.executable,
            "-m",
            "skillmarket.cli.main",
            "service",
            "connect",
            "crm",
            "--domain",
            "api.example.com",
            "--auth",
            "header",
            "--header-name",
            "X-Api-Key",
            "--secret-stdin",
            "--json",
        ],  # fmt: skip
        env=env,
        input=SECRET + "-v2\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    replaced = json.loads(piped.stdout)
    assert replaced["replaced"] is True and replaced["service"]["header_name"] == "X-Api-Key"
    assert SECRET not in piped.stdout

    listed = json.loads(cli(env, "service", "list", "--json").stdout)
    assert [c["name"] for c in listed] == ["crm"]
    table = cli(env, "service", "list").stdout
    assert "X-Api-Key" in table and "example.com" in table and SECRET not in table
    assert json.loads(cli(env, "service", "show", "crm", "--json").stdout) == listed[0]

    missing = cli({**env, "CRM_TOKEN": ""}, "service", "connect", "crm", "--domain",
                  "api.example.com", "--secret-env", "CRM_TOKEN", check=False)  # fmt: skip
    assert missing.returncode == 1 and "SECRET_MISSING" in missing.stderr
    bad = cli(env, "service", "connect", "crm", "--domain", "10.0.0.1", "--secret-env",
              "CRM_TOKEN", check=False)  # fmt: skip
    assert bad.returncode == 1 and "SERVICE_CONNECTION_INVALID" in bad.stderr
    assert SECRET not in bad.stderr

    assert "disconnected crm" in cli(env, "service", "disconnect", "crm").stdout
    assert json.loads(cli(env, "service", "list", "--json").stdout) == []
    gone = cli(env, "service", "disconnect", "crm", check=False)
    assert gone.returncode == 1 and "SERVICE_CONNECTION_NOT_FOUND" in gone.stderr

    # Nothing the server wrote holds the secret in plain text.
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
