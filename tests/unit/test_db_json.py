"""The JSON columns' serializer: orjson, with the standard library for what orjson refuses."""

from __future__ import annotations

import json

import pytest

from skillmarket.db import json_dumps


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "é": [1.5, None, True], "nested": {"x": "y"}},
        {"maximum": 10**30},  # past 64 bits: orjson refuses, the stdlib writes it
        {1: "int key"},  # a non-string key: orjson refuses, the stdlib turns it into "1"
        [],
    ],
)
def test_json_dumps_round_trips_like_the_standard_library(value):
    assert json.loads(json_dumps(value)) == json.loads(json.dumps(value))


def test_json_dumps_refuses_what_neither_can_write():
    with pytest.raises(TypeError):
        json_dumps({"a": object()})
