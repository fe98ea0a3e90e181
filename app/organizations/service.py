"""Organisation profiles: members read and update their own; staff read all."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.errors import NotFound
from app.models import STAFF_ROLES, Organization, User
from app.organizations.schemas import OrganizationUpdate


def get_organization_for(session: Session, user: User, org_id: uuid.UUID) -> Organization:
    """Staff see every organisation; an applicant only their own (404 for the rest)."""
    if user.role not in STAFF_ROLES and user.organization_id != org_id:
        raise NotFound("Organization not found.")
    organization = session.get(Organization, org_id)
    if organization is None:
        raise NotFound("Organization not found.")
    return organization


def list_query(name: str | None, country: str | None) -> Select[tuple[Organization]]:
    stmt = select(Organization).order_by(Organization.name, Organization.id)
    if name:
        stmt = stmt.where(Organization.name.icontains(name, autoescape=True))
    if country:
        stmt = stmt.where(Organization.country == country.upper())
    return stmt


def update_organization(
    session: Session, *, actor: User, organization: Organization, changes: OrganizationUpdate
) -> Organization:
    fields = changes.model_dump(exclude_unset=True)
    # name, kind and country identify the applicant: they may be changed, never blanked.
    for required in ("name", "kind", "country"):
        if required in fields and fields[required] is None:
            del fields[required]
    changed = {k: v for k, v in fields.items() if getattr(organization, k) != v}
    if not changed:
        return organization
    for key, value in changed.items():
        setattr(organization, key, value)
    session.flush()
    record(
        session,
        actor=actor,
        action="organization.updated",
        entity_type="organization",
        entity_id=organization.id,
        data={k: (v.value if hasattr(v, "value") else v) for k, v in changed.items()},
    )
    return organization
