"""Small client-side helpers shared by the auth, audit and foundation tests."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

PASSWORD = "a-long-enough-password"
_emails = itertools.count(1)


def unique_email(prefix: str = "applicant") -> str:
    return f"{prefix}{next(_emails)}@ngo.example.org"


def registration(email: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid self-registration body; `organization` overrides merge into the nested object."""
    organization = {"name": "Asociación Niñez Segura", "kind": "ngo", "country": "PE"}
    organization.update(overrides.pop("organization", {}))
    body: dict[str, Any] = {
        "email": email or unique_email(),
        "password": PASSWORD,
        "full_name": "Nadia Quispe",
        "organization": organization,
    }
    body.update(overrides)
    return body


def register(client: TestClient, email: str | None = None, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/auth/register", json=registration(email, **overrides))
    assert response.status_code == 201, response.text
    return response.json()


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    return client.post("/api/v1/auth/token", data={"username": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = sign_in(client, email, password)
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def audit_events(client: TestClient, headers: dict[str, str], **filters: Any) -> list[dict]:
    """Every audit event matching the filters, oldest first."""
    response = client.get("/api/v1/audit", params={"limit": 200, **filters}, headers=headers)
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))
