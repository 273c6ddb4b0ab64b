"""Passports on the database: issue, register, revoke, verify by id, trust checks, issuers.

The pure work (signing, verifying, trust decisions) is in :mod:`passports`, :mod:`issuer_keys`
and :mod:`trust`; this module stores passports and external issuers, checks revocation against
the ``passports`` table on every verification, and audits every change in its transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.db import Database, utcnow
from skillmarket.identity.errors import (
    IssuerAlreadyTrusted,
    IssuerNotFound,
    OperatorNotFound,
    PassportIssuerUntrusted,
    PassportNotFound,
)
from skillmarket.identity.issuer_keys import IssuerKeyring, JwksIssuer
from skillmarket.identity.passports import (
    DEFAULT_TTL,
    IssuedPassport,
    PassportIssuer,
    PassportVerifier,
    VerifiedPassport,
)
from skillmarket.identity.tables import operators, passports, trusted_issuers
from skillmarket.identity.trust import TrustDecision, TrustLevel, check_trust

ISSUER_RELOAD_INTERVAL = 1.0  # seconds: at most one reload of external issuers per second

_by_id = sa.select(passports.c.operator_id, passports.c.token, passports.c.revoked_at).where(
    passports.c.id == sa.bindparam("passport_id")
)


class PassportInfo(BaseModel):
    """A passport as listed: never the token except to its owner at issue time."""

    id: str
    operator_id: str
    issuer: str
    claims: dict[str, Any]
    issued_at: Any
    expires_at: Any
    revoked_at: Any | None
    revocation_reason: str | None


class TrustCheck(BaseModel):
    """The answer of a trust check: may this passport call a skill needing ``required_level``."""

    passport_id: str
    allowed: bool
    required_level: str
    missing_claim: str | None
    required_assurance: str | None
    held_assurance: str | None


def _info(row: sa.Row) -> PassportInfo:
    return PassportInfo(
        id=row.id,
        operator_id=row.operator_id,
        issuer=row.issuer,
        claims=row.claims,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
    )


class PassportService:
    """Passports and issuers, with this marketplace's keyring in ``data_dir``."""

    def __init__(self, db: Database, data_dir: Path):
        self.db = db
        self.keyring = IssuerKeyring.load_or_create(data_dir)
        self.issuer = PassportIssuer(self.keyring)
        self.verifier = PassportVerifier([self.keyring])
        self._issuers_lock = threading.Lock()
        self._issuers_loaded_at = 0.0
        self._reload_issuers()

    # --- issuing and registering -------------------------------------------------------------

    def issue(
        self,
        operator_id: str,
        claims: Mapping[str, str],
        *,
        ttl: timedelta = DEFAULT_TTL,
        actor: str | None = None,
    ) -> IssuedPassport:
        """Sign a passport for ``operator_id`` and store it."""
        issued = self.issuer.issue(operator_id, claims, now=utcnow(), ttl=ttl)
        with self.db.write() as conn:
            self._require_operator(conn, operator_id)
            self._insert(
                conn,
                issued.passport_id,
                operator_id,
                issued.issuer,
                issued.token,
                {k: v.to_json() for k, v in issued.claims.items()},
                issued.issued_at,
                issued.expires_at,
            )
            log.record(
                conn,
                EventType.PASSPORT_ISSUE,
                actor=actor,
                subject=issued.passport_id,
                data={
                    "operator_id": operator_id,
                    "issuer": issued.issuer,
                    "claims": {k: str(v.assurance) for k, v in issued.claims.items()},
                    "expires_at": issued.expires_at.isoformat(),
                },
            )
        return issued

    def register(self, operator_id: str, token: str) -> PassportInfo:
        """Store a passport another trusted issuer gave ``operator_id`` (verified first)."""
        verified = self._verify_token(token, operator_id, revoked=False)
        with self.db.write() as conn:
            existing = conn.execute(
                sa.select(passports).where(passports.c.id == verified.passport_id)
            ).first()
            if existing is not None and existing.operator_id == operator_id:
                return _info(existing)
            if existing is not None:
                raise PassportNotFound(
                    "that passport id is taken", details={"passport_id": verified.passport_id}
                )
            claims = {k: v.to_json() for k, v in verified.claims.items()}
            self._insert(
                conn,
                verified.passport_id,
                operator_id,
                verified.issuer,
                token,
                claims,
                verified.issued_at,
                verified.expires_at,
            )
            log.record(
                conn,
                EventType.PASSPORT_REGISTER,
                actor=operator_id,
                subject=verified.passport_id,
                data={"issuer": verified.issuer},
            )
            return _info(
                conn.execute(
                    sa.select(passports).where(passports.c.id == verified.passport_id)
                ).one()
            )

    def _insert(
        self,
        conn: sa.Connection,
        passport_id: str,
        operator_id: str,
        issuer: str,
        token: str,
        claims: dict[str, Any],
        issued_at: Any,
        expires_at: Any,
    ) -> None:
        conn.execute(
            passports.insert().values(
                id=passport_id,
                operator_id=operator_id,
                issuer=issuer,
                token=token,
                claims=claims,
                issued_at=issued_at,
                expires_at=expires_at,
            )
        )

    def _require_operator(self, conn: sa.Connection, operator_id: str) -> None:
        if (
            conn.execute(sa.select(operators.c.id).where(operators.c.id == operator_id)).first()
            is None
        ):
            raise OperatorNotFound(
                f"no operator {operator_id!r}", details={"operator_id": operator_id}
            )

    # --- revocation and reading --------------------------------------------------------------

    def revoke(
        self,
        passport_id: str,
        *,
        actor: str | None,
        owner_id: str | None = None,
        reason: str | None = None,
    ) -> PassportInfo:
        """Revoke a passport (idempotent). ``owner_id`` limits it to that operator's own."""
        with self.db.write() as conn:
            row = self._row(conn, passport_id, owner_id)
            if row.revoked_at is None:
                conn.execute(
                    passports.update()
                    .where(passports.c.id == passport_id)
                    .values(revoked_at=utcnow(), revocation_reason=reason)
                )
                log.record(
                    conn,
                    EventType.PASSPORT_REVOKE,
                    actor=actor,
                    subject=passport_id,
                    data={"operator_id": row.operator_id},
                )
            return _info(self._row(conn, passport_id, owner_id))

    def _row(self, conn: sa.Connection, passport_id: str, owner_id: str | None) -> sa.Row:
        query = sa.select(passports).where(passports.c.id == passport_id)
        if owner_id is not None:
            query = query.where(passports.c.operator_id == owner_id)
        row = conn.execute(query).first()
        if row is None:
            raise PassportNotFound(
                f"no passport {passport_id!r}", details={"passport_id": passport_id}
            )
        return row

    def get(self, passport_id: str, *, owner_id: str | None) -> PassportInfo:
        """One passport; ``owner_id`` limits it to that operator's own."""
        with self.db.read() as conn:
            return _info(self._row(conn, passport_id, owner_id))

    def list(self, operator_id: str | None = None) -> list[PassportInfo]:
        """Passports, newest first; only ``operator_id``'s when given."""
        query = sa.select(passports).order_by(passports.c.issued_at.desc(), passports.c.id)
        if operator_id is not None:
            query = query.where(passports.c.operator_id == operator_id)
        with self.db.read() as conn:
            return [_info(r) for r in conn.execute(query).all()]

    # --- verification ------------------------------------------------------------------------

    def verify(
        self, operator_id: str, passport_id: str, conn: sa.Connection | None = None
    ) -> VerifiedPassport:
        """Verify the stored passport ``passport_id`` for caller ``operator_id``, now.

        Signature, issuer, expiry, owner and revocation are all checked on every call; the
        revocation status is read from the database each time, so a revocation takes effect at
        the next check (invocations call this at every step boundary). The row is read in
        ``conn``'s transaction when given.
        """
        if conn is None:
            with self.db.read() as own:
                return self.verify(operator_id, passport_id, own)
        row = conn.execute(_by_id, {"passport_id": passport_id}).first()
        if row is None:
            raise PassportNotFound(
                f"no passport {passport_id!r}", details={"passport_id": passport_id}
            )
        return self._verify_token(row.token, operator_id, revoked=row.revoked_at is not None)

    def _verify_token(self, token: str, operator_id: str, *, revoked: bool) -> VerifiedPassport:
        def check() -> VerifiedPassport:
            return self.verifier.verify(
                token, expected_owner=operator_id, now=utcnow(), is_revoked=lambda _jti: revoked
            )

        try:
            return check()
        except PassportIssuerUntrusted as exc:
            # Another process (the admin CLI) may have trusted that issuer since we loaded.
            if exc.details.get("reason") == "unknown_issuer" and self._reload_issuers():
                return check()
            raise

    def check(self, operator_id: str, passport_id: str, level: str) -> TrustCheck:
        """Would this passport meet ``level``? Passport errors raise; a denial does not."""
        verified = self.verify(operator_id, passport_id)
        decision: TrustDecision = check_trust(verified.assurances, TrustLevel.parse(level))
        return TrustCheck(passport_id=passport_id, **decision.details(), allowed=decision.allowed)

    # --- external issuers and keys -----------------------------------------------------------

    def trust_issuer(
        self, issuer: str, jwks: dict[str, Any], *, actor: str | None, replace: bool = False
    ) -> list[str]:
        """Trust an external issuer by its JWKS; returns the trusted issuers."""
        source = JwksIssuer(issuer, jwks)  # validates the JWKS first
        if issuer == self.keyring.issuer:
            raise IssuerAlreadyTrusted(
                "that is this marketplace's own issuer", details={"issuer": issuer}
            )
        with self.db.write() as conn:
            exists = conn.execute(
                sa.select(trusted_issuers.c.issuer).where(trusted_issuers.c.issuer == issuer)
            ).first()
            if exists and not replace:
                raise IssuerAlreadyTrusted(
                    f"issuer {issuer!r} is already trusted", details={"issuer": issuer}
                )
            if exists:
                conn.execute(
                    trusted_issuers.update()
                    .where(trusted_issuers.c.issuer == issuer)
                    .values(jwks=source.jwks(), added_at=utcnow())
                )
            else:
                conn.execute(
                    trusted_issuers.insert().values(
                        issuer=issuer, jwks=source.jwks(), added_at=utcnow()
                    )
                )
            log.record(
                conn,
                EventType.ISSUER_TRUST,
                actor=actor,
                subject=issuer[:64],
                data={"issuer": issuer, "kids": [k["kid"] for k in source.jwks()["keys"]]},
            )
        self.verifier.trust(source, replace=True)
        return self.list_issuers()

    def distrust_issuer(self, issuer: str, *, actor: str | None) -> None:
        """Stop trusting an external issuer; its passports stop verifying at once."""
        with self.db.write() as conn:
            deleted = conn.execute(
                trusted_issuers.delete().where(trusted_issuers.c.issuer == issuer)
            ).rowcount
            if not deleted:
                raise IssuerNotFound(
                    f"issuer {issuer!r} is not trusted", details={"issuer": issuer}
                )
            log.record(
                conn,
                EventType.ISSUER_DISTRUST,
                actor=actor,
                subject=issuer[:64],
                data={"issuer": issuer},
            )
        self.verifier.distrust(issuer)

    def list_issuers(self) -> list[str]:
        """This marketplace's issuer first, then the trusted external ones."""
        with self.db.read() as conn:
            rows = (
                conn.execute(sa.select(trusted_issuers.c.issuer).order_by(trusted_issuers.c.issuer))
                .scalars()
                .all()
            )
        return [self.keyring.issuer, *rows]

    def _reload_issuers(self) -> bool:
        """Load external issuers from the table (rate-limited); True if it ran."""
        with self._issuers_lock:
            if (
                time.monotonic() - self._issuers_loaded_at < ISSUER_RELOAD_INTERVAL
                and self._issuers_loaded_at
            ):
                return False
            self._issuers_loaded_at = time.monotonic()
            with self.db.read() as conn:
                rows = conn.execute(sa.select(trusted_issuers)).all()
            wanted = {r.issuer: r.jwks for r in rows}
            for issuer in set(self.verifier.issuers) - set(wanted) - {self.keyring.issuer}:
                self.verifier.distrust(issuer)
            for issuer, jwks in wanted.items():
                self.verifier.trust(JwksIssuer(issuer, jwks), replace=True)
            return True

    def jwks(self) -> dict[str, Any]:
        """This marketplace's public issuer keys (served at /.well-known/jwks.json)."""
        self.keyring.refresh()
        return self.keyring.jwks()

    def rotate_key(self, *, actor: str | None) -> str:
        """Make a new signing key; the old one keeps verifying its passports. Returns its kid."""
        info = self.keyring.rotate()
        with self.db.write() as conn:
            log.record(
                conn,
                EventType.ISSUER_KEY_ROTATE,
                actor=actor,
                subject=self.keyring.issuer[:64],
                data={"kid": info.kid},
            )
        return info.kid
