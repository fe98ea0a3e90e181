"""The page router factory: every page area builds its router with `page_router()`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.web.errors import PageRoute


def page_router() -> APIRouter:
    """Pages are not part of the API: left out of the OpenAPI document, errors as pages."""
    return APIRouter(
        include_in_schema=False, route_class=PageRoute, default_response_class=HTMLResponse
    )
