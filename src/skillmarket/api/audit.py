"""/v1/audit: signed checkpoints, the events a party may see, inclusion and consistency proofs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from skillmarket.api.deps import AdminDep, OperatorDep, ServicesDep

router = APIRouter(tags=["audit"])


class LogKey(BaseModel):
    """How to verify the log's checkpoints and receipts offline."""

    origin: str
    verifier_key: str
    public_key_pem: str


def _viewer(operator) -> str | None:  # noqa: ANN001
    return None if operator.is_admin else operator.id


@router.get(
    "/.well-known/skillmarket-audit-key",
    response_model=LogKey,
    summary="The audit log's public key",
)
def log_key(services: ServicesDep) -> LogKey:
    """The log's name and Ed25519 key (no auth): pin it to verify checkpoints and receipts."""
    audit = services.audit
    return LogKey(
        origin=audit.origin,
        verifier_key=audit.verifier_key,
        public_key_pem=audit.key.public_key_pem(),
    )


@router.get("/v1/audit/checkpoint", summary="The latest signed checkpoint")
def checkpoint(_operator: OperatorDep, services: ServicesDep) -> dict[str, Any]:
    """A C2SP signed note over the log's size and RFC 6962 root (signed now if the log grew)."""
    signed = services.audit.latest_checkpoint()
    return (
        {"origin": services.audit.origin, "size": 0, "root_hash": None, "note": None}
        if signed is None
        else signed.to_json()
    )


@router.get("/v1/audit/events", summary="Audit events I may see")
def events(
    operator: OperatorDep,
    services: ServicesDep,
    after: Annotated[int, Query(ge=-1, description="Only events with seq above this")] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    subject: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """Events the caller acted in or is a party to (admins: all), oldest first."""
    return services.audit.events(_viewer(operator), after=after, limit=limit, subject=subject)


@router.get("/v1/audit/events/{seq}/proof", summary="Inclusion proof of an event")
def inclusion(
    seq: int,
    operator: OperatorDep,
    services: ServicesDep,
    size: Annotated[int | None, Query(ge=1, description="Checkpoint size (default latest)")] = None,
) -> dict[str, Any]:
    """The event, a signed checkpoint and the audit path proving the event is in it."""
    return services.audit.inclusion(seq, _viewer(operator), size)


@router.get("/v1/audit/consistency", summary="Consistency proof between checkpoints")
def consistency(
    _operator: OperatorDep,
    services: ServicesDep,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    """Proof that the log at size ``second`` extends the log at size ``first`` (both signed)."""
    return services.audit.consistency(first, second)


@router.post("/v1/admin/audit/checkpoint", summary="Sign a checkpoint now (admin)")
def sign_now(_admin: AdminDep, services: ServicesDep) -> dict[str, Any]:
    """Sign a checkpoint of the current log head."""
    signed = services.audit.sign_checkpoint()
    return {"size": 0} if signed is None else signed.to_json()
