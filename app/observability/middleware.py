"""One middleware per request: its id, its access log line, its metrics, its unhandled errors.

* The request id is the incoming `X-Request-ID` when well formed, else a new one; it is set in
  the request context for the log lines and returned in the `X-Request-ID` response header.
* When the request ends, one `app.access` line (method, route template, path, status,
  duration, client; the filter adds the request and user ids) and one observation in the HTTP
  metrics.
* An exception that nothing else handled becomes the usual JSON 500 here, inside the request
  context, so its log line and traceback carry the request id and the response still gets the
  request id and the security headers. (Left to Starlette, it would be answered by the
  outermost middleware, after the request context is gone and past every header middleware.)

Pure ASGI, so streamed responses pass through chunk by chunk. The duration runs from the
request's arrival to the moment its last body chunk is handed to the server, so it covers a
streamed body however long it takes; the line and the metrics are written at that moment.
"""

from __future__ import annotations

import json
import logging
import time

from fastapi.routing import iter_route_contexts
from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_body
from app.observability import context
from app.observability.logs import ACCESS_LOGGER
from app.observability.metrics import HttpMetrics

access_logger = logging.getLogger(ACCESS_LOGGER)
error_logger = logging.getLogger("app.errors")

REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# nginx's "client closed request": the client went away before a response was started.
CLIENT_CLOSED = 499


class RouteTemplates:
    """The full path template of the route a request matched, e.g. `/api/v1/calls/{id}`.

    Since FastAPI 0.137 included routers stay nested: the matched `APIRoute` in the scope knows
    only its path inside its own router (no `/api/v1`). `iter_route_contexts` lists every route
    with its full template; they are indexed by route on first use. A request without an API
    route in its scope (documentation pages, mounts, 404s), or with one missing from the index
    or included twice, is matched against the list instead.
    """

    def __init__(self) -> None:
        self._index: dict[int, str | None] | None = None

    def template(self, scope: Scope, request: Scope) -> str:
        """`scope` as routing left it; `request`, a copy taken before routing changed it."""
        app = request.get("app")
        if app is None:
            return UNMATCHED
        if self._index is None:
            self._index = self._build(app.routes)
        # FastAPI puts only its API routes in the scope; other routes (docs, mounts) and
        # anything not found are looked up.
        route = scope.get("route")
        known = self._index.get(id(route)) if route is not None else None
        if known is not None:
            return known
        for candidate in iter_route_contexts(app.routes):
            match, _ = candidate.matches(request)
            if match is not Match.NONE and candidate.path_format:
                return str(candidate.path_format)
        return UNMATCHED

    @staticmethod
    def _build(routes: list[BaseRoute]) -> dict[int, str | None]:
        index: dict[int, str | None] = {}
        for candidate in iter_route_contexts(routes):
            key, template = id(candidate.original_route), candidate.path_format
            index[key] = template if index.get(key, template) == template else None
        return index


class RequestObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # Routing rewrites parts of the scope (a mount moves its prefix into root_path).
        request = dict(scope)
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = context.request_id_from(incoming.decode("latin-1") if incoming else None)
        _, token = context.begin(request_id)
        status: int | None = None
        recorded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, recorded
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Recorded before the last bytes go out: once a client has its whole answer,
                # the request is in the log and the metrics (a scrape right after sees it).
                recorded = True
                self._record(scope, request, status or 500, started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if status is not None:
                # Too late for an error response: the server closes the connection.
                error_logger.exception("unhandled error while sending the response")
                raise
            error_logger.exception("unhandled error")
            await _internal_error(send_with_id)
        except BaseException:
            if status is None:
                status = CLIENT_CLOSED
            raise
        finally:
            if not recorded:
                self._record(scope, request, status if status is not None else 500, started)
            context.end(token)

    def _record(self, scope: Scope, request: Scope, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        method = scope["method"] if scope["method"] in _METHODS else "other"
        route = self.routes.template(scope, request)
        self.metrics.observe(method, route, status, seconds)
        duration_ms = round(seconds * 1000, 1)
        client = scope.get("client")
        access_logger.info(
            "%s %s %s %.1fms",
            method,
            route,
            status,
            duration_ms,
            extra={
                "method": method,
                "route": route,
                "path": request["path"],
                "status": status,
                "duration_ms": duration_ms,
                "client": client[0] if client else None,
            },
        )


async def _internal_error(send: Send) -> None:
    body = json.dumps(error_body("Internal error.", "internal_error")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
