"""Admin commands: they act on the local data dir directly, like a database's own admin tool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from skillmarket.cli.output import JsonOption, fail, print_json, print_table
from skillmarket.config import Settings
from skillmarket.errors import SkillmarketError
from skillmarket.identity.models import TIERS
from skillmarket.services import Services, open_services

operator_app = typer.Typer(
    help="Manage operators and their API keys (admin, local data dir).", no_args_is_help=True
)


@contextmanager
def local_services() -> Iterator[Services]:
    """Open the local store (migrating it) and turn domain errors into one-line failures."""
    try:
        services = open_services(Settings())
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot open the store: {str(exc).splitlines()[0]}", "STORE_ERROR")
    try:
        yield services
    except SkillmarketError as exc:
        fail(exc.message, exc.code)
    except Exception as exc:  # noqa: BLE001  (one line for people; the store keeps nothing half-done)
        fail(
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            "INTERNAL_ERROR",
        )
    finally:
        services.close()


@operator_app.command("create")
def operator_create(
    name: str = typer.Argument(..., help="Unique operator name."),
    tier: str = typer.Option("free", "--tier", help="free | developer | studio | enterprise"),
    admin: bool = typer.Option(False, "--admin", help="Make a marketplace admin."),
    as_json: bool = JsonOption,
) -> None:
    """Create an operator and print its API key (shown once)."""
    if tier not in TIERS:
        fail(f"tier must be one of {', '.join(TIERS)}", "INVALID_TIER")
    with local_services() as services:
        operator, key = services.identity.create_operator(name, tier, is_admin=admin)  # type: ignore[arg-type]
    if as_json:
        print_json(
            {
                "id": operator.id,
                "api_key": key.api_key,
                "name": operator.name,
                "tier": operator.tier,
                "is_admin": operator.is_admin,
            }
        )
        return
    typer.echo(f"operator {operator.id} ({operator.name}, {operator.tier})")
    typer.echo(f"api key (shown once): {key.api_key}")


@operator_app.command("list")
def operator_list(as_json: bool = JsonOption) -> None:
    """List every operator."""
    with local_services() as services:
        operators = services.identity.list_operators()
    if as_json:
        print_json([o.model_dump(mode="json") for o in operators])
        return
    print_table(
        "operators",
        ["id", "name", "tier", "admin", "created"],
        [
            (o.id, o.name, o.tier, "yes" if o.is_admin else "", o.created_at.isoformat())
            for o in operators
        ],
    )


@operator_app.command("keys")
def operator_keys(operator_id: str, as_json: bool = JsonOption) -> None:
    """List an operator's API keys (prefix only)."""
    with local_services() as services:
        services.identity.get_operator(operator_id)
        keys = services.identity.list_keys(operator_id)
    if as_json:
        print_json([k.model_dump(mode="json") for k in keys])
        return
    print_table(
        f"keys of {operator_id}",
        ["id", "prefix", "label", "created", "revoked"],
        [
            (
                k.id,
                k.prefix + "…",
                k.label,
                k.created_at.isoformat(),
                k.revoked_at.isoformat() if k.revoked_at else "",
            )
            for k in keys
        ],
    )


@operator_app.command("create-key")
def operator_create_key(
    operator_id: str, label: str = typer.Option(None, "--label"), as_json: bool = JsonOption
) -> None:
    """Issue another API key for an operator (shown once)."""
    with local_services() as services:
        key = services.identity.create_key(operator_id, label)
    if as_json:
        print_json(key.model_dump())
        return
    typer.echo(f"api key {key.id} (shown once): {key.api_key}")


@operator_app.command("revoke-key")
def operator_revoke_key(key_id: str, as_json: bool = JsonOption) -> None:
    """Revoke an API key by id; it stops working at once."""
    with local_services() as services:
        info = services.identity.revoke_key(key_id, operator_id=None)
    if as_json:
        print_json(info.model_dump(mode="json"))
        return
    typer.echo(f"revoked {info.id} ({info.prefix}…)")


keys_app = typer.Typer(
    help="Master keys that encrypt sealed skills at rest (admin).", no_args_is_help=True
)


@keys_app.command("rotate")
def keys_rotate(as_json: bool = JsonOption) -> None:
    """Make a new master key current and re-wrap every data key under it (sealed skills and
    connected services' credentials)."""
    with local_services() as services:
        kek_id, moved = services.catalog.rotate_master_key(
            services.key_provider.rotate, None, also=[services.credentials.rewrap_all]
        )
    if as_json:
        print_json({"kek_id": kek_id, "rewrapped": moved})
        return
    typer.echo(f"master key {kek_id} is current; re-wrapped {moved} data keys")
