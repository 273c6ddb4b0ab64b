"""Connected services over HTTP on both stores: connect, replace, list, disconnect; every change
audited without the secret; the secret encrypted at rest and bound to its operator and name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from skillmarket.credentials.tables import service_connections
from skillmarket.crypto.errors import DecryptionFailed
from tests.conftest import auth
from tests.integration.test_api import assert_error

SECRET = "sk_live_CREDENTIAL_0123456789"
BODY = {"name": "crm", "domain": "api.example.com", "auth": "bearer", "secret": SECRET}


def every_event(services) -> str:
    return json.dumps(services.audit.events(None, limit=10_000))


class TestConnect:
    def test_connect_list_replace_disconnect(self, api, operator_factory, services):
        alice, key = operator_factory("alice")
        made = api.post("/v1/services", json=BODY, headers=auth(key))
        assert made.status_code == 201, made.text
        service = made.json()["service"]
        assert made.json()["replaced"] is False
        assert service["id"].startswith("svc_")
        assert (service["domain"], service["registrable_domain"]) == (
            "api.example.com",
            "example.com",
        )
        assert (service["auth"], service["header_name"], service["param_name"]) == (
            "bearer",
            None,
            None,
        )
        assert api.get("/v1/services", headers=auth(key)).json() == [service]
        assert api.get("/v1/services/crm", headers=auth(key)).json() == service

        again = {**BODY, "auth": "header", "header_name": "X-Api-Key", "secret": SECRET + "-2"}
        replaced = api.post("/v1/services", json=again, headers=auth(key))
        assert replaced.status_code == 200 and replaced.json()["replaced"] is True
        now = replaced.json()["service"]
        assert now["id"] == service["id"] and now["header_name"] == "X-Api-Key"
        assert services.credentials.open_credential(alice.id, "crm").secret == SECRET + "-2"

        gone = api.delete("/v1/services/crm", headers=auth(key))
        assert gone.status_code == 200 and gone.json()["id"] == service["id"]
        assert api.get("/v1/services", headers=auth(key)).json() == []
        assert_error(
            api.delete("/v1/services/crm", headers=auth(key)), 404, "SERVICE_CONNECTION_NOT_FOUND"
        )
        types = [
            e["type"] for e in services.audit.events(alice.id, limit=1000, subject=service["id"])
        ]
        assert types == ["service.connect", "service.replace", "service.disconnect"]

    @pytest.mark.parametrize(
        ("change", "code", "field"),
        [
            ({"domain": "10.0.0.1"}, "SERVICE_CONNECTION_INVALID", "domain"),
            ({"auth": "query"}, "SERVICE_CONNECTION_INVALID", "param_name"),
            ({"secret": "short"}, "SERVICE_CONNECTION_INVALID", "secret"),
            ({"name": "Bad Name"}, "VALIDATION_ERROR", None),
            ({"password": SECRET}, "UNKNOWN_FIELD", None),
        ],
    )
    def test_bad_request_fails_writes_nothing_and_echoes_no_secret(
        self, api, operator_factory, services, change, code, field
    ):
        _, key = operator_factory("alice")
        before = every_event(services)
        response = api.post("/v1/services", json={**BODY, **change}, headers=auth(key))
        error = assert_error(response, 422, code)
        if field is not None:
            assert error["details"]["field"] == field
        assert SECRET not in response.text and "short" not in response.text
        assert api.get("/v1/services", headers=auth(key)).json() == []
        assert every_event(services) == before

    def test_no_secret_is_returned_or_audited_or_stored_in_plain_text(
        self, api, operator_factory, services, db_url, tmp_path: Path
    ):
        _, key = operator_factory("alice")
        basic = {**BODY, "auth": "basic", "username": "ada-USERNAME-x"}
        for body in (BODY, basic, {**BODY, "name": "q", "auth": "query", "param_name": "k"}):
            assert SECRET not in api.post("/v1/services", json=body, headers=auth(key)).text
        listing = api.get("/v1/services", headers=auth(key)).text
        assert SECRET not in listing and "ada-USERNAME" not in listing
        assert SECRET not in every_event(services) and "ada-USERNAME" not in every_event(services)
        with services.db.read() as conn:
            rows = conn.execute(sa.select(service_connections)).all()
        assert len(rows) == 2
        for row in rows:
            assert SECRET.encode() not in b"".join(
                v if isinstance(v, bytes) else str(v).encode() for v in row
            )
        if db_url.startswith("sqlite"):
            # Every byte the test wrote: the database, its WAL and the data dir's key files.
            for path in tmp_path.rglob("*"):
                if path.is_file():
                    data = path.read_bytes()
                    assert SECRET.encode() not in data, path
                    assert b"ada-USERNAME" not in data, path


class TestEncryptionAtRest:
    def test_ciphertext_is_bound_to_its_operator_and_name(self, services, operator_factory):
        from skillmarket.credentials.models import ServiceConnect

        alice, _ = operator_factory("alice")
        mallory, _ = operator_factory("mallory")
        services.credentials.connect(alice.id, ServiceConnect.model_validate(BODY))
        with services.db.write() as conn:
            conn.execute(
                service_connections.update()
                .where(service_connections.c.operator_id == alice.id)
                .values(operator_id=mallory.id)
            )
        with pytest.raises(DecryptionFailed):
            services.credentials.open_credential(mallory.id, "crm")

    def test_master_key_rotation_rewraps_credentials(self, services, operator_factory):
        from skillmarket.credentials.models import ServiceConnect

        alice, _ = operator_factory("alice")
        services.credentials.connect(alice.id, ServiceConnect.model_validate(BODY))
        kek_id, moved = services.catalog.rotate_master_key(
            services.key_provider.rotate, None, also=[services.credentials.rewrap_all]
        )
        with services.db.read() as conn:
            row = conn.execute(sa.select(service_connections)).one()
        assert (kek_id, moved, row.kek_id) == ("local:v2", 1, "local:v2")
        assert services.credentials.open_credential(alice.id, "crm").secret == SECRET
