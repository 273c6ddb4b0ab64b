"""docs/passports.md: its examples run and it documents every identity error code."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from skillmarket.errors import SkillmarketError
from skillmarket.identity import errors

DOC = Path(__file__).resolve().parents[3] / "docs" / "passports.md"
TEXT = DOC.read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, SkillmarketError)
    and cls.__module__ == errors.__name__
    # Operator and API-key errors are documented with the rest in docs/errors.md.
    and not cls.code.startswith(("API_KEY", "OPERATOR", "ADMIN"))
]


def test_doc_has_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda s: s.splitlines()[-1][:40])
def test_example_runs(source):
    exec(compile(source, str(DOC), "exec"), {})


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.code)
def test_error_code_is_documented(cls):
    assert f"`{cls.code}`" in TEXT
