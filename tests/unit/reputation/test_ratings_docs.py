"""docs/ratings.md stays true: its examples run and it names every reputation error code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skillmarket.errors import SkillmarketError
from skillmarket.reputation import errors
from skillmarket.reputation.models import ERROR_TYPES

DOC = Path(__file__).resolve().parents[3] / "docs" / "ratings.md"
TEXT = DOC.read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
CODES = sorted(
    {
        obj.code
        for obj in vars(errors).values()
        if isinstance(obj, type)
        and issubclass(obj, SkillmarketError)
        and obj.__module__ == errors.__name__
    }
    | {t.upper() for t in ERROR_TYPES}
)


def test_doc_has_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda s: s.splitlines()[-1][:40])
def test_example_runs(source):
    exec(compile(source, str(DOC), "exec"), {})


@pytest.mark.parametrize("code", CODES)
def test_error_code_is_documented(code):
    assert f"`{code}`" in TEXT
