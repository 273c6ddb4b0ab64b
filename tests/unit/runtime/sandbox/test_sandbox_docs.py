"""docs/sandbox.md documents every error code, setting and profile of the sandbox."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from skillmarket.runtime import errors
from skillmarket.runtime.sandbox import PROFILES, SandboxConfig

DOC = Path(__file__).resolve().parents[4] / "docs" / "sandbox.md"
CODES = sorted(
    {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ScriptRuntimeError)
    }
)


class TestDocs:
    @pytest.mark.parametrize("code", CODES)
    def test_error_code_is_documented(self, code):
        assert f"`{code}`" in DOC.read_text()

    @pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(SandboxConfig)])
    def test_setting_is_documented(self, name):
        assert f"`{name}`" in DOC.read_text()

    @pytest.mark.parametrize("name", sorted(PROFILES))
    def test_profile_is_documented(self, name):
        assert f"| `{name}` |" in DOC.read_text()
