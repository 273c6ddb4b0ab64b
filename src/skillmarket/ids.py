"""Public identifiers: a type prefix and 20 random base32 characters (100 bits).

The prefix says what an id names (``sinv_`` for invocations, as in the seed), so an id pasted
into the wrong place fails with a clear error instead of a confusing "not found".
"""

from __future__ import annotations

import base64
import secrets

PREFIXES = {
    "operator": "op",
    "api_key": "key",
    "skill": "skl",
    "invocation": "sinv",
    "passport": "pp",
    "event": "evt",
    "ledger_entry": "txn",
    "posting": "pst",
    "request": "req",
    "service_connection": "svc",
    "rating": "rat",
    "runner": "run",
}


def new_id(kind: str) -> str:
    """Return a fresh id such as ``skl_k3j5…`` for ``kind`` (a key of :data:`PREFIXES`)."""
    raw = base64.b32encode(secrets.token_bytes(15)).decode().lower()
    return f"{PREFIXES[kind]}_{raw[:20]}"


def has_prefix(value: str, kind: str) -> bool:
    """True when ``value`` looks like an id of ``kind``."""
    return value.startswith(PREFIXES[kind] + "_")
