"""The docs keep up with the code: every error code, setting and command is documented."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from typer.main import get_command

import skillmarket
from skillmarket.api.errors import _BUILTIN_CODES, _HTTP_CODES
from skillmarket.catalog.manifest import ERROR_TYPES
from skillmarket.cli.main import app
from skillmarket.config import ClientSettings, Settings
from skillmarket.errors import SkillmarketError
from skillmarket.reputation.models import ERROR_TYPES as RATING_ERROR_TYPES

DOCS = Path(__file__).resolve().parents[1] / "docs"
ROOT = Path(__file__).resolve().parents[1]


def _all_error_classes() -> list[type[SkillmarketError]]:
    for module in pkgutil.walk_packages(skillmarket.__path__, "skillmarket."):
        # Migrations run under Alembic, and the sandbox's _worker scripts inside its workers.
        leaf = module.name.rsplit(".", 1)[-1]
        if ".migrations" not in module.name and not leaf.startswith("_"):
            importlib.import_module(module.name)
    found, todo = [], [SkillmarketError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _codes() -> set[str]:
    codes = {cls.code for cls in _all_error_classes()}
    codes |= {t.upper() for t in ERROR_TYPES | RATING_ERROR_TYPES} | set(_BUILTIN_CODES.values())
    codes |= set(_HTTP_CODES.values())
    return codes


@pytest.mark.parametrize("code", sorted(_codes()))
def test_error_code_is_documented(code):
    assert f"`{code}`" in (DOCS / "errors.md").read_text()


def test_cli_failure_codes_are_documented():
    source = "\n".join(p.read_text() for p in (ROOT / "src/skillmarket/cli").glob("*.py"))
    for code in set(re.findall(r'"([A-Z][A-Z_]{3,})"\)', source)):
        assert f"`{code}`" in (DOCS / "errors.md").read_text(), code


@pytest.mark.parametrize(
    "variable",
    sorted(f"SKILLMARKET_{name.upper()}" for name in Settings.model_fields)
    + sorted(f"SKILLMARKET_{name.upper()}" for name in ClientSettings.model_fields),
)
def test_setting_is_documented(variable):
    assert f"`{variable}`" in (DOCS / "configuration.md").read_text()


def _command_names(command, prefix=()):
    for name, sub in getattr(command, "commands", {}).items():
        yield " ".join((*prefix, name))
        yield from _command_names(sub, (*prefix, name))


@pytest.mark.parametrize("command", sorted(_command_names(get_command(app))))
def test_command_is_documented(command):
    assert f"`skillmarket {command}" in (DOCS / "cli.md").read_text()
