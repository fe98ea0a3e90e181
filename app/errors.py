"""Domain errors and the handlers that turn every failure into `{"detail", "code"}` JSON.

Services raise these; routes never build error responses themselves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.storage import ObjectNotFound, StorageFull, StorageUnavailable

logger = logging.getLogger(__name__)


class AppError(Exception):
    """An expected failure with an HTTP status, a machine code and a human sentence.

    `keep_changes` marks failures whose side effects are the point (a failed sign-in is
    recorded and audited even though the answer is 401): the session dependency commits
    instead of rolling back.
    """

    status_code = 400
    default_code = "bad_request"

    def __init__(
        self,
        detail: str,
        code: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        self.keep_changes = keep_changes


class BadRequest(AppError):
    status_code = 400
    default_code = "bad_request"


class Unauthorized(AppError):
    status_code = 401
    default_code = "not_authenticated"

    def __init__(self, detail: str = "Not authenticated.", code: str | None = None, **kw: Any):
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, code, **kw)


class Forbidden(AppError):
    status_code = 403
    default_code = "forbidden"


class NotFound(AppError):
    status_code = 404
    default_code = "not_found"


class Conflict(AppError):
    status_code = 409
    default_code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status_code = 415
    default_code = "unsupported_media_type"


class Unprocessable(AppError):
    status_code = 422
    default_code = "invalid"


class TooManyRequests(AppError):
    status_code = 429
    default_code = "too_many_requests"


class ServiceUnavailable(AppError):
    status_code = 503
    default_code = "service_unavailable"


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, **extra}


# --- how errors are documented in the OpenAPI description ---------------------------------


class ErrorOut(BaseModel):
    """Every error but request validation: a human sentence and a machine code (some errors
    add keys of their own, e.g. `missing`)."""

    model_config = ConfigDict(extra="allow")

    detail: str
    code: str


class ValidationIssue(BaseModel):
    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """FastAPI's request validation error: every problem with the request, at once."""

    detail: list[ValidationIssue]


_ERROR_DESCRIPTIONS = {
    400: "Malformed request: a body that cannot be parsed, or a required header missing",
    401: "No valid access token",
    403: "The user's role may never take this action",
    404: "Not found, or not visible to this user",
    409: "The request conflicts with the current state",
    413: "The request body is too large",
    415: "The content is not of an accepted type",
    422: "Invalid input: the request does not validate, or breaks a rule on its values",
    429: "Too many requests; retry after the seconds in Retry-After",
    503: "The database or the document storage is unavailable; retry after Retry-After",
    507: "Document storage is full; nothing was stored",
}
_ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    503: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}


def error_responses(
    *statuses: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries for the errors a route (or a router) answers with.

    Every error is documented with its model: `ErrorOut`, and for 422 either FastAPI's
    validation error or `ErrorOut` (a rule on the values, e.g. `invalid_award`). `described`
    gives route-specific descriptions, and adds those statuses too.
    """
    descriptions = {**_ERROR_DESCRIPTIONS, **(described or {})}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, *(described or {})}):
        entry: dict[str, Any] = {
            "description": descriptions[status],
            "model": ValidationErrorOut | ErrorOut if status == 422 else ErrorOut,
        }
        if status in _ERROR_HEADERS:
            entry["headers"] = _ERROR_HEADERS[status]
        responses[status] = entry
    return responses


def _json(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=dict(headers or {}))


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _finite(value: Any) -> Any:
    """JSON has no infinity or NaN: echo such inputs back as strings instead of failing."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own 422 shape, made safe for inputs such as 1e400.
        return _json(422, {"detail": _finite(jsonable_encoder(exc.errors()))})

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return _json(exc.status_code, error_body(exc.detail, exc.code, **exc.extra), exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        return _json(exc.status_code, error_body(detail, code), exc.headers)

    @app.exception_handler(StorageUnavailable)
    async def _storage_down(_: Request, exc: StorageUnavailable) -> JSONResponse:
        logger.warning("document storage unavailable: %s", exc)
        return _json(
            503,
            error_body(
                "Document storage is unavailable; try again shortly.", "storage_unavailable"
            ),
            {"Retry-After": "5"},
        )

    @app.exception_handler(StorageFull)
    async def _storage_full(_: Request, exc: StorageFull) -> JSONResponse:
        # 507, not 503: retrying will not help until an operator frees space.
        logger.error("document storage full: %s", exc)
        return _json(
            507,
            error_body("Document storage is full; the file was not stored.", "storage_full"),
        )

    @app.exception_handler(ObjectNotFound)
    async def _object_missing(_: Request, exc: ObjectNotFound) -> JSONResponse:
        logger.error("stored object missing for a recorded document: %s", exc)
        return _json(404, error_body("The document's content is not available.", "content_missing"))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(_: Request, exc: ClientDisconnect) -> JSONResponse:
        # Nobody is listening; the upload was aborted and nothing was recorded.
        return _json(400, error_body("The client disconnected.", "client_disconnected"))

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A uniqueness or foreign-key race that the service's own checks could not see.
        logger.info("integrity conflict: %s", exc.orig)
        return _json(
            409, error_body("The request conflicts with a concurrent change; retry.", "conflict")
        )

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # A value the database refuses (PostgreSQL's "data exception" class, e.g. a NUL in a
        # form field): the request's fault, not an outage, so not a 503 with Retry-After.
        logger.warning("database refused a value: %s", exc.orig)
        return _json(
            422, error_body("The request contains a value that cannot be stored.", "invalid_value")
        )

    @app.exception_handler(DBAPIError)
    async def _database_down(_: Request, exc: DBAPIError) -> JSONResponse:
        logger.warning("database error: %s", exc.orig)
        return _json(
            503,
            error_body("The database is unavailable; try again shortly.", "database_unavailable"),
            {"Retry-After": "5"},
        )

    @app.exception_handler(PoolTimeout)
    async def _no_free_connection(_: Request, exc: PoolTimeout) -> JSONResponse:
        # No pooled connection came free in time: the database is stuck or swamped. To the
        # client that is the same as a database that is down.
        logger.warning("database connection pool exhausted: %s", exc)
        return _json(
            503,
            error_body("The database is unavailable; try again shortly.", "database_unavailable"),
            {"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return _json(500, error_body("Internal error.", "internal_error"))
