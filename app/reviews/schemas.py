"""Merit review payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints

from app.applications.schemas import BudgetLineOut, CostShareOut, RegionShareOut
from app.models import ApplicationStatus, Recommendation, ReviewStatus
from app.money import MoneyOut
from app.schemas import InputModel, OutputModel

Notes = Annotated[str, StringConstraints(max_length=10_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]
Score = Annotated[Decimal, Field(ge=0, max_digits=6, decimal_places=2)]


class ScreeningIn(InputModel):
    eligible: bool
    notes: Notes = ""


class ScreeningOut(OutputModel):
    eligible: bool
    notes: str | None
    screened_at: datetime
    screened_by_id: uuid.UUID | None


class ConflictIn(InputModel):
    reviewer_id: uuid.UUID
    organization_id: uuid.UUID
    reason: Reason


class ConflictOut(OutputModel):
    id: uuid.UUID
    reviewer_id: uuid.UUID
    organization_id: uuid.UUID
    reason: str
    declared_by_id: uuid.UUID
    created_at: datetime
    assignments_ended: int = Field(default=0, description="Assignments this declaration ended")


class SuggestedConflictOut(OutputModel):
    reviewer_id: uuid.UUID
    reviewer_email: str
    organization_id: uuid.UUID
    organization_name: str
    reason: str


class AssignmentIn(InputModel):
    application_id: uuid.UUID
    reviewer_id: uuid.UUID


class AssignmentOut(OutputModel):
    id: uuid.UUID
    call_id: uuid.UUID
    application_id: uuid.UUID
    reviewer_id: uuid.UUID
    created_at: datetime
    ended_at: datetime | None
    end_reason: str | None


class UnstaffedOut(OutputModel):
    application_id: uuid.UUID
    reference: str
    missing: int = Field(description="How many more reviewers it needs")


class AutoAssignOut(OutputModel):
    assigned: list[AssignmentOut]
    unstaffed: list[UnstaffedOut]


class ReviewIn(InputModel):
    scores: dict[Annotated[str, StringConstraints(max_length=50)], Score] = Field(
        default_factory=dict, max_length=50
    )
    comment: Annotated[str, StringConstraints(max_length=20_000)] = ""
    recommendation: Recommendation | None = None


class ReviewOut(OutputModel):
    id: uuid.UUID
    application_id: uuid.UUID
    reviewer_id: uuid.UUID
    status: ReviewStatus
    scores: dict[str, int | float]
    total: float | None = Field(description="Weighted total 0-100, once every criterion is scored")
    comment: str
    recommendation: Recommendation | None
    submitted_at: datetime | None
    updated_at: datetime


class QueueItemOut(OutputModel):
    application_id: uuid.UUID
    reference: str
    title: str | None
    call_id: uuid.UUID
    call_title: str
    review_status: str = Field(description="not_started, draft or submitted")
    assigned_at: datetime
    closes_review: datetime | None = None


class OrganizationNameOut(OutputModel):
    id: uuid.UUID
    name: str


class ReviewerApplicationOut(OutputModel):
    """What a reviewer receives about an application: the organisation only when not blind."""

    id: uuid.UUID
    reference: str
    call_id: uuid.UUID
    status: ApplicationStatus
    title: str | None
    summary: str | None
    currency: str
    requested_amount: MoneyOut | None
    duration_months: int | None
    objectives: list[str]
    regions: list[RegionShareOut]
    budget: list[BudgetLineOut]
    cost_share: CostShareOut | None
    blind_review: bool
    organization: OrganizationNameOut | None = None


class CriterionScoreOut(OutputModel):
    key: str
    score: float | None


class ReviewerScoresOut(OutputModel):
    review_id: uuid.UUID
    reviewer_id: uuid.UUID | None
    reviewer_name: str | None
    status: ReviewStatus
    excluded: bool
    total: float | None
    recommendation: Recommendation | None
    comment: str
    criteria: list[CriterionScoreOut]


class ScoresOut(OutputModel):
    application_id: uuid.UUID
    reference: str
    mean_score: float | None
    normalized_score: float | None
    score_stddev: float | None
    disagreement: bool
    reviews: list[ReviewerScoresOut]


class RankingRowOut(OutputModel):
    application_id: uuid.UUID
    reference: str
    title: str | None
    organization: str
    requested_amount: MoneyOut
    reviews_submitted: int
    reviews_expected: int
    mean_score: float | None
    normalized_score: float | None
    score_stddev: float | None
    disagreement: bool
    rank: int
    cumulative_requested: MoneyOut
    within_envelope: bool
    status: ApplicationStatus


class RankingOut(OutputModel):
    call_id: uuid.UUID
    currency: str
    envelope: MoneyOut
    items: list[RankingRowOut]


class ReviewerStatsOut(OutputModel):
    reviewer_id: uuid.UUID
    reviewer_name: str
    reviews: int
    mean: float
    stddev: float
    mean_minus_panel: float
    severity_z: float | None


class PanelStatisticsOut(OutputModel):
    call_id: uuid.UUID
    reviews: int
    panel_mean: float | None
    panel_stddev: float | None
    krippendorff_alpha_interval: float | None = Field(
        description="Inter-rater agreement of review totals (1 = perfect, 0 = chance)"
    )
    reviewers: list[ReviewerStatsOut]
