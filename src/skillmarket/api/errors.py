"""One place that renders every error as ``{"error": {"code", "message", "details"}}``.

Request validation errors are mapped to stable codes: malformed JSON is ``MALFORMED_JSON``
(400), unknown fields ``UNKNOWN_FIELD``, an unknown step type ``UNKNOWN_STEP_TYPE``, the
manifest's and the rating body's own checks their upper-cased type (``INVALID_NAME``,
``INVALID_SCHEMA``, ``RATING_SCORE_INVALID``, …), and
anything else ``VALIDATION_ERROR`` (422). The offending input is never echoed back: it may hold
a prompt, code or a key.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from skillmarket.catalog.manifest import ERROR_TYPES
from skillmarket.errors import SkillmarketError
from skillmarket.reputation.models import ERROR_TYPES as RATING_ERROR_TYPES

logger = logging.getLogger(__name__)

_BUILTIN_CODES = {
    "json_invalid": "MALFORMED_JSON",
    "extra_forbidden": "UNKNOWN_FIELD",
    "union_tag_invalid": "UNKNOWN_STEP_TYPE",
    "union_tag_not_found": "UNKNOWN_STEP_TYPE",
    "missing": "MISSING_FIELD",
}
_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The public error shape."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def validation_code(error_type: str) -> str:
    """The stable code for one pydantic error type."""
    if error_type in ERROR_TYPES or error_type in RATING_ERROR_TYPES:
        return error_type.upper()
    return _BUILTIN_CODES.get(error_type, "VALIDATION_ERROR")


def _describe(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        out.append(
            {"loc": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type", "")}
        )
    return out


def _sent_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower().endswith("json")


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    code = validation_code(errors[0]["type"]) if errors else "VALIDATION_ERROR"
    if errors and errors[0]["loc"][:1] == ("body",) and not _sent_json(request):
        # FastAPI only parses JSON bodies sent as JSON; say so rather than "not an object".
        return JSONResponse(
            error_body(
                "MALFORMED_JSON",
                "the body must be JSON sent with Content-Type: application/json",
                {"content_type": request.headers.get("content-type")},
            ),
            status_code=400,
        )
    if code == "MALFORMED_JSON":
        reason = (errors[0].get("ctx") or {}).get("error", "decode error")
        return JSONResponse(
            error_body(
                code,
                f"the request body is not valid JSON: {reason}",
                {"position": errors[0]["loc"][-1]},
            ),
            status_code=400,
        )
    described = _describe(errors)
    status = 422
    first = described[0] if described else {"loc": "", "message": "invalid request"}
    where = f" at {first['loc']}" if first["loc"] else ""
    return JSONResponse(
        error_body(code, f"{first['message']}{where}", {"errors": described}), status_code=status
    )


async def _on_domain(_request: Request, exc: SkillmarketError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status)


async def _on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse(
        error_body(code, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return JSONResponse(error_body("INTERNAL_ERROR", "an internal error occurred"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(SkillmarketError, _on_domain)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)
