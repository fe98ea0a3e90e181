"""The request being handled, visible to every log line emitted on its behalf.

One mutable `RequestContext` per request lives in a context variable. Starlette copies the
context into the thread pool for sync routes and dependencies, and a copy still points to the
same object, so the user id that authentication records there (in a worker thread) is seen by
the access log line written afterwards (on the event loop).
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass

# What an incoming X-Request-ID may look like to be adopted: a UUID, a hex or base64 id, or a
# trace id such as `Root=1-…` or `req.42:frontend`, up to 128 characters. Anything else
# (spaces, quotes, control characters: log injection) is replaced by a fresh id.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")


@dataclass
class RequestContext:
    request_id: str
    user_id: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("grants_request", default=None)


def request_id_from(header: str | None) -> str:
    """The incoming id when it is well formed, otherwise a new one."""
    if header is not None and _WELL_FORMED.fullmatch(header):
        return header
    return uuid.uuid4().hex


def begin(request_id: str) -> tuple[RequestContext, Token[RequestContext | None]]:
    context = RequestContext(request_id)
    return context, _current.set(context)


def end(token: Token[RequestContext | None]) -> None:
    _current.reset(token)


def current() -> RequestContext | None:
    return _current.get()


def bind_user(user_id: object) -> None:
    """Record who is making the current request (called by authentication)."""
    context = _current.get()
    if context is not None:
        context.user_id = str(user_id)
