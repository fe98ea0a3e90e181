"""Signed access tokens (JWT, HS256, PyJWT)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from app.config import Settings
from app.models import User
from app.models.base import utcnow

ALGORITHM = "HS256"
AUDIENCE = "grants-api"


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    generation: int


class InvalidToken(Exception):
    """Expired, tampered with, or not one of ours."""


def issue_access_token(user: User, settings: Settings) -> tuple[str, int]:
    """Return the token and its lifetime in seconds."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    now = utcnow()
    claims = {
        "sub": str(user.id),
        "gen": user.token_generation,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "aud": AUDIENCE,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)
    return token, int(lifetime.total_seconds())


def decode_access_token(token: str, settings: Settings) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "iat", "aud", "gen"]},
        )
        return TokenClaims(user_id=uuid.UUID(claims["sub"]), generation=int(claims["gen"]))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
