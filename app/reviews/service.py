"""Screening, conflicts of interest, reviewer assignment and reviews.

Conflicts are declared per reviewer and organisation and hold in every call. Declared after an
assignment, a conflict ends the assignment (the reviewer then gets 404 for the application) and
marks any review they wrote as excluded: kept for the record, left out of every score.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.models import (
    Application,
    ApplicationStatus,
    Assignment,
    Call,
    CallReviewer,
    ConflictOfInterest,
    Organization,
    Review,
    ReviewStatus,
    Role,
    User,
)
from app.models.base import utcnow
from app.reviews.assignment import AssignmentProblem, plan_assignments
from app.reviews.schemas import ConflictIn, ReviewIn, ScreeningIn

# Shared webmail domains say nothing about who someone works for.
WEBMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.es",
        "hotmail.com",
        "hotmail.es",
        "outlook.com",
        "outlook.es",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "mail.com",
        "zoho.com",
    }
)


# --- screening -------------------------------------------------------------------------


def screen_application(
    session: Session, *, actor: User, application: Application, payload: ScreeningIn
) -> Application:
    if application.status is not ApplicationStatus.submitted:
        raise Conflict(
            f"Only a submitted application can be screened; this one is "
            f"{application.status.value}.",
            "invalid_state",
        )
    application.status = (
        ApplicationStatus.under_review if payload.eligible else ApplicationStatus.ineligible
    )
    application.screened_at = utcnow()
    application.screened_by_id = actor.id
    application.screening_notes = payload.notes or None
    session.flush()
    record(
        session,
        actor=actor,
        action="application.screened",
        entity_type="application",
        entity_id=application.id,
        data={"eligible": payload.eligible, "status": application.status.value},
    )
    return application


# --- conflicts of interest -------------------------------------------------------------


def _active_reviewer(session: Session, reviewer_id: uuid.UUID) -> User:
    reviewer = session.get(User, reviewer_id)
    if reviewer is None or reviewer.role is not Role.reviewer:
        raise Unprocessable("reviewer_id must be a reviewer account.", "not_a_reviewer")
    return reviewer


def declare_conflict(
    session: Session, *, actor: User, payload: ConflictIn
) -> tuple[ConflictOfInterest, int]:
    """Record a conflict; returns it with the number of assignments it ended."""
    if actor.role is Role.reviewer and payload.reviewer_id != actor.id:
        raise Forbidden("Reviewers declare their own conflicts only.", "own_conflicts_only")
    _active_reviewer(session, payload.reviewer_id)
    if session.get(Organization, payload.organization_id) is None:
        raise Unprocessable(
            "organization_id does not name an organisation.", "unknown_organization"
        )
    existing = session.scalar(
        select(ConflictOfInterest).where(
            ConflictOfInterest.reviewer_id == payload.reviewer_id,
            ConflictOfInterest.organization_id == payload.organization_id,
        )
    )
    if existing is not None:
        raise Conflict("This conflict of interest is already declared.", "conflict_exists")
    conflict = ConflictOfInterest(
        reviewer_id=payload.reviewer_id,
        organization_id=payload.organization_id,
        reason=payload.reason,
        declared_by_id=actor.id,
    )
    session.add(conflict)
    session.flush()
    of_organization = select(Application.id).where(
        Application.organization_id == payload.organization_id
    )
    ended = session.execute(
        update(Assignment)
        .where(
            Assignment.reviewer_id == payload.reviewer_id,
            Assignment.ended_at.is_(None),
            Assignment.application_id.in_(of_organization),
        )
        .values(ended_at=utcnow(), end_reason="conflict_of_interest")
        .execution_options(synchronize_session=False)
    ).rowcount
    excluded = session.execute(
        update(Review)
        .where(
            Review.reviewer_id == payload.reviewer_id,
            Review.application_id.in_(of_organization),
            Review.excluded.is_(False),
        )
        .values(excluded=True, excluded_reason="conflict_of_interest")
        .execution_options(synchronize_session=False)
    ).rowcount
    record(
        session,
        actor=actor,
        action="conflict.declared",
        entity_type="conflict",
        entity_id=conflict.id,
        data={
            "reviewer_id": str(payload.reviewer_id),
            "organization_id": str(payload.organization_id),
            "assignments_ended": ended,
            "reviews_excluded": excluded,
        },
    )
    return conflict, ended


def conflicts_query(
    user: User, reviewer_id: uuid.UUID | None, organization_id: uuid.UUID | None
) -> Select[tuple[ConflictOfInterest]]:
    stmt = select(ConflictOfInterest).order_by(ConflictOfInterest.created_at, ConflictOfInterest.id)
    if user.role is Role.reviewer:
        stmt = stmt.where(ConflictOfInterest.reviewer_id == user.id)
    if reviewer_id is not None:
        stmt = stmt.where(ConflictOfInterest.reviewer_id == reviewer_id)
    if organization_id is not None:
        stmt = stmt.where(ConflictOfInterest.organization_id == organization_id)
    return stmt


def _domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].lower()
    return None if domain in WEBMAIL_DOMAINS else domain


@dataclass(frozen=True)
class SuggestedConflict:
    reviewer: User
    organization: Organization
    reason: str


def suggested_conflicts(session: Session, call: Call) -> list[SuggestedConflict]:
    """Panel members whose email domain is an applicant organisation's: likely conflicts."""
    panel = list(
        session.scalars(
            select(User)
            .join(CallReviewer, CallReviewer.reviewer_id == User.id)
            .where(CallReviewer.call_id == call.id)
        )
    )
    organizations = list(
        session.scalars(
            select(Organization).where(
                Organization.id.in_(
                    select(Application.organization_id).where(
                        Application.call_id == call.id,
                        Application.status.not_in(
                            [ApplicationStatus.draft, ApplicationStatus.withdrawn]
                        ),
                    )
                )
            )
        )
    )
    org_domains: dict[uuid.UUID, set[str]] = defaultdict(set)
    for organization in organizations:
        if domain := _domain(organization.contact_email):
            org_domains[organization.id].add(domain)
    member_rows = session.execute(
        select(User.organization_id, User.email).where(
            User.organization_id.in_([o.id for o in organizations])
        )
    )
    for organization_id, email in member_rows:
        if domain := _domain(email):
            org_domains[organization_id].add(domain)
    declared = {
        (reviewer_id, organization_id)
        for reviewer_id, organization_id in session.execute(
            select(ConflictOfInterest.reviewer_id, ConflictOfInterest.organization_id).where(
                ConflictOfInterest.reviewer_id.in_([r.id for r in panel])
            )
        )
    }
    suggestions = []
    for reviewer in panel:
        domain = _domain(reviewer.email)
        for organization in organizations:
            if (
                domain
                and domain in org_domains[organization.id]
                and ((reviewer.id, organization.id) not in declared)
            ):
                suggestions.append(
                    SuggestedConflict(
                        reviewer,
                        organization,
                        f"{reviewer.email} shares the domain {domain} with {organization.name}",
                    )
                )
    return suggestions


