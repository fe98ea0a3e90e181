"""Call lifecycle rules: create, update (with frozen terms), publish, close, panel."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.calls.schemas import CallIn, CallUpdate, PanelIn, _CallFields
from app.errors import Conflict, NotFound, Unprocessable
from app.models import (
    Application,
    ApplicationStatus,
    Call,
    CallReviewer,
    CallStatus,
    Organization,
    Role,
    User,
)
from app.models.base import utcnow
from app.money import format_money

# Once an application is in, these define the competition and cannot move.
FROZEN_FIELDS = ("rubric", "envelope_amount", "min_award", "max_award", "required_documents")
CALL_MANAGERS = frozenset({Role.admin, Role.program_officer})


def sees_drafts(user: User) -> bool:
    return user.role in CALL_MANAGERS


def visible_calls(user: User | None) -> Select[tuple[Call]]:
    """`None` is a visitor who has not signed in (public pages): they see what applicants see."""
    stmt = select(Call)
    if user is None or not sees_drafts(user):
        stmt = stmt.where(Call.status != CallStatus.draft)
    return stmt


def get_call_for(
    session: Session, user: User | None, call_id: uuid.UUID, *, lock: bool = False
) -> Call:
    """The call if this user may see it; 404 otherwise (drafts are invisible to applicants)."""
    stmt = visible_calls(user).where(Call.id == call_id)
    if lock:
        stmt = stmt.with_for_update()
    call = session.scalar(stmt)
    if call is None:
        raise NotFound("Call not found.")
    return call


def has_submissions(session: Session, call_id: uuid.UUID) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    Application.call_id == call_id,
                    Application.submitted_at.is_not(None),
                )
            )
        )
    )


def _stored_fields(payload: CallIn | CallUpdate, fields: set[str]) -> dict[str, Any]:
    data = payload.model_dump(include=fields, exclude_unset=isinstance(payload, CallUpdate))
    if "rubric" in data and payload.rubric is not None:
        data["rubric"] = payload.rubric.stored()
    return data


def _audit_value(key: str, value: Any) -> Any:
    if key in ("envelope_amount", "min_award", "max_award"):
        return format_money(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def create_call(session: Session, *, actor: User, payload: CallIn) -> Call:
    call = Call(**_stored_fields(payload, set(CallIn.model_fields)), created_by_id=actor.id)
    session.add(call)
    session.flush()
    record(
        session,
        actor=actor,
        action="call.created",
        entity_type="call",
        entity_id=call.id,
        data={
            "title": call.title,
            "envelope_amount": format_money(call.envelope_amount),
            "currency": call.currency,
        },
    )
    return call


def update_call(session: Session, *, actor: User, call: Call, payload: CallUpdate) -> Call:
    requested = _stored_fields(payload, set(payload.model_fields_set))
    changes = {k: v for k, v in requested.items() if v is not None and getattr(call, k) != v}
    if not changes:
        return call
    # Validation (422) comes before state (409), as everywhere else.
    merged = {
        k: getattr(call, k)
        for k in ("envelope_amount", "min_award", "max_award", "opens_at", "closes_at")
    }
    merged.update(changes)
    try:
        _CallFields.check_consistency(merged)
    except ValueError as exc:
        raise Unprocessable(str(exc), "invalid_call") from None
    frozen = sorted(k for k in changes if k in FROZEN_FIELDS)
    if frozen and has_submissions(session, call.id):
        raise Conflict(
            "An application has been submitted: " + ", ".join(frozen) + " can no longer change.",
            "call_terms_frozen",
        )
    for key, value in changes.items():
        setattr(call, key, value)
    session.flush()
    record(
        session,
        actor=actor,
        action="call.updated",
        entity_type="call",
        entity_id=call.id,
        data={k: _audit_value(k, v) for k, v in changes.items()},
    )
    return call


def publish_call(session: Session, *, actor: User, call: Call) -> Call:
    if call.status is not CallStatus.draft:
        raise Conflict("Only a draft call can be published.", "invalid_state")
    if call.closes_at <= utcnow():
        raise Conflict("The call's deadline has already passed.", "deadline_passed")
    call.status = CallStatus.published
    call.published_at = utcnow()
    session.flush()
    record(session, actor=actor, action="call.published", entity_type="call", entity_id=call.id)
    return call


def close_call(session: Session, *, actor: User, call: Call) -> Call:
    if call.status is not CallStatus.published:
        raise Conflict("Only a published call can be closed.", "invalid_state")
    call.status = CallStatus.closed
    call.closed_at = utcnow()
    session.flush()
    record(session, actor=actor, action="call.closed", entity_type="call", entity_id=call.id)
    return call


def panel_of(session: Session, call_id: uuid.UUID) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(CallReviewer, CallReviewer.reviewer_id == User.id)
            .where(CallReviewer.call_id == call_id)
            .order_by(User.full_name, User.id)
        )
    )


def set_panel(session: Session, *, actor: User, call: Call, payload: PanelIn) -> list[User]:
    wanted = list(dict.fromkeys(payload.reviewer_ids))
    found = {
        u.id: u
        for u in session.scalars(
            select(User).where(
                User.id.in_(wanted), User.role == Role.reviewer, User.is_active.is_(True)
            )
        )
    }
    invalid = [str(i) for i in wanted if i not in found]
    if invalid:
        raise Unprocessable(
            "Panel members must be active reviewer accounts.",
            "invalid_reviewers",
            extra={"invalid_ids": invalid},
        )
    current = {
        m.reviewer_id
        for m in session.scalars(select(CallReviewer).where(CallReviewer.call_id == call.id))
    }
    added, removed = set(wanted) - current, current - set(wanted)
    for reviewer_id in removed:
        session.delete(session.get(CallReviewer, (call.id, reviewer_id)))
    session.add_all(CallReviewer(call_id=call.id, reviewer_id=r) for r in added)
    session.flush()
    if added or removed:
        record(
            session,
            actor=actor,
            action="call.panel_set",
            entity_type="call",
            entity_id=call.id,
            data={"added": sorted(map(str, added)), "removed": sorted(map(str, removed))},
        )
    return panel_of(session, call.id)


def applicant_organizations(session: Session, call_id: uuid.UUID) -> list[Organization]:
    """Organisations with a live (not draft, not withdrawn) application to the call."""
    return list(
        session.scalars(
            select(Organization)
            .where(
                Organization.id.in_(
                    select(Application.organization_id).where(
                        Application.call_id == call_id,
                        Application.status.not_in(
                            [ApplicationStatus.draft, ApplicationStatus.withdrawn]
                        ),
                    )
                )
            )
            .order_by(Organization.name, Organization.id)
        )
    )
