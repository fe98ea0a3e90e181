"""Organisations, users and the sign-in throttle."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Timestamped, UUIDPrimaryKey, enum_column, utcnow


class Role(StrEnum):
    admin = "admin"
    program_officer = "program_officer"
    reviewer = "reviewer"
    finance_officer = "finance_officer"
    applicant = "applicant"


STAFF_ROLES = frozenset({Role.admin, Role.program_officer, Role.reviewer, Role.finance_officer})


class OrganizationKind(StrEnum):
    ngo = "ngo"
    international_org = "international_org"
    other = "other"


class Organization(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[OrganizationKind] = mapped_column(enum_column(OrganizationKind))
    country: Mapped[str] = mapped_column(String(2))
    registration_number: Mapped[str | None] = mapped_column(String(100))
    uei: Mapped[str | None] = mapped_column(String(12))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    website: Mapped[str | None] = mapped_column(String(500))
    address: Mapped[str | None] = mapped_column(String(500))

    members: Mapped[list[User]] = relationship(back_populates="organization")


class User(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped on deactivation and role change: tokens carry it, so older tokens stop working.
    token_generation: Mapped[int] = mapped_column(default=0)
    last_login_at: Mapped[datetime | None]

    organization: Mapped[Organization | None] = relationship(back_populates="members")


class LoginFailure(UUIDPrimaryKey, Base):
    """One failed sign-in for an account; the throttle counts these inside a time window.

    Kept in the database (not process memory) so the limit holds across worker processes.
    """

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_email_failed_at", "email", "failed_at"),)

    email: Mapped[str] = mapped_column(String(320))
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegistrationAttempt(UUIDPrimaryKey, Base):
    """One self-registration attempt from a client address, for the per-address hourly limit.

    In the database like the sign-in failures, so the limit holds across worker processes.
    """

    __tablename__ = "registration_attempts"
    __table_args__ = (
        Index("ix_registration_attempts_client_ip_attempted_at", "client_ip", "attempted_at"),
    )

    # An IPv6 address in text takes at most 45 characters.
    client_ip: Mapped[str] = mapped_column(String(45))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
