"""Request dependencies: the services and the authenticated operator."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from skillmarket.identity.errors import AdminRequired
from skillmarket.identity.models import Operator
from skillmarket.services import Services

_bearer = HTTPBearer(auto_error=False, description="An operator API key (smk_…)")


# A dependency that does no I/O is ``async`` so FastAPI calls it on the event loop; a plain
# ``def`` one would cost every request a hop to the thread pool and back.


async def get_services(request: Request) -> Services:
    """The services the app was built with."""
    return request.app.state.services


def current_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Operator:
    """The operator whose API key authorises this request (401 otherwise)."""
    services: Services = request.app.state.services
    return services.identity.authenticate(credentials.credentials if credentials else None)


async def current_admin(operator: Annotated[Operator, Depends(current_operator)]) -> Operator:
    """The calling operator, who must be an admin (403 otherwise)."""
    if not operator.is_admin:
        raise AdminRequired("this needs a marketplace admin's API key")
    return operator


ServicesDep = Annotated[Services, Depends(get_services)]
OperatorDep = Annotated[Operator, Depends(current_operator)]
AdminDep = Annotated[Operator, Depends(current_admin)]
