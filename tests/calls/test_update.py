"""PATCH /api/v1/calls/{id}: free edits, terms frozen by the first submission, merged validation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.models import Call, Role
from tests.applications.helpers import create_application, submitted_application
from tests.support.factories import Factory, call_payload

CALLS = "/api/v1/calls"

EQUAL_WEIGHTS = {
    "criteria": [
        {"key": "approach", "label": "Approach", "weight": 50, "max_score": 10},
        {"key": "capacity", "label": "Capacity", "weight": 50, "max_score": 5},
    ]
}
ONLY_PROPOSAL = [call_payload()["required_documents"][0]]

# Each change, and what the call reads afterwards when the change is allowed.
TERM_CHANGES = [
    ({"rubric": EQUAL_WEIGHTS}, lambda c: [k["weight"] for k in c["rubric"]["criteria"]], [50, 50]),
    ({"envelope_amount": "2000000.00"}, lambda c: c["envelope_amount"], "2000000.00"),
    ({"min_award": "60000.00"}, lambda c: c["min_award"], "60000.00"),
    ({"max_award": "300000.00"}, lambda c: c["max_award"], "300000.00"),
    (
        {"required_documents": ONLY_PROPOSAL},
        lambda c: [d["type"] for d in c["required_documents"]],
        ["proposal"],
    ),
]
TERM_IDS = ["rubric", "envelope", "min-award", "max-award", "required-documents"]


def _call_with_submission(client: TestClient, factory: Factory) -> tuple[Call, dict[str, str]]:
    _, officer = factory.login(Role.program_officer)
    _, applicant = factory.login(Role.applicant)
    call = factory.call(publish=True)
    submitted_application(client, call.id, applicant)
    return call, officer


def test_title_and_description_change_freely_before_any_submission(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.program_officer)
    call = factory.call(publish=False)

    response = client.patch(
        f"{CALLS}/{call.id}",
        json={"title": "Child protection grants 2026", "description": "Revised."},
        headers=headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Child protection grants 2026"
    assert client.get(f"{CALLS}/{call.id}", headers=headers).json()["description"] == "Revised."


def test_title_still_changes_after_an_application_was_submitted(
    client: TestClient, factory: Factory
) -> None:
    call, officer = _call_with_submission(client, factory)

    response = client.patch(f"{CALLS}/{call.id}", json={"title": "Renamed call"}, headers=officer)

    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Renamed call"
    assert response.json()["terms_frozen"] is True


@pytest.mark.parametrize(("change", "read", "expected"), TERM_CHANGES, ids=TERM_IDS)
def test_terms_change_while_no_application_is_submitted(
    client: TestClient, factory: Factory, change: dict[str, Any], read: Any, expected: Any
) -> None:
    _, officer = factory.login(Role.program_officer)
    _, applicant = factory.login(Role.applicant)
    call = factory.call(publish=True)
    create_application(client, call.id, applicant)  # a draft does not freeze anything

    response = client.patch(f"{CALLS}/{call.id}", json=change, headers=officer)

    assert response.status_code == 200, response.text
    assert read(response.json()) == expected
    assert response.json()["terms_frozen"] is False


@pytest.mark.parametrize(("change", "read", "expected"), TERM_CHANGES, ids=TERM_IDS)
def test_terms_are_frozen_once_an_application_is_submitted(
    client: TestClient, factory: Factory, change: dict[str, Any], read: Any, expected: Any
) -> None:
    call, officer = _call_with_submission(client, factory)
    before = client.get(f"{CALLS}/{call.id}", headers=officer).json()

    response = client.patch(f"{CALLS}/{call.id}", json=change, headers=officer)

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "call_terms_frozen"
    after = client.get(f"{CALLS}/{call.id}", headers=officer).json()
    assert read(after) == read(before) != expected


def test_a_frozen_term_in_a_patch_blocks_the_whole_patch(
    client: TestClient, factory: Factory
) -> None:
    call, officer = _call_with_submission(client, factory)

    response = client.patch(
        f"{CALLS}/{call.id}",
        json={"title": "Renamed call", "max_award": "300000.00"},
        headers=officer,
    )

    assert response.status_code == 409
    assert client.get(f"{CALLS}/{call.id}", headers=officer).json()["title"] == (
        "Child protection grants"
    )


def test_sending_the_identical_terms_after_a_submission_is_not_a_change(
    client: TestClient, factory: Factory
) -> None:
    call, officer = _call_with_submission(client, factory)
    original = call_payload()

    response = client.patch(
        f"{CALLS}/{call.id}",
        json={
            "rubric": original["rubric"],
            "envelope_amount": 1000000,
            "min_award": "50000.00",
            "max_award": "400000",
            "required_documents": original["required_documents"],
        },
        headers=officer,
    )

    assert response.status_code == 200, response.text
    assert [c["weight"] for c in response.json()["rubric"]["criteria"]] == [60, 40]


@pytest.mark.parametrize(
    "change",
    [
        {"min_award": "500000.00"},  # above the existing max_award 400000.00
        {"max_award": "40000.00"},  # below the existing min_award 50000.00
        {"max_award": "1000000.01"},  # above the existing envelope 1000000.00
        {"envelope_amount": "399999.99"},  # below the existing max_award 400000.00
        {"closes_at": "2000-01-01T00:00:00+00:00"},  # before the existing opens_at
    ],
    ids=[
        "min-above-max",
        "max-below-min",
        "max-above-envelope",
        "envelope-below-max",
        "closes-early",
    ],
)
def test_a_patch_is_validated_against_the_call_it_merges_into(
    client: TestClient, factory: Factory, change: dict[str, Any]
) -> None:
    _, officer = factory.login(Role.program_officer)
    call = factory.call(publish=False)

    response = client.patch(f"{CALLS}/{call.id}", json=change, headers=officer)

    assert response.status_code == 422, response.text
    stored = client.get(f"{CALLS}/{call.id}", headers=officer).json()
    assert (stored["envelope_amount"], stored["min_award"], stored["max_award"]) == (
        "1000000.00",
        "50000.00",
        "400000.00",
    )


def test_an_invalid_patch_of_frozen_terms_is_422_before_409(
    client: TestClient, factory: Factory
) -> None:
    """Checks run 422 (validation) before 409 (state)."""
    call, officer = _call_with_submission(client, factory)

    response = client.patch(f"{CALLS}/{call.id}", json={"min_award": "500000.00"}, headers=officer)

    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "body",
    [{"currency": "PEN"}, {"status": "closed"}, {"title": "ab"}, {"envelope_amount": "1e6"}],
    ids=["currency-not-editable", "status-not-editable", "title-too-short", "bad-money"],
)
def test_a_malformed_patch_body_is_422(
    client: TestClient, factory: Factory, body: dict[str, Any]
) -> None:
    _, officer = factory.login(Role.program_officer)
    call = factory.call(publish=False)

    assert client.patch(f"{CALLS}/{call.id}", json=body, headers=officer).status_code == 422


@pytest.mark.parametrize("role", [Role.applicant, Role.reviewer, Role.finance_officer])
def test_roles_that_do_not_manage_calls_cannot_patch(
    client: TestClient, factory: Factory, role: Role
) -> None:
    _, headers = factory.login(role)
    call = factory.call(publish=True)

    response = client.patch(f"{CALLS}/{call.id}", json={"title": "Hijacked"}, headers=headers)

    assert response.status_code == 403
