"""Authentication and role dependencies every route declares.

Order of checks follows the contract: 401 (no valid token), then 403 (role). Visibility (404)
is each aggregate's own helper, e.g. `get_application_for(user, id)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import joinedload

from app.auth.tokens import InvalidToken, decode_access_token
from app.config import Settings
from app.db import Database
from app.errors import Forbidden, Unauthorized
from app.models import Role, User
from app.observability.context import bind_user

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_current_user(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    """The token's user, loaded in a short read transaction of its own.

    It does not use the request's session, so a route that streams a large upload holds no
    database transaction (and no SQLite write lock) while the bytes arrive.
    """
    if not token:
        raise Unauthorized("Not authenticated.")
    settings: Settings = request.app.state.settings
    try:
        claims = decode_access_token(token, settings)
    except InvalidToken:
        raise Unauthorized("The access token is invalid or has expired.", "invalid_token") from None
    db: Database = request.app.state.db
    with db.transaction(read_only=True) as session:
        user = session.get(User, claims.user_id, options=[joinedload(User.organization)])
    if user is None or not user.is_active or user.token_generation != claims.generation:
        raise Unauthorized("The access token is no longer valid.", "invalid_token")
    bind_user(user.id)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    allowed = frozenset(roles)

    def dependency(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden("Your role does not allow this action.", "forbidden_role")
        return user

    dependency.__name__ = "require_" + "_or_".join(r.value for r in roles)
    return dependency


def settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


AppSettings = Annotated[Settings, Depends(settings_dep)]

AdminUser = Annotated[User, Depends(require_roles(Role.admin))]
CallManager = Annotated[User, Depends(require_roles(Role.admin, Role.program_officer))]
ProgramOfficer = Annotated[User, Depends(require_roles(Role.program_officer))]
FinanceOfficer = Annotated[User, Depends(require_roles(Role.finance_officer))]
ApplicantUser = Annotated[User, Depends(require_roles(Role.applicant))]
# Those who handle money: read awards, allocation, reconciliation and reports (the web
# pages use the same tuple).
MONEY_ROLES = (Role.admin, Role.program_officer, Role.finance_officer)
MoneyReader = Annotated[User, Depends(require_roles(*MONEY_ROLES))]
# Awards are read by money handlers and by applicants (their own); reviewers never.
AwardReader = Annotated[
    User,
    Depends(require_roles(Role.admin, Role.program_officer, Role.finance_officer, Role.applicant)),
]
ReviewerUser = Annotated[User, Depends(require_roles(Role.reviewer))]
# Who deals with conflicts of interest: reviewers declare their own, officers anyone's.
ConflictDeclarer = Annotated[User, Depends(require_roles(Role.reviewer, Role.program_officer))]
# Who may read a call's review side (conflicts, applicant organisations, scores).
ReviewReader = Annotated[
    User, Depends(require_roles(Role.reviewer, Role.program_officer, Role.admin))
]
Staff = Annotated[
    User,
    Depends(require_roles(Role.admin, Role.program_officer, Role.reviewer, Role.finance_officer)),
]
