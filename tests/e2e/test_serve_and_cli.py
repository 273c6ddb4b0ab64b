"""The README's path end to end: a real `skillmarket serve`, the real CLI, real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

MANIFEST_YAML = """\
name: word-count
version: 0.1.0
description: Counts the words of a text.
tags: [text, counting]
execution_mode: source
input_schema:
  type: object
  required: [text]
  properties:
    text: {type: string}
output_schema:
  type: object
  properties:
    words: {type: integer}
execution_steps:
  - type: script
    runtime: javascript
    code: |
      const data = JSON.parse(input);
      return JSON.stringify({words: data.text.split(/\\s+/).filter(Boolean).length});
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A real `skillmarket serve` subprocess on a fresh port, restartable on its data dir."""

    def __init__(self, tmp_path: Path, **extra_env: str):
        port = free_port()
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "SKILLMARKET_DATA_DIR": str(tmp_path / "data"),
            "SKILLMARKET_PORT": str(port),
            "SKILLMARKET_URL": f"http://127.0.0.1:{port}",
            **extra_env,
        }
        self.env.pop("SKILLMARKET_DATABASE_URL", None)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with (self.tmp_path / "serve.log").open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "skillmarket.cli.main", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.tmp_path,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.env['SKILLMARKET_URL']}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail("server did not start: " + (self.tmp_path / "serve.log").read_text())
            time.sleep(0.1)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait(timeout=15)


@pytest.fixture
def marketplace(tmp_path: Path):
    """A served marketplace on the embedded SQLite default, in a fresh data dir."""
    server = Server(tmp_path)
    server.start()
    yield server.env, tmp_path
    server.stop()


def cli(env, *args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "skillmarket.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and result.returncode != 0:
        pytest.fail(f"skillmarket {' '.join(args)} failed: {result.stderr}")
    return result


def test_newcomer_goes_from_serve_to_search_result(marketplace):
    env, tmp_path = marketplace
    created = json.loads(
        cli(env, "operator", "create", "alice", "--tier", "developer", "--json").stdout
    )
    assert created["id"].startswith("op_") and created["api_key"].startswith("smk_")
    env = {**env, "SKILLMARKET_API_KEY": created["api_key"]}

    # The seeded examples are there on first start.
    found = json.loads(cli(env, "search", "invoice", "--json").stdout)
    assert "invoice-total" in [s["name"] for s in found["items"]]
    table = cli(env, "search", "invoice").stdout
    assert "invoice-total" in table and found["items"][0]["id"] in table

    manifest = tmp_path / "word-count.yaml"
    manifest.write_text(MANIFEST_YAML)
    published = json.loads(cli(env, "publish", str(manifest), "--json").stdout)
    assert published["created"] is True
    skill_id = published["skill"]["id"]
    again = cli(env, "publish", str(manifest)).stdout
    assert "already published" in again

    shown = json.loads(cli(env, "show", skill_id, "--json").stdout)
    assert shown["fingerprint"] == published["skill"]["fingerprint"]
    assert "split" in shown["execution_steps"][0]["code"]

    # The same catalog over plain HTTP, as curl would see it.
    response = httpx.get(
        f"{env['SKILLMARKET_URL']}/v1/skills",
        params={"search": "words"},
        headers={"Authorization": f"Bearer {created['api_key']}"},
    )
    assert [s["id"] for s in response.json()["items"]] == [skill_id]


def test_failing_commands_print_one_line_and_exit_nonzero(marketplace, tmp_path):
    env, _ = marketplace
    key = json.loads(cli(env, "operator", "create", "bob", "--json").stdout)["api_key"]
    env = {**env, "SKILLMARKET_API_KEY": key}

    missing = cli(env, "show", "skl_doesnotexist", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0
    assert "SKILL_NOT_FOUND" in missing.stderr

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\nversion: 1\n")
    rejected = cli(env, "publish", str(bad), check=False)
    assert rejected.returncode == 1 and "INVALID_NAME" in rejected.stderr

    duplicate = cli(env, "operator", "create", "bob", check=False)
    assert duplicate.returncode == 1 and "OPERATOR_NAME_TAKEN" in duplicate.stderr

    unreachable = cli(
        {**env, "SKILLMARKET_URL": f"http://127.0.0.1:{free_port()}"}, "search", check=False
    )
    assert unreachable.returncode == 1 and "UNREACHABLE" in unreachable.stderr

    no_key = cli(
        {k: v for k, v in env.items() if k != "SKILLMARKET_API_KEY"}, "search", check=False
    )
    assert no_key.returncode == 1 and "API_KEY_MISSING" in no_key.stderr


def test_audit_verify_detects_an_edited_database_file(marketplace):
    env, tmp_path = marketplace
    cli(env, "operator", "create", "carol", "--json")
    cli(env, "audit", "checkpoint")
    ok = json.loads(cli(env, "audit", "verify", "--json").stdout)
    assert ok["ok"] is True and ok["events"] >= 2 and ok["unsigned_tail"] == 0

    import sqlite3

    database = sqlite3.connect(tmp_path / "data" / "skillmarket.db")
    database.execute("UPDATE audit_events SET subject = 'op_forged' WHERE seq = 0")
    database.commit()
    database.close()
    broken = cli(env, "audit", "verify", check=False)
    assert broken.returncode == 1
    assert "AUDIT_LOG_TAMPERED" in broken.stderr and broken.stderr.strip().count("\n") == 0


SEALED_YAML = """\
name: secret-sauce
version: 1.0.0
description: A sealed summariser.
execution_mode: sealed
input_schema: {type: object}
output_schema: {type: object}
execution_steps:
  - type: llm
    model: openai/gpt-4o-mini
    system_prompt: THE SECRET SAUCE PROMPT
