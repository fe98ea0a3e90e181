"""Scores and ranking (SPEC §7), computed in a fixed number of queries for a whole call.

Ordering: unrounded `normalized_score` descending, then `mean_score` descending, then earlier
submission; applications without a submitted review come last. `cumulative_requested` runs down
that order and `within_envelope` compares it with the envelope.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Application,
    ApplicationStatus,
    Assignment,
    Call,
    Organization,
    Review,
    ReviewStatus,
    User,
)
from app.reviews.statistics import (
    AppScore,
    ReviewerStats,
    application_scores,
    krippendorff_alpha_interval,
    review_total,
    reviewer_statistics,
)

RANKED_STATUSES = (
    ApplicationStatus.under_review,
    ApplicationStatus.awarded,
    ApplicationStatus.declined,
)


@dataclass(frozen=True)
class ScoredReview:
    review_id: uuid.UUID
    application_id: uuid.UUID
    reviewer_id: uuid.UUID
    total: float


@dataclass(frozen=True)
class RankingRow:
    application_id: uuid.UUID
    reference: str
    title: str | None
    organization: str
    requested_amount: int
    submitted_at: datetime | None
    status: ApplicationStatus
    reviews_submitted: int
    reviews_expected: int
    score: AppScore | None
    rank: int
    cumulative_requested: int
    within_envelope: bool


def scored_reviews(session: Session, call: Call) -> list[ScoredReview]:
    """Every submitted, non-excluded review of the call, with its weighted total."""
    criteria = call.rubric["criteria"]
    rows = session.execute(
        select(Review.id, Review.application_id, Review.reviewer_id, Review.scores).where(
            Review.call_id == call.id,
            Review.status == ReviewStatus.submitted,
            Review.excluded.is_(False),
        )
    )
    return [
        ScoredReview(review_id, application_id, reviewer_id, review_total(scores, criteria))
        for review_id, application_id, reviewer_id, scores in rows
    ]


def _triples(reviews: list[ScoredReview]) -> list[tuple[uuid.UUID, uuid.UUID, float]]:
    return [(r.application_id, r.reviewer_id, r.total) for r in reviews]


def call_scores(session: Session, call: Call) -> dict[uuid.UUID, AppScore]:
    return application_scores(_triples(scored_reviews(session, call)))


def ranking(session: Session, call: Call) -> list[RankingRow]:
    applications = session.execute(
        select(
            Application.id,
            Application.reference,
            Application.title,
            Organization.name,
            Application.requested_amount,
            Application.submitted_at,
            Application.status,
        )
        .join(Organization, Organization.id == Application.organization_id)
        .where(Application.call_id == call.id, Application.status.in_(RANKED_STATUSES))
    ).all()
    reviews = scored_reviews(session, call)
    scores = application_scores(_triples(reviews))
    submitted = Counter(r.application_id for r in reviews)
    expected = dict(
        session.execute(
            select(Assignment.application_id, func.count())
            .where(Assignment.call_id == call.id, Assignment.ended_at.is_(None))
            .group_by(Assignment.application_id)
        ).all()
    )

    def order(row):
        score = scores.get(row.id)
        submitted_at = row.submitted_at.timestamp() if row.submitted_at else float("inf")
        if score is None:
            return (1, 0.0, 0.0, submitted_at, row.reference)
        return (0, -score.normalized_score, -score.mean_score, submitted_at, row.reference)

    result: list[RankingRow] = []
    cumulative = 0
    for rank, row in enumerate(sorted(applications, key=order), start=1):
        requested = row.requested_amount or 0
        cumulative += requested
        result.append(
            RankingRow(
                application_id=row.id,
                reference=row.reference,
                title=row.title,
                organization=row.name,
                requested_amount=requested,
                submitted_at=row.submitted_at,
                status=row.status,
                reviews_submitted=submitted.get(row.id, 0),
                reviews_expected=max(expected.get(row.id, 0), submitted.get(row.id, 0)),
                score=scores.get(row.id),
                rank=rank,
                cumulative_requested=cumulative,
                within_envelope=cumulative <= call.envelope_amount,
            )
        )
    return result


@dataclass(frozen=True)
class PanelStatistics:
    reviews: int
    panel_mean: float | None
    panel_stddev: float | None
    alpha: float | None
    reviewers: list[tuple[ReviewerStats, str]]


def panel_statistics(session: Session, call: Call) -> PanelStatistics:
    reviews = scored_reviews(session, call)
    triples = _triples(reviews)
    stats = reviewer_statistics(triples)
    names = dict(
        session.execute(
            select(User.id, User.full_name).where(User.id.in_([s.reviewer_id for s in stats]))
        ).all()
    )
    totals = [r.total for r in reviews]
    mean = sum(totals) / len(totals) if totals else None
    stddev = (
        (sum((t - mean) ** 2 for t in totals) / len(totals)) ** 0.5 if mean is not None else None
    )
    return PanelStatistics(
        reviews=len(reviews),
        panel_mean=mean,
        panel_stddev=stddev,
        alpha=krippendorff_alpha_interval(triples),
        reviewers=[(s, names.get(s.reviewer_id, "")) for s in stats],
    )
