"""docs/requests.md: its examples run and it names every requests error code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skillmarket.requests import errors

DOC = Path(__file__).resolve().parents[3] / "docs" / "requests.md"
TEXT = DOC.read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)


def test_doc_has_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda s: s.splitlines()[-1][:40])
def test_example_runs(source):
    exec(compile(source, str(DOC), "exec"), {})


@pytest.mark.parametrize(
    "code", [errors.RequestNotFound.code, errors.NotRequestOwner.code, errors.RequestClosed.code]
)
def test_error_code_is_documented(code):
    assert f"`{code}`" in TEXT
