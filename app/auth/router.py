"""Registration and the OAuth2 password token endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import registration_limit, service
from app.auth.deps import AppSettings
from app.auth.tokens import issue_access_token
from app.db import DbSession
from app.errors import Unprocessable, error_body, error_responses
from app.users.schemas import MeOut, RegistrationIn, TokenOut

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(503))

_AUTH_ERRORS = error_responses(
    400,
    413,
    422,
    described={401: "Bad credentials", 429: "Too many failed attempts; see Retry-After"},
)
_AUTH_ERRORS[401]["content"] = {
    "application/json": {
        "example": error_body("Incorrect email or password.", "invalid_credentials")
    }
}


@router.post(
    "/register",
    status_code=201,
    response_model=MeOut,
    responses=error_responses(
        400,
        413,
        422,
        described={
            409: "Email already used",
            429: "Too many registrations from this address; see Retry-After",
        },
    ),
)
def register(
    payload: RegistrationIn, request: Request, session: DbSession, settings: AppSettings
) -> MeOut:
    client_ip = request.client.host if request.client else "unknown"
    registration_limit.admit(session, settings, client_ip)
    user = service.register_applicant(session, payload)
    return MeOut.model_validate(user)


@router.post("/token", response_model=TokenOut, responses=_AUTH_ERRORS)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: DbSession,
    settings: AppSettings,
) -> TokenOut:
    if "\x00" in form.username:
        # No address contains one, and PostgreSQL could not even look it up.
        raise Unprocessable("The username may not contain NUL characters.", "invalid_value")
    user = service.authenticate(session, settings, form.username, form.password)
    access_token, expires_in = issue_access_token(user, settings)
    return TokenOut(access_token=access_token, expires_in=expires_in)
