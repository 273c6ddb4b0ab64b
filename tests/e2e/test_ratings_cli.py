"""`skillmarket rate`, `ratings` and `search --sort rating` against a real `skillmarket serve`:
a publisher serves an open-mode skill from the CLI, a buyer invokes, the publisher completes,
the buyer rates, and everyone reads the rating."""

from __future__ import annotations

import json

from tests.e2e.test_serve_and_cli import buyer_with_money, cli, marketplace  # noqa: F401

OPEN_YAML = """\
name: widget-appraiser
version: 1.0.0
description: Appraises a widget, answered by its publisher's own agent.
tags: [widgets]
execution_mode: open
input_schema: {type: object, required: [widget], properties: {widget: {type: string}}}
output_schema: {type: object, required: [value], properties: {value: {type: number}}}
"""


def test_buy_complete_rate_and_read_from_the_cli(marketplace):  # noqa: F811
    env, tmp_path = marketplace
    publisher = json.loads(cli(env, "operator", "create", "pat", "--json").stdout)
    pat = {**env, "SKILLMARKET_API_KEY": publisher["api_key"]}
    (tmp_path / "open.yaml").write_text(OPEN_YAML)
    skill = json.loads(cli(pat, "publish", str(tmp_path / "open.yaml"), "--json").stdout)["skill"]

    buyer, buyer_id, passport = buyer_with_money(env)
    pending = json.loads(
        cli(
            buyer,
            "invoke",
            skill["id"],
            "--input",
            '{"widget": "w-1"}',
            "--passport",
            passport,
            "--json",
        ).stdout
    )
    invocation_id = pending["invocation_id"]
    early = cli(
        buyer, "rate", skill["id"], "--invocation", invocation_id, "--score", "5", check=False
    )
    assert early.returncode == 1 and "INVOCATION_NOT_COMPLETED" in early.stderr
    cli(pat, "claim", invocation_id)
    cli(pat, "complete", invocation_id, "--output", '{"value": 12.5}')

    rated = json.loads(
        cli(
            buyer,
            "rate",
            skill["id"],
            "--invocation",
            invocation_id,
            "--score",
            "4",
            "--comment",
            "Fair price.",
            "--json",
        ).stdout
    )
    assert rated["rating"]["rater_id"] == buyer_id and rated["summary"]["mean"] == 4.0
    again = cli(
        buyer, "rate", skill["id"], "--invocation", invocation_id, "--score", "1", check=False
    )
    assert again.returncode == 1 and "ALREADY_RATED" in again.stderr
    bad = cli(
        buyer, "rate", skill["id"], "--invocation", invocation_id, "--score", "9", check=False
    )
    assert bad.returncode == 1 and "RATING_SCORE_INVALID" in bad.stderr

    page = json.loads(cli(pat, "ratings", skill["id"], "--json").stdout)
    assert page["summary"]["count"] == 1 and page["items"][0]["comment"] == "Fair price."
    text = cli(pat, "ratings", skill["id"], "--raters", buyer_id).stdout
    assert "Fair price." in text and "mean 4.00 of 1" in text
    nobody = json.loads(
        cli(pat, "ratings", skill["id"], "--raters", publisher["id"], "--json").stdout
    )
    assert nobody["summary"]["count"] == 0

    best = json.loads(
        cli(buyer, "search", "--sort", "rating", "--min-rating", "4", "--json").stdout
    )
    assert [s["name"] for s in best["items"]] == ["widget-appraiser"]
    table = cli(buyer, "search", "widget").stdout
    assert "4.00 (1)" in table
    assert "4.00 (1)" in cli(buyer, "show", skill["id"]).stdout