# --- assignments -----------------------------------------------------------------------


def _on_panel(session: Session, call_id: uuid.UUID, reviewer_id: uuid.UUID) -> bool:
    return session.get(CallReviewer, (call_id, reviewer_id)) is not None


def _conflicted(session: Session, reviewer_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    return (
        session.scalar(
            select(ConflictOfInterest.id).where(
                ConflictOfInterest.reviewer_id == reviewer_id,
                ConflictOfInterest.organization_id == organization_id,
            )
        )
        is not None
    )


def assign_reviewer(
    session: Session, *, actor: User, application: Application, reviewer_id: uuid.UUID
) -> Assignment:
    reviewer = session.get(User, reviewer_id)
    if (
        reviewer is None
        or not reviewer.is_active
        or not _on_panel(session, application.call_id, reviewer_id)
    ):
        raise Unprocessable("The reviewer is not on this call's panel.", "not_on_panel")
    if _conflicted(session, reviewer_id, application.organization_id):
        raise Conflict(
            "The reviewer has a conflict of interest with the applicant.", "conflict_of_interest"
        )
    if application.status is not ApplicationStatus.under_review:
        raise Conflict("Only applications under review can be assigned.", "not_under_review")
    active = session.scalar(
        select(Assignment.id).where(
            Assignment.application_id == application.id,
            Assignment.reviewer_id == reviewer_id,
            Assignment.ended_at.is_(None),
        )
    )
    if active is not None:
        raise Conflict("The reviewer is already assigned to this application.", "already_assigned")
    assignment = Assignment(
        call_id=application.call_id,
        application_id=application.id,
        reviewer_id=reviewer_id,
        assigned_by_id=actor.id,
    )
    session.add(assignment)
    session.flush()
    record(
        session,
        actor=actor,
        action="assignment.created",
        entity_type="assignment",
        entity_id=assignment.id,
        data={"application_id": str(application.id), "reviewer_id": str(reviewer_id)},
    )
    return assignment


def get_assignment(session: Session, assignment_id: uuid.UUID) -> Assignment:
    assignment = session.get(Assignment, assignment_id, with_for_update=True)
    if assignment is None or assignment.ended_at is not None:
        raise NotFound("Assignment not found.")
    return assignment


def end_assignment(session: Session, *, actor: User, assignment: Assignment) -> None:
    submitted = session.scalar(
        select(Review.id).where(
            Review.application_id == assignment.application_id,
            Review.reviewer_id == assignment.reviewer_id,
            Review.status == ReviewStatus.submitted,
        )
    )
    if submitted is not None:
        raise Conflict(
            "The reviewer has submitted their review; the assignment stays on record.",
            "review_submitted",
        )
    assignment.ended_at = utcnow()
    assignment.end_reason = "unassigned"
    session.flush()
    record(
        session,
        actor=actor,
        action="assignment.ended",
        entity_type="assignment",
        entity_id=assignment.id,
        data={
            "application_id": str(assignment.application_id),
            "reviewer_id": str(assignment.reviewer_id),
        },
    )


@dataclass(frozen=True)
class AutoAssignResult:
    assigned: list[Assignment]
    unstaffed: list[tuple[uuid.UUID, str, int]]


def auto_assign(session: Session, *, actor: User, call: Call) -> AutoAssignResult:
    """Staff every application under review; keeps what exists, so a second run adds nothing."""
    panel = list(
        session.scalars(
            select(User.id)
            .join(CallReviewer, CallReviewer.reviewer_id == User.id)
            .where(
                CallReviewer.call_id == call.id,
                User.is_active.is_(True),
                User.role == Role.reviewer,
            )
            .order_by(User.id)
        )
    )
    applications = session.execute(
        select(Application.id, Application.reference, Application.organization_id)
        .where(
            Application.call_id == call.id,
            Application.status == ApplicationStatus.under_review,
        )
        .order_by(Application.id)
    ).all()
    existing: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    load: dict[uuid.UUID, int] = dict.fromkeys(panel, 0)
    for application_id, reviewer_id in session.execute(
        select(Assignment.application_id, Assignment.reviewer_id).where(
            Assignment.call_id == call.id, Assignment.ended_at.is_(None)
        )
    ):
        existing[application_id].add(reviewer_id)
        if reviewer_id in load:
            load[reviewer_id] += 1
    organization_of = {a.id: a.organization_id for a in applications}
    conflicted_orgs: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for reviewer_id, organization_id in session.execute(
        select(ConflictOfInterest.reviewer_id, ConflictOfInterest.organization_id).where(
            ConflictOfInterest.reviewer_id.in_(panel)
        )
    ):
        conflicted_orgs[organization_id].add(reviewer_id)
    conflicted = {
        (reviewer_id, application_id)
        for application_id, organization_id in organization_of.items()
        for reviewer_id in conflicted_orgs.get(organization_id, ())
    }
    plan = plan_assignments(
        AssignmentProblem(
            reviewers=panel,
            applications=[a.id for a in applications],
            per_application=call.reviewers_per_application,
            existing=existing,
            conflicted=conflicted,
            existing_load=load,
        )
    )
    created = [
        Assignment(
            call_id=call.id,
            application_id=application_id,
            reviewer_id=reviewer_id,
            assigned_by_id=actor.id,
        )
        for application_id, reviewer_id in plan.new
    ]
    session.add_all(created)
    session.flush()
    reference_of = {a.id: a.reference for a in applications}
    unstaffed = [(app_id, reference_of[app_id], lacking) for app_id, lacking in plan.unstaffed]
    record(
        session,
        actor=actor,
        action="call.auto_assigned",
        entity_type="call",
        entity_id=call.id,
        data={
            "assigned": len(created),
            "unstaffed": [str(app_id) for app_id, _, _ in unstaffed],
            "loads": {str(k): v for k, v in sorted(plan.loads.items())},
        },
    )
    return AutoAssignResult(assigned=created, unstaffed=unstaffed)


# --- reviews ---------------------------------------------------------------------------


def active_assignment(session: Session, reviewer: User, application_id: uuid.UUID) -> Assignment:
    """The reviewer's live assignment to the application; 404 when there is none."""
    assignment = session.scalar(
        select(Assignment).where(
            Assignment.application_id == application_id,
            Assignment.reviewer_id == reviewer.id,
            Assignment.ended_at.is_(None),
        )
    )
    if assignment is None:
        raise NotFound("Application not found.")
    return assignment


def own_review(session: Session, reviewer: User, application_id: uuid.UUID) -> Review | None:
    return session.scalar(
        select(Review).where(
            Review.application_id == application_id, Review.reviewer_id == reviewer.id
        )
    )


def _criteria(call: Call) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for c in call.rubric["criteria"]}


