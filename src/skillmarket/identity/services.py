"""Operators and their API keys: create, authenticate, list, revoke.

Every change writes its audit event in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.db import Database, utcnow
from skillmarket.identity.errors import (
    ApiKeyInvalid,
    ApiKeyMissing,
    ApiKeyNotFound,
    ApiKeyRevoked,
    OperatorNameTaken,
    OperatorNotFound,
)
from skillmarket.identity.models import (
    SHOWN_PREFIX_CHARS,
    ApiKeyInfo,
    NewApiKey,
    Operator,
    Tier,
    generate_api_key,
    hash_api_key,
)
from skillmarket.identity.tables import api_keys, operators
from skillmarket.ids import new_id

_by_key_hash = (
    sa.select(operators, api_keys.c.revoked_at.label("key_revoked_at"))
    .join_from(api_keys, operators, api_keys.c.operator_id == operators.c.id)
    .where(api_keys.c.key_hash == sa.bindparam("key_hash"))
)
_by_id = sa.select(operators).where(operators.c.id == sa.bindparam("operator_id"))


def _operator(row: sa.Row) -> Operator:
    return Operator(
        id=row.id, name=row.name, tier=row.tier, is_admin=row.is_admin, created_at=row.created_at
    )


class IdentityService:
    """Operators and API keys on the database."""

    def __init__(self, db: Database):
        self.db = db

    def create_operator(
        self, name: str, tier: Tier, *, is_admin: bool = False
    ) -> tuple[Operator, NewApiKey]:
        """Create an operator and its first API key (shown once)."""
        operator = Operator(
            id=new_id("operator"), name=name, tier=tier, is_admin=is_admin, created_at=utcnow()
        )
        with self.db.write() as conn:
            taken = conn.execute(sa.select(operators.c.id).where(operators.c.name == name)).first()
            if taken:
                raise OperatorNameTaken(
                    f"an operator named {name!r} already exists", details={"name": name}
                )
            conn.execute(operators.insert().values(**operator.model_dump()))
            log.record(
                conn,
                EventType.OPERATOR_CREATE,
                actor=None,
                subject=operator.id,
                data={"tier": tier, "is_admin": is_admin},
            )
            key = self._insert_key(conn, operator.id, label="initial")
        return operator, key

    def _insert_key(self, conn: sa.Connection, operator_id: str, label: str | None) -> NewApiKey:
        plaintext = generate_api_key()
        key = NewApiKey(
            id=new_id("api_key"), api_key=plaintext, prefix=plaintext[:SHOWN_PREFIX_CHARS]
        )
        conn.execute(
            api_keys.insert().values(
                id=key.id,
                operator_id=operator_id,
                prefix=key.prefix,
                key_hash=hash_api_key(plaintext),
                label=label,
                created_at=utcnow(),
            )
        )
        log.record(
            conn,
            EventType.API_KEY_CREATE,
            actor=operator_id,
            subject=key.id,
            data={"prefix": key.prefix},
        )
        return key

    def create_key(self, operator_id: str, label: str | None = None) -> NewApiKey:
        """Issue another API key for ``operator_id`` (shown once)."""
        with self.db.write() as conn:
            self._require_operator(conn, operator_id)
            return self._insert_key(conn, operator_id, label)

    def authenticate(self, bearer: str | None) -> Operator:
        """The operator a bearer key belongs to, or a typed 401."""
        if not bearer:
            raise ApiKeyMissing("send the API key as 'Authorization: Bearer <key>'")
        with self.db.read() as conn:
            row = conn.execute(_by_key_hash, {"key_hash": hash_api_key(bearer)}).first()
        if row is None:
            raise ApiKeyInvalid("the API key is not valid")
        if row.key_revoked_at is not None:
            raise ApiKeyRevoked("the API key was revoked")
        return _operator(row)

    def get_operator(self, operator_id: str, conn: sa.Connection | None = None) -> Operator:
        """One operator by id (read in ``conn``'s transaction when given)."""
        if conn is None:
            with self.db.read() as own:
                return self.get_operator(operator_id, own)
        return _operator(self._require_operator(conn, operator_id))

    def _require_operator(self, conn: sa.Connection, operator_id: str) -> sa.Row:
        row = conn.execute(_by_id, {"operator_id": operator_id}).first()
        if row is None:
            raise OperatorNotFound(
                f"no operator {operator_id!r}", details={"operator_id": operator_id}
            )
        return row

    def list_operators(self) -> list[Operator]:
        """Every operator, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(operators).order_by(operators.c.created_at)).all()
        return [_operator(r) for r in rows]

    def list_keys(self, operator_id: str) -> list[ApiKeyInfo]:
        """The operator's keys, prefix only, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(api_keys)
                .where(api_keys.c.operator_id == operator_id)
                .order_by(api_keys.c.created_at, api_keys.c.id)
            ).all()
        return [
            ApiKeyInfo(
                id=r.id,
                prefix=r.prefix,
                label=r.label,
                created_at=r.created_at,
                revoked_at=r.revoked_at,
            )
            for r in rows
        ]

    def revoke_key(self, key_id: str, *, operator_id: str | None) -> ApiKeyInfo:
        """Revoke a key (revoking twice is harmless).

        With ``operator_id`` only that operator's keys are found; ``None`` is the local admin,
        who may revoke any key.
        """
        with self.db.write() as conn:
            query = sa.select(api_keys).where(api_keys.c.id == key_id)
            if operator_id is not None:
                query = query.where(api_keys.c.operator_id == operator_id)
            row = conn.execute(query).first()
            if row is None:
                raise ApiKeyNotFound(f"no API key {key_id!r}", details={"key_id": key_id})
            revoked_at = row.revoked_at
            if revoked_at is None:
                revoked_at = utcnow()
                conn.execute(
                    api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=revoked_at)
                )
                log.record(
                    conn,
                    EventType.API_KEY_REVOKE,
                    actor=operator_id,
                    subject=key_id,
                    data={"operator_id": row.operator_id},
                )
        return ApiKeyInfo(
            id=row.id,
            prefix=row.prefix,
            label=row.label,
            created_at=row.created_at,
            revoked_at=revoked_at,
        )

    def operator_by_name(self, name: str) -> Operator | None:
        """The operator called ``name``, if any."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(operators).where(operators.c.name == name)).first()
        return _operator(row) if row else None
