"""Security headers on every response, CORS (closed unless configured), the client address.

Every response, API or HTML, error or not, gets:

* `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`;
* `Content-Security-Policy`: `default-src 'self'` with `frame-ancestors 'none'`, no inline
  script or style. The interactive API docs (`/docs`, its OAuth2 redirect page, `/redoc`) are
  FastAPI's pages: they load Swagger UI / ReDoc from cdn.jsdelivr.net and start them with an
  inline script, so those three paths get a policy that allows exactly that (plus ReDoc's
  fonts and its blob: worker). They show no data of their own: what they display comes from
  `/openapi.json` and API calls, which keep the strict policy;
* `Strict-Transport-Security` in production only (TLS ends at the load balancer; a development
  server on plain HTTP must not pin browsers to HTTPS);
* under `/api/v1`, `Cache-Control: no-store` unless the route set its own: API answers carry
  personal and financial data that no browser or shared cache should keep.

A policy or cache header that a route sets itself is kept (a download's `sandbox` policy), with
`frame-ancestors 'none'` added to a policy that lacks it. This is a pure ASGI middleware: it
only edits the headers of `http.response.start`, so streamed bodies pass through untouched.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.client_address import ClientAddressMiddleware, TrustedProxies
from app.config import Settings

API_PATH_PREFIX = "/api/v1"

STRICT_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_CDN} https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=63072000; includeSubDomains"

_ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)


class SecurityHeadersMiddleware:
    def __init__(
        self, app: ASGIApp, *, docs_paths: Iterable[str] = (), production: bool = False
    ) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = DOCS_CSP if path in self.docs_paths else STRICT_CSP
        is_api = path == API_PATH_PREFIX or path.startswith(API_PATH_PREFIX + "/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS:
                    headers[name] = value
                own_policy = headers.get("Content-Security-Policy")
                if own_policy is None:
                    headers["Content-Security-Policy"] = csp
                elif "frame-ancestors" not in own_policy:
                    headers["Content-Security-Policy"] = f"{own_policy}; frame-ancestors 'none'"
                if self.production:
                    headers["Strict-Transport-Security"] = HSTS
                if is_api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def docs_paths(app: FastAPI) -> tuple[str, ...]:
    """The paths of FastAPI's own documentation pages, as this app configures them."""
    paths = [app.docs_url, app.redoc_url]
    if app.docs_url:
        paths.append(app.swagger_ui_oauth2_redirect_url)
    return tuple(path for path in paths if path)


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Browsers on the listed origins may call the API; with none listed, no CORS headers."""
    origins = settings.cors_origin_list
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        # Bearer tokens, not cookies: browsers never need to send credentials cross-origin.
        allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
        expose_headers=["Content-Disposition", "Retry-After", "X-Request-ID"],
        max_age=600,
    )


def install_http_security(app: FastAPI, settings: Settings) -> None:
    """Security headers, then (outermost) the client address from trusted proxies."""
    app.add_middleware(
        SecurityHeadersMiddleware, docs_paths=docs_paths(app), production=settings.is_production
    )
    app.add_middleware(ClientAddressMiddleware, trusted=TrustedProxies(settings.trusted_proxy_list))
