"""Operators and API keys on a real store."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from skillmarket.identity.errors import (
    ApiKeyInvalid,
    ApiKeyMissing,
    ApiKeyNotFound,
    ApiKeyRevoked,
    OperatorNameTaken,
)
from skillmarket.identity.models import hash_api_key
from skillmarket.identity.tables import api_keys


class TestApiKeys:
    def test_key_is_stored_hashed_only(self, services, database):
        _operator, key = services.identity.create_operator("acme", "studio")
        with database.read() as conn:
            stored = conn.execute(sa.select(api_keys)).one()
        assert stored.key_hash == hash_api_key(key.api_key)
        assert key.api_key not in {str(v) for v in stored}
        assert key.api_key.startswith(stored.prefix)

    def test_authenticate_returns_owner(self, services):
        operator, key = services.identity.create_operator("acme", "studio")
        assert services.identity.authenticate(key.api_key) == operator

    @pytest.mark.parametrize("bearer", [None, ""])
    def test_authenticate_fails_without_key(self, services, bearer):
        with pytest.raises(ApiKeyMissing):
            services.identity.authenticate(bearer)

    def test_authenticate_fails_unknown_key(self, services):
        services.identity.create_operator("acme", "free")
        with pytest.raises(ApiKeyInvalid):
            services.identity.authenticate("smk_not-a-real-key")

    def test_authenticate_fails_after_revocation(self, services):
        operator, key = services.identity.create_operator("acme", "free")
        second = services.identity.create_key(operator.id, "ci")
        services.identity.revoke_key(key.id, operator_id=operator.id)
        with pytest.raises(ApiKeyRevoked):
            services.identity.authenticate(key.api_key)
        assert services.identity.authenticate(second.api_key).id == operator.id
        listed = {k.id: k for k in services.identity.list_keys(operator.id)}
        assert listed[key.id].revoked_at is not None and listed[second.id].revoked_at is None

    def test_revoke_fails_for_other_operators_key(self, services):
        alice, alice_key = services.identity.create_operator("alice", "free")
        bob, _ = services.identity.create_operator("bob", "free")
        with pytest.raises(ApiKeyNotFound):
            services.identity.revoke_key(alice_key.id, operator_id=bob.id)
        assert services.identity.authenticate(alice_key.api_key).id == alice.id

    def test_create_fails_duplicate_name(self, services):
        services.identity.create_operator("acme", "free")
        with pytest.raises(OperatorNameTaken):
            services.identity.create_operator("acme", "studio")
        assert len(services.identity.list_operators()) == 1
