"""Inputs and outputs at rest: encrypted under a per-invocation data key (envelope pattern)."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from skillmarket.crypto import envelope
from skillmarket.crypto.envelope import KeyProvider, WrappedKey


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def new_secrets(provider: KeyProvider, invocation_id: str, value: Any) -> dict[str, str]:
    """A fresh data key for the invocation and its input sealed under it."""
    context = invocation_id.encode()
    dek, wrapped = envelope.new_data_key(provider, context)
    return {
        "kek_id": wrapped.kek_id,
        "wrapped_dek": _b64(wrapped.wrapped),
        "commitment": _b64(wrapped.commitment),
        "input": _b64(envelope.encrypt_field(dek, context, "input", orjson.dumps(value).decode())),
    }


def _dek(provider: KeyProvider, invocation_id: str, secrets: dict[str, str]) -> bytes:
    wrapped = WrappedKey(
        secrets["kek_id"],
        base64.b64decode(secrets["wrapped_dek"]),
        base64.b64decode(secrets["commitment"]),
    )
    return envelope.open_data_key(provider, wrapped, invocation_id.encode())


def open_value(
    provider: KeyProvider, invocation_id: str, secrets: dict[str, str], field: str
) -> Any:
    """The stored ``input`` or ``output`` of an invocation (``None`` if absent)."""
    if field not in secrets:
        return None
    dek = _dek(provider, invocation_id, secrets)
    text = envelope.decrypt_field(
        dek, invocation_id.encode(), field, base64.b64decode(secrets[field])
    )
    return orjson.loads(text)


def with_output(
    provider: KeyProvider, invocation_id: str, secrets: dict[str, str], value: Any
) -> dict[str, str]:
    """The secrets with the output sealed under the invocation's data key."""
    dek = _dek(provider, invocation_id, secrets)
    sealed = envelope.encrypt_field(
        dek, invocation_id.encode(), "output", orjson.dumps(value).decode()
    )
    return {**secrets, "output": _b64(sealed)}
