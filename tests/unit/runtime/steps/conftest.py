"""Fixtures of the step executor tests: the fake chat-completions server."""

from tests.support.openai_server import (  # noqa: F401  (fixtures, found by name)
    openai_server,
    openai_server_factory,
    openai_server_session,
)
