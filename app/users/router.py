"""The signed-in user and staff account management (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import AdminUser, CurrentUser
from app.db import DbSession
from app.ids import ParsedId
from app.models import Role
from app.pagination import Page, Pagination, fetch_page
from app.users import service
from app.users.schemas import MeOut, StaffUserIn, UserOut, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=MeOut)
def me(user: CurrentUser) -> MeOut:
    return MeOut.model_validate(user)


@router.post("", status_code=201, response_model=UserOut)
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


@router.get("", response_model=Page[UserOut])
def list_users(
    _: AdminUser,
    session: DbSession,
    page: Pagination,
    role: Role | None = None,
    is_active: bool | None = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> Page[UserOut]:
    rows, total = fetch_page(session, service.list_users_query(role, is_active, email), page)
    return Page[UserOut](
        items=[UserOut.model_validate(u) for u in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.patch("/{id}", response_model=UserOut)
def update_user(
    user_id: ParsedId, payload: UserUpdate, admin: AdminUser, session: DbSession
) -> UserOut:
    user = service.get_user(session, user_id)
    return UserOut.model_validate(
        service.update_user(session, actor=admin, user=user, changes=payload)
    )
