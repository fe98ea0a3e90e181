"""Registration and the OAuth2 password token endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import service
from app.auth.deps import AppSettings
from app.auth.tokens import issue_access_token
from app.db import DbSession
from app.errors import error_body
from app.users.schemas import MeOut, RegistrationIn, TokenOut

router = APIRouter(prefix="/auth", tags=["auth"])

_AUTH_ERRORS = {
    401: {
        "description": "Bad credentials",
        "content": {
            "application/json": {
                "example": error_body("Incorrect email or password.", "invalid_credentials")
            }
        },
    },
    429: {"description": "Too many failed attempts; see Retry-After"},
}


@router.post(
    "/register",
    status_code=201,
    response_model=MeOut,
    responses={409: {"description": "Email already used"}},
)
def register(payload: RegistrationIn, session: DbSession) -> MeOut:
    user = service.register_applicant(session, payload)
    return MeOut.model_validate(user)


@router.post("/token", response_model=TokenOut, responses=_AUTH_ERRORS)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: DbSession,
    settings: AppSettings,
) -> TokenOut:
    user = service.authenticate(session, settings, form.username, form.password)
    access_token, expires_in = issue_access_token(user, settings)
    return TokenOut(access_token=access_token, expires_in=expires_in)
