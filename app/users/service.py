"""Staff account management (admin), shared by the API and the command line."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.passwords import hash_password
from app.auth.service import email_taken, normalise_email
from app.errors import Conflict, NotFound, Unprocessable
from app.models import Role, User
from app.users.schemas import UserUpdate


def create_staff_user(
    session: Session,
    *,
    actor: User | None,
    email: str,
    password: str,
    full_name: str,
    role: Role,
) -> User:
    """Create a staff account. Applicants register themselves with their organisation."""
    if role is Role.applicant:
        raise Unprocessable(
            "Applicant accounts are created by registering an organisation.", "applicant_role"
        )
    email = normalise_email(email)
    if email_taken(session, email):
        raise Conflict("An account with this email already exists.", "email_taken")
    user = User(email=email, full_name=full_name, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    record(
        session,
        actor=actor,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        data={"email": email, "role": role.value},
    )
    return user


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


def list_users_query(
    role: Role | None, is_active: bool | None, email: str | None
) -> Select[tuple[User]]:
    stmt = select(User).order_by(User.created_at, User.id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if is_active is not None:
        stmt = stmt.where(User.is_active == is_active)
    if email:
        stmt = stmt.where(User.email.contains(normalise_email(email), autoescape=True))
    return stmt


def update_user(session: Session, *, actor: User, user: User, changes: UserUpdate) -> User:
    fields = changes.model_dump(exclude_unset=True)
    if not fields:
        return user
    if user.id == actor.id and (
        fields.get("is_active") is False or fields.get("role", Role.admin) is not Role.admin
    ):
        raise Conflict("Administrators cannot demote or deactivate themselves.", "self_lockout")
    new_role = fields.get("role")
    if new_role is not None and (new_role is Role.applicant) != (user.role is Role.applicant):
        raise Unprocessable(
            "A staff account cannot become an applicant, nor an applicant staff.", "role_change"
        )
    changed: dict[str, object] = {}
    revoke_tokens = False
    if "full_name" in fields and fields["full_name"] != user.full_name:
        user.full_name = fields["full_name"]
        changed["full_name"] = user.full_name
    if new_role is not None and new_role is not user.role:
        changed["role"] = {"from": user.role.value, "to": new_role.value}
        user.role = new_role
        revoke_tokens = True
    if (
        "is_active" in fields
        and fields["is_active"] is not None
        and fields["is_active"] != user.is_active
    ):
        user.is_active = fields["is_active"]
        changed["is_active"] = user.is_active
        revoke_tokens = True
    if fields.get("password"):
        user.password_hash = hash_password(fields["password"])
        changed["password"] = "changed"  # noqa: S105 - the audit notes the fact only
        revoke_tokens = True
    if revoke_tokens:
        user.token_generation += 1
    if changed:
        session.flush()
        record(
            session,
            actor=actor,
            action="user.updated",
            entity_type="user",
            entity_id=user.id,
            data=changed,
        )
    return user
