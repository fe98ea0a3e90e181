"""Dependencies of the page routes: the signed-in user, role checks and the CSRF check.

They mirror `app/auth/deps.py` for the cookie session: no session → the sign-in page (instead
of 401), a role that may never do this → the 403 page, with the same `Forbidden` error as the
API. Visibility stays in the services' `get_*_for` helpers, which answer 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from app.errors import Forbidden, UnsupportedMediaType
from app.models import Role, User
from app.web.sessions import CSRF_FIELD, CSRF_HEADER, csrf_valid, load_session

CSRF_FAILED = "csrf_failed"


class SignInRequired(Exception):
    """The page needs a signed-in user; the page route answers with the sign-in page."""


def optional_user(request: Request) -> User | None:
    session = load_session(request)
    return session.user if session else None


OptionalUser = Annotated[User | None, Depends(optional_user)]


def signed_in_user(user: OptionalUser) -> User:
    if user is None:
        raise SignInRequired
    return user


SignedInUser = Annotated[User, Depends(signed_in_user)]


def require_page_roles(*roles: Role) -> Callable[[User], User]:
    allowed = frozenset(roles)

    def dependency(user: SignedInUser) -> User:
        if user.role not in allowed:
            raise Forbidden("Your role does not allow this action.", "forbidden_role")
        return user

    dependency.__name__ = "page_require_" + "_or_".join(r.value for r in roles)
    return dependency


ApplicantPage = Annotated[User, Depends(require_page_roles(Role.applicant))]


async def csrf_protect(request: Request) -> None:
    """The one CSRF check: every POST page route depends on it (directly or via `PageForm`).

    The token comes from the `X-CSRF-Token` header (scripts, streamed uploads) or the
    `csrf_token` field of an urlencoded form. A multipart body is never read here: streamed
    upload routes take the header, so the body still streams into storage untouched.
    """
    token = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "").lower()
    if token is None and content_type.startswith("application/x-www-form-urlencoded"):
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not csrf_valid(request, token):
        raise Forbidden(
            "The form's security token is missing or does not match; reload the page.",
            CSRF_FAILED,
        )


CsrfProtected = Depends(csrf_protect)


async def page_form(request: Request, _: Annotated[None, Depends(csrf_protect)]) -> FormData:
    """An urlencoded form whose CSRF token has been checked."""
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise UnsupportedMediaType("Send the form as an ordinary form.", "form_expected")
    return await request.form()


PageForm = Annotated[FormData, Depends(page_form)]
