"""Audit commands: verify the whole log (admin, local), sign a checkpoint, verify a receipt."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from skillmarket.audit.errors import AuditError
from skillmarket.audit.keys import NoteVerifier
from skillmarket.audit.receipts import Receipt, verify_receipt
from skillmarket.cli.admin import local_services
from skillmarket.cli.output import JsonOption, err_console, fail, print_json

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(as_json: bool = JsonOption) -> None:
    """Replay the whole log from the local store and check it against every signed checkpoint."""
    with (
        local_services() as services,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        ) as bar,
    ):
        task = bar.add_task("verifying events", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = services.audit.verify(progress)
    result = {
        "ok": True,
        "events": report.events,
        "checkpoints": report.checkpoints,
        "signed_size": report.signed_size,
        "unsigned_tail": report.unsigned_tail,
    }
    if as_json:
        print_json(result)
        return
    typer.echo(
        f"ok: {report.events} events, {report.checkpoints} checkpoints verified; "
        f"signed up to {report.signed_size}"
        + (
            f", {report.unsigned_tail} newer events not yet in a checkpoint"
            if report.unsigned_tail
            else ""
        )
    )


@audit_app.command("checkpoint")
def audit_checkpoint(as_json: bool = JsonOption) -> None:
    """Sign a checkpoint of the local log now and print it."""
    with local_services() as services:
        signed = services.audit.sign_checkpoint()
    if signed is None:
        fail("the log is empty; nothing to sign", "AUDIT_LOG_EMPTY")
    if as_json:
        print_json(signed.to_json())
        return
    typer.echo(signed.note, nl=False)


@audit_app.command("verify-receipt")
def audit_verify_receipt(
    receipt: Path = typer.Argument(..., help="Receipt JSON file."),
    key: str = typer.Option(
        ...,
        "--key",
        help="The log's verifier key (name+id+key), as "
        "served at /.well-known/skillmarket-audit-key.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Verify an invocation receipt offline: signature, and the event's inclusion proof."""
    try:
        document = json.loads(receipt.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"cannot read a receipt from {receipt}: {exc}", "RECEIPT_INVALID")
    try:
        verified = verify_receipt(Receipt.from_json(document), NoteVerifier.from_string(key))
    except AuditError as exc:
        fail(exc.message, exc.code)
    if as_json:
        print_json(
            {
                "ok": True,
                "invocation_id": verified.claims["invocation_id"],
                "leaf_index": verified.leaf_index,
            }
        )
        return
    typer.echo(
        f"ok: receipt for {verified.claims['invocation_id']} is signed by the log and its event is "
        f"leaf {verified.leaf_index} of the checkpoint of size "
        f"{verified.checkpoint.size}"
    )
