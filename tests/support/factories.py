"""Test data builders. They go through the same services as the API where rules matter,
and flush into the test's database; tokens are real signed JWTs."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from typing import Any

from app.auth.passwords import hash_password
from app.auth.tokens import issue_access_token
from app.calls.schemas import CallIn
from app.calls.service import create_call, publish_call
from app.config import Settings
from app.db import Database
from app.models import Call, Organization, OrganizationKind, Role, User
from app.models.base import utcnow

DEFAULT_PASSWORD = "correct-horse-battery-staple"
_counter = itertools.count(1)


def call_payload(**overrides: Any) -> dict[str, Any]:
    """A valid call body, as a client would send it."""
    now = utcnow().replace(microsecond=0)
    body: dict[str, Any] = {
        "title": "Child protection grants",
        "description": "Grants for NGOs in Peru.",
        "currency": "USD",
        "envelope_amount": "1000000.00",
        "min_award": "50000.00",
        "max_award": "400000.00",
        "opens_at": (now - timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=30)).isoformat(),
        "timezone": "America/Lima",
        "objectives": [
            {"code": "prosecution", "label": "Prosecution"},
            {"code": "protection", "label": "Protection"},
            {"code": "prevention", "label": "Prevention"},
        ],
        "regions": [
            {"code": "lima", "label": "Metropolitan Lima"},
            {"code": "cusco", "label": "Cusco"},
            {"code": "loreto", "label": "Loreto"},
        ],
        "required_documents": [
            {
                "type": "proposal",
                "label": "Technical proposal",
                "required": True,
                "max_size_mb": 1,
                "allowed_types": ["application/pdf"],
            },
            {
                "type": "budget_detail",
                "label": "Budget",
                "required": False,
                "max_size_mb": 1,
                "allowed_types": [
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                ],
            },
        ],
        "rubric": {
            "criteria": [
                {"key": "approach", "label": "Approach", "weight": 60, "max_score": 10},
                {"key": "capacity", "label": "Capacity", "weight": 40, "max_score": 5},
            ]
        },
        "reviewers_per_application": 2,
        "blind_review": False,
    }
    body.update(overrides)
    return body


class Factory:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def organization(self, name: str | None = None, **fields: Any) -> Organization:
        n = next(_counter)
        with self.db.transaction() as session:
            org = Organization(
                name=name or f"Organización {n}",
                kind=fields.pop("kind", OrganizationKind.ngo),
                country=fields.pop("country", "PE"),
                contact_email=fields.pop("contact_email", f"contact{n}@org{n}.example.org"),
                **fields,
            )
            session.add(org)
        return org

    def user(
        self,
        role: Role,
        *,
        organization: Organization | None = None,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        is_active: bool = True,
    ) -> User:
        n = next(_counter)
        if role is Role.applicant and organization is None:
            organization = self.organization()
        with self.db.transaction() as session:
            user = User(
                email=email or f"{role.value}{n}@example.org",
                full_name=f"{role.value.replace('_', ' ').title()} {n}",
                password_hash=hash_password(password),
                role=role,
                organization_id=organization.id if organization else None,
                is_active=is_active,
            )
            session.add(user)
        return user

    def headers(self, user: User) -> dict[str, str]:
        token, _ = issue_access_token(user, self.settings)
        return {"Authorization": f"Bearer {token}"}

    def login(self, role: Role, **kwargs: Any) -> tuple[User, dict[str, str]]:
        user = self.user(role, **kwargs)
        return user, self.headers(user)

    def call(self, *, publish: bool = True, actor: User | None = None, **overrides: Any) -> Call:
        officer = actor or self.user(Role.program_officer)
        payload = CallIn.model_validate(call_payload(**overrides))
        with self.db.transaction() as session:
            call = create_call(session, actor=officer, payload=payload)
            if publish:
                publish_call(session, actor=officer, call=call)
        return call


def random_id() -> str:
    return str(uuid.uuid4())
