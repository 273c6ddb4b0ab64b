"""Client commands for the catalog: publish, search, show, deprecate, mine."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import typer

from skillmarket.cli.client import ApiClient
from skillmarket.cli.output import (
    JsonOption,
    console,
    load_document,
    price_text,
    print_json,
    print_table,
    shorten,
)
from skillmarket.cli.ratings import rating_text
from skillmarket.crypto.sealing import LOGIC_INFO, seal


def load_manifest(path: Path) -> dict[str, Any]:
    """Read a manifest file in YAML or JSON (by extension)."""
    return load_document(path, "manifest", "MALFORMED_MANIFEST")


def seal_logic(client: ApiClient, manifest: dict[str, Any]) -> dict[str, Any]:
    """Seal a sealed-mode manifest's plain prompts and code to the marketplace's HPKE key, so
    the logic leaves this machine only as ciphertext."""
    if manifest.get("execution_mode") != "sealed":
        return manifest
    key = client.request("GET", "/.well-known/skillmarket-sealing-key")
    public = base64.urlsafe_b64decode(key["public_key"] + "=" * (-len(key["public_key"]) % 4))
    steps = []
    for step in manifest.get("execution_steps") or []:
        step = dict(step)
        for plain in ("code", "system_prompt"):
            if isinstance(step.get(plain), str):
                step[f"{plain}_encrypted"] = seal(step.pop(plain), public, LOGIC_INFO)
        steps.append(step)
    return {**manifest, "execution_steps": steps}


def publish(
    manifest: Path = typer.Argument(..., help="Manifest file (.yaml, .yml or .json)."),
    no_seal: bool = typer.Option(
        False,
        "--no-seal",
        help="Send a sealed skill's logic in "
        "plain text (over TLS) instead of sealing it here first.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Publish a skill version from a manifest file (a sealed skill's logic is sealed first)."""
    client = ApiClient()
    body = load_manifest(manifest)
    if not no_seal:
        body = seal_logic(client, body)
    result = client.request("POST", "/v1/skills", json=body)
    if as_json:
        print_json(result)
        return
    skill = result["skill"]
    verb = "published" if result["created"] else "already published (identical)"
    typer.echo(f"{verb} {skill['name']}@{skill['version']} as {skill['id']}")
    typer.echo(f"fingerprint {skill['fingerprint']}")


def search(
    query: str = typer.Argument(None, help="Words to search for (omit to browse)."),
    tag: list[str] = typer.Option([], "--tag", help="Only skills with this tag (repeatable)."),
    trust_level: str = typer.Option(None, "--trust-level", help="L0, L1 or L2."),
    min_rating: float = typer.Option(
        None, "--min-rating", help="Only skills rated at least this on average (1-5)."
    ),
    sort: str = typer.Option(
        "relevance", "--sort", help="relevance (default), rating (best rated first) or newest."
    ),
    limit: int = typer.Option(20, "--limit"),
    offset: int = typer.Option(0, "--offset"),
    as_json: bool = JsonOption,
) -> None:
    """Search the catalog and print a table of skills."""
    params: dict[str, Any] = {"limit": limit, "offset": offset, "sort": sort}
    if min_rating is not None:
        params["min_rating"] = min_rating
    if query:
        params["search"] = query
    if trust_level:
        params["trust_level"] = trust_level
    if tag:
        params["tags"] = tag
    page = ApiClient().request("GET", "/v1/skills", params=params)
    if as_json:
        print_json(page)
        return
    if not page["items"]:
        typer.echo("no skills found")
        return
    print_table(
        None,
        ["id", "name", "version", "mode", "trust", "price", "rating", "description"],
        [
            (
                s["id"],
                s["name"],
                s["version"],
                s["execution_mode"],
                s["trust_level_required"],
                price_text(s["price_cents"]),
                rating_text(s["rating"]),
                shorten(s["description"]),
            )
            for s in page["items"]
        ],
    )
    if page["has_more"]:
        typer.echo(f"more results: --offset {offset + limit}")


def show(
    skill_id: str = typer.Argument(..., help="Skill id (skl_…)."), as_json: bool = JsonOption
) -> None:
    """Show one skill version in full."""
    skill = ApiClient().request("GET", f"/v1/skills/{skill_id}")
    if as_json:
        print_json(skill)
        return
    console.print(f"[bold]{skill['name']}@{skill['version']}[/bold]  {skill['id']}")
    console.print(skill["description"], highlight=False)
    facts = [
        ("publisher", skill["publisher_id"]),
        ("execution mode", skill["execution_mode"]),
        ("credential mode", skill["credential_mode"]),
        ("trust required", skill["trust_level_required"]),
        ("price", price_text(skill["price_cents"])),
        ("tags", ", ".join(skill["tags"])),
        ("fingerprint", skill["fingerprint"]),
        ("rating", rating_text(skill["rating"])),
        ("this version", rating_text(skill["version_rating"])),
        (
            "status",
            "deprecated"
            if skill["deprecated"]
            else ("latest" if skill["is_latest"] else "older version"),
        ),
    ]
    for label, value in facts:
        console.print(f"  {label:<16}{value}", highlight=False)
    console.print("input schema:", highlight=False)
    console.print_json(data=skill["input_schema"])
    console.print("output schema:", highlight=False)
    console.print_json(data=skill["output_schema"])
    if skill["execution_steps"]:
        hidden = " (logic sealed)" if skill["steps_redacted"] else ""
        console.print(f"steps{hidden}:", highlight=False)
        console.print_json(data=skill["execution_steps"])


def mine(as_json: bool = JsonOption) -> None:
    """List every skill version you have published."""
    skills = ApiClient().request("GET", "/v1/skills/mine")
    if as_json:
        print_json(skills)
        return
    print_table(
        "my skills",
        ["id", "name", "version", "status"],
        [
            (
                s["id"],
                s["name"],
                s["version"],
                "deprecated" if s["deprecated"] else ("latest" if s["is_latest"] else ""),
            )
            for s in skills
        ],
    )


def deprecate(
    skill_id: str, reason: str = typer.Option(None, "--reason"), as_json: bool = JsonOption
) -> None:
    """Deprecate one of your skill versions."""
    skill = ApiClient().request("POST", f"/v1/skills/{skill_id}/deprecate", json={"reason": reason})
    if as_json:
        print_json(skill)
        return
    typer.echo(f"deprecated {skill['name']}@{skill['version']}")
