"""Applications: draft, read, list, update, submit, withdraw."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.applications import service
from app.applications.schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationUpdate,
    IncompleteOut,
)
from app.auth.deps import ApplicantUser, CurrentUser
from app.calls.service import get_call_for
from app.db import DbSession
from app.errors import Forbidden, error_responses
from app.ids import ParsedId
from app.models import STAFF_ROLES, Application, ApplicationStatus, Role, User
from app.pagination import Page, Pagination, fetch_page
from app.reviews.schemas import ReviewerApplicationOut

router = APIRouter(tags=["applications"], responses=error_responses(401, 503))


def application_out(application: Application, viewer: User | None = None) -> ApplicationOut:
    view = service.application_view(application)
    if viewer is not None and viewer.role in STAFF_ROLES:
        view["screening"] = service.staff_screening(application)
    return ApplicationOut.model_validate(view)


@router.post(
    "/calls/{id}/applications",
    status_code=201,
    response_model=ApplicationOut,
    responses=error_responses(
        400,
        403,
        404,
        413,
        422,
        described={409: "The call is closed, or the organisation already applied"},
    ),
)
def create_application(
    user: ApplicantUser, call_id: ParsedId, payload: ApplicationIn, session: DbSession
) -> ApplicationOut:
    call = get_call_for(session, user, call_id, lock=True)
    return application_out(
        service.create_application(session, actor=user, call=call, payload=payload)
    )


# Unset fields are left out, so an applicant's view carries no staff-only `screening` key.
@router.get(
    "/applications",
    response_model=Page[ApplicationOut],
    response_model_exclude_unset=True,
    responses=error_responses(described={403: "Reviewers use their queue"}),
)
def list_applications(
    user: CurrentUser,
    session: DbSession,
    page: Pagination,
    call_id: uuid.UUID | None = None,
    status: ApplicationStatus | None = None,
) -> Page[ApplicationOut]:
    """Applicants: their organisation's. Reviewers use their queue, `/reviews/assigned`."""
    if user.role is Role.reviewer:
        raise Forbidden("Reviewers find their applications in /reviews/assigned.", "use_queue")
    rows, total = fetch_page(session, service.list_query(user, call_id, status), page)
    return Page[ApplicationOut](
        items=[application_out(a, user) for a in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/applications/{id}",
    response_model=ApplicationOut | ReviewerApplicationOut,
    response_model_exclude_unset=True,
    responses=error_responses(404),
)
def get_application(
    user: CurrentUser, app_id: ParsedId, session: DbSession
) -> ApplicationOut | ReviewerApplicationOut:
    """Reviewers get the reviewer's view: with a blind call, no trace of the organisation."""
    application = service.get_application_for(session, user, app_id)
    if user.role is Role.reviewer:
        return ReviewerApplicationOut.model_validate(service.reviewer_view(application))
    return application_out(application, user)


@router.patch(
    "/applications/{id}",
    response_model=ApplicationOut,
    responses=error_responses(400, 403, 404, 413, 422, described={409: "Not a draft"}),
)
def update_application(
    user: ApplicantUser, app_id: ParsedId, payload: ApplicationUpdate, session: DbSession
) -> ApplicationOut:
    application = service.get_application_for(session, user, app_id, lock=True)
    return application_out(
        service.update_application(session, actor=user, application=application, payload=payload)
    )


@router.post(
    "/applications/{id}/submit",
    response_model=ApplicationOut,
    responses={
        **error_responses(403, 404, described={409: "Not a draft, or the call is not open"}),
        422: {"model": IncompleteOut, "description": "Everything still missing, at once"},
    },
)
def submit_application(user: ApplicantUser, app_id: ParsedId, session: DbSession) -> ApplicationOut:
    application = service.get_application_for(session, user, app_id, lock=True)
    return application_out(service.submit_application(session, actor=user, application=application))


@router.post(
    "/applications/{id}/withdraw",
    response_model=ApplicationOut,
    responses=error_responses(403, 404, described={409: "Already decided or withdrawn"}),
)
def withdraw_application(
    user: ApplicantUser, app_id: ParsedId, session: DbSession
) -> ApplicationOut:
    application = service.get_application_for(session, user, app_id, lock=True)
    return application_out(
        service.withdraw_application(session, actor=user, application=application)
    )
