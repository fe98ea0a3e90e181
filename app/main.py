"""Application factory: settings, database, storage, routers and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from app.applications.router import router as applications_router
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.awards.router import router as awards_router
from app.calls.router import router as calls_router
from app.config import Settings, get_settings
from app.db import Database, build_engine
from app.documents.router import router as documents_router
from app.errors import install_error_handlers
from app.health import router as health_router
from app.limits import BodyLimitMiddleware
from app.observability.setup import install_observability
from app.organizations.router import router as organizations_router
from app.reports.router import router as reports_router
from app.reviews.router import router as reviews_router
from app.security_headers import install_cors, install_http_security
from app.storage import Storage, storage_from_url
from app.users.router import router as users_router
from app.web import install_web

API_PREFIX = "/api/v1"


def api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX)
    for router in (
        auth_router,
        users_router,
        organizations_router,
        calls_router,
        applications_router,
        documents_router,
        reviews_router,
        awards_router,
        reports_router,
        audit_router,
    ):
        api.include_router(router)
    return api


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    storage: Storage | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    db = database or Database(build_engine(settings.database_url, pool_size=settings.db_pool_size))
    store = storage or storage_from_url(settings.storage_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if database is None:
            db.engine.dispose()

    app = FastAPI(
        title="Grants",
        summary="Grant competitions, merit review, awards and milestone disbursements.",
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.storage = store
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_json_body_kb * 1024)
    # Added inside out: CORS, then request ids / access log / metrics, then security headers
    # and, outermost, the client address from trusted proxies (docs/configuration.md).
    install_cors(app, settings)
    install_observability(app)
    install_http_security(app, settings)
    app.include_router(health_router)
    app.include_router(api_router())
    install_web(app)
    return app
