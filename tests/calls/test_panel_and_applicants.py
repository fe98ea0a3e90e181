"""The call's review panel, and the organisations that applied (for conflict declarations)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from app.models import Role
from tests.applications.helpers import create_application, submitted_application
from tests.support.factories import Factory

CALLS = "/api/v1/calls"


def test_program_officer_sets_and_reads_the_panel(client: TestClient, factory: Factory) -> None:
    _, officer = factory.login(Role.program_officer)
    call = factory.call(publish=True)
    first, second, third = (factory.user(Role.reviewer) for _ in range(3))

    put = client.put(
        f"{CALLS}/{call.id}/panel",
        json={"reviewer_ids": [str(first.id), str(second.id), str(first.id)]},
        headers=officer,
    )
    replaced = client.put(
        f"{CALLS}/{call.id}/panel",
        json={"reviewer_ids": [str(second.id), str(third.id)]},
        headers=officer,
    )
    got = client.get(f"{CALLS}/{call.id}/panel", headers=officer)

    assert put.status_code == 200, put.text
    assert set(put.json()["reviewer_ids"]) == {str(first.id), str(second.id)}
    assert replaced.status_code == 200, replaced.text
    assert got.status_code == 200
    assert got.json()["call_id"] == str(call.id)
    assert set(got.json()["reviewer_ids"]) == {str(second.id), str(third.id)}
    assert {m["email"] for m in got.json()["reviewers"]} == {second.email, third.email}


@pytest.mark.parametrize(
    "who", ["program_officer", "applicant", "deactivated_reviewer", "unknown_id"]
)
def test_panel_members_must_be_active_reviewers(
    client: TestClient, factory: Factory, who: str
) -> None:
    _, officer = factory.login(Role.program_officer)
    call = factory.call(publish=True)
    member = factory.user(Role.reviewer)
    assert (
        client.put(
            f"{CALLS}/{call.id}/panel", json={"reviewer_ids": [str(member.id)]}, headers=officer
        ).status_code
        == 200
    )
    candidates = {
        "program_officer": lambda: factory.user(Role.program_officer).id,
        "applicant": lambda: factory.user(Role.applicant).id,
        "deactivated_reviewer": lambda: factory.user(Role.reviewer, is_active=False).id,
        "unknown_id": uuid.uuid4,
    }
    invalid = candidates[who]()

    response = client.put(
        f"{CALLS}/{call.id}/panel",
        json={"reviewer_ids": [str(member.id), str(invalid)]},
        headers=officer,
    )

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_reviewers"
    assert response.json()["invalid_ids"] == [str(invalid)]
    panel = client.get(f"{CALLS}/{call.id}/panel", headers=officer).json()
    assert panel["reviewer_ids"] == [str(member.id)]


@pytest.mark.parametrize("role", [Role.applicant, Role.reviewer, Role.finance_officer])
def test_only_call_managers_see_the_panel(client: TestClient, factory: Factory, role: Role) -> None:
    _, headers = factory.login(role)
    call = factory.call(publish=True)

    assert client.get(f"{CALLS}/{call.id}/panel", headers=headers).status_code == 403
    response = client.put(f"{CALLS}/{call.id}/panel", json={"reviewer_ids": []}, headers=headers)
    assert response.status_code == 403


def test_applicant_organizations_lists_organisations_that_submitted_but_not_drafts(
    client: TestClient, factory: Factory
) -> None:
    _, reviewer = factory.login(Role.reviewer)
    organization = factory.organization("Asociación Niñez Segura")
    _, submitter_headers = factory.login(Role.applicant, organization=organization)
    _, drafter_headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    submitted_application(client, call.id, submitter_headers)
    create_application(client, call.id, drafter_headers)

    response = client.get(f"{CALLS}/{call.id}/organizations", headers=reviewer)

    assert response.status_code == 200, response.text
    assert response.json() == [{"id": str(organization.id), "name": "Asociación Niñez Segura"}]


def test_applicants_cannot_list_a_calls_applicant_organisations(
    client: TestClient, factory: Factory
) -> None:
    _, applicant = factory.login(Role.applicant)
    call = factory.call(publish=True)

    assert client.get(f"{CALLS}/{call.id}/organizations", headers=applicant).status_code == 403
