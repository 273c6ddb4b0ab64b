"""/v1/services: the caller's connected services for the credential proxy.

A connected service's credential goes in once (``POST``) and never comes out: no endpoint
returns it, in any form. Re-connecting a name replaces the credential.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel

from skillmarket.api.deps import OperatorDep, ServicesDep
from skillmarket.catalog.manifest import SERVICE_PATTERN
from skillmarket.credentials.models import ServiceConnect, ServiceConnection

router = APIRouter(prefix="/v1/services", tags=["services"])

ServiceName = Annotated[str, Path(pattern=SERVICE_PATTERN, description="The service name.")]


class ConnectResult(BaseModel):
    """The connection as stored (without its credential) and whether it replaced one."""

    service: ServiceConnection
    replaced: bool


@router.post(
    "",
    response_model=ConnectResult,
    status_code=201,
    summary="Connect a service (or replace its credential)",
    responses={200: {"description": "An existing connection was replaced", "model": ConnectResult}},
)
def connect_service(
    body: Annotated[ServiceConnect, Body()],
    operator: OperatorDep,
    services: ServicesDep,
    response: Response,
) -> ConnectResult:
    """Store a credential for ``name``, encrypted at rest, for skills that declare the service
    to use through ``proxy_fetch`` (yours with ``provided_by: seller``, others' with
    ``provided_by: buyer`` when you invoke them). It is sent only to HTTPS URLs on the
    registrable domain of ``domain``. Connecting a name again replaces it (200). A bad request
    is 422 ``SERVICE_CONNECTION_INVALID`` with ``details.field``."""
    connection, replaced = services.credentials.connect(operator.id, body)
    if replaced:
        response.status_code = 200
    return ConnectResult(service=connection, replaced=replaced)


@router.get("", response_model=list[ServiceConnection], summary="My connected services")
def list_services(operator: OperatorDep, services: ServicesDep) -> list[ServiceConnection]:
    """Your connections by name: domain, auth scheme and header or parameter name; never the
    credential."""
    return services.credentials.list(operator.id)


@router.get("/{name}", response_model=ServiceConnection, summary="One connected service")
def get_service(
    name: ServiceName, operator: OperatorDep, services: ServicesDep
) -> ServiceConnection:
    """Your connection of that name (404 ``SERVICE_CONNECTION_NOT_FOUND``)."""
    return services.credentials.get(operator.id, name)


@router.delete("/{name}", response_model=ServiceConnection, summary="Disconnect a service")
def disconnect_service(
    name: ServiceName, operator: OperatorDep, services: ServicesDep
) -> ServiceConnection:
    """Remove the connection and its credential; skills needing it from you then fail their
    call with ``SERVICE_NOT_CONNECTED``. Returns what was removed (404
    ``SERVICE_CONNECTION_NOT_FOUND`` if there is none)."""
    return services.credentials.disconnect(operator.id, name)
