"""The invocation lifecycle on the database: invoke, read, open-mode claim and complete,
finishing with billing, expiry and crash recovery. Each use case is one transaction that
writes its audit events; the asynchronous running of steps is in :mod:`runner`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import rfc8785
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.catalog.models import SkillDetail
from skillmarket.catalog.services import CatalogService
from skillmarket.crypto.envelope import KeyProvider
from skillmarket.crypto.sealing import INPUT_INFO, OUTPUT_INFO, SealingKey, seal
from skillmarket.db import Database, utcnow
from skillmarket.identity.passport_service import PassportService
from skillmarket.identity.trust import require_trust
from skillmarket.ids import new_id
from skillmarket.invocations import runners, storage
from skillmarket.invocations.errors import (
    IdempotencyKeyReused,
    InputSchemaViolation,
    InvocationClaimedElsewhere,
    InvocationNotFinished,
    InvocationNotFound,
    InvocationNotPending,
    NotInvocationPublisher,
    OutputSchemaViolation,
)
from skillmarket.invocations.models import (
    DEFAULT_TTL,
    FINISHED,
    InvocationError,
    InvocationFacts,
    InvocationView,
    InvokeRequest,
    PendingInvocation,
    content_hash,
    schema_problem,
)
from skillmarket.invocations.tables import invocation_runners, invocations
from skillmarket.ledger.models import MeteredStep
from skillmarket.ledger.pricing import script_upstream_micros
from skillmarket.ledger.services import LedgerService

OUTCOME = {
    "completed": "succeeded",
    "failed": "failed",
    "expired": "expired",
    "terminated": "terminated",
}
FINISH_EVENT = {
    "completed": EventType.SKILL_COMPLETE,
    "failed": EventType.SKILL_FAIL,
    "expired": EventType.SKILL_EXPIRE,
    "terminated": EventType.SKILL_TERMINATE,
}
LLM_STEP_ESTIMATE_MICROS = 20_000  # held per LLM step unless the buyer caps the hold lower
SELLER_CALLS_HELD = 10  # seller-provided proxy calls held for per script step (same cap)

_by_id = sa.select(invocations).where(invocations.c.id == sa.bindparam("invocation_id"))
_locked_by_id = _by_id.with_for_update()
_insert = invocations.insert()
# The columns to set are the parameters' other keys (SQLAlchemy caches one form per key set).
_update = invocations.update().where(invocations.c.id == sa.bindparam("invocation_id"))


def _as_written(values: dict[str, Any]) -> Any:
    """An ``invocations`` row as this transaction wrote it (unset columns ``None``), so a
    use case answers without reading back what it has just written."""
    return SimpleNamespace(**(dict.fromkeys(invocations.c.keys()) | values))


@dataclass(frozen=True)
class RunContext:
    """What the runner needs to execute a sealed or source invocation."""

    invocation_id: str
    buyer_id: str
    passport_id: str
    skill: SkillDetail
    steps: list[dict[str, Any]]
    input_text: str
    compute_budget_micros: int = 0  # what the hold can pay for metered lines (cost + 15 %)


@dataclass(frozen=True)
class Invoked:
    """What an invoke did: the invocation's view, whether this call created it, and, for a new
    sealed or source invocation, the run context its transaction already holds (the runner
    then starts without reading it again)."""

    view: InvocationView
    created: bool
    context: RunContext | None = None


def compute_estimate(
    steps: Sequence[dict[str, Any]], services: Sequence[dict[str, Any]] = ()
) -> int:
    """Upstream micro-dollars to hold for the compute of ``steps`` (before markup), with room
    for :data:`SELLER_CALLS_HELD` calls per script step to the dearest seller-provided service."""
    dearest = max(
        (s.get("cost_per_call_micros") or 0 for s in services if s.get("provided_by") == "seller"),
        default=0,
    )
    total = 0
    for step in steps:
        if step["type"] == "script":
            total += script_upstream_micros(step.get("timeout_ms") or 30_000)
            total += SELLER_CALLS_HELD * dearest
        else:
            total += LLM_STEP_ESTIMATE_MICROS
    return total


class InvocationService:
    """Invocations on the database, with the catalog, passports and ledger they depend on."""

    def __init__(
        self,
        db: Database,
        catalog: CatalogService,
        passports: PassportService,
        ledger: LedgerService,
        key_provider: KeyProvider,
        sealing_key: SealingKey,
    ):
        self.db = db
        self.catalog = catalog
        self.passports = passports
        self.ledger = ledger
        self.key_provider = key_provider
        self.sealing_key = sealing_key

    # --- invoke ------------------------------------------------------------------------------

    def invoke(
        self,
        buyer_id: str,
        skill_id: str,
        request: InvokeRequest,
        idempotency_key: str | None = None,
        conn: Connection | None = None,
        runner_id: str | None = None,
    ) -> Invoked:
        """Check, hold and record an invocation; returns its view, whether it is new and, for
        a new running one, its :class:`RunContext`.

        In one write transaction (``conn``'s, when given: the engine's group commit):
        1. The skill exists; the passport verifies for the caller and meets the skill's level.
        2. The input (opened if sealed to the marketplace) satisfies the input schema.
        3. The idempotency key is honoured, the hold is placed (``INSUFFICIENT_FUNDS``
           otherwise), the row and its ``skill.invoke`` event written.
        Sealed and source invocations start ``running``, recorded as run by ``runner_id`` (the
        server process's, see :mod:`runners`); open ones ``pending`` with a TTL.
        """
        if conn is None:
            with self.db.write() as own:
                return self.invoke(buyer_id, skill_id, request, idempotency_key, own, runner_id)
        skill = self.catalog.version(skill_id)
        passport = self.passports.verify(buyer_id, request.passport_id, conn)
        require_trust(passport.assurances, skill.trust_level_required)
        value = request.input
        if request.input_encrypted is not None:
            value = orjson.loads(self.sealing_key.open(request.input_encrypted, INPUT_INFO))
        problem = schema_problem(value, skill.input_schema)
        if problem is not None:
            raise InputSchemaViolation(
                f"input does not match the skill's input_schema at {problem['path']}: "
                f"{problem['message']}",
                details=problem,
            )
        request_hash = hashlib.sha256(
            rfc8785.dumps(
                {
                    "skill_id": skill_id,
                    "input_hash": content_hash(value),
                    "passport_id": request.passport_id,
                    "ttl": request.ttl_seconds,
                    "max_cost": request.max_cost_micros,
                    "reply": request.reply_public_key,
                }
            )
        ).hexdigest()
        invocation_id = new_id("invocation")
        now = utcnow()
        is_open = skill.execution_mode == "open"
        ttl = timedelta(seconds=request.ttl_seconds) if request.ttl_seconds else DEFAULT_TTL
        secrets = storage.new_secrets(self.key_provider, invocation_id, value)
        if request.reply_public_key:
            secrets["reply_key"] = request.reply_public_key
        if idempotency_key is not None:
            earlier = self._by_key(conn, buyer_id, idempotency_key)
            if earlier is not None:
                if earlier.request_hash != request_hash:
                    raise IdempotencyKeyReused(
                        "that Idempotency-Key was used with a different request",
                        details={"invocation_id": earlier.id},
                    )
                return Invoked(self._view(earlier), created=False)
        row = {
            "id": invocation_id,
            "skill_id": skill.id,
            "skill_fingerprint": skill.fingerprint,
            "execution_mode": skill.execution_mode,
            "buyer_id": buyer_id,
            "publisher_id": skill.publisher_id,
            "passport_id": request.passport_id,
            "status": "pending" if is_open else "running",
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "input_hash": content_hash(value),
            "secrets": secrets,
            "expires_at": now + ttl if is_open else None,
            "created_at": now,
            "started_at": None if is_open else now,
            "runner_id": None if is_open else runner_id,
        }
        conn.execute(_insert, row)
        estimate = 0 if is_open else compute_estimate(skill.execution_steps, skill.services)
        hold = self.ledger.place_hold(
            buyer_id,
            invocation_id,
            skill=skill,
            estimate=estimate,
            max_cost=request.max_cost_micros,
            conn=conn,
            savepoint=False,  # a refused hold ends this whole transaction
        )
        log.record(
            conn,
            EventType.SKILL_INVOKE,
            actor=buyer_id,
            subject=invocation_id,
            parties=[skill.publisher_id],
            data={
                "skill_id": skill.id,
                "skill_fingerprint": skill.fingerprint,
                "mode": skill.execution_mode,
                "input_hash": content_hash(value),
                "passport_id": request.passport_id,
            },
        )
        context = None
        if not is_open:  # the passport was verified above, in this transaction
            context = RunContext(
                invocation_id=invocation_id,
                buyer_id=buyer_id,
                passport_id=request.passport_id,
                skill=skill,
                steps=self.catalog.execution_steps(skill.id, conn),
                input_text=orjson.dumps(value).decode(),
                compute_budget_micros=hold.compute_budget_micros,
            )
        return Invoked(self._view(_as_written(row)), created=True, context=context)

    def _by_key(self, conn: Connection, buyer_id: str, key: str) -> sa.Row | None:
        return conn.execute(
            sa.select(invocations).where(
                invocations.c.buyer_id == buyer_id, invocations.c.idempotency_key == key
            )
        ).first()

    # --- reading -----------------------------------------------------------------------------

    def view(self, invocation_id: str, viewer_id: str) -> InvocationView:
        """The invocation as its buyer sees it (an expired open invocation is swept first)."""
        self.expire_due(invocation_id=invocation_id)
        with self.db.read() as conn:
            row = conn.execute(_by_id, {"invocation_id": invocation_id}).first()
        if row is None or row.buyer_id != viewer_id:
            raise InvocationNotFound(
                f"no invocation {invocation_id!r}", details={"invocation_id": invocation_id}
            )
        return self._view(row)

    def facts(self, invocation_id: str, conn: Connection | None = None) -> InvocationFacts | None:
        """Who bought which skill version and its status, or ``None`` for an unknown id.

        Pass ``conn`` to read inside the caller's transaction (a rating reads it there).
        """
        if conn is None:
            with self.db.read() as own:
                return self.facts(invocation_id, own)
        row = conn.execute(
            sa.select(
                invocations.c.skill_id,
                invocations.c.buyer_id,
                invocations.c.publisher_id,
                invocations.c.status,
                invocations.c.finished_at,
            ).where(invocations.c.id == invocation_id)
        ).first()
        if row is None:
            return None
        return InvocationFacts(
            invocation_id=invocation_id,
            skill_id=row.skill_id,
            buyer_id=row.buyer_id,
            publisher_id=row.publisher_id,
            status=row.status,
            finished_at=row.finished_at,
        )

    def _view(self, row: sa.Row) -> InvocationView:
        output, sealed_output = None, None
        if row.status == "completed":
            output = storage.open_value(self.key_provider, row.id, row.secrets, "output")
            reply = row.secrets.get("reply_key")
            if reply:
                raw = _b64url(reply)
                sealed_output, output = seal(orjson.dumps(output), raw, OUTPUT_INFO), None
        error = (
            InvocationError(code=row.error_code, message=row.error_message or "")
            if row.error_code
            else None
        )
        return InvocationView(
            invocation_id=row.id,
            skill_id=row.skill_id,
            skill_fingerprint=row.skill_fingerprint,
            status=row.status,
            output=output,
            output_encrypted=sealed_output,
            error=error,
            cost=row.cost,
            input_hash=row.input_hash,
            output_hash=row.output_hash,
            created_at=row.created_at,
            finished_at=row.finished_at,
            expires_at=row.expires_at,
            poll_url=f"/v1/skills/invocations/{row.id}",
        )

    def receipt(self, invocation_id: str, viewer_id: str, audit: Any) -> dict[str, Any]:
        """The signed receipt of a completed invocation (made once, then kept)."""
        with self.db.read() as conn:
            row = conn.execute(_by_id, {"invocation_id": invocation_id}).first()
        if row is None or row.buyer_id != viewer_id:
            raise InvocationNotFound(
                f"no invocation {invocation_id!r}", details={"invocation_id": invocation_id}
            )
        if row.status != "completed":
            raise InvocationNotFinished(
                "only a completed invocation has a receipt", details={"status": row.status}
            )
        if row.receipt is not None:
            return row.receipt
        seq = next(
            e["seq"]
            for e in audit.events(None, limit=1000, subject=invocation_id)
            if e["type"] == EventType.SKILL_COMPLETE
        )
        receipt = audit.receipt(seq)
        with self.db.write() as conn:
            conn.execute(
                invocations.update()
                .where(invocations.c.id == invocation_id)
                .values(receipt=receipt)
            )
        return receipt

    # --- running (sealed and source) ---------------------------------------------------------

    def run_context(self, invocation_id: str, conn: Connection | None = None) -> RunContext:
        """The plain-text steps and input of a running invocation (execution path only), read
        in one transaction (``conn``'s when given) that also re-verifies the buyer's passport
        for the first step (raises e.g. ``PASSPORT_REVOKED``)."""
        if conn is None:
            with self.db.read() as own:
                return self.run_context(invocation_id, own)
        row = conn.execute(_by_id, {"invocation_id": invocation_id}).one()
        steps = self.catalog.execution_steps(row.skill_id, conn)
        budget = self.ledger.hold(row.id, conn).compute_budget_micros
        self.passports.verify(row.buyer_id, row.passport_id, conn)
        value = storage.open_value(self.key_provider, row.id, row.secrets, "input")
        return RunContext(
            invocation_id=row.id,
            buyer_id=row.buyer_id,
            passport_id=row.passport_id,
            skill=self.catalog.version(row.skill_id),
            steps=steps,
            input_text=orjson.dumps(value).decode(),
            compute_budget_micros=budget,
        )

    def check_passport(self, context: RunContext) -> None:
        """Re-verify the buyer's passport now (raises e.g. ``PASSPORT_REVOKED``)."""
        self.passports.verify(context.buyer_id, context.passport_id)

    def finish(
        self,
        invocation_id: str,
        *,
        status: str,
        output_text: str | None = None,
        error: tuple[str, str] | None = None,
        compute: Sequence[MeteredStep] = (),
        steps: Sequence[dict[str, Any]] = (),
        conn: Connection | None = None,
    ) -> InvocationView:
        """End a running invocation: validate its output, bill it, audit it, in one transaction.

        A final output that is JSON is parsed, otherwise kept as a string; one that breaks the
        output schema fails the invocation with ``OUTPUT_SCHEMA_VIOLATION`` (compute charged).
        ``steps`` are the ``skill.step`` events of the steps that ran (type, latency, input and
        output hashes; never bodies), logged in order before the final event. The transaction
        is ``conn``'s when given (the engine's group commit).
        """
        if conn is None:
            with self.db.write() as own:
                return self.finish(
                    invocation_id,
                    status=status,
                    output_text=output_text,
                    error=error,
                    compute=compute,
                    steps=steps,
                    conn=own,
                )
        value: Any = None
        if status == "completed":
            value = _parse_output(output_text or "")
        row = conn.execute(_locked_by_id, {"invocation_id": invocation_id}).one()
        if row.status in FINISHED:
            return self._view(row)
        if status == "completed":
            schema = self.catalog.version(row.skill_id).output_schema
            problem = schema_problem(value, schema)
            if problem is not None:
                status, value = "failed", None
                error = (
                    "OUTPUT_SCHEMA_VIOLATION",
                    f"output does not match output_schema at {problem['path']}: "
                    f"{problem['message']}",
                )
        for data in steps:
            log.record(
                conn,
                EventType.SKILL_STEP,
                actor=None,
                subject=row.id,
                parties=[row.buyer_id],
                data=data,
            )
        return self._finish(conn, row, status, value, error, compute)

    def _finish(
        self,
        conn: Connection,
        row: sa.Row,
        status: str,
        value: Any,
        error: tuple[str, str] | None,
        compute: Sequence[MeteredStep],
    ) -> InvocationView:
        values: dict[str, Any] = {"status": status, "finished_at": utcnow()}
        if status == "completed":
            values["secrets"] = storage.with_output(self.key_provider, row.id, row.secrets, value)
            values["output_hash"] = content_hash(value)
        if error is not None:
            values["error_code"], values["error_message"] = error[0], error[1][:500]
        charge = self.ledger.capture(
            row.id, outcome=OUTCOME[status], compute=compute, conn=conn, savepoint=False
        )
        values["cost"] = charge.cost()
        conn.execute(_update, {"invocation_id": row.id, **values})
        data: dict[str, Any] = {
            "skill_id": row.skill_id,
            "skill_fingerprint": row.skill_fingerprint,
            "input_hash": row.input_hash,
            "cost_micro_usd": charge.total_micros,
        }
        if status == "completed":
            data.update(invocation_id=row.id, output_hash=values["output_hash"])
        if error is not None:
            data["error_code"] = error[0]
        log.record(
            conn,
            FINISH_EVENT[status],
            actor=None,
            subject=row.id,
            parties=[row.buyer_id, row.publisher_id],
            data=data,
        )
        return self._view(_as_written(row._asdict() | values))

    # --- open mode ---------------------------------------------------------------------------

    def list_pending(self, publisher_id: str, limit: int = 50) -> list[PendingInvocation]:
        """Open-mode invocations of the caller's skills waiting to be claimed (with inputs)."""
        self.expire_due()
        now = utcnow()
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(invocations)
                .where(
                    invocations.c.publisher_id == publisher_id,
                    invocations.c.execution_mode == "open",
                    sa.or_(
                        invocations.c.status == "pending",
                        sa.and_(invocations.c.status == "claimed", invocations.c.lease_until < now),
                    ),
                )
                .order_by(invocations.c.created_at)
                .limit(limit)
            ).all()
        return [self._pending(r) for r in rows]

    def _pending(self, row: sa.Row) -> PendingInvocation:
        return PendingInvocation(
            invocation_id=row.id,
            skill_id=row.skill_id,
            status=row.status,
            input=storage.open_value(self.key_provider, row.id, row.secrets, "input"),
            created_at=row.created_at,
            expires_at=row.expires_at,
            lease_until=row.lease_until,
        )

    def _publisher_row(self, conn: Connection, publisher_id: str, invocation_id: str) -> sa.Row:
        row = conn.execute(_locked_by_id, {"invocation_id": invocation_id}).first()
        if row is None or row.execution_mode != "open":
            raise InvocationNotFound(
                f"no open invocation {invocation_id!r}", details={"invocation_id": invocation_id}
            )
        if row.publisher_id != publisher_id:
            raise NotInvocationPublisher(
                "only the skill's publisher may do this", details={"invocation_id": invocation_id}
            )
        return row

    def claim(self, publisher_id: str, invocation_id: str, lease: timedelta) -> PendingInvocation:
        """Take a pending invocation for ``lease`` (a lapsed lease may be taken again)."""
        self.expire_due(invocation_id=invocation_id)
        now = utcnow()
        with self.db.write() as conn:
            row = self._publisher_row(conn, publisher_id, invocation_id)
            free = row.status == "pending" or (row.status == "claimed" and row.lease_until < now)
            if not free:
                if row.status == "claimed":
                    raise InvocationClaimedElsewhere(
                        f"the invocation is claimed until {row.lease_until.isoformat()}"
                    )
                raise InvocationNotPending(
                    f"the invocation is {row.status}", details={"status": row.status}
                )
            lease_until = min(now + lease, row.expires_at)
            conn.execute(
                invocations.update()
                .where(invocations.c.id == row.id)
                .values(status="claimed", claimed_at=now, lease_until=lease_until, started_at=now)
            )
            log.record(
                conn,
                EventType.SKILL_CLAIM,
                actor=publisher_id,
                subject=row.id,
                parties=[row.buyer_id],
                data={"lease_until": lease_until.isoformat()},
            )
            return self._pending(conn.execute(_by_id, {"invocation_id": row.id}).one())

    def complete(self, publisher_id: str, invocation_id: str, output: Any) -> InvocationView:
        """The publisher's output for an open invocation: validated, billed, audited.

        A violating output is refused with ``OUTPUT_SCHEMA_VIOLATION`` and the invocation stays
        open, so the publisher can send a correct one before it expires.
        """
        self.expire_due(invocation_id=invocation_id)
        with self.db.write() as conn:
            row = self._publisher_row(conn, publisher_id, invocation_id)
            if row.status not in ("pending", "claimed"):
                raise InvocationNotPending(
                    f"the invocation is {row.status}", details={"status": row.status}
                )
            skill = self.catalog.version(row.skill_id)
            problem = schema_problem(output, skill.output_schema)
            if problem is not None:
                raise OutputSchemaViolation(
                    f"output does not match the skill's output_schema at {problem['path']}: "
                    f"{problem['message']}",
                    details=problem,
                )
            view = self._finish(conn, row, "completed", output, None, ())
        return view

    def expire_due(self, *, invocation_id: str | None = None) -> int:
        """Expire open invocations past their TTL (hold released); returns how many."""
        now = utcnow()
        query = sa.select(invocations.c.id).where(
            invocations.c.status.in_(("pending", "claimed")), invocations.c.expires_at < now
        )
        if invocation_id is not None:
            query = query.where(invocations.c.id == invocation_id)
        with self.db.read() as conn:
            due = conn.execute(query.limit(500)).scalars().all()
        for found in due:
            with self.db.write() as conn:
                row = conn.execute(_locked_by_id, {"invocation_id": found}).one()
                if row.status in ("pending", "claimed") and row.expires_at < now:
                    self._finish(
                        conn,
                        row,
                        "expired",
                        None,
                        ("INVOCATION_EXPIRED", "the publisher did not complete it in time"),
                        (),
                    )
        return len(due)

    def recover_interrupted(self, *, unassigned: bool = True) -> int:
        """Fail and refund every invocation left ``running`` by a server process that is gone
        (nothing of it is charged, since what ran is unknown); returns how many.

        A process that is alive keeps its invocations, even when it shares the store with
        this one (:mod:`runners`). A runner that is no longer registered is gone too (a runner
        registers before it runs anything, and the read below is one snapshot). ``unassigned``
        also fails those that name no runner (rows from before runners were recorded); a
        server does that when it starts.
        """
        with self.db.read() as conn:
            dead = runners.gone(conn)
            registered = sa.select(invocation_runners.c.id)
            whose = sa.and_(
                invocations.c.runner_id.is_not(None),
                sa.or_(
                    invocations.c.runner_id.in_(dead) if dead else sa.false(),
                    invocations.c.runner_id.not_in(registered),
                ),
            )
            if unassigned:
                whose = sa.or_(whose, invocations.c.runner_id.is_(None))
            stuck = (
                conn.execute(
                    sa.select(invocations.c.id).where(invocations.c.status == "running", whose)
                )
                .scalars()
                .all()
            )
        self.fail_interrupted(stuck, "the server stopped while it ran; nothing was charged")
        for runner_id in dead:
            runners.unregister(self.db, runner_id)
        return len(stuck)

    def running_of(self, runner_id: str, started_before: datetime) -> list[str]:
        """The ``running`` invocations of the runner ``runner_id`` that started before
        ``started_before``, oldest first."""
        with self.db.read() as conn:
            return list(
                conn.execute(
                    sa.select(invocations.c.id)
                    .where(
                        invocations.c.status == "running",
                        invocations.c.runner_id == runner_id,
                        invocations.c.started_at < started_before,
                    )
                    .order_by(invocations.c.started_at)
                ).scalars()
            )

    def fail_interrupted(self, invocation_ids: Sequence[str], reason: str) -> None:
        """Fail and refund invocations whose run stopped (``INVOCATION_INTERRUPTED`` with
        ``reason``; nothing is charged, since what ran is unknown), one transaction each. One
        that finished meanwhile stays as it ended."""
        for invocation_id in invocation_ids:
            self.finish(invocation_id, status="failed", error=("INVOCATION_INTERRUPTED", reason))


def _parse_output(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
