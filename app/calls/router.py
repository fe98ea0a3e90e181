"""Calls: create, read, list, update, publish, close; the review panel; applicant organisations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.deps import CallManager, CurrentUser, ProgramOfficer, ReviewReader
from app.calls import service
from app.calls.schemas import (
    CallIn,
    CallOut,
    CallUpdate,
    OrganizationRefOut,
    PanelIn,
    PanelMemberOut,
    PanelOut,
)
from app.db import DbSession
from app.errors import error_responses
from app.ids import ParsedId
from app.models import Application, Call, CallStatus, User
from app.models.base import utcnow
from app.pagination import Page, Pagination, fetch_page

router = APIRouter(prefix="/calls", tags=["calls"], responses=error_responses(401, 503))


def _frozen_ids(session: Session, calls: Sequence[Call]) -> set[uuid.UUID]:
    """Which of these calls have a submitted application: one query for the whole page."""
    if not calls:
        return set()
    return set(
        session.scalars(
            select(Application.call_id)
            .where(
                Application.call_id.in_([c.id for c in calls]),
                Application.submitted_at.is_not(None),
            )
            .distinct()
        )
    )


def call_out(call: Call, *, frozen: bool) -> CallOut:
    now = utcnow()
    return CallOut.model_validate(
        {
            **{f: getattr(call, f) for f in CallOut.model_fields if hasattr(call, f)},
            "status": call.effective_status(now),
            "is_open": call.is_open(now),
            "terms_frozen": frozen,
        }
    )


def _one(session: Session, call: Call) -> CallOut:
    return call_out(call, frozen=bool(_frozen_ids(session, [call])))


@router.post(
    "", status_code=201, response_model=CallOut, responses=error_responses(400, 403, 413, 422)
)
def create_call(user: CallManager, payload: CallIn, session: DbSession) -> CallOut:
    return call_out(service.create_call(session, actor=user, payload=payload), frozen=False)


@router.get("", response_model=Page[CallOut])
def list_calls(
    user: CurrentUser,
    session: DbSession,
    page: Pagination,
    status: CallStatus | None = None,
) -> Page[CallOut]:
    """Newest deadline first. Applicants, reviewers and finance see published and closed calls."""
    stmt = service.visible_calls(user).order_by(Call.closes_at.desc(), Call.id)
    now = utcnow()
    if status is CallStatus.closed:
        stmt = stmt.where(
            (Call.status == CallStatus.closed)
            | ((Call.status == CallStatus.published) & (Call.closes_at <= now))
        )
    elif status is CallStatus.published:
        stmt = stmt.where(Call.status == CallStatus.published, Call.closes_at > now)
    elif status is CallStatus.draft:
        stmt = stmt.where(Call.status == CallStatus.draft)
    rows, total = fetch_page(session, stmt, page)
    frozen = _frozen_ids(session, rows)
    return Page[CallOut](
        items=[call_out(c, frozen=c.id in frozen) for c in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{id}", response_model=CallOut, responses=error_responses(404))
def get_call(user: CurrentUser, call_id: ParsedId, session: DbSession) -> CallOut:
    return _one(session, service.get_call_for(session, user, call_id))


@router.patch(
    "/{id}", response_model=CallOut, responses=error_responses(400, 403, 404, 409, 413, 422)
)
def update_call(
    user: CallManager, call_id: ParsedId, payload: CallUpdate, session: DbSession
) -> CallOut:
    call = service.get_call_for(session, user, call_id, lock=True)
    return _one(session, service.update_call(session, actor=user, call=call, payload=payload))


@router.post("/{id}/publish", response_model=CallOut, responses=error_responses(403, 404, 409))
def publish_call(user: CallManager, call_id: ParsedId, session: DbSession) -> CallOut:
    call = service.get_call_for(session, user, call_id, lock=True)
    return _one(session, service.publish_call(session, actor=user, call=call))


@router.post("/{id}/close", response_model=CallOut, responses=error_responses(403, 404, 409))
def close_call(user: CallManager, call_id: ParsedId, session: DbSession) -> CallOut:
    call = service.get_call_for(session, user, call_id, lock=True)
    return _one(session, service.close_call(session, actor=user, call=call))


def _panel_out(call: Call, members: list[User]) -> PanelOut:
    return PanelOut(
        call_id=call.id,
        reviewer_ids=[m.id for m in members],
        reviewers=[PanelMemberOut.model_validate(m) for m in members],
    )


@router.get("/{id}/panel", response_model=PanelOut, responses=error_responses(403, 404))
def get_panel(user: CallManager, call_id: ParsedId, session: DbSession) -> PanelOut:
    call = service.get_call_for(session, user, call_id)
    return _panel_out(call, service.panel_of(session, call.id))


@router.put(
    "/{id}/panel", response_model=PanelOut, responses=error_responses(400, 403, 404, 413, 422)
)
def set_panel(
    user: ProgramOfficer, call_id: ParsedId, payload: PanelIn, session: DbSession
) -> PanelOut:
    call = service.get_call_for(session, user, call_id, lock=True)
    return _panel_out(call, service.set_panel(session, actor=user, call=call, payload=payload))


@router.get(
    "/{id}/organizations",
    response_model=list[OrganizationRefOut],
    responses=error_responses(403, 404),
)
def applicant_organizations(
    user: ReviewReader, call_id: ParsedId, session: DbSession
) -> list[OrganizationRefOut]:
    """Ids and names of the organisations that applied, so reviewers can declare conflicts.

    Not linked to applications, so a blind panel learns nothing about who wrote what.
    """
    call = service.get_call_for(session, user, call_id)
    return [
        OrganizationRefOut.model_validate(o)
        for o in service.applicant_organizations(session, call.id)
    ]
