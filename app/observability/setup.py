"""Installing the observability pieces on an app."""

from __future__ import annotations

from fastapi import FastAPI

from app.observability.metrics import Metrics
from app.observability.metrics import router as metrics_router
from app.observability.middleware import RequestObservabilityMiddleware


def install_observability(app: FastAPI) -> None:
    """The request middleware (ids, access log, HTTP metrics) and the `/metrics` route."""
    app.state.metrics = Metrics(app.state)
    app.add_middleware(RequestObservabilityMiddleware, metrics=app.state.metrics.http)
    app.include_router(metrics_router)
