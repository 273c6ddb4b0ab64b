"""Errors of the credentials domain (connected services and the credential proxy)::

    SkillmarketError
     ├── NotFound
     │    └── ServiceConnectionNotFound   404  SERVICE_CONNECTION_NOT_FOUND
     ├── InvalidInput
     │    └── ServiceConnectionInvalid    422  SERVICE_CONNECTION_INVALID
     └── Conflict
          └── ServiceNotConnected         409  SERVICE_NOT_CONNECTED

Details name the service, the field and the problem; never a credential.
"""

from __future__ import annotations

from skillmarket.errors import Conflict, InvalidInput, NotFound


class ServiceConnectionNotFound(NotFound):
    """The caller has no connected service of that name."""

    code = "SERVICE_CONNECTION_NOT_FOUND"


class ServiceConnectionInvalid(InvalidInput):
    """A connect request that cannot be stored: ``details.field`` and ``details.problem``."""

    code = "SERVICE_CONNECTION_INVALID"

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}", details={"field": field, "problem": problem})


class ServiceNotConnected(Conflict):
    """A skill's script called a declared service, but the side that provides it (the buyer or
    the seller, as the manifest says) has not connected it."""

    code = "SERVICE_NOT_CONNECTED"
