"""Registration through the page: the API's registration limit and service, its validation
messages next to the fields, and a signed-in organisation at the end."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import Organization, RegistrationAttempt, User
from app.models.base import utcnow
from tests.web.pages import audit_actions, field_error, post_form

PASSWORD = "a-long-enough-password"


def _registration(**overrides: Any) -> dict[str, Any]:
    form = {
        "full_name": "Nadia Quispe",
        "email": "nadia@ninez-segura.example.org",
        "password": PASSWORD,
        "organization.name": "Asociación Niñez Segura",
        "organization.kind": "ngo",
        "organization.country": "PE",
        "organization.registration_number": "20123456789",
        "organization.uei": "",
    }
    form.update(overrides)
    return form


def _users(db: Database) -> list[User]:
    with db.transaction(read_only=True) as session:
        return list(session.scalars(select(User)))


def test_registering_creates_the_organisation_and_signs_in(
    client: TestClient, db: Database
) -> None:
    response = post_form(client, "/register", "/register", _registration())

    assert response.status_code == 303
    assert response.headers["location"] == "/applications"
    [user] = _users(db)
    assert user.email == "nadia@ninez-segura.example.org"
    assert user.role.value == "applicant"
    with db.transaction(read_only=True) as session:
        organization = session.get(Organization, user.organization_id)
        assert organization is not None
        assert (organization.name, organization.country, organization.registration_number) == (
            "Asociación Niñez Segura",
            "PE",
            "20123456789",
        )
        assert organization.uei is None
    assert audit_actions(db) == ["organization.created", "user.registered", "auth.login"]
    assert "Welcome! Your organisation&#39;s account is ready." in client.get("/applications").text


def test_invalid_registration_fields_are_explained_and_kept(
    client: TestClient, db: Database
) -> None:
    response = post_form(
        client,
        "/register",
        "/register",
        _registration(
            email="not-an-email",
            password="short",
            **{"organization.country": "XX", "organization.uei": "abc"},
        ),
    )

    assert response.status_code == 422
    html = response.text
    assert field_error(html, "field-email") == "Enter an email address such as name@example.org."
    assert field_error(html, "field-password") == "Enter at least 12 characters."
    assert field_error(html, "field-organization-country") == "Choose a country."
    assert field_error(html, "field-organization-uei") == "A UEI is 12 capital letters and digits."
    assert 'value="Asociación Niñez Segura"' in html
    assert 'value="short"' not in html  # a password is never sent back
    assert _users(db) == []


def test_an_email_already_registered_is_shown_next_to_the_email(
    client: TestClient, db: Database
) -> None:
    post_form(client, "/register", "/register", _registration())
    client.cookies.clear()

    response = post_form(client, "/register", "/register", _registration(full_name="Other"))

    assert response.status_code == 409
    assert field_error(response.text, "field-email") == (
        "An account with this email already exists."
    )
    assert len(_users(db)) == 1


def test_the_apis_registration_limit_applies_to_the_page(
    client: TestClient, db: Database, settings: Settings
) -> None:
    # The test client's address has used up its hour, as far as the limit knows.
    with db.transaction() as session:
        session.add_all(
            RegistrationAttempt(client_ip="testclient", attempted_at=utcnow())
            for _ in range(settings.registration_max_per_hour)
        )

    response = post_form(client, "/register", "/register", _registration())

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many registrations from this address." in response.text
    assert _users(db) == []
