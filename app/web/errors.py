"""Error pages: page routes answer HTML (or JSON to their scripts), the API keeps its JSON.

`PageRoute` is the route class of every page router: it turns what escapes a page handler
into the error page (404 for what the user may not see, 403 for a role or a CSRF failure, and
database or storage failures with the status the app's own handlers give them), and a missing
session into a redirect to the sign-in page. Unknown paths outside the API get the HTML 404
page when the client asks for HTML; everything else keeps the API's JSON handlers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import AppError, error_body
from app.web.deps import CSRF_FAILED, SignInRequired
from app.web.i18n import i18n_for
from app.web.templating import N_, render, sign_in_url

# Outside these, a client that accepts HTML gets the error pages.
API_PREFIXES = ("/api/", "/openapi.json", "/docs", "/redoc", "/healthz", "/readyz", "/static/")

_TITLES = {
    400: N_("The request could not be understood"),
    403: N_("You may not do this"),
    404: N_("Page not found"),
    405: N_("Page not found"),
    409: N_("This cannot be done now"),
    413: N_("The file is too large"),
    415: N_("This kind of request is not accepted"),
    422: N_("Some information is not valid"),
    429: N_("Too many attempts"),
    503: N_("The service is temporarily unavailable"),
    507: N_("The file could not be stored"),
}
_MESSAGES = {
    400: N_("Go back, check what you entered and try again."),
    403: N_("Your account does not give access to this page or action."),
    404: N_("There is nothing here, or you do not have access to it."),
    405: N_("There is nothing here, or you do not have access to it."),
    409: N_("The item changed state in the meantime. Reload the page to see where it stands."),
    413: N_("The request is larger than this page accepts."),
    415: N_("This kind of request is not accepted."),
    422: N_("Go back, check what you entered and try again."),
    429: N_("Wait a few minutes, then try again."),
    503: N_("Please try again in a few moments."),
    507: N_("The document store is full. Please tell the programme's administrators."),
}
_CSRF_MESSAGE = N_(
    "This form has expired or did not come from this site. Reload the page and try again."
)


def wants_json(request: Request) -> bool:
    """The page's own scripts (uploads) ask for JSON; browsers navigating ask for HTML."""
    return "application/json" in request.headers.get("accept", "")


def error_page(
    request: Request, status: int, code: str, headers: dict[str, str] | None = None
) -> Response:
    i18n = i18n_for(request)
    known = status if status in _TITLES else (503 if status >= 500 else 400)
    message = _CSRF_MESSAGE if code == CSRF_FAILED else _MESSAGES[known]
    if wants_json(request):
        return JSONResponse(
            error_body(i18n.gettext(message), code), status_code=status, headers=headers
        )
    return render(
        request,
        "errors/error.html",
        {"status": status, "title": _TITLES[known], "message": message},
        status_code=status,
        headers=headers,
    )


async def _as_page(request: Request, exc: Exception) -> Response | None:
    """An infrastructure failure as the app's own handler grades it (errors.py: 409 for an
    integrity race, 422 for a value the database refuses, 503 for an outage, 507 for a full
    store, …), shown as the error page. None for what only the catch-all handles: a bug,
    left to propagate so that it is logged as one."""
    handlers = request.app.exception_handlers
    cls = next((c for c in type(exc).__mro__ if c in handlers and c is not Exception), None)
    if cls is None:
        return None
    answer = handlers[cls](request, exc)
    if isinstance(answer, Awaitable):
        answer = await answer
    try:
        code = str(json.loads(bytes(answer.body)).get("code", "error"))
    except (ValueError, AttributeError):
        code = "error"
    if answer.status_code >= 500 and not hasattr(request.state, "web_session"):
        request.state.web_session = None  # the database may be what failed: do not ask it
    headers = {k: v for k, v in answer.headers.items() if k.lower() == "retry-after"}
    return error_page(request, answer.status_code, code, headers)


class PageRoute(APIRoute):
    """The route class of page routers: errors become pages, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return RedirectResponse(sign_in_url(request), status_code=303)
            except AppError as exc:
                return error_page(request, exc.status_code, exc.code, exc.headers)
            except RequestValidationError:
                return error_page(request, 400, "invalid_request")
            except StarletteHTTPException as exc:
                return error_page(request, exc.status_code, "http_error")
            except Exception as exc:
                page = await _as_page(request, exc)
                if page is None:
                    raise
                return page

        return page_handler


def install_error_pages(app: FastAPI) -> None:
    """HTML 404/405 for unknown paths outside the API, for clients that ask for HTML."""
    json_handler = app.exception_handlers[StarletteHTTPException]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        path = request.url.path
        if (
            exc.status_code in (404, 405)
            and not path.startswith(API_PREFIXES)
            and "text/html" in request.headers.get("accept", "")
        ):
            return error_page(request, exc.status_code, "not_found")
        answer = json_handler(request, exc)
        return await answer if isinstance(answer, Awaitable) else answer

    app.add_exception_handler(StarletteHTTPException, http_error)
