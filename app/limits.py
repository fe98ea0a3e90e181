"""A cap on request bodies other than file uploads (which enforce their own, per document type).

A declared `Content-Length` over the cap is refused before anything is read; a chunked body is
counted as it arrives and refused once it passes the cap, so a JSON endpoint never buffers more
than `MAX_JSON_BODY_KB`.
"""

from __future__ import annotations

import json

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
        if headers.get(b"content-type", b"").lower().startswith(_STREAMED_TYPES):
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
