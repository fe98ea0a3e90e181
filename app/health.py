"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.storage import StorageError, StorageFull

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive; checks nothing else."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "The database or the document storage is unreachable"}},
)
def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers and the document storage is usable."""
    checks: dict[str, str] = {}
    try:
        request.app.state.db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        logger.warning("readiness: database check failed: %s", exc)
        checks["database"] = "unavailable"
    try:
        request.app.state.storage.check()
        checks["storage"] = "ok"
    except StorageFull as exc:
        # Reachable but out of space: uploads answer 507 while every read still works, and
        # every instance shares the storage, so taking this one out of rotation helps no one.
        logger.warning("readiness: storage is full: %s", exc)
        checks["storage"] = "full"
    except (StorageError, OSError) as exc:
        logger.warning("readiness: storage check failed: %s", exc)
        checks["storage"] = "unavailable"
    ready = checks["database"] == "ok" and checks["storage"] in {"ok", "full"}
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", **checks}, 200 if ready else 503
    )
