"""Awards, their milestones, disbursements, amendments and co-funding."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.audit import JSONDocument
from app.models.base import Base, Timestamped, UUIDPrimaryKey, enum_column, utcnow

if TYPE_CHECKING:
    from app.models.applications import Application


class Award(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "awards"

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"), index=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"), unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    # The current committed amount; every change also moves money in the ledger.
    amount: Mapped[int] = mapped_column(BigInteger)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    decided_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))

    application: Mapped[Application] = relationship(lazy="select")
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="award", order_by="Milestone.position", lazy="selectin"
    )


class MilestoneStatus(StrEnum):
    planned = "planned"
    reported = "reported"
    approved = "approved"
    paid = "paid"


class Milestone(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "milestones"

    award_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("awards.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    due_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[MilestoneStatus] = mapped_column(
        enum_column(MilestoneStatus), default=MilestoneStatus.planned
    )
    narrative: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime | None]
    reported_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # Removed by an amendment before anything was paid: kept for the record, amount 0.
    cancelled: Mapped[bool] = mapped_column(default=False)

    award: Mapped[Award] = relationship(back_populates="milestones")


class Disbursement(UUIDPrimaryKey, Base):
    """A payment against a milestone, or the reversal of one (negative amount).

    Never edited or deleted: a reversal is a new row pointing at the payment it undoes.
    """

    __tablename__ = "disbursements"
    __table_args__ = (Index("ix_disbursements_call_value_date", "call_id", "value_date"),)

    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"))
    award_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("awards.id"), index=True)
    milestone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("milestones.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    value_date: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(100))
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("disbursements.id"), unique=True
    )
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class AwardAmendment(UUIDPrimaryKey, Base):
    __tablename__ = "award_amendments"

    award_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("awards.id"), index=True)
    previous_amount: Mapped[int] = mapped_column(BigInteger)
    new_amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    previous_schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    new_schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    amended_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyKey(UUIDPrimaryKey, Base):
    """The first response to a keyed request, replayed to its retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "route", "key"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    route: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CoFundingPledge(UUIDPrimaryKey, Base):
    """Money another funder commits to the programme, in its own currency, paid outside."""

    __tablename__ = "cofunding_pledges"

    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"), index=True)
    funder: Mapped[str] = mapped_column(String(300))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    pledged_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CoFundingContribution(UUIDPrimaryKey, Base):
    __tablename__ = "cofunding_contributions"

    pledge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cofunding_pledges.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    contributed_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
