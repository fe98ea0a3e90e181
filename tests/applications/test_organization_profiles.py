"""Organisation profiles: members read and edit their own, staff read all, others see nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.models import Role
from tests.support.factories import Factory

ORGS = "/api/v1/organizations"


def test_a_member_reads_and_updates_their_organisation(
    client: TestClient, factory: Factory
) -> None:
    organization = factory.organization("Fundación Amanecer")
    _, headers = factory.login(Role.applicant, organization=organization)

    read = client.get(f"{ORGS}/{organization.id}", headers=headers)
    patched = client.patch(
        f"{ORGS}/{organization.id}",
        json={"uei": "ABC123DEF456", "website": "https://amanecer.example.org"},
        headers=headers,
    )

    assert read.status_code == 200, read.text
    assert read.json()["name"] == "Fundación Amanecer"
    assert patched.status_code == 200, patched.text
    assert patched.json()["uei"] == "ABC123DEF456"
    assert patched.json()["name"] == "Fundación Amanecer"
    again = client.get(f"{ORGS}/{organization.id}", headers=headers).json()
    assert again["website"] == "https://amanecer.example.org"


@pytest.mark.parametrize(
    "uei",
    ["abc123def456", "ABC123", "ABC123DEF4567", "ABC-23DEF456", "ABC123DEF45 "],
    ids=["lower-case", "too-short", "too-long", "punctuation", "trailing-space"],
)
def test_a_uei_must_be_twelve_upper_case_letters_or_digits(
    client: TestClient, factory: Factory, uei: str
) -> None:
    organization = factory.organization()
    _, headers = factory.login(Role.applicant, organization=organization)

    response = client.patch(f"{ORGS}/{organization.id}", json={"uei": uei}, headers=headers)

    assert response.status_code == 422, response.text
    assert client.get(f"{ORGS}/{organization.id}", headers=headers).json()["uei"] is None


def test_another_organisations_applicant_gets_404(client: TestClient, factory: Factory) -> None:
    organization = factory.organization("Fundación Amanecer")
    _, outsider = factory.login(Role.applicant)

    read = client.get(f"{ORGS}/{organization.id}", headers=outsider)
    patched = client.patch(
        f"{ORGS}/{organization.id}", json={"name": "Taken over"}, headers=outsider
    )

    assert read.status_code == 404
    assert patched.status_code == 404
    _, officer = factory.login(Role.program_officer)
    assert client.get(f"{ORGS}/{organization.id}", headers=officer).json()["name"] == (
        "Fundación Amanecer"
    )


@pytest.mark.parametrize("role", [Role.program_officer, Role.admin, Role.finance_officer])
def test_staff_list_every_organisation(client: TestClient, factory: Factory, role: Role) -> None:
    first = factory.organization("Alfa ONG")
    second = factory.organization("Beta ONG")
    _, headers = factory.login(role)

    response = client.get(ORGS, headers=headers)

    assert response.status_code == 200, response.text
    ids = [o["id"] for o in response.json()["items"]]
    assert str(first.id) in ids
    assert str(second.id) in ids
    filtered = client.get(ORGS, params={"name": "beta"}, headers=headers).json()
    assert [o["id"] for o in filtered["items"]] == [str(second.id)]


def test_applicants_cannot_list_organisations(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)

    assert client.get(ORGS, headers=headers).status_code == 403


def test_program_officers_cannot_edit_an_organisations_profile(
    client: TestClient, factory: Factory
) -> None:
    organization = factory.organization("Fundación Amanecer")
    _, officer = factory.login(Role.program_officer)

    response = client.patch(f"{ORGS}/{organization.id}", json={"name": "Renamed"}, headers=officer)

    assert response.status_code == 403
