"""Client commands for invocations: invoke, status, and open mode's pending, claim, complete."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import typer
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from skillmarket.cli.client import ApiClient
from skillmarket.cli.output import JsonOption, console, fail, print_json, print_table
from skillmarket.crypto.sealing import INPUT_INFO, OUTPUT_INFO, SUITE, decode_sealed, seal

FINISHED = {"completed", "failed", "expired", "terminated"}


def read_json_argument(value: str, what: str) -> Any:
    """A JSON value given inline, or ``@path`` to a file holding it."""
    try:
        text = Path(value[1:]).read_text() if value.startswith("@") else value
        return json.loads(text)
    except OSError as exc:
        fail(f"cannot read {what} from {value[1:]}: {exc.strerror}", "FILE_UNREADABLE")
    except json.JSONDecodeError as exc:
        fail(f"{what} is not valid JSON: {exc}", "MALFORMED_JSON")


def _show(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    console.print(f"{view['invocation_id']}  [bold]{view['status']}[/bold]", highlight=False)
    if view.get("error"):
        console.print(
            f"error: {view['error']['code']}: {view['error']['message']}", highlight=False
        )
    if view.get("output") is not None:
        console.print_json(data=view["output"])
    if view.get("cost"):
        console.print(f"cost: ${view['cost']['total_usd']:.6f}", highlight=False)
    if view["status"] not in FINISHED:
        console.print(f"poll: skillmarket status {view['invocation_id']}", highlight=False)


def _wait(client: ApiClient, view: dict[str, Any], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while view["status"] not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.5)
        view = client.request("GET", view["poll_url"])
    return view


def invoke(
    skill_id: str = typer.Argument(..., help="Skill id (skl_…)."),
    input_value: str = typer.Option(..., "--input", help="The input as JSON, or @file.json."),
    passport: str = typer.Option(..., "--passport", help="Your passport id (pp_…)."),
    idempotency_key: str = typer.Option(
        None, "--idempotency-key", help="Retry-safe key: a repeat returns the first run."
    ),
    ttl: int = typer.Option(None, "--ttl", help="Open mode: seconds the publisher has."),
    max_cost_usd: float = typer.Option(None, "--max-cost-usd", help="Cap on the hold."),
    sealed: bool = typer.Option(
        False,
        "--sealed",
        help="Seal the input to the marketplace and get the output sealed back to a key made here.",
    ),
    wait: float = typer.Option(0, "--wait", help="Seconds to keep polling an unfinished run."),
    as_json: bool = JsonOption,
) -> None:
    """Invoke a skill and print the result (or the poll command while it runs)."""
    client = ApiClient()
    value = read_json_argument(input_value, "--input")
    body: dict[str, Any] = {"passport_id": passport}
    reply_key = None
    if sealed:
        key = client.request("GET", "/.well-known/skillmarket-sealing-key")
        public = base64.urlsafe_b64decode(key["public_key"] + "=" * (-len(key["public_key"]) % 4))
        body["input_encrypted"] = seal(json.dumps(value), public, INPUT_INFO)
        reply_key = X25519PrivateKey.generate()
        raw = reply_key.public_key().public_bytes_raw()
        body["reply_public_key"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        wait = max(wait, 600)
    else:
        body["input"] = value
    if ttl is not None:
        body["ttl_seconds"] = ttl
    if max_cost_usd is not None:
        body["max_cost_micros"] = round(max_cost_usd * 1_000_000)
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    view = client.request("POST", f"/v1/skills/{skill_id}/invoke", json=body, headers=headers)
    if wait:
        view = _wait(client, view, wait)
    if reply_key is not None and view.get("output_encrypted"):
        opened = SUITE.decrypt(decode_sealed(view["output_encrypted"]), reply_key, info=OUTPUT_INFO)
        view = {**view, "output": json.loads(opened), "output_encrypted": None}
    _show(view, as_json)
    if view["status"] in FINISHED - {"completed"}:
        raise typer.Exit(1)


def status(
    invocation_id: str, wait: float = typer.Option(0, "--wait"), as_json: bool = JsonOption
) -> None:
    """Poll one of your invocations."""
    client = ApiClient()
    view = client.request("GET", f"/v1/skills/invocations/{invocation_id}")
    _show(_wait(client, view, wait) if wait else view, as_json)


def pending(limit: int = typer.Option(50, "--limit"), as_json: bool = JsonOption) -> None:
    """Open-mode invocations of your skills waiting for you (with their inputs)."""
    items = ApiClient().request("GET", "/v1/skills/invocations/pending", params={"limit": limit})
    if as_json:
        print_json(items)
        return
    if not items:
        typer.echo("nothing pending")
        return
    print_table(
        "pending",
        ["invocation", "skill", "expires", "input"],
        [
            (i["invocation_id"], i["skill_id"], i["expires_at"], json.dumps(i["input"])[:80])
            for i in items
        ],
    )


def claim(
    invocation_id: str,
    lease: int = typer.Option(300, "--lease", help="Seconds."),
    as_json: bool = JsonOption,
) -> None:
    """Claim an open-mode invocation of your skill and print its input."""
    item = ApiClient().request(
        "POST", f"/v1/skills/invocations/{invocation_id}/claim", json={"lease_seconds": lease}
    )
    if as_json:
        print_json(item)
        return
    typer.echo(f"claimed {item['invocation_id']} until {item['lease_until']}")
    console.print_json(data=item["input"])


def complete(
    invocation_id: str,
    output: str = typer.Option(..., "--output", help="JSON, or @file.json."),
    as_json: bool = JsonOption,
) -> None:
    """Return the output of an open-mode invocation you claimed."""
    value = read_json_argument(output, "--output")
    view = ApiClient().request(
        "POST", f"/v1/skills/invocations/{invocation_id}/complete", json={"output": value}
    )
    _show(view, as_json)
