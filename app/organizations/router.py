"""Organisation profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.deps import CurrentUser, Staff, require_roles
from app.db import DbSession
from app.errors import error_responses
from app.ids import ParsedId
from app.models import Role, User
from app.organizations import service
from app.organizations.schemas import OrganizationOut, OrganizationUpdate
from app.pagination import Page, Pagination, fetch_page
from app.schemas import NO_NUL_PATTERN

ProfileEditor = Annotated[User, Depends(require_roles(Role.applicant, Role.admin))]

router = APIRouter(
    prefix="/organizations", tags=["organizations"], responses=error_responses(401, 503)
)


@router.get("", response_model=Page[OrganizationOut], responses=error_responses(403))
def list_organizations(
    _: Staff,
    session: DbSession,
    page: Pagination,
    name: Annotated[str | None, Query(max_length=300, pattern=NO_NUL_PATTERN)] = None,
    country: Annotated[
        str | None, Query(min_length=2, max_length=2, pattern=NO_NUL_PATTERN)
    ] = None,
) -> Page[OrganizationOut]:
    rows, total = fetch_page(session, service.list_query(name, country), page)
    return Page[OrganizationOut](
        items=[OrganizationOut.model_validate(o) for o in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{id}", response_model=OrganizationOut, responses=error_responses(404))
def get_organization(user: CurrentUser, org_id: ParsedId, session: DbSession) -> OrganizationOut:
    return OrganizationOut.model_validate(service.get_organization_for(session, user, org_id))


@router.patch(
    "/{id}",
    response_model=OrganizationOut,
    responses=error_responses(400, 403, 404, 409, 413, 422),
)
def update_organization(
    user: ProfileEditor, org_id: ParsedId, payload: OrganizationUpdate, session: DbSession
) -> OrganizationOut:
    """Members of the organisation keep its profile up to date."""
    organization = service.get_organization_for(session, user, org_id)
    return OrganizationOut.model_validate(
        service.update_organization(session, actor=user, organization=organization, changes=payload)
    )
