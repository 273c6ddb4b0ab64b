"""Errors of the requests domain."""

from __future__ import annotations

from skillmarket.errors import Conflict, Forbidden, NotFound


class RequestNotFound(NotFound):
    """No skill request has that id."""

    code = "REQUEST_NOT_FOUND"


class NotRequestOwner(Forbidden):
    """Only the operator who posted a request may close it."""

    code = "NOT_REQUEST_OWNER"


class RequestClosed(Conflict):
    """The request is closed: it is no longer listed or matched (it stays readable by id)."""

    code = "REQUEST_CLOSED"
