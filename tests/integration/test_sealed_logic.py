"""Sealed skills' logic: encrypted at rest, opened only on the execution path, sealed uploads."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from skillmarket.catalog.manifest import SkillManifest
from skillmarket.catalog.tables import skill_secrets, skills
from skillmarket.crypto.errors import DecryptionFailed, SealedValueInvalid
from skillmarket.crypto.sealing import INPUT_INFO, LOGIC_INFO, seal

PROMPT = "You are the TOP SECRET invoice extractor."
CODE = "return JSON.stringify({secret: 'SECRET CODE 42'});"


@pytest.fixture
def sealed_manifest(manifest_factory):
    def make(prompt=PROMPT, code=CODE, **overrides):
        llm = {"type": "llm", "model": "openai/gpt-4o", "temperature": 0.3}
        script = {"type": "script", "runtime": "javascript", "timeout_ms": 5000}
        llm.update(prompt if isinstance(prompt, dict) else {"system_prompt": prompt})
        script.update(code if isinstance(code, dict) else {"code": code})
        return SkillManifest.model_validate(
            manifest_factory(
                name="sealed-skill",
                execution_mode="sealed",
                execution_steps=[llm, script],
                **overrides,
            )
        )

    return make


def raw_store_text(database) -> str:
    """Everything the store holds about skills, as text (what a stolen backup would show)."""
    with database.read() as conn:
        rows = [*conn.execute(sa.select(skills)).all(), *conn.execute(sa.select(skill_secrets))]
    return repr(rows)


class TestAtRest:
    def test_plain_upload_is_encrypted_at_rest_and_opens_to_run(
        self, services, database, operator_factory, sealed_manifest
    ):
        alice, _ = operator_factory()
        skill = services.catalog.publish(alice.id, sealed_manifest()).skill
        stored = raw_store_text(database)
        assert "TOP SECRET" not in stored and "SECRET CODE" not in stored
        steps = services.catalog.execution_steps(skill.id)
        assert steps[0]["system_prompt"] == PROMPT and steps[1]["code"] == CODE
        assert steps[1]["timeout_ms"] == 5000

    def test_hpke_sealed_upload_gives_the_same_fingerprint(
        self, services, operator_factory, sealed_manifest
    ):
        alice, _ = operator_factory()
        public = services.sealing_key.public_key
        sealed = sealed_manifest(
            prompt={"system_prompt_encrypted": seal(PROMPT, public, LOGIC_INFO)},
            code={"code_encrypted": seal(CODE, public, LOGIC_INFO)},
        )
        first = services.catalog.publish(alice.id, sealed)
        assert first.skill.fingerprint == sealed_manifest().fingerprint()
        again = services.catalog.publish(alice.id, sealed_manifest())  # now in plain text
        assert not again.created and again.skill.id == first.skill.id
        assert services.catalog.execution_steps(first.skill.id)[1]["code"] == CODE

    @pytest.mark.parametrize(
        "value",
        [
            "enc_v1_" + "A" * 80,  # well-formed base64, not a ciphertext
            "enc_v1_short",  # too short
            "enc_v1_***",  # not base64url
        ],
    )
    def test_publish_fails_bad_sealed_value_and_writes_nothing(
        self, services, database, operator_factory, sealed_manifest, value
    ):
        alice, _ = operator_factory()
        with pytest.raises(SealedValueInvalid):
            services.catalog.publish(alice.id, sealed_manifest(code={"code_encrypted": value}))
        assert services.catalog.count() == 0

    def test_publish_fails_value_sealed_for_another_purpose(
        self, services, operator_factory, sealed_manifest
    ):
        alice, _ = operator_factory()
        wrong = seal(CODE, services.sealing_key.public_key, INPUT_INFO)
        with pytest.raises(SealedValueInvalid):
            services.catalog.publish(alice.id, sealed_manifest(code={"code_encrypted": wrong}))

    def test_moved_ciphertext_does_not_open(
        self, services, database, operator_factory, sealed_manifest, manifest_factory
    ):
        alice, _ = operator_factory()
        one = services.catalog.publish(alice.id, sealed_manifest()).skill
        two = services.catalog.publish(
            alice.id,
            SkillManifest.model_validate(
                {
                    **sealed_manifest().model_dump(mode="json", exclude_none=True),
                    "name": "other-sealed",
                }
            ),
        ).skill
        with database.engine.connect() as conn:
            fields = conn.execute(
                sa.select(skill_secrets.c.fields).where(skill_secrets.c.skill_id == one.id)
            ).scalar_one()
            conn.execute(
                skill_secrets.update()
                .where(skill_secrets.c.skill_id == two.id)
                .values(fields=fields)
            )
            conn.commit()
        with pytest.raises(DecryptionFailed):
            services.catalog.execution_steps(two.id)


class TestRotation:
    def test_rotation_rewraps_every_data_key_and_logic_still_opens(
        self, services, database, operator_factory, sealed_manifest
    ):
        alice, _ = operator_factory()
        skill = services.catalog.publish(alice.id, sealed_manifest()).skill
        with database.read() as conn:
            before = conn.execute(sa.select(skill_secrets)).one()
        kek_id, moved = services.catalog.rotate_master_key(services.key_provider.rotate, None)
        with database.read() as conn:
            after = conn.execute(sa.select(skill_secrets)).one()
        assert (kek_id, moved) == ("local:v2", 1)
        assert after.kek_id == "local:v2" and after.wrapped_dek != before.wrapped_dek
        assert after.fields == before.fields  # the data itself is untouched
        assert services.catalog.execution_steps(skill.id)[0]["system_prompt"] == PROMPT
        events = [e["type"] for e in services.audit.events(None, limit=1000)]
        assert "master_key.rotate" in events
