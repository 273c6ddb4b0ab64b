"""`skillmarket service …`: connect, list, show and disconnect services (client, over REST).

The secret never goes on the command line (where ``ps`` and shell history would keep it): it is
read from an environment variable (``--secret-env NAME``), from standard input
(``--secret-stdin``), or from a hidden prompt.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from skillmarket.cli.client import ApiClient
from skillmarket.cli.output import JsonOption, fail, print_json, print_table

service_app = typer.Typer(
    help="Connected services: credentials skills use through the credential proxy (client).",
    no_args_is_help=True,
)


def read_secret(secret_env: str | None, secret_stdin: bool) -> str:
    """The secret from the named environment variable, standard input or a hidden prompt."""
    if secret_env and secret_stdin:
        fail("give --secret-env or --secret-stdin, not both", "SECRET_MISSING")
    if secret_env:
        value = os.environ.get(secret_env)
        if not value:
            fail(f"the environment variable {secret_env} is not set", "SECRET_MISSING")
        return value
    if secret_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            fail("standard input held no secret", "SECRET_MISSING")
        return value
    return str(typer.prompt("secret", hide_input=True))


def _auth_name(connection: dict[str, Any]) -> str:
    return connection["header_name"] or connection["param_name"] or ""


@service_app.command("connect")
def connect(
    name: str = typer.Argument(..., help="The service name skills declare, e.g. example_api."),
    domain: str = typer.Option(
        ..., "--domain", help="Its host, e.g. api.example.com (binds its registrable domain)."
    ),
    auth: str = typer.Option("bearer", "--auth", help="bearer, header, query or basic."),
    header_name: str = typer.Option(None, "--header-name", help="With --auth header."),
    param_name: str = typer.Option(None, "--param-name", help="With --auth query."),
    username: str = typer.Option(None, "--username", help="With --auth basic."),
    secret_env: str = typer.Option(
        None, "--secret-env", help="Read the secret from this environment variable."
    ),
    secret_stdin: bool = typer.Option(
        False, "--secret-stdin", help="Read the secret from the first line of standard input."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Connect a service, or replace its credential (prompts for the secret unless told)."""
    secret = read_secret(secret_env, secret_stdin)
    body: dict[str, Any] = {"name": name, "domain": domain, "auth": auth, "secret": secret}
    extras = {"header_name": header_name, "param_name": param_name, "username": username}
    body.update({k: v for k, v in extras.items() if v is not None})
    result = ApiClient().request("POST", "/v1/services", json=body)
    if as_json:
        print_json(result)
        return
    made = result["service"]
    verb = "replaced" if result["replaced"] else "connected"
    typer.echo(
        f"{verb} {made['name']} ({made['auth']}"
        f"{' ' + _auth_name(made) if _auth_name(made) else ''}) for "
        f"{made['registrable_domain']} and its subdomains ({made['id']})"
    )


@service_app.command("list")
def list_services(as_json: bool = JsonOption) -> None:
    """My connected services (never their credentials)."""
    connections = ApiClient().request("GET", "/v1/services")
    if as_json:
        print_json(connections)
        return
    print_table(
        "connected services",
        ["name", "auth", "domain", "binds", "updated", "id"],
        [
            (
                c["name"],
                f"{c['auth']} {_auth_name(c)}".strip(),
                c["domain"],
                c["registrable_domain"],
                c["updated_at"][:19].replace("T", " "),
                c["id"],
            )
            for c in connections
        ],
    )


@service_app.command("show")
def show(name: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """One connected service (never its credential)."""
    connection = ApiClient().request("GET", f"/v1/services/{name}")
    if as_json:
        print_json(connection)
        return
    for key in ("id", "name", "domain", "registrable_domain", "auth", "created_at", "updated_at"):
        typer.echo(f"{key}: {connection[key]}")
    if _auth_name(connection):
        typer.echo(f"carried in: {_auth_name(connection)}")


@service_app.command("disconnect")
def disconnect(name: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """Remove a connected service and its credential."""
    gone = ApiClient().request("DELETE", f"/v1/services/{name}")
    if as_json:
        print_json(gone)
        return
    typer.echo(f"disconnected {gone['name']} ({gone['id']})")
