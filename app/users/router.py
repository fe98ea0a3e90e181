"""The signed-in user and staff account management (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import AdminUser, CurrentUser
from app.db import DbSession
from app.errors import error_responses
from app.ids import ParsedId
from app.models import Role
from app.pagination import Page, Pagination, fetch_page
from app.schemas import NO_NUL_PATTERN
from app.users import service
from app.users.schemas import MeOut, StaffUserIn, UserOut, UserUpdate

router = APIRouter(prefix="/users", tags=["users"], responses=error_responses(401, 503))


@router.get("/me", response_model=MeOut)
def me(user: CurrentUser) -> MeOut:
    return MeOut.model_validate(user)


@router.post(
    "",
    status_code=201,
    response_model=UserOut,
    responses=error_responses(400, 403, 409, 413, 422),
)
def create_user(payload: StaffUserIn, admin: AdminUser, session: DbSession) -> UserOut:
    user = service.create_staff_user(
        session,
        actor=admin,
        email=payload.email,
        password=payload.password,
        full_name=payload.full_name,
        role=payload.role,
    )
    return UserOut.model_validate(user)


@router.get("", response_model=Page[UserOut], responses=error_responses(403))
def list_users(
    _: AdminUser,
    session: DbSession,
    page: Pagination,
    role: Role | None = None,
    is_active: bool | None = None,
    email: Annotated[str | None, Query(max_length=320, pattern=NO_NUL_PATTERN)] = None,
) -> Page[UserOut]:
    rows, total = fetch_page(session, service.list_users_query(role, is_active, email), page)
    return Page[UserOut](
        items=[UserOut.model_validate(u) for u in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.patch(
    "/{id}", response_model=UserOut, responses=error_responses(400, 403, 404, 409, 413, 422)
)
def update_user(
    user_id: ParsedId, payload: UserUpdate, admin: AdminUser, session: DbSession
) -> UserOut:
    user = service.get_user(session, user_id)
    return UserOut.model_validate(
        service.update_user(session, actor=admin, user=user, changes=payload)
    )
