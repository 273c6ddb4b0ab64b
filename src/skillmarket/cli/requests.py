"""Client commands for skill requests: post, list, show, close, matches, compositions."""

from __future__ import annotations

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

request_app = typer.Typer(
    help="Post and browse skill requests; find matching skills and chains (client).",
    no_args_is_help=True,
)

LimitOption = typer.Option(10, "--limit", help="How many to show (1-50).")
ProvenOption = typer.Option(False, "--proven-only", help="Leave out fits with caveats.")


def load_request(path: Path) -> dict[str, Any]:
    """Read a request file in YAML or JSON (by extension)."""
    return load_document(path, "request", "MALFORMED_REQUEST")


@request_app.command("post")
def request_post(
    file: Path = typer.Argument(..., help="Request file (.yaml, .yml or .json)."),
    as_json: bool = JsonOption,
) -> None:
    """Post a skill request: description, input_schema, output_schema, max_price_cents, tags."""
    request = ApiClient().request("POST", "/v1/requests", json=load_request(file))
    if as_json:
        print_json(request)
        return
    typer.echo(f"posted {request['id']} (up to {price_text(request['max_price_cents'])})")


@request_app.command("list")
def request_list(
    query: str = typer.Argument(None, help="Words the description must contain."),
    tag: list[str] = typer.Option([], "--tag", help="Only requests with this tag (repeatable)."),
    status: str = typer.Option("open", "--status", help="open, closed or all."),
    mine: bool = typer.Option(False, "--mine", help="Only requests you posted."),
    limit: int = typer.Option(20, "--limit"),
    offset: int = typer.Option(0, "--offset"),
    as_json: bool = JsonOption,
) -> None:
    """List skill requests, newest first."""
    params: dict[str, Any] = {"limit": limit, "offset": offset, "status": status, "mine": mine}
    if query:
        params["search"] = query
    if tag:
        params["tags"] = tag
    page = ApiClient().request("GET", "/v1/requests", params=params)
    if as_json:
        print_json(page)
        return
    if not page["items"]:
        typer.echo("no requests found")
        return
    print_table(
        None,
        ["id", "status", "max price", "tags", "description"],
        [
            (
                r["id"],
                r["status"],
                price_text(r["max_price_cents"]),
                ", ".join(r["tags"]),
                shorten(r["description"]),
            )
            for r in page["items"]
        ],
    )
    if page["has_more"]:
        typer.echo(f"more results: --offset {offset + limit}")


@request_app.command("show")
def request_show(
    request_id: str = typer.Argument(..., help="Request id (req_…)."), as_json: bool = JsonOption
) -> None:
    """Show one request with its schemas."""
    request = ApiClient().request("GET", f"/v1/requests/{request_id}")
    if as_json:
        print_json(request)
        return
    console.print(f"[bold]{request['id']}[/bold]  {request['status']}", highlight=False)
    console.print(request["description"], highlight=False)
    for label, value in (
        ("poster", request["poster_id"]),
        ("max price", price_text(request["max_price_cents"])),
        ("tags", ", ".join(request["tags"])),
        ("posted", request["created_at"]),
    ):
        console.print(f"  {label:<12}{value}", highlight=False)
    console.print("input schema:", highlight=False)
    console.print_json(data=request["input_schema"])
    console.print("output schema:", highlight=False)
    console.print_json(data=request["output_schema"])


@request_app.command("close")
def request_close(
    request_id: str = typer.Argument(..., help="Request id (req_…)."), as_json: bool = JsonOption
) -> None:
    """Close one of your requests (closing a closed one changes nothing)."""
    request = ApiClient().request("POST", f"/v1/requests/{request_id}/close")
    if as_json:
        print_json(request)
        return
    typer.echo(f"closed {request['id']}")


def _mapping(items: list[dict[str, Any]]) -> str:
    return ", ".join(m["path"] for m in items) or "(whole value)"


@request_app.command("matches")
def request_matches(
    request_id: str = typer.Argument(..., help="Request id (req_…)."),
    limit: int = LimitOption,
    proven_only: bool = ProvenOption,
    as_json: bool = JsonOption,
) -> None:
    """Skills that alone do what the request asks, best first."""
    found = ApiClient().request(
        "GET",
        f"/v1/requests/{request_id}/matches",
        params={"limit": limit, "proven_only": proven_only},
    )
    if as_json:
        print_json(found)
        return
    if not found["items"]:
        typer.echo(f"no matching skills ({found['candidates_checked']} checked)")
        return
    print_table(
        None,
        ["score", "id", "name", "price", "fit", "output mapped"],
        [
            (
                f"{m['score']:.2f}",
                m["skill"]["id"],
                m["skill"]["name"],
                price_text(m["skill"]["price_cents"]),
                "proven" if m["proven"] else "unproven",
                _mapping(m["output"]),
            )
            for m in found["items"]
        ],
    )
    for match in found["items"]:
        for caveat in match["caveats"]:
            console.print(f"  {match['skill']['name']}: {caveat}", highlight=False)


@request_app.command("compositions")
def request_compositions(
    request_id: str = typer.Argument(..., help="Request id (req_…)."),
    limit: int = LimitOption,
    proven_only: bool = ProvenOption,
    as_json: bool = JsonOption,
) -> None:
    """Chains of two or three skills that together do it (advice: nothing runs)."""
    found = ApiClient().request(
        "GET",
        f"/v1/requests/{request_id}/compositions",
        params={"limit": limit, "proven_only": proven_only},
    )
    if as_json:
        print_json(found)
        return
    if not found["items"]:
        typer.echo(f"no chains found ({found['candidates_checked']} checked)")
        return
    print_table(
        None,
        ["score", "steps", "total", "fit"],
        [
            (
                f"{c['score']:.2f}",
                " → ".join(f"{s['skill']['name']} ({s['skill']['id']})" for s in c["steps"]),
                price_text(c["total_price_cents"]),
                "proven" if c["proven"] else "unproven",
            )
            for c in found["items"]
        ],
    )
