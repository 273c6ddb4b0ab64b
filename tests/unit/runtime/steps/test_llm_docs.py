"""docs/llm-steps.md: its examples run, and it keeps up with the codes, settings and prices."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from skillmarket.config import Settings
from skillmarket.errors import SkillmarketError
from skillmarket.runtime.steps import errors
from skillmarket.runtime.steps.pricing import DEFAULT_PRICES

DOCS = Path(__file__).resolve().parents[4] / "docs"
TEXT = (DOCS / "llm-steps.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
CODES = sorted(
    cls.code
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, SkillmarketError) and cls.__module__ == errors.__name__
)


def test_doc_has_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda s: s.splitlines()[0][:40])
def test_example_runs(source):
    exec(compile(source, "docs/llm-steps.md", "exec"), {})


@pytest.mark.parametrize("code", CODES)
def test_error_code_is_documented(code):
    assert f"`{code}`" in TEXT
    assert f"`{code}`" in (DOCS / "errors.md").read_text()


@pytest.mark.parametrize("name", [n for n in Settings.model_fields if n.startswith("llm_")])
def test_setting_is_documented(name):
    assert f"`SKILLMARKET_{name.upper()}`" in TEXT


@pytest.mark.parametrize("model", sorted(DEFAULT_PRICES))
def test_built_in_price_is_documented(model):
    price = DEFAULT_PRICES[model]
    usd = [
        f"{p / 1_000_000:.2f}"
        for p in (price.prompt_micros_per_mtok, price.completion_micros_per_mtok)
    ]
    assert f"| `{model}` | {usd[0]} | {usd[1]} |" in TEXT
