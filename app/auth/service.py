"""Registration and sign-in, with the database-backed failed-login throttle."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.passwords import hash_password, needs_rehash, verify_password
from app.config import Settings
from app.errors import Conflict, TooManyRequests, Unauthorized
from app.models import LoginFailure, Organization, Role, User
from app.models.base import utcnow
from app.users.schemas import RegistrationIn

# The width of the email columns (users, login_failures, audit actor): a longer sign-in name
# matches no account, and is cut to fit so its failure is still recorded, not a database error.
MAX_EMAIL_LENGTH = 320


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_taken(session: Session, email: str) -> bool:
    return session.scalar(select(User.id).where(User.email == email)) is not None


def register_applicant(session: Session, payload: RegistrationIn) -> User:
    email = normalise_email(payload.email)
    if email_taken(session, email):
        # Kept: the caller's registration attempt counts against the address's limit.
        raise Conflict(
            "An account with this email already exists.", "email_taken", keep_changes=True
        )
    org_in = payload.organization
    organization = Organization(
        name=org_in.name,
        kind=org_in.kind,
        country=org_in.country,
        registration_number=org_in.registration_number,
        uei=org_in.uei,
        contact_email=normalise_email(org_in.contact_email) if org_in.contact_email else email,
        website=org_in.website,
        address=org_in.address,
    )
    user = User(
        email=email,
        full_name=payload.full_name,
        password_hash=hash_password(payload.password),
        role=Role.applicant,
        organization=organization,
    )
    session.add_all([organization, user])
    session.flush()
    record(
        session,
        actor=user,
        action="organization.created",
        entity_type="organization",
        entity_id=organization.id,
        data={"name": organization.name, "country": organization.country},
    )
    record(
        session,
        actor=user,
        action="user.registered",
        entity_type="user",
        entity_id=user.id,
        data={"email": email, "role": user.role.value, "organization_id": str(organization.id)},
    )
    return user


def authenticate(session: Session, settings: Settings, email: str, password: str) -> User:
    """Return the signed-in user, or raise 401 / 429; failures are recorded either way."""
    email = normalise_email(email)[:MAX_EMAIL_LENGTH]
    now = utcnow()
    # Locking the account row makes concurrent attempts on one account take turns, so the
    # failure count below is exact under any number of workers.
    user = session.scalar(select(User).where(User.email == email).with_for_update())
    window = timedelta(minutes=settings.login_window_minutes)
    recent = list(
        session.scalars(
            select(LoginFailure.failed_at)
            .where(LoginFailure.email == email, LoginFailure.failed_at > now - window)
            .order_by(LoginFailure.failed_at)
        )
    )
    if len(recent) >= settings.login_max_failures:
        unblocks_at = recent[-settings.login_max_failures] + window
        retry_after = max(1, math.ceil((unblocks_at - now).total_seconds()))
        record(
            session,
            actor=None,
            actor_email=email,
            action="auth.login_throttled",
            entity_type="user",
            entity_id=user.id if user else None,
            data={"retry_after": retry_after},
        )
        raise TooManyRequests(
            "Too many failed sign-in attempts; try again later.",
            "login_throttled",
            headers={"Retry-After": str(retry_after)},
            keep_changes=True,
        )

    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        session.add(LoginFailure(email=email, failed_at=now))
        reason = "unknown_account" if user is None else ("inactive" if valid else "bad_password")
        record(
            session,
            actor=None,
            actor_email=email,
            action="auth.login_failed",
            entity_type="user",
            entity_id=user.id if user else None,
            data={"reason": reason},
        )
        raise Unauthorized("Incorrect email or password.", "invalid_credentials", keep_changes=True)

    session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    record(session, actor=user, action="auth.login", entity_type="user", entity_id=user.id)
    return user
