"""Wallet commands end to end: a real `skillmarket serve`, the real CLI, the local data dir.

Invoke does not exist yet (issue 7), so the sale in the middle is made the way the invocation
runtime will make it: through the ledger service, on the same data dir as the server.
"""

from __future__ import annotations

import csv
import io
import json

from skillmarket.config import Settings
from skillmarket.ledger.models import MeteredStep
from skillmarket.ledger.money import month_of
from skillmarket.services import open_services
from tests.e2e.test_serve_and_cli import cli, marketplace  # noqa: F401  (the served fixture)

PAID_SKILL = """\
name: shout
version: 1.0.0
description: Upper-cases a text.
execution_mode: source
price_cents: 25
input_schema: {type: object}
output_schema: {type: object}
execution_steps:
  - {type: script, runtime: javascript, code: "return input.toUpperCase();"}
"""


def test_money_goes_in_is_spent_and_shows_up(marketplace):  # noqa: F811
    env, tmp_path = marketplace
    buyer = json.loads(cli(env, "operator", "create", "buyer", "--json").stdout)
    seller = json.loads(
        cli(env, "operator", "create", "seller", "--tier", "studio", "--json").stdout
    )
    as_buyer = {**env, "SKILLMARKET_API_KEY": buyer["api_key"]}
    as_seller = {**env, "SKILLMARKET_API_KEY": seller["api_key"]}

    # Admin money in, spelled as in the design.
    made = json.loads(cli(env, "wallet", "deposit", buyer["id"], "--usd", "5.00", "--json").stdout)
    assert made["amount_micros"] == 5_000_000 and made["available_micros"] == 5_000_000
    assert "deposited $0.50" in cli(env, "wallet", "deposit", buyer["id"], "--usd", "0.5").stdout
    shown = json.loads(cli(as_buyer, "wallet", "show", "--json").stdout)
    assert shown["available_micros"] == 5_500_000
    assert "$5.50" in cli(as_buyer, "wallet", "show").stdout

    # One sale of a 25-cent skill, as the invocation runtime will bill it.
    manifest = tmp_path / "shout.yaml"
    manifest.write_text(PAID_SKILL)
    skill = json.loads(cli(as_seller, "publish", str(manifest), "--json").stdout)["skill"]
    services = open_services(Settings(data_dir=tmp_path / "data", seed_examples=False))
    try:
        services.ledger.place_hold(
            buyer["id"], "sinv_e2e", skill=services.catalog.get(skill["id"], None), estimate=400
        )
        step = MeteredStep(step=0, type="script", execution_ms=145, upstream_micros=348)
        services.ledger.capture("sinv_e2e", outcome="succeeded", compute=[step])
        month = month_of(services.ledger.clock())
    finally:
        services.close()

    ledger = json.loads(cli(as_buyer, "wallet", "ledger", "--json").stdout)
    assert [line["kind"] for line in ledger["items"]][:2] == ["release", "release"]
    assert "sinv_e2e" in cli(as_buyer, "wallet", "ledger").stdout
    assert json.loads(cli(as_buyer, "wallet", "show", "--json").stdout)["available_micros"] == (
        5_500_000 - 250_000 - 400
    )

    statement = json.loads(cli(as_seller, "wallet", "statement", month, "--json").stdout)
    assert statement["totals"]["net_micros"] == 250_000 - 37_500
    rows = list(
        csv.DictReader(io.StringIO(cli(as_seller, "wallet", "statement", month, "--csv").stdout))
    )
    assert rows[0]["skill_id"] == skill["id"] and rows[-1]["net_usd"] == "0.212500"
    assert "$0.2125" in cli(as_seller, "wallet", "statement", month).stdout

    # This month is still running; the books check out.
    early = cli(env, "wallet", "payout", seller["id"], month, check=False)
    assert early.returncode == 1 and "MONTH_NOT_CLOSED" in early.stderr
    assert json.loads(cli(env, "wallet", "verify", "--json").stdout)["ok"] is True


def test_wallet_commands_fail_with_one_line(marketplace):  # noqa: F811
    env, _ = marketplace
    buyer = json.loads(cli(env, "operator", "create", "buyer", "--json").stdout)
    for usd, code in (("5.0000001", "INVALID_AMOUNT"), ("-1", "INVALID_AMOUNT")):
        failed = cli(env, "wallet", "deposit", buyer["id"], "--usd", usd, check=False)
        assert failed.returncode == 1 and code in failed.stderr
        assert failed.stderr.strip().count("\n") == 0
    unknown = cli(env, "wallet", "deposit", "op_nobody", "--usd", "1", check=False)
    assert unknown.returncode == 1 and "OPERATOR_NOT_FOUND" in unknown.stderr
    as_buyer = {**env, "SKILLMARKET_API_KEY": buyer["api_key"]}
    bad_month = cli(as_buyer, "wallet", "statement", "2026-13", check=False)
    assert bad_month.returncode == 1 and "INVALID_MONTH" in bad_month.stderr
    nothing = cli(env, "wallet", "payout", buyer["id"], "2020-01", check=False)
    assert nothing.returncode == 1 and "NOTHING_TO_PAY_OUT" in nothing.stderr
