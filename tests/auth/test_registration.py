"""Applicant self-registration: POST /api/v1/auth/register (SPEC §4)."""

from __future__ import annotations

from app.models import Role
from tests.foundation.api import (
    PASSWORD,
    audit_events,
    register,
    registration,
    sign_in,
    token_for,
)

REGISTER = "/api/v1/auth/register"


def test_registration_answers_201_with_the_user_and_organisation(client):
    body = registration(
        "Nadia@NGO.example.org",
        full_name="Nadia Quispe",
        organization={
            "name": "Asociación Niñez Segura",
            "kind": "international_org",
            "country": "PE",
            "registration_number": "20601234567",
        },
    )

    response = client.post(REGISTER, json=body)

    assert response.status_code == 201
    user = response.json()
    assert user["email"] == "nadia@ngo.example.org"
    assert user["full_name"] == "Nadia Quispe"
    assert user["role"] == "applicant"
    assert user["is_active"] is True
    organization = user["organization"]
    assert organization["name"] == "Asociación Niñez Segura"
    assert organization["kind"] == "international_org"
    assert organization["country"] == "PE"
    assert organization["registration_number"] == "20601234567"
    assert user["organization_id"] == organization["id"]


def test_registration_response_never_contains_the_password_or_its_hash(client):
    response = client.post(REGISTER, json=registration())

    assert response.status_code == 201
    text = response.text
    assert "password" not in text
    assert "argon2" not in text
    assert PASSWORD not in text


def test_an_email_already_used_is_409(client):
    register(client, "taken@ngo.example.org")

    response = client.post(REGISTER, json=registration("taken@ngo.example.org"))

    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


def test_an_email_already_used_in_another_case_is_409(client):
    register(client, "taken@ngo.example.org")

    response = client.post(REGISTER, json=registration("TAKEN@Ngo.Example.ORG"))

    assert response.status_code == 409


def test_a_password_of_eleven_characters_is_422(client):
    response = client.post(REGISTER, json=registration(password="elevenchars"))

    assert response.status_code == 422
    assert any(err["loc"][-1] == "password" for err in response.json()["detail"])


def test_a_password_of_exactly_twelve_characters_is_accepted(client):
    response = client.post(REGISTER, json=registration(password="twelve-chars"))

    assert response.status_code == 201


def _refused_field(client, organization: dict) -> str | None:
    response = client.post(REGISTER, json=registration(organization=organization))
    assert response.status_code == 422, organization
    [error] = response.json()["detail"]
    return error["loc"][-1]


def test_a_country_that_is_not_iso_alpha_2_is_422(client):
    for country in ["XX", "pe", "PER", "", "P", "UK"]:
        assert _refused_field(client, {"country": country}) == "country", country


def test_a_malformed_uei_is_422(client):
    for uei in ["ZQGGHJH74DW", "ZQGGHJH74DW7X", "zqgghjh74dw7", "ZQGG-HJH74DW7", "ZQGGHJH74DW!"]:
        assert _refused_field(client, {"uei": uei}) == "uei", uei


def test_a_twelve_character_uei_is_accepted_and_returned(client):
    response = client.post(REGISTER, json=registration(organization={"uei": "ZQGGHJH74DW7"}))

    assert response.status_code == 201
    assert response.json()["organization"]["uei"] == "ZQGGHJH74DW7"


def test_an_unknown_top_level_field_is_422(client):
    response = client.post(REGISTER, json=registration(role="admin"))

    assert response.status_code == 422


def test_an_unknown_organisation_field_is_422(client):
    response = client.post(REGISTER, json=registration(organization={"verified": True}))

    assert response.status_code == 422


def test_an_unknown_organisation_kind_is_422(client):
    response = client.post(REGISTER, json=registration(organization={"kind": "company"}))

    assert response.status_code == 422


def test_a_registered_applicant_can_sign_in_and_see_themselves(client):
    user = register(client, "signin@ngo.example.org")

    headers = token_for(client, "signin@ngo.example.org")
    me = client.get("/api/v1/users/me", headers=headers)

    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    assert me.json()["role"] == "applicant"
    assert me.json()["organization"]["id"] == user["organization_id"]


def test_sign_in_after_registration_ignores_the_email_case(client):
    register(client, "mixed@ngo.example.org")

    assert sign_in(client, "MIXED@ngo.example.org").status_code == 200


def test_registration_records_the_user_and_the_organisation_in_the_audit_log(client, factory):
    _, admin = factory.login(Role.admin)

    user = register(client, "audited@ngo.example.org")

    events = audit_events(client, admin)
    assert [(e["action"], e["entity_type"], e["entity_id"]) for e in events] == [
        ("organization.created", "organization", user["organization_id"]),
        ("user.registered", "user", user["id"]),
    ]
    assert all(e["actor_id"] == user["id"] for e in events)
    assert events[1]["data"]["email"] == "audited@ngo.example.org"


def test_a_refused_registration_writes_no_audit_event(client, factory):
    _, admin = factory.login(Role.admin)
    register(client, "once@ngo.example.org")

    client.post(REGISTER, json=registration("once@ngo.example.org"))
    client.post(REGISTER, json=registration(password="short"))

    assert [e["action"] for e in audit_events(client, admin)] == [
        "organization.created",
        "user.registered",
    ]
