"""Connected services on the database: connect, replace, list, disconnect, and open a credential
for the credential proxy.

Credentials are envelope-encrypted exactly like sealed logic (:mod:`skillmarket.crypto.envelope`):
each connection gets a fresh data key, wrapped by the master key, and the credential is
AES-256-GCM encrypted under it with associated data naming the operator and the service, so a
ciphertext cannot be moved to another operator's row or another name. Every connect, replace
and disconnect writes an audit event (metadata only) in the same transaction; only
:meth:`CredentialService.open_credential`, on the execution path, ever decrypts.
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.credentials.errors import ServiceConnectionNotFound
from skillmarket.credentials.models import (
    ConnectionSpec,
    Credential,
    SealedCredential,
    ServiceConnect,
    ServiceConnection,
    prepare,
)
from skillmarket.credentials.tables import service_connections
from skillmarket.crypto import envelope
from skillmarket.crypto.envelope import KeyProvider, WrappedKey
from skillmarket.db import Database, utcnow
from skillmarket.ids import new_id

FIELD = "service-credential"
_c = service_connections.c


def _context(operator_id: str, name: str) -> bytes:
    return f"service-connection\x00{operator_id}\x00{name}".encode()


def _view(row: sa.Row) -> ServiceConnection:
    return ServiceConnection(
        id=row.id,
        name=row.name,
        domain=row.domain,
        registrable_domain=row.registrable_domain,
        auth=row.auth_scheme,
        header_name=row.auth_name if row.auth_scheme == "header" else None,
        param_name=row.auth_name if row.auth_scheme == "query" else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _event_data(row_id: str, spec: ConnectionSpec) -> dict[str, str]:
    data = {
        "connection_id": row_id,
        "name": spec.name,
        "domain": spec.domain,
        "registrable_domain": spec.registrable_domain,
        "auth": spec.scheme,
    }
    if spec.auth_name is not None:
        data["auth_name"] = spec.auth_name
    return data


class CredentialService:
    """Operators' connected services, their credentials encrypted under the master key."""

    def __init__(self, db: Database, key_provider: KeyProvider):
        self.db = db
        self.key_provider = key_provider

    def connect(self, operator_id: str, request: ServiceConnect) -> tuple[ServiceConnection, bool]:
        """Connect a service, or replace the connection of that name; returns the connection
        and whether it replaced one. ``SERVICE_CONNECTION_INVALID`` for a bad request, and
        then nothing is written."""
        spec = prepare(request)
        now = utcnow()
        with self.db.write() as conn:
            log.lock(conn)  # one global lock order: concurrent connects of a name queue here
            row = self._row(conn, operator_id, spec.name)
            row_id = row.id if row is not None else new_id("service_connection")
            values = {
                "domain": spec.domain,
                "registrable_domain": spec.registrable_domain,
                "auth_scheme": spec.scheme,
                "auth_name": spec.auth_name,
                "updated_at": now,
                **self._sealed(operator_id, spec),
            }
            if row is None:
                conn.execute(
                    service_connections.insert().values(
                        id=row_id, operator_id=operator_id, name=spec.name, created_at=now, **values
                    )
                )
            else:
                conn.execute(service_connections.update().where(_c.id == row_id).values(**values))
            log.record(
                conn,
                EventType.SERVICE_REPLACE if row is not None else EventType.SERVICE_CONNECT,
                actor=operator_id,
                subject=row_id,
                data=_event_data(row_id, spec),
            )
            return _view(self._row(conn, operator_id, spec.name)), row is not None

    def _sealed(self, operator_id: str, spec: ConnectionSpec) -> dict[str, object]:
        context = _context(operator_id, spec.name)
        dek, wrapped = envelope.new_data_key(self.key_provider, context)
        plain = orjson.dumps({"secret": spec.secret, "username": spec.username}).decode()
        return {
            "kek_id": wrapped.kek_id,
            "wrapped_dek": wrapped.wrapped,
            "commitment": wrapped.commitment,
            "credential": envelope.encrypt_field(dek, context, FIELD, plain),
        }

    def _row(self, conn: Connection, operator_id: str, name: str) -> sa.Row | None:
        return conn.execute(
            sa.select(service_connections).where(_c.operator_id == operator_id, _c.name == name)
        ).first()

    def list(self, operator_id: str) -> list[ServiceConnection]:
        """The operator's connected services, by name."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(service_connections)
                .where(_c.operator_id == operator_id)
                .order_by(_c.name)
            ).all()
        return [_view(r) for r in rows]

    def find(self, operator_id: str, name: str) -> ServiceConnection | None:
        """The operator's connection of that name, if any (no decryption)."""
        with self.db.read() as conn:
            row = self._row(conn, operator_id, name)
        return _view(row) if row is not None else None

    def get(self, operator_id: str, name: str) -> ServiceConnection:
        """The operator's connection of that name (``SERVICE_CONNECTION_NOT_FOUND``)."""
        found = self.find(operator_id, name)
        if found is None:
            raise _not_found(name)
        return found

    def disconnect(self, operator_id: str, name: str) -> ServiceConnection:
        """Remove the connection and its credential (``SERVICE_CONNECTION_NOT_FOUND``)."""
        with self.db.write() as conn:
            log.lock(conn)
            row = self._row(conn, operator_id, name)
            if row is None:
                raise _not_found(name)
            conn.execute(service_connections.delete().where(_c.id == row.id))
            log.record(
                conn,
                EventType.SERVICE_DISCONNECT,
                actor=operator_id,
                subject=row.id,
                data={"connection_id": row.id, "name": name, "domain": row.domain},
            )
        return _view(row)

    def find_sealed(self, operator_id: str, name: str) -> SealedCredential | None:
        """The operator's connection of that name with its credential still encrypted, for
        the credential proxy to check a call against before anything is decrypted."""
        with self.db.read() as conn:
            row = self._row(conn, operator_id, name)
        if row is None:
            return None
        return SealedCredential(
            operator_id=operator_id,
            name=name,
            registrable_domain=row.registrable_domain,
            scheme=row.auth_scheme,
            auth_name=row.auth_name,
            key=WrappedKey(row.kek_id, bytes(row.wrapped_dek), bytes(row.commitment)),
            ciphertext=bytes(row.credential),
        )

    def open_sealed(self, sealed: SealedCredential) -> Credential:
        """Decrypt a credential found by :meth:`find_sealed` (no I/O but the master key's):
        for the credential proxy only, never for a response or a log line."""
        context = _context(sealed.operator_id, sealed.name)
        dek = envelope.open_data_key(self.key_provider, sealed.key, context)
        plain = orjson.loads(envelope.decrypt_field(dek, context, FIELD, sealed.ciphertext))
        return Credential(
            service=sealed.name,
            registrable_domain=sealed.registrable_domain,
            scheme=sealed.scheme,
            auth_name=sealed.auth_name,
            secret=plain["secret"],
            username=plain["username"],
        )

    def open_credential(self, operator_id: str, name: str) -> Credential:
        """The decrypted credential of a connection (``SERVICE_CONNECTION_NOT_FOUND`` if there
        is none): :meth:`find_sealed` then :meth:`open_sealed`."""
        sealed = self.find_sealed(operator_id, name)
        if sealed is None:
            raise _not_found(name)
        return self.open_sealed(sealed)

    def rewrap_all(self, conn: Connection) -> int:
        """Re-wrap every connection's data key under the current master key (in the caller's
        transaction, beside the sealed skills'); returns how many moved."""
        current = self.key_provider.current_kek_id
        rows = conn.execute(sa.select(service_connections).where(_c.kek_id != current)).all()
        for row in rows:
            moved = envelope.rewrap(
                self.key_provider,
                WrappedKey(row.kek_id, bytes(row.wrapped_dek), bytes(row.commitment)),
                _context(row.operator_id, row.name),
            )
            conn.execute(
                service_connections.update()
                .where(_c.id == row.id)
                .values(kek_id=moved.kek_id, wrapped_dek=moved.wrapped)
            )
        return len(rows)


def _not_found(name: str) -> ServiceConnectionNotFound:
    return ServiceConnectionNotFound(
        f"no connected service named {name!r}", details={"service": name}
    )
