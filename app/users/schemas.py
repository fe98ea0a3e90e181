"""User payloads (never the password hash)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import EmailStr, StringConstraints, model_validator

from app.models import Role
from app.organizations.schemas import OrganizationIn, OrganizationOut
from app.schemas import InputModel, OutputModel

MIN_PASSWORD_LENGTH = 12

Password = Annotated[str, StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=256)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class RegistrationIn(InputModel):
    email: EmailStr
    password: Password
    full_name: FullName
    organization: OrganizationIn


class StaffUserIn(InputModel):
    email: EmailStr
    password: Password
    full_name: FullName
    role: Role


class UserUpdate(InputModel):
    full_name: FullName | None = None
    role: Role | None = None
    is_active: bool | None = None
    password: Password | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        # Omit a field to leave it unchanged; null is not a value any of them can take.
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


class UserOut(OutputModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    organization_id: uuid.UUID | None
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class MeOut(UserOut):
    organization: OrganizationOut | None


class TokenOut(OutputModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
