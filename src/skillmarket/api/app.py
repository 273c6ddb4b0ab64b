"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from skillmarket import __version__
from skillmarket.api import (
    audit,
    credentials,
    invocations,
    operators,
    passports,
    ratings,
    requests,
    skills,
    wallet,
)
from skillmarket.api.errors import install_error_handlers
from skillmarket.api.limits import BodySizeLimit
from skillmarket.invocations.engine import Engine
from skillmarket.mcp.streamable import mcp_lifespan, mount_mcp
from skillmarket.runtime.egress import EgressGuard
from skillmarket.services import Services

DESCRIPTION = """\
A self-hostable marketplace and secure runtime for AI-agent skills.

Every `/v1` endpoint needs `Authorization: Bearer <api key>`. Errors are
`{"error": {"code": "...", "message": "...", "details": {...}}}` with a stable code.
"""


logger = logging.getLogger(__name__)


async def _every(seconds: float, work: Callable[[], object], what: str) -> None:
    """Run the blocking ``work`` every ``seconds`` until cancelled; a failure is logged and
    the next round tries again."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(work)
        except Exception:  # noqa: BLE001  (try again next round; the failure is logged)
            logger.exception("%s failed", what)


def create_app(services: Services, *, egress_guard: EgressGuard | None = None) -> FastAPI:
    """Build the app around already-opened ``services``. ``egress_guard`` replaces the default
    guard of ``proxy_fetch`` (tests pass one that resolves their local upstream's names)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = Engine(
            services.settings, services.invocations, services.credentials, guard=egress_guard
        )
        app.state.engine = engine
        await engine.start()
        settings = services.settings
        # An audit checkpoint whenever the log grew; SQLite's write-ahead log moved into the
        # database file off the writers' path.
        loops = [
            _every(
                settings.checkpoint_interval_seconds,
                services.audit.sign_checkpoint,
                "signing an audit checkpoint",
            )
        ]
        if services.db.is_sqlite:
            loops.append(
                _every(
                    settings.sqlite_wal_checkpoint_seconds,
                    services.db.checkpoint_wal,
                    "checkpointing the SQLite write-ahead log",
                )
            )
        background = [asyncio.create_task(loop) for loop in loops]
        try:
            async with mcp_lifespan(app, mcp_server):
                yield
        finally:
            await engine.stop()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await run_in_threadpool(services.audit.sign_checkpoint)

    app = FastAPI(
        title="skillmarket", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(invocations.router)
    app.include_router(skills.router)
    app.include_router(skills.public_router)
    app.include_router(operators.router)
    app.include_router(passports.router)
    app.include_router(audit.router)
    app.include_router(wallet.router)
    app.include_router(requests.router)
    app.include_router(credentials.router)
    app.include_router(ratings.router)
    mcp_server = mount_mcp(app, services)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    def healthz() -> dict[str, str]:
        """Answers while the server runs (no auth)."""
        return {"status": "ok", "version": __version__}

    app.add_middleware(BodySizeLimit, max_bytes=services.settings.max_body_bytes)
    return app
