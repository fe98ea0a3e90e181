"""The web interface: server-rendered pages over the same services as the API (docs/web.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.web.errors import install_error_pages
from app.web.pages import account, finance, ngo, officer, public, reviewer

STATIC_DIR = Path(__file__).parent / "static"

# Every page area's router, in the order their paths are matched.
PAGE_ROUTERS = (
    public.router,
    account.router,
    ngo.router,
    reviewer.router,
    officer.router,
    finance.router,
)


def install_web(app: FastAPI) -> None:
    """Mount the static files, the page routers and the HTML error pages on the app."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in PAGE_ROUTERS:
        app.include_router(router)
    install_error_pages(app)
