"""Screening, conflicts, assignments, reviews, scores, ranking and panel statistics."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.applications.router import application_out
from app.applications.schemas import ApplicationOut
from app.applications.service import get_application_for
from app.auth.deps import (
    CallManager,
    ConflictDeclarer,
    ProgramOfficer,
    ReviewerUser,
    ReviewReader,
)
from app.calls.service import get_call_for
from app.db import DbSession
from app.errors import Conflict, NotFound, error_responses
from app.ids import ParsedId
from app.models import (
    Application,
    Assignment,
    Call,
    ConflictOfInterest,
    Review,
    ReviewStatus,
    Role,
    User,
)
from app.money import to_decimal
from app.pagination import Page, Pagination, fetch_page
from app.reviews import ranking as ranking_service
from app.reviews import service
from app.reviews.schemas import (
    AssignmentIn,
    AssignmentOut,
    AutoAssignOut,
    ConflictIn,
    ConflictOut,
    CriterionScoreOut,
    PanelStatisticsOut,
    QueueItemOut,
    RankingOut,
    RankingRowOut,
    ReviewerScoresOut,
    ReviewerStatsOut,
    ReviewIn,
    ReviewOut,
    ScoresOut,
    ScreeningIn,
    SuggestedConflictOut,
    UnstaffedOut,
)
from app.reviews.statistics import review_total
from app.tabular import csv_lines

router = APIRouter(tags=["review"], responses=error_responses(401, 503))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# --- screening -------------------------------------------------------------------------


@router.post(
    "/applications/{id}/screening",
    response_model=ApplicationOut,
    responses=error_responses(400, 403, 404, 413, 422, described={409: "Not submitted"}),
)
def screen_application(
    user: ProgramOfficer, app_id: ParsedId, payload: ScreeningIn, session: DbSession
) -> ApplicationOut:
    """Eligible → `under_review`; not eligible → `ineligible`. Notes stay with staff."""
    application = get_application_for(session, user, app_id, lock=True)
    return application_out(
        service.screen_application(session, actor=user, application=application, payload=payload),
        user,
    )


# --- conflicts -------------------------------------------------------------------------


def _conflict_out(conflict: ConflictOfInterest, ended: int = 0) -> ConflictOut:
    return ConflictOut(
        id=conflict.id,
        reviewer_id=conflict.reviewer_id,
        organization_id=conflict.organization_id,
        reason=conflict.reason,
        declared_by_id=conflict.declared_by_id,
        created_at=conflict.created_at,
        assignments_ended=ended,
    )


@router.post(
    "/conflicts",
    status_code=201,
    response_model=ConflictOut,
    responses=error_responses(
        400,
        413,
        422,
        described={403: "A reviewer declaring another's conflict", 409: "Already declared"},
    ),
)
def declare_conflict(
    user: ConflictDeclarer, payload: ConflictIn, session: DbSession
) -> ConflictOut:
    """A reviewer declares their own conflicts; a programme officer declares anyone's."""
    conflict, ended = service.declare_conflict(session, actor=user, payload=payload)
    return _conflict_out(conflict, ended)


