"""Calls for proposals, their review panel, and the counters behind human references."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.audit import JSONDocument
from app.models.base import Base, Timestamped, UUIDPrimaryKey, enum_column, utcnow


class CallStatus(StrEnum):
    draft = "draft"
    published = "published"
    closed = "closed"


class Call(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "calls"

    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    envelope_amount: Mapped[int] = mapped_column(BigInteger)
    min_award: Mapped[int] = mapped_column(BigInteger)
    max_award: Mapped[int] = mapped_column(BigInteger)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The stored status is draft, published or closed-by-hand; `effective_status` adds the
    # deadline, so a call closes on time with no background job.
    status: Mapped[CallStatus] = mapped_column(enum_column(CallStatus), default=CallStatus.draft)
    objectives: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    regions: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    required_documents: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    rubric: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    reviewers_per_application: Mapped[int] = mapped_column(Integer, default=2)
    blind_review: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    def effective_status(self, now: datetime | None = None) -> CallStatus:
        if self.status is CallStatus.published and (now or utcnow()) >= self.closes_at:
            return CallStatus.closed
        return self.status

    def is_open(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.effective_status(now) is CallStatus.published and now >= self.opens_at

    def document_rule(self, doc_type: str) -> dict[str, Any] | None:
        return next((d for d in self.required_documents if d["type"] == doc_type), None)


class CallReviewer(Base):
    """Membership of the call's review panel."""

    __tablename__ = "call_reviewers"

    call_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    reviewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferenceCounter(Base):
    """The last number handed out for a reference prefix such as `APP-2026`."""

    __tablename__ = "reference_counters"

    prefix: Mapped[str] = mapped_column(String(20), primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger)
