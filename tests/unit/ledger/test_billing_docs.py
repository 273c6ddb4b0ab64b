"""docs/billing.md: its examples run, and it names every posting kind and the key errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "billing.md"
TEXT = DOC.read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
POSTING_KINDS = [
    "deposit",
    "hold",
    "price",
    "commission",
    "overage",
    "llm",
    "script",
    "proxy",
    "markup",
    "absorbed",
    "release",
    "payout",
]
HEADLINE_ERRORS = ["INSUFFICIENT_FUNDS", "MAX_COST_TOO_LOW", "HOLD_ALREADY_SETTLED"]


def test_doc_has_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda s: s.splitlines()[-1][:40])
def test_example_runs(source):
    exec(compile(source, str(DOC), "exec"), {})


@pytest.mark.parametrize("kind", POSTING_KINDS)
def test_posting_kind_is_documented(kind):
    assert f"`{kind}`" in TEXT


@pytest.mark.parametrize("code", HEADLINE_ERRORS)
def test_error_code_is_documented(code):
    assert f"`{code}`" in TEXT


def test_worked_example_matches_the_seed_numbers():
    for figure in ("3,304", "496", "3,800", "348", "52", "400", "4,200", "$0.0042"):
        assert figure in TEXT
