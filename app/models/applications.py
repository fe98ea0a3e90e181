"""Applications, their regions, objectives and budget, and their documents."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from app.models.accounts import Organization
    from app.models.calls import Call

from app.models.base import Base, Timestamped, UUIDPrimaryKey, enum_column


class ApplicationStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    withdrawn = "withdrawn"
    ineligible = "ineligible"
    under_review = "under_review"
    awarded = "awarded"
    declined = "declined"


class Application(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "applications"
    __table_args__ = (
        # One live application per organisation and call; withdrawn ones don't count.
        Index(
            "uq_applications_live_per_org",
            "call_id",
            "organization_id",
            unique=True,
            postgresql_where=text("status <> 'withdrawn'"),
            sqlite_where=text("status <> 'withdrawn'"),
        ),
    )

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_column(ApplicationStatus), default=ApplicationStatus.draft, index=True
    )
    title: Mapped[str | None] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text)
    requested_amount: Mapped[int | None] = mapped_column(BigInteger)
    duration_months: Mapped[int | None] = mapped_column(Integer)
    cost_share_amount: Mapped[int | None] = mapped_column(BigInteger)
    cost_share_currency: Mapped[str | None] = mapped_column(String(3))
    submitted_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    screened_at: Mapped[datetime | None]
    screened_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Staff notes from screening: never shown to the applicant.
    screening_notes: Mapped[str | None] = mapped_column(Text)

    call: Mapped[Call] = relationship(lazy="selectin")
    organization: Mapped[Organization] = relationship(lazy="selectin")
    regions: Mapped[list[ApplicationRegion]] = relationship(
        cascade="all, delete-orphan", order_by="ApplicationRegion.position", lazy="selectin"
    )
    objectives: Mapped[list[ApplicationObjective]] = relationship(
        cascade="all, delete-orphan", order_by="ApplicationObjective.position", lazy="selectin"
    )
    budget: Mapped[list[BudgetLine]] = relationship(
        cascade="all, delete-orphan", order_by="BudgetLine.position", lazy="selectin"
    )


class ApplicationRegion(Base):
    __tablename__ = "application_regions"

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    # Hundredths of a percent, so 33.33 % is exact: 3333.
    share_hundredths: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ApplicationObjective(Base):
    __tablename__ = "application_objectives"

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class BudgetLine(UUIDPrimaryKey, Base):
    __tablename__ = "budget_lines"

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    amount: Mapped[int] = mapped_column(BigInteger)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Document(UUIDPrimaryKey, Base):
    """A stored file. The bytes live in document storage under an opaque key."""

    __tablename__ = "documents"

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"), index=True)
    # Set for evidence attached to a milestone report.
    milestone_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("milestones.id"), index=True)
    doc_type: Mapped[str] = mapped_column(String(50))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    uploaded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
