"""A cap on request bodies other than file uploads (which enforce their own, per document type).

A declared `Content-Length` over the cap is refused before anything is read; a chunked body is
counted as it arrives and refused once it passes the cap, so a JSON endpoint never buffers more
than `MAX_JSON_BODY_KB`.

Only the streamed upload routes are exempt: those that declare their own multipart request body
in `openapi_extra` (they read `request.stream()` and cap each file themselves). A multipart body
sent to any other route is capped like the rest, since FastAPI would read it whole.
"""

from __future__ import annotations

import json

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, error_body

_STREAMED_TYPES = (b"multipart/form-data",)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").lower()
        if content_type.startswith(_STREAMED_TYPES) and _streams_its_body(scope):
            await self.app(scope, receive, send)
            return
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send, self.max_bytes)
            return
        seen = 0
        exceeded = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise PayloadTooLarge(_detail(self.max_bytes), "body_too_large")
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the framework made of the interrupted read, the answer is 413.
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start":
                await _refuse(send, self.max_bytes)

        await self.app(scope, counting_receive, guarded_send)


def _streams_its_body(scope: Scope) -> bool:
    """Whether the route this request goes to parses its multipart body as a stream."""
    for route in iter_route_contexts(getattr(scope.get("app"), "routes", [])):
        if isinstance(route.original_route, APIRoute) and _declares_multipart(route.original_route):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return True
    return False


def _declares_multipart(route: APIRoute) -> bool:
    body = (route.openapi_extra or {}).get("requestBody", {})
    return "multipart/form-data" in body.get("content", {})


def _detail(limit: int) -> str:
    return f"The request body is larger than {limit // 1024} KiB."


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(error_body(_detail(limit), "body_too_large")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
