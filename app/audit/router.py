"""The audit log (admin): browse with filters, and verify the hash chain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from app.audit.schemas import AuditEventOut, VerificationOut
from app.audit.service import verify
from app.auth.deps import AdminUser
from app.db import DbSession
from app.errors import error_responses
from app.models import AuditEvent
from app.pagination import Page, Pagination, fetch_page
from app.schemas import NO_NUL_PATTERN, Instant

router = APIRouter(prefix="/audit", tags=["audit"], responses=error_responses(401, 403, 503))


def _out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        seq=event.seq,
        at=event.at,
        actor=event.actor_email,
        actor_id=event.actor_id,
        action=event.action,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        data=event.data,
        hash=event.hash,
        prev_hash=event.prev_hash,
    )


@router.get("", response_model=Page[AuditEventOut])
def list_events(
    _: AdminUser,
    session: DbSession,
    page: Pagination,
    action: Annotated[str | None, Query(max_length=100, pattern=NO_NUL_PATTERN)] = None,
    entity_type: Annotated[str | None, Query(max_length=50, pattern=NO_NUL_PATTERN)] = None,
    entity_id: Annotated[str | None, Query(max_length=100, pattern=NO_NUL_PATTERN)] = None,
    actor_id: uuid.UUID | None = None,
    since: Annotated[Instant | None, Query(alias="from")] = None,
    until: Annotated[Instant | None, Query(alias="to")] = None,
) -> Page[AuditEventOut]:
    """Newest first. `action` matches exactly, or by prefix when it ends with `.` (`user.`)."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if action:
        stmt = stmt.where(
            AuditEvent.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEvent.action == action
        )
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if actor_id:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if until:
        stmt = stmt.where(AuditEvent.at < until)
    rows, total = fetch_page(session, stmt, page)
    return Page[AuditEventOut](
        items=[_out(e) for e in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/verify", response_model=VerificationOut, response_model_exclude_none=True)
def verify_chain(_: AdminUser, session: DbSession) -> JSONResponse:
    result = verify(session)
    body = VerificationOut(
        ok=result.ok, events=result.events, broken_at=result.broken_at, reason=result.reason
    )
    return JSONResponse(body.model_dump(mode="json", exclude_none=True))
