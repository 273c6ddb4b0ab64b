"""`skillmarket request …` against a real `skillmarket serve` with its example skills."""

from __future__ import annotations

import json

from tests.e2e.test_serve_and_cli import cli, marketplace  # noqa: F401  (the fixture)

REQUEST_YAML = """\
description: Total an invoice from its line items
tags: [finance]
max_price_cents: 1
input_schema:
  type: object
  required: [items]
  properties:
    items:
      type: array
      items: {type: object, required: [price], properties: {price: {type: number}}}
output_schema:
  type: object
  required: [total]
  properties:
    total: {type: number}
"""


def test_request_round_trip(marketplace):  # noqa: F811
    env, tmp_path = marketplace
    created = json.loads(cli(env, "operator", "create", "bob", "--json").stdout)
    env = {**env, "SKILLMARKET_API_KEY": created["api_key"]}
    (tmp_path / "need.yaml").write_text(REQUEST_YAML)

    posted = json.loads(cli(env, "request", "post", str(tmp_path / "need.yaml"), "--json").stdout)
    request_id = posted["id"]
    assert posted["status"] == "open" and posted["max_price_cents"] == 1
    assert request_id in cli(env, "request", "list").stdout
    shown = json.loads(cli(env, "request", "show", request_id, "--json").stdout)
    assert shown == posted
    assert "Total an invoice" in cli(env, "request", "show", request_id).stdout

    matches = json.loads(cli(env, "request", "matches", request_id, "--json").stdout)
    names = [m["skill"]["name"] for m in matches["items"]]
    assert names[:2] == ["invoice-total", "invoice-total-python"]
    table = cli(env, "request", "matches", request_id).stdout
    assert "invoice-total" in table and "proven" in table
    chains = json.loads(cli(env, "request", "compositions", request_id, "--json").stdout)
    assert chains["request_id"] == request_id
    cli(env, "request", "compositions", request_id)

    closed = json.loads(cli(env, "request", "close", request_id, "--json").stdout)
    assert closed["status"] == "closed"
    assert "no requests found" in cli(env, "request", "list").stdout
    failed = cli(env, "request", "matches", request_id, check=False)
    assert failed.returncode == 1 and "REQUEST_CLOSED" in failed.stderr

    (tmp_path / "bad.yaml").write_text("- just\n- a list\n")
    failed = cli(env, "request", "post", str(tmp_path / "bad.yaml"), check=False)
    assert failed.returncode == 1 and "MALFORMED_REQUEST" in failed.stderr