def _number(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def save_review(
    session: Session, *, reviewer: User, application: Application, payload: ReviewIn
) -> Review:
    criteria = _criteria(application.call)
    unknown = sorted(set(payload.scores) - set(criteria))
    if unknown:
        raise Unprocessable(
            f"Unknown criteria {unknown}; the rubric has {sorted(criteria)}.", "unknown_criterion"
        )
    out_of_range = sorted(
        key for key, score in payload.scores.items() if score > criteria[key]["max_score"]
    )
    if out_of_range:
        raise Unprocessable(
            "Scores must lie between 0 and the criterion's max_score: "
            + ", ".join(f"{k} (max {criteria[k]['max_score']})" for k in out_of_range)
            + ".",
            "score_out_of_range",
        )
    review = own_review(session, reviewer, application.id)
    if review is not None and review.status is ReviewStatus.submitted:
        raise Conflict("The review is submitted and can no longer change.", "review_submitted")
    if review is None:
        review = Review(
            call_id=application.call_id,
            application_id=application.id,
            reviewer_id=reviewer.id,
            status=ReviewStatus.draft,
        )
        session.add(review)
    review.scores = {k: _number(v) for k, v in payload.scores.items()}
    review.comment = payload.comment
    review.recommendation = payload.recommendation
    session.flush()
    record(
        session,
        actor=reviewer,
        action="review.saved",
        entity_type="review",
        entity_id=review.id,
        data={"application_id": str(application.id), "scored": sorted(review.scores)},
    )
    return review


def submit_review(session: Session, *, reviewer: User, application: Application) -> Review:
    review = own_review(session, reviewer, application.id)
    criteria = _criteria(application.call)
    scored = set(review.scores) if review else set()
    missing = [
        {"item": key, "message": f"Score {c['label']}."}
        for key, c in criteria.items()
        if key not in scored
    ]
    if review is None or review.recommendation is None:
        missing.append({"item": "recommendation", "message": "Give a recommendation."})
    if missing:
        raise Unprocessable("The review is incomplete.", "incomplete", extra={"missing": missing})
    assert review is not None
    if review.status is ReviewStatus.submitted:
        raise Conflict("The review is already submitted.", "review_submitted")
    review.status = ReviewStatus.submitted
    review.submitted_at = utcnow()
    session.flush()
    record(
        session,
        actor=reviewer,
        action="review.submitted",
        entity_type="review",
        entity_id=review.id,
        data={
            "application_id": str(application.id),
            "scores": review.scores,
            "recommendation": review.recommendation.value if review.recommendation else None,
        },
    )
    return review
