"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from skillmarket import __version__
from skillmarket.api import operators, skills, wallet
from skillmarket.api.errors import install_error_handlers
from skillmarket.api.limits import BodySizeLimit
from skillmarket.services import Services

DESCRIPTION = """\
A self-hostable marketplace and secure runtime for AI-agent skills.

Every `/v1` endpoint needs `Authorization: Bearer <api key>`. Errors are
`{"error": {"code": "...", "message": "...", "details": {...}}}` with a stable code.
"""


def create_app(services: Services) -> FastAPI:
    """Build the app around already-opened ``services``."""
    app = FastAPI(title="skillmarket", version=__version__, description=DESCRIPTION)
    app.state.services = services
    install_error_handlers(app)
    app.include_router(skills.router)
    app.include_router(operators.router)
    app.include_router(wallet.router)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    def healthz() -> dict[str, str]:
        """Answers while the server runs (no auth)."""
        return {"status": "ok", "version": __version__}

    app.add_middleware(BodySizeLimit, max_bytes=services.settings.max_body_bytes)
    return app
