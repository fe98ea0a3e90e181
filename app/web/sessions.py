"""The web session cookie and the CSRF token tied to it.

A session is a signed JWT (PyJWT, HS256, the API's secret key) carrying the user's id and
token generation, like an API access token but with its own audience, so neither can stand in
for the other. The user is loaded on every request and refused when deactivated or when their
token generation moved on (a role change): the same revocation as the API's tokens.

CSRF is a signed double-submit token: a random `grants_csrf` cookie, and in every form the
HMAC of that cookie and the session's id. A forged request from another site can neither read
the cookie nor compute the HMAC; a token minted before sign-in is useless after it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

import jwt
from fastapi import Request, Response
from sqlalchemy.orm import joinedload

from app.auth.tokens import ALGORITHM
from app.config import Settings
from app.db import Database
from app.models import User
from app.models.base import utcnow

SESSION_COOKIE = "grants_session"
CSRF_COOKIE = "grants_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_AUDIENCE = "grants-web"


@dataclass(frozen=True)
class WebSession:
    user: User
    session_id: str


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def set_cookie(request: Request, response: Response, name: str, value: str, **kw: object) -> None:
    """Every cookie of the web interface: HttpOnly, SameSite=Lax, Path=/, Secure in production."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=_settings(request).is_production,
        path="/",
        **kw,  # type: ignore[arg-type]
    )


def issue_session(request: Request, response: Response, user: User) -> None:
    settings = _settings(request)
    lifetime = timedelta(minutes=settings.web_session_minutes)
    now = utcnow()
    claims = {
        "sub": str(user.id),
        "gen": user.token_generation,
        "sid": secrets.token_urlsafe(16),
        "iat": now,
        "exp": now + lifetime,
        "aud": SESSION_AUDIENCE,
    }
    token = jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()))
    # A fresh CSRF secret with the new session: nothing minted before sign-in carries over.
    set_cookie(request, response, CSRF_COOKIE, secrets.token_urlsafe(32))


def end_session(request: Request, response: Response) -> None:
    secure = _settings(request).is_production
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="lax")


def load_session(request: Request) -> WebSession | None:
    """The signed-in user, or None (no cookie, bad signature, expired, revoked, inactive)."""
    if hasattr(request.state, "web_session"):
        return cast(WebSession | None, request.state.web_session)
    session = _read_session(request)
    request.state.web_session = session
    return session


def _read_session(request: Request) -> WebSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    settings = _settings(request)
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=SESSION_AUDIENCE,
            options={"require": ["sub", "exp", "aud", "gen", "sid"]},
        )
        user_id, generation = uuid.UUID(claims["sub"]), int(claims["gen"])
        session_id = str(claims["sid"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    db: Database = request.app.state.db
    with db.transaction(read_only=True) as session:
        user = session.get(User, user_id, options=[joinedload(User.organization)])
    if user is None or not user.is_active or user.token_generation != generation:
        return None
    return WebSession(user=user, session_id=session_id)


# --- CSRF -------------------------------------------------------------------------------


def _csrf_key(settings: Settings) -> bytes:
    return hmac.new(settings.secret_key.encode(), b"grants-web-csrf", hashlib.sha256).digest()


def _sign(settings: Settings, secret: str, session_id: str) -> str:
    message = f"{secret}|{session_id}".encode()
    return hmac.new(_csrf_key(settings), message, hashlib.sha256).hexdigest()


def csrf_secret(request: Request) -> str:
    """The browser's CSRF cookie value, minted (and set by `render`) when it has none yet."""
    secret = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_secret", None)
    if not secret:
        secret = secrets.token_urlsafe(32)
        request.state.new_csrf_secret = secret
    return secret


def csrf_token(request: Request) -> str:
    session = load_session(request)
    return _sign(_settings(request), csrf_secret(request), session.session_id if session else "")


def csrf_valid(request: Request, token: str | None) -> bool:
    secret = request.cookies.get(CSRF_COOKIE)
    if not token or not secret:
        return False
    session = load_session(request)
    expected = _sign(_settings(request), secret, session.session_id if session else "")
    return hmac.compare_digest(expected, token)


def persist_new_csrf_secret(request: Request, response: Response) -> None:
    secret = getattr(request.state, "new_csrf_secret", None)
    if secret and CSRF_COOKIE not in request.cookies:
        set_cookie(request, response, CSRF_COOKIE, secret)
