"""Passport and issuer commands: admin ones on the local data dir, `trust check` over REST."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import typer

from skillmarket.cli.admin import local_services
from skillmarket.cli.client import ApiClient
from skillmarket.cli.output import JsonOption, fail, print_json, print_table

passport_app = typer.Typer(
    help="Issue, list and revoke passports (admin, local data dir).", no_args_is_help=True
)
issuer_app = typer.Typer(
    help="This marketplace's passport issuer and trusted external issuers (admin, local data dir).",
    no_args_is_help=True,
)
trust_app = typer.Typer(help="Check trust levels (client).", no_args_is_help=True)


def _parse_claims(claims: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in claims:
        name, sep, assurance = item.partition("=")
        if not sep:
            fail(
                f"--claim takes NAME=ASSURANCE, e.g. verified_human=substantial, not {item!r}",
                "PASSPORT_CLAIM_INVALID",
            )
        parsed[name.strip()] = assurance.strip()
    return parsed


@passport_app.command("issue")
def passport_issue(
    operator: str = typer.Option(..., "--operator", help="Owner operator id (op_…)."),
    claim: list[str] = typer.Option(
        [], "--claim", help="NAME=ASSURANCE, e.g. verified_human=substantial (repeatable)."
    ),
    ttl_days: int = typer.Option(30, "--ttl-days", help="Lifetime in days (1-90)."),
    as_json: bool = JsonOption,
) -> None:
    """Issue a passport signed by this marketplace and print its id and token."""
    with local_services() as services:
        issued = services.passports.issue(
            operator, _parse_claims(claim), ttl=timedelta(days=ttl_days)
        )
    if as_json:
        print_json(
            {
                "passport_id": issued.passport_id,
                "token": issued.token,
                "operator_id": issued.owner,
                "expires_at": issued.expires_at.isoformat(),
            }
        )
        return
    typer.echo(
        f"passport {issued.passport_id} for {issued.owner}, expires {issued.expires_at.isoformat()}"
    )
    typer.echo(f"token: {issued.token}")


@passport_app.command("list")
def passport_list(
    operator: str = typer.Option(None, "--operator"), as_json: bool = JsonOption
) -> None:
    """List passports (all, or one operator's)."""
    with local_services() as services:
        items = services.passports.list(operator)
    if as_json:
        print_json([p.model_dump(mode="json") for p in items])
        return
    print_table(
        "passports",
        ["id", "operator", "claims", "expires", "revoked"],
        [
            (
                p.id,
                p.operator_id,
                ", ".join(f"{k}={v['assurance']}" for k, v in p.claims.items()),
                p.expires_at.isoformat(),
                p.revoked_at.isoformat() if p.revoked_at else "",
            )
            for p in items
        ],
    )


@passport_app.command("revoke")
def passport_revoke(
    passport_id: str, reason: str = typer.Option(None, "--reason"), as_json: bool = JsonOption
) -> None:
    """Revoke a passport; invocations using it terminate at their next check."""
    with local_services() as services:
        info = services.passports.revoke(passport_id, actor=None, reason=reason)
    if as_json:
        print_json(info.model_dump(mode="json"))
        return
    typer.echo(f"revoked {info.id}")


@issuer_app.command("list")
def issuer_list(as_json: bool = JsonOption) -> None:
    """This marketplace's issuer id, then trusted external issuers."""
    with local_services() as services:
        issuers = services.passports.list_issuers()
    if as_json:
        print_json(issuers)
        return
    for index, issuer in enumerate(issuers):
        typer.echo(f"{issuer}{'  (this marketplace)' if index == 0 else ''}")


@issuer_app.command("trust")
def issuer_trust(
    issuer: str,
    jwks: Path = typer.Option(..., "--jwks", help="JWKS JSON file."),
    replace: bool = typer.Option(False, "--replace"),
) -> None:
    """Trust an external issuer's passports by its JWKS."""
    try:
        document = json.loads(jwks.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"cannot read a JWKS from {jwks}: {exc}", "ISSUER_JWKS_INVALID")
    with local_services() as services:
        services.passports.trust_issuer(issuer, document, actor=None, replace=replace)
    typer.echo(f"trusting {issuer}")


@issuer_app.command("distrust")
def issuer_distrust(issuer: str) -> None:
    """Stop trusting an external issuer."""
    with local_services() as services:
        services.passports.distrust_issuer(issuer, actor=None)
    typer.echo(f"no longer trusting {issuer}")


@issuer_app.command("rotate-key")
def issuer_rotate_key() -> None:
    """Start signing with a new key; the old one verifies its passports until they expire."""
    with local_services() as services:
        kid = services.passports.rotate_key(actor=None)
    typer.echo(f"new signing key {kid}")


@issuer_app.command("jwks")
def issuer_jwks() -> None:
    """Print this marketplace's public issuer keys (JWKS)."""
    with local_services() as services:
        print_json(services.passports.jwks())


@trust_app.command("check")
def trust_check(
    passport: str = typer.Option(..., "--passport", help="Passport id (pp_…)."),
    skill: str = typer.Option(None, "--skill", help="Skill id whose level to check."),
    level: str = typer.Option(None, "--level", help="Or a level: L0, L1, L2."),
    as_json: bool = JsonOption,
) -> None:
    """Would your passport be allowed to invoke the skill? Names the missing claim if not."""
    if (skill is None) == (level is None):
        fail("give exactly one of --skill or --level", "VALIDATION_ERROR")
    body = {"passport_id": passport, "skill_id": skill, "trust_level": level}
    result = ApiClient().request(
        "POST", "/v1/trust/check", json={k: v for k, v in body.items() if v is not None}
    )
    if as_json:
        print_json(result)
    elif result["allowed"]:
        typer.echo(f"allowed at {result['required_level']}")
    else:
        typer.echo(
            f"not allowed at {result['required_level']}: needs {result['missing_claim']} "
            f"at {result['required_assurance']} (held: {result['held_assurance'] or 'none'})"
        )
    if not result["allowed"]:
        raise typer.Exit(1)
