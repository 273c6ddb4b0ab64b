"""`skillmarket wallet …`: admin money in and out on the local data dir; client views over REST.

Admin (local data dir): ``deposit``, ``payout``, ``verify``.
Client (REST, ``SKILLMARKET_API_KEY``): ``show``, ``ledger``, ``statement``.
"""

from __future__ import annotations

from typing import Any

import typer

from skillmarket.cli.admin import local_services
from skillmarket.cli.client import ApiClient
from skillmarket.cli.output import JsonOption, console, fail, print_json, print_table
from skillmarket.errors import SkillmarketError
from skillmarket.ledger.money import format_usd, parse_month, parse_usd

wallet_app = typer.Typer(
    help="Wallets and billing: deposits and payouts (admin), balances, ledger and statements.",
    no_args_is_help=True,
)


# --- admin -------------------------------------------------------------------------------------


@wallet_app.command("deposit")
def deposit(
    operator_id: str = typer.Argument(..., help="The operator whose wallet is credited."),
    usd: str = typer.Option(..., "--usd", help="Amount in dollars, e.g. 5.00 (max 6 decimals)."),
    ref: str = typer.Option(
        None, "--ref", help="The payment's reference; the same reference is recorded once."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Record money received for an operator and credit their wallet (admin)."""
    try:
        micros = parse_usd(usd)
    except SkillmarketError as exc:
        fail(exc.message, exc.code)
    with local_services() as services:
        made = services.ledger.deposit(operator_id, micros, provider_ref=ref, actor=None)
        wallet = services.ledger.wallet(operator_id)
    if as_json:
        print_json({**made.model_dump(mode="json"), "available_micros": wallet.available_micros})
        return
    verb = "already recorded" if made.replayed else "deposited"
    typer.echo(f"{verb} {format_usd(made.amount_micros)} to {operator_id} ({made.entry_id})")
    typer.echo(f"available {format_usd(wallet.available_micros)}")


@wallet_app.command("payout")
def payout(
    publisher_id: str = typer.Argument(..., help="The publisher to pay."),
    month: str = typer.Argument(..., help="A finished month, YYYY-MM (UTC)."),
    as_json: bool = JsonOption,
) -> None:
    """Pay a publisher's net earnings for a finished month and post it (admin)."""
    with local_services() as services:
        made = services.ledger.payout(publisher_id, month, actor=None)
    if as_json:
        print_json(made.model_dump(mode="json"))
        return
    typer.echo(
        f"paid {format_usd(made.amount_micros)} to {publisher_id} for {month} "
        f"({made.entry_id}, provider ref {made.provider_ref})"
    )


@wallet_app.command("verify")
def verify(as_json: bool = JsonOption) -> None:
    """Check the books: balances equal postings, none negative, debits equal credits (admin)."""
    with local_services() as services:
        check = services.ledger.verify()
    if as_json:
        print_json(check.model_dump(mode="json"))
    else:
        typer.echo(
            f"{check.accounts} accounts, {check.postings} postings; debits "
            f"{format_usd(check.debit_normal_total_micros)} = credits "
            f"{format_usd(check.credit_normal_total_micros)}"
            if check.ok
            else f"the books do not check out: {check.model_dump_json()}"
        )
    if not check.ok:
        fail("the ledger check failed", "LEDGER_CHECK_FAILED")


# --- client ------------------------------------------------------------------------------------


@wallet_app.command("show")
def show(as_json: bool = JsonOption) -> None:
    """My balances and this month's free-skill allowance."""
    wallet = ApiClient().request("GET", "/v1/wallet")
    if as_json:
        print_json(wallet)
        return
    allowance = wallet["allowance"]
    print_table(
        f"wallet of {wallet['operator_id']}",
        ["available", "held", "earnings", f"free allowance {allowance['month']}"],
        [
            (
                format_usd(wallet["available_micros"]),
                format_usd(wallet["held_micros"]),
                format_usd(wallet["earnings_micros"]),
                f"{allowance['used']} of {allowance['limit']} used ({allowance['tier']})",
            )
        ],
    )


@wallet_app.command("ledger")
def ledger(
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JsonOption,
) -> None:
    """My postings, newest first."""
    page = ApiClient().request(
        "GET", "/v1/wallet/ledger", params={"limit": limit, "offset": offset}
    )
    if as_json:
        print_json(page)
        return
    print_table(
        "ledger",
        ["when", "kind", "account", "amount", "counterparty", "invocation"],
        [
            (
                line["created_at"][:19].replace("T", " "),
                line["kind"],
                line["account"],
                format_usd(line["amount_micros"]),
                line["counterparty"],
                line["invocation_id"],
            )
            for line in page["items"]
        ],
    )
    if page["has_more"]:
        console.print(f"more: --offset {offset + limit}")


@wallet_app.command("statement")
def statement(
    month: str = typer.Argument(..., help="YYYY-MM (UTC)."),
    as_csv: bool = typer.Option(False, "--csv", help="Print the statement as CSV."),
    as_json: bool = JsonOption,
) -> None:
    """My publisher statement for a month: sales, commission, reimbursements, net, payout."""
    try:
        parse_month(month)
    except SkillmarketError as exc:
        fail(exc.message, exc.code)
    client = ApiClient()
    path = f"/v1/wallet/statements/{month}"
    if as_csv:
        typer.echo(client.request_text("GET", path, params={"format": "csv"}), nl=False)
        return
    body: dict[str, Any] = client.request("GET", path)
    if as_json:
        print_json(body)
        return
    rows = [
        (
            line["skill_id"] or "TOTAL",
            line["invocations"],
            format_usd(line["gross_micros"]),
            format_usd(line["commission_micros"]),
            format_usd(line["reimbursed_micros"]),
            format_usd(line["net_micros"]),
        )
        for line in [*body["lines"], body["totals"]]
    ]
    print_table(
        f"statement {month} ({body['status']})",
        ["skill", "invocations", "gross", "commission", "reimbursed", "net"],
        rows,
    )
    paid = body["payout"]
    if paid:
        console.print(f"paid {format_usd(paid['amount_micros'])} on {paid['created_at'][:10]}")
