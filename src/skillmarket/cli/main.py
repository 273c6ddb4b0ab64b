"""The `skillmarket` command: admin commands on the local data dir, client commands over REST."""

from __future__ import annotations

import logging

import typer

from skillmarket.cli import (
    admin,
    audit,
    invocations,
    passports,
    ratings,
    requests,
    services,
    skills,
    wallet,
)
from skillmarket.cli.mcp import mcp
from skillmarket.cli.output import fail

app = typer.Typer(
    name="skillmarket",
    help="A self-hostable marketplace and secure runtime for AI-agent skills.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(admin.operator_app, name="operator")
app.add_typer(passports.passport_app, name="passport")
app.add_typer(passports.issuer_app, name="issuer")
app.add_typer(passports.trust_app, name="trust")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(wallet.wallet_app, name="wallet")
app.add_typer(requests.request_app, name="request")
app.add_typer(services.service_app, name="service")
for command in (
    skills.publish,
    skills.search,
    skills.show,
    skills.mine,
    skills.deprecate,
    invocations.invoke,
    invocations.status,
    invocations.pending,
    invocations.claim,
    invocations.complete,
    mcp,
    ratings.rate,
    ratings.ratings,
):
    app.command()(command)


@app.command()
def serve(
    host: str = typer.Option(None, "--host", help="Default: SKILLMARKET_HOST or 127.0.0.1."),
    port: int = typer.Option(None, "--port", help="Default: SKILLMARKET_PORT or 8080."),
) -> None:
    """Serve the marketplace (migrates the store; seeds example skills on first start)."""
    import uvicorn

    from skillmarket.api.app import create_app
    from skillmarket.config import Settings
    from skillmarket.services import open_services, seed_examples

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = {"host": host, "port": port}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    try:
        services = open_services(settings)
    except Exception as exc:  # noqa: BLE001  (any failure to open the store ends start-up)
        fail(f"cannot open the store at {settings.resolved_database_url}: {exc}", "STORE_ERROR")
    if settings.seed_examples:
        seeded = seed_examples(services)
        if seeded:
            typer.echo(f"published {seeded} example skills")
    typer.echo(f"store: {settings.resolved_database_url}")
    uvicorn.run(
        create_app(services),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=settings.access_log,
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations to the configured store."""
    from skillmarket.config import Settings
    from skillmarket.services import open_services

    settings = Settings()
    open_services(settings).close()
    typer.echo(f"store at {settings.resolved_database_url} is up to date")


if __name__ == "__main__":
    app()
