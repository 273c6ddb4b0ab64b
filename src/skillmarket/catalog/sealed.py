"""Sealed skills' logic: normalise what the publisher sent, keep it encrypted, open it to run.

A publisher sends a sealed step's prompt or code either in plain text (over TLS) or sealed to
the marketplace's HPKE key (``*_encrypted``, ``enc_v1_…``). Either way the logic is opened once
at publish, so the manifest's fingerprint covers the logic itself (and does not change with the
randomness of sealing), then encrypted at rest under a per-version data key. The stored manifest
keeps each step's shape but none of its logic; only :meth:`SealedLogic.open_steps` (the
execution path) ever turns it back into plain text.
"""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.catalog.manifest import LlmStep, ScriptStep, SkillManifest
from skillmarket.catalog.tables import skill_secrets
from skillmarket.crypto import envelope
from skillmarket.crypto.envelope import KeyProvider, WrappedKey
from skillmarket.crypto.sealing import LOGIC_INFO, SealingKey

LOGIC_FIELDS = {
    "llm": ("system_prompt", "system_prompt_encrypted"),
    "script": ("code", "code_encrypted"),
}


def _context(skill_id: str) -> bytes:
    return skill_id.encode()


class SealedLogic:
    """Opens HPKE-sealed logic at publish and keeps sealed skills' logic envelope-encrypted."""

    def __init__(self, provider: KeyProvider, sealing_key: SealingKey):
        self.provider = provider
        self.sealing_key = sealing_key

    def in_plain_text(self, manifest: SkillManifest) -> SkillManifest:
        """The manifest with every ``*_encrypted`` field opened into its plain field."""
        steps: list[LlmStep | ScriptStep] = []
        for step in manifest.execution_steps:
            plain, sealed = LOGIC_FIELDS[step.type]
            value = getattr(step, sealed)
            if value is not None:
                step = step.model_copy(
                    update={plain: self.sealing_key.open(value, LOGIC_INFO), sealed: None}
                )
            steps.append(step)
        return manifest.model_copy(update={"execution_steps": tuple(steps)})

    def seal(
        self, skill_id: str, manifest: SkillManifest
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Split a manifest into what is stored in ``skills.manifest`` (a sealed skill's steps
        without their logic) and its ``skill_secrets`` row (``None`` unless sealed)."""
        stored = manifest.to_json_dict()
        if manifest.execution_mode != "sealed":
            return stored, None
        dek, wrapped = envelope.new_data_key(self.provider, _context(skill_id))
        fields: dict[str, str] = {}
        for index, step in enumerate(stored["execution_steps"]):
            plain, _sealed = LOGIC_FIELDS[step["type"]]
            name = f"{index}.{plain}"
            sealed_bytes = envelope.encrypt_field(dek, _context(skill_id), name, step.pop(plain))
            fields[name] = base64.b64encode(sealed_bytes).decode()
        return stored, {
            "skill_id": skill_id,
            "kek_id": wrapped.kek_id,
            "wrapped_dek": wrapped.wrapped,
            "commitment": wrapped.commitment,
            "fields": fields,
        }

    def open_steps(
        self, conn: Connection, skill_id: str, steps: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The steps of a stored skill with their logic in plain text (execution path only)."""
        row = conn.execute(
            sa.select(skill_secrets).where(skill_secrets.c.skill_id == skill_id)
        ).first()
        if row is None:
            return steps
        wrapped = WrappedKey(row.kek_id, bytes(row.wrapped_dek), bytes(row.commitment))
        dek = envelope.open_data_key(self.provider, wrapped, _context(skill_id))
        opened = []
        for index, step in enumerate(steps):
            plain, _sealed = LOGIC_FIELDS[step["type"]]
            name = f"{index}.{plain}"
            sealed_bytes = base64.b64decode(row.fields[name])
            opened.append(
                {**step, plain: envelope.decrypt_field(dek, _context(skill_id), name, sealed_bytes)}
            )
        return opened

    def rewrap_all(self, conn: Connection) -> int:
        """Re-wrap every data key under the current master key; returns how many moved."""
        current = self.provider.current_kek_id
        rows = conn.execute(sa.select(skill_secrets).where(skill_secrets.c.kek_id != current)).all()
        for row in rows:
            moved = envelope.rewrap(
                self.provider,
                WrappedKey(row.kek_id, bytes(row.wrapped_dek), bytes(row.commitment)),
                _context(row.skill_id),
            )
            conn.execute(
                skill_secrets.update()
                .where(skill_secrets.c.skill_id == row.skill_id)
                .values(kek_id=moved.kek_id, wrapped_dek=moved.wrapped)
            )
        return len(rows)
