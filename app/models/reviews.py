"""Merit review: conflicts of interest, reviewer assignments and reviews."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.audit import JSONDocument
from app.models.base import Base, Timestamped, UUIDPrimaryKey, enum_column, utcnow


class ConflictOfInterest(UUIDPrimaryKey, Base):
    """A reviewer may never review this organisation's applications, in any call."""

    __tablename__ = "conflicts_of_interest"
    __table_args__ = (UniqueConstraint("reviewer_id", "organization_id"),)

    reviewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    reason: Mapped[str] = mapped_column(String(1000))
    declared_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(UUIDPrimaryKey, Base):
    """A reviewer asked to review an application. Ended, never deleted, once work exists."""

    __tablename__ = "assignments"
    __table_args__ = (
        # One active assignment per reviewer and application.
        Index(
            "uq_assignments_active",
            "application_id",
            "reviewer_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        Index("ix_assignments_call_reviewer", "call_id", "reviewer_id"),
    )

    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"))
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"), index=True)
    reviewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(50))


class ReviewStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"


class Recommendation(StrEnum):
    fund = "fund"
    fund_with_changes = "fund_with_changes"
    do_not_fund = "do_not_fund"


class Review(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("application_id", "reviewer_id"),)

    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"), index=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"), index=True)
    reviewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[ReviewStatus] = mapped_column(
        enum_column(ReviewStatus), default=ReviewStatus.draft
    )
    scores: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    recommendation: Mapped[Recommendation | None] = mapped_column(enum_column(Recommendation))
    submitted_at: Mapped[datetime | None]
    # Kept for the record but left out of every score (a conflict declared after submission).
    excluded: Mapped[bool] = mapped_column(default=False)
    excluded_reason: Mapped[str | None] = mapped_column(String(200))