@router.get("/conflicts", response_model=Page[ConflictOut], responses=error_responses(403))
def list_conflicts(
    user: ReviewReader,
    session: DbSession,
    page: Pagination,
    reviewer_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> Page[ConflictOut]:
    """Reviewers see their own declarations; programme officers and admins see all."""
    rows, total = fetch_page(
        session, service.conflicts_query(user, reviewer_id, organization_id), page
    )
    return Page[ConflictOut](
        items=[_conflict_out(c) for c in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get(
    "/calls/{id}/conflicts/suggested",
    response_model=list[SuggestedConflictOut],
    responses=error_responses(403, 404),
)
def suggested_conflicts(
    user: CallManager, call_id: ParsedId, session: DbSession
) -> list[SuggestedConflictOut]:
    """Likely conflicts for the officer to confirm: a panel member's email domain is an
    applicant organisation's contact or member domain (webmail domains ignored)."""
    call = get_call_for(session, user, call_id)
    return [
        SuggestedConflictOut(
            reviewer_id=s.reviewer.id,
            reviewer_email=s.reviewer.email,
            organization_id=s.organization.id,
            organization_name=s.organization.name,
            reason=s.reason,
        )
        for s in service.suggested_conflicts(session, call)
    ]


# --- assignments -----------------------------------------------------------------------


@router.post(
    "/assignments",
    status_code=201,
    response_model=AssignmentOut,
    responses=error_responses(
        400,
        403,
        413,
        described={
            404: "No such application, or not visible",
            409: "Not under review, a conflict of interest, or already assigned",
            422: "The reviewer is not on the call's panel",
        },
    ),
)
def create_assignment(
    user: ProgramOfficer, payload: AssignmentIn, session: DbSession
) -> AssignmentOut:
    application = get_application_for(session, user, payload.application_id, lock=True)
    return AssignmentOut.model_validate(
        service.assign_reviewer(
            session, actor=user, application=application, reviewer_id=payload.reviewer_id
        )
    )


@router.get("/assignments", response_model=Page[AssignmentOut], responses=error_responses(403))
def list_assignments(
    user: CallManager,
    session: DbSession,
    page: Pagination,
    call_id: uuid.UUID | None = None,
    application_id: uuid.UUID | None = None,
    reviewer_id: uuid.UUID | None = None,
    active: bool = True,
) -> Page[AssignmentOut]:
    stmt = select(Assignment).order_by(Assignment.created_at, Assignment.id)
    if call_id:
        stmt = stmt.where(Assignment.call_id == call_id)
    if application_id:
        stmt = stmt.where(Assignment.application_id == application_id)
    if reviewer_id:
        stmt = stmt.where(Assignment.reviewer_id == reviewer_id)
    if active:
        stmt = stmt.where(Assignment.ended_at.is_(None))
    rows, total = fetch_page(session, stmt, page)
    return Page[AssignmentOut](
        items=[AssignmentOut.model_validate(a) for a in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.delete(
    "/assignments/{id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(403, 404, described={409: "The review is already submitted"}),
)
def delete_assignment(
    user: ProgramOfficer, assignment_id: ParsedId, session: DbSession
) -> Response:
    """End an assignment (kept on record). Refused once the review is submitted."""
    service.end_assignment(
        session, actor=user, assignment=service.get_assignment(session, assignment_id)
    )
    return Response(status_code=204)


@router.post(
    "/calls/{id}/assignments/auto",
    response_model=AutoAssignOut,
    responses=error_responses(403, 404, 409),
)
def auto_assign(user: ProgramOfficer, call_id: ParsedId, session: DbSession) -> AutoAssignOut:
    """Staff every application under review with `reviewers_per_application` panel members:
    never a conflicted one, keeping existing assignments, balancing load. Idempotent."""
    call = get_call_for(session, user, call_id, lock=True)
    result = service.auto_assign(session, actor=user, call=call)
    return AutoAssignOut(
        assigned=[AssignmentOut.model_validate(a) for a in result.assigned],
        unstaffed=[
            UnstaffedOut(application_id=a, reference=ref, missing=n)
            for a, ref, n in result.unstaffed
        ],
    )


# --- the reviewer's side ---------------------------------------------------------------


def _review_out(review: Review, call: Call) -> ReviewOut:
    criteria = call.rubric["criteria"]
    complete = all(c["key"] in review.scores for c in criteria)
    return ReviewOut(
        id=review.id,
        application_id=review.application_id,
        reviewer_id=review.reviewer_id,
        status=review.status,
        scores=review.scores,
        total=_round(review_total(review.scores, criteria)) if complete else None,
        comment=review.comment,
        recommendation=review.recommendation,
        submitted_at=review.submitted_at,
        updated_at=review.updated_at,
    )


@router.get("/reviews/assigned", response_model=Page[QueueItemOut], responses=error_responses(403))
def my_queue(
    reviewer: ReviewerUser,
    session: DbSession,
    page: Pagination,
    call_id: uuid.UUID | None = None,
) -> Page[QueueItemOut]:
    """The reviewer's queue: what is assigned to them now, and how far each review is."""
    stmt = (
        select(Assignment, Application.reference, Application.title, Call.title, Review.status)
        .join(Application, Application.id == Assignment.application_id)
        .join(Call, Call.id == Assignment.call_id)
        .outerjoin(
            Review,
            (Review.application_id == Assignment.application_id)
            & (Review.reviewer_id == Assignment.reviewer_id),
        )
        .where(Assignment.reviewer_id == reviewer.id, Assignment.ended_at.is_(None))
        .order_by(Assignment.created_at, Assignment.id)
    )
    if call_id:
        stmt = stmt.where(Assignment.call_id == call_id)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.execute(stmt.limit(page.limit).offset(page.offset)).all()
    return Page[QueueItemOut](
        items=[
            QueueItemOut(
                application_id=a.application_id,
                reference=reference,
                title=title,
                call_id=a.call_id,
                call_title=call_title,
                review_status=status.value if status else "not_started",
                assigned_at=a.created_at,
            )
            for a, reference, title, call_title, status in rows
        ],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


def _assigned_application(session: Session, reviewer: User, app_id: uuid.UUID) -> Application:
    """The application, if this reviewer is assigned to it now; 404 otherwise."""
    service.active_assignment(session, reviewer, app_id)
    return get_application_for(session, reviewer, app_id)


@router.get(
    "/applications/{id}/review",
    response_model=ReviewOut,
    responses=error_responses(403, described={404: "Not assigned, or no review saved yet"}),
)
def get_my_review(user: ReviewerUser, app_id: ParsedId, session: DbSession) -> ReviewOut:
    application = _assigned_application(session, user, app_id)
    review = service.own_review(session, user, application.id)
    if review is None:
        raise NotFound("No review saved yet.", "no_review")
    return _review_out(review, application.call)


@router.put(
    "/applications/{id}/review",
    response_model=ReviewOut,
    responses=error_responses(
        400, 403, 413, 422, described={404: "Not assigned", 409: "The review is submitted"}
    ),
)
def save_review(
    user: ReviewerUser, app_id: ParsedId, payload: ReviewIn, session: DbSession
) -> ReviewOut:
    """Save the reviewer's draft. Criteria may be missing; unknown ones or out-of-range
    scores are 422."""
    application = _assigned_application(session, user, app_id)
    review = service.save_review(session, reviewer=user, application=application, payload=payload)
    return _review_out(review, application.call)


@router.post(
    "/applications/{id}/review/submit",
    response_model=ReviewOut,
    responses=error_responses(
        403,
        described={
            404: "Not assigned",
            409: "Already submitted",
            422: "Criteria still unscored (`missing`)",
        },
    ),
)
def submit_review(user: ReviewerUser, app_id: ParsedId, session: DbSession) -> ReviewOut:
    """Lock the review; 422 lists every criterion still unscored."""
    application = _assigned_application(session, user, app_id)
    review = service.submit_review(session, reviewer=user, application=application)
    return _review_out(review, application.call)


# --- scores, ranking, statistics ---------------------------------------------------------


@router.get(
    "/applications/{id}/scores",
    response_model=ScoresOut,
    responses=error_responses(
        403, 404, described={409: "A reviewer who has not submitted their own review"}
    ),
)
def application_scores(user: ReviewReader, app_id: ParsedId, session: DbSession) -> ScoresOut:
    """Per-criterion scores of every reviewer. Programme officers and admins; a reviewer only
    after submitting their own review, and without the other reviewers' names."""
    if user.role is Role.reviewer:
        application = _assigned_application(session, user, app_id)
        own = service.own_review(session, user, application.id)
        if own is None or own.status is not ReviewStatus.submitted:
            raise Conflict("Submit your own review first.", "submit_own_review_first")
    else:
        application = get_application_for(session, user, app_id)
    call = application.call
    score = ranking_service.call_scores(session, call).get(application.id)
    reviews = session.execute(
        select(Review, User.full_name)
        .join(User, User.id == Review.reviewer_id)
        .where(Review.application_id == application.id)
        .order_by(Review.submitted_at, Review.id)
    ).all()
    criteria = call.rubric["criteria"]
    items = []
    for review, name in reviews:
        if user.role is Role.reviewer and review.status is not ReviewStatus.submitted:
            continue
        mine = review.reviewer_id == user.id
        hide = user.role is Role.reviewer and not mine
        complete = all(c["key"] in review.scores for c in criteria)
        items.append(
            ReviewerScoresOut(
                review_id=review.id,
                reviewer_id=None if hide else review.reviewer_id,
                reviewer_name=None if hide else name,
                status=review.status,
                excluded=review.excluded,
                total=_round(review_total(review.scores, criteria)) if complete else None,
                recommendation=review.recommendation,
                comment=review.comment,
                criteria=[
                    CriterionScoreOut(key=c["key"], score=review.scores.get(c["key"]))
                    for c in criteria
                ],
            )
        )
    return ScoresOut(
        application_id=application.id,
        reference=application.reference,
        mean_score=_round(score.mean_score) if score else None,
        normalized_score=_round(score.normalized_score) if score else None,
        score_stddev=_round(score.score_stddev) if score else None,
        disagreement=score.disagreement if score else False,
        reviews=items,
    )


RANKING_COLUMNS = [
    "rank",
    "application_id",
    "reference",
    "title",
    "organization",
    "requested_amount",
    "reviews_submitted",
    "reviews_expected",
    "mean_score",
    "normalized_score",
    "score_stddev",
    "disagreement",
    "cumulative_requested",
    "within_envelope",
    "status",
]


def _ranking_rows(rows: list[ranking_service.RankingRow]) -> list[RankingRowOut]:
    return [
        RankingRowOut(
            application_id=r.application_id,
            reference=r.reference,
            title=r.title,
            organization=r.organization,
            requested_amount=r.requested_amount,
            reviews_submitted=r.reviews_submitted,
            reviews_expected=r.reviews_expected,
            mean_score=_round(r.score.mean_score) if r.score else None,
            normalized_score=_round(r.score.normalized_score) if r.score else None,
            score_stddev=_round(r.score.score_stddev) if r.score else None,
            disagreement=r.score.disagreement if r.score else False,
            rank=r.rank,
            cumulative_requested=r.cumulative_requested,
            within_envelope=r.within_envelope,
            status=r.status,
        )
        for r in rows
    ]


@router.get(
    "/calls/{id}/ranking",
    response_model=RankingOut,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with ?format=csv"},
        **error_responses(403, 404),
    },
)
def call_ranking(
    user: CallManager,
    call_id: ParsedId,
    session: DbSession,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> RankingOut | StreamingResponse:
    call = get_call_for(session, user, call_id)
    rows = _ranking_rows(ranking_service.ranking(session, call))
    if format == "csv":
        lines = csv_lines(
            RANKING_COLUMNS,
            (
                [
                    r.rank,
                    str(r.application_id),
                    r.reference,
                    r.title or "",
                    r.organization,
                    to_decimal(r.requested_amount),
                    r.reviews_submitted,
                    r.reviews_expected,
                    r.mean_score,
                    r.normalized_score,
                    r.score_stddev,
                    str(r.disagreement).lower(),
                    to_decimal(r.cumulative_requested),
                    str(r.within_envelope).lower(),
                    r.status.value,
                ]
                for r in rows
            ),
        )
        return StreamingResponse(
            lines,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="ranking-{call.id}.csv"'},
        )
    return RankingOut(
        call_id=call.id, currency=call.currency, envelope=call.envelope_amount, items=rows
    )


@router.get(
    "/calls/{id}/panel/statistics",
    response_model=PanelStatisticsOut,
    responses=error_responses(403, 404),
)
def panel_statistics(
    user: CallManager, call_id: ParsedId, session: DbSession
) -> PanelStatisticsOut:
    """Each reviewer's mean and spread against the panel, and inter-rater agreement
    (Krippendorff's alpha, interval metric, over review totals)."""
    call = get_call_for(session, user, call_id)
    stats = ranking_service.panel_statistics(session, call)
    return PanelStatisticsOut(
        call_id=call.id,
        reviews=stats.reviews,
        panel_mean=_round(stats.panel_mean),
        panel_stddev=_round(stats.panel_stddev),
        krippendorff_alpha_interval=None if stats.alpha is None else round(stats.alpha, 4),
        reviewers=[
            ReviewerStatsOut(
                reviewer_id=s.reviewer_id,
                reviewer_name=name,
                reviews=s.reviews,
                mean=round(s.mean, 2),
                stddev=round(s.stddev, 2),
                mean_minus_panel=round(s.mean_minus_panel, 2),
                severity_z=None if s.z_severity is None else round(s.z_severity, 2),
            )
            for s, name in stats.reviewers
        ],
    )
