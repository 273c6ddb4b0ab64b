"""docs/credentials.md: its Python example runs; its errors, events and numbers match the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skillmarket.audit.events import EventType
from skillmarket.credentials.models import AUTH_SCHEMES
from skillmarket.invocations.services import SELLER_CALLS_HELD
from skillmarket.ledger.pricing import with_markup

DOC = Path(__file__).resolve().parents[3] / "docs" / "credentials.md"
TEXT = DOC.read_text()


def test_python_example_runs():
    [source] = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
    exec(compile(source, str(DOC), "exec"), {})


@pytest.mark.parametrize("scheme", AUTH_SCHEMES)
def test_every_auth_scheme_is_documented(scheme):
    assert f"| `{scheme}`" in TEXT


@pytest.mark.parametrize(
    "event", [EventType.SERVICE_CONNECT, EventType.SERVICE_REPLACE, EventType.SERVICE_DISCONNECT]
)
def test_every_service_event_is_documented(event):
    assert f"`{event}`" in TEXT


def test_numbers_match_the_code():
    assert f"room for **{SELLER_CALLS_HELD} calls**" in TEXT
    assert with_markup(6_000) == 6_900 and '"cost_micros": 6900' in TEXT