"""


def test_cli_seals_logic_before_it_leaves_the_machine(marketplace):
    env, tmp_path = marketplace
    key = json.loads(cli(env, "operator", "create", "dan", "--json").stdout)["api_key"]
    env = {**env, "SKILLMARKET_API_KEY": key}
    manifest = tmp_path / "sealed.yaml"
    manifest.write_text(SEALED_YAML)
    published = json.loads(cli(env, "publish", str(manifest), "--json").stdout)
    assert published["created"] and published["skill"]["steps_redacted"]
    again = json.loads(cli(env, "publish", str(manifest), "--no-seal", "--json").stdout)
    assert again["created"] is False  # same logic, same fingerprint, however it travelled
    shown = cli(env, "show", published["skill"]["id"], "--json").stdout
    assert "SECRET SAUCE" not in shown
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir() if p.is_file())
    assert b"secret-sauce" in stored  # the store (database and WAL) does hold the skill...
    assert b"SECRET SAUCE" not in stored  # ...but never its logic in plain text


def buyer_with_money(env) -> tuple[dict, str, str]:
    """An operator with $5.00 and an L1 passport, through the admin CLI."""
    made = json.loads(cli(env, "operator", "create", "erin", "--json").stdout)
    cli(env, "wallet", "deposit", made["id"], "--usd", "5.00")
    passport = json.loads(
        cli(
            env,
            "passport",
            "issue",
            "--operator",
            made["id"],
            "--claim",
            "verified_human=substantial",
            "--json",
        ).stdout
    )
    return {**env, "SKILLMARKET_API_KEY": made["api_key"]}, made["id"], passport["passport_id"]


def test_invoke_and_open_mode_from_the_cli(marketplace):
    env, tmp_path = marketplace
    env, _operator, passport = buyer_with_money(env)
    manifest = tmp_path / "word-count.yaml"
    manifest.write_text(MANIFEST_YAML)
    skill = json.loads(cli(env, "publish", str(manifest), "--json").stdout)["skill"]
    done = json.loads(
        cli(
            env,
            "invoke",
            skill["id"],
            "--input",
            '{"text": "a b c"}',
            "--passport",
            passport,
            "--json",
        ).stdout
    )
    assert (done["status"], done["output"]) == ("completed", {"words": 3})
    sealed = json.loads(
        cli(
            env,
            "invoke",
            skill["id"],
            "--input",
            '{"text": "x y"}',
            "--passport",
            passport,
            "--sealed",
            "--json",
        ).stdout
    )
    assert sealed["output"] == {"words": 2}

    found = json.loads(cli(env, "search", "translate", "--json").stdout)["items"]
    open_skill = next(s for s in found if s["execution_mode"] == "open")
    assert open_skill["publisher_id"]  # a seeded example, served by its publisher's agent
    failed = cli(
        env, "invoke", skill["id"], "--input", '{"nope": 1}', "--passport", passport, check=False
    )
    assert failed.returncode == 1 and "INPUT_SCHEMA_VIOLATION" in failed.stderr


def test_a_killed_server_leaves_nothing_running_or_charged(tmp_path, openai_server):
    from tests.support.openai_server import Reply

    server = Server(
        tmp_path,
        SKILLMARKET_LLM_BASE_URL=openai_server.base_url,
        SKILLMARKET_SYNC_WAIT_SECONDS="0.5",
    )
    server.start()
    try:
        env, _operator, passport = buyer_with_money(server.env)
        manifest = tmp_path / "slow.yaml"
        manifest.write_text(SEALED_YAML.replace("secret-sauce", "slow-llm"))
        skill = json.loads(cli(env, "publish", str(manifest), "--json").stdout)["skill"]
        openai_server.script(Reply.echo().delayed(30))
        running = json.loads(
            cli(
                env,
                "invoke",
                skill["id"],
                "--input",
                '{"text": "hi"}',
                "--passport",
                passport,
                "--json",
            ).stdout
        )
        assert running["status"] == "running"
        held = json.loads(cli(env, "wallet", "show", "--json").stdout)
        assert held["held_micros"] > 0
        server.stop(kill=True)  # SIGKILL mid-run: no shutdown handler runs
        server.start()
        after = json.loads(cli(env, "status", running["invocation_id"], "--json").stdout)
        assert after["status"] == "failed"
        assert after["error"]["code"] == "INVOCATION_INTERRUPTED"
        wallet = json.loads(cli(env, "wallet", "show", "--json").stdout)
        assert wallet["held_micros"] == 0 and wallet["available_micros"] == 5_000_000
        verify = json.loads(cli(env, "audit", "verify", "--json").stdout)
        assert verify["ok"] is True
    finally:
        server.stop(kill=True)


@pytest.mark.parametrize("setting", ["true", "false"])
def test_access_log_follows_its_setting(tmp_path: Path, setting):
    server = Server(tmp_path, SKILLMARKET_ACCESS_LOG=setting, SKILLMARKET_SEED_EXAMPLES="false")
    server.start()
    try:
        httpx.get(f"{server.env['SKILLMARKET_URL']}/v1/skills?search=access-log-probe")
    finally:
        server.stop()
    logged = "access-log-probe" in (tmp_path / "serve.log").read_text()
    assert logged is (setting == "true")
