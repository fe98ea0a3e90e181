"""Screening (SPEC §7): a program officer's decision on a submitted application, audited,
whose notes stay with staff."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.models import Role
from tests.reviews.helpers import (
    API,
    applicant,
    audit_events,
    screen,
    submitted,
    under_review,
)
from tests.support.factories import Factory

NOTES = "Registration certificate expired in March; eligibility confirmed by phone."


@pytest.mark.parametrize(("eligible", "status"), [(True, "under_review"), (False, "ineligible")])
def test_screening_sets_the_status_and_is_audited(
    client: TestClient, factory: Factory, eligible: bool, status: str
) -> None:
    _, officer = factory.login(Role.program_officer)
    _, admin = factory.login(Role.admin)
    call = factory.call()
    application = submitted(client, call.id, applicant(factory))

    response = screen(client, application["id"], officer, eligible=eligible, notes=NOTES)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == status
    assert response.json()["screening"]["notes"] == NOTES
    assert response.json()["screening"]["eligible"] is eligible
    (event,) = [
        e
        for e in audit_events(client, admin, application["id"])
        if e["action"] == "application.screened"
    ]
    assert event["data"]["eligible"] is eligible
    assert event["data"]["status"] == status


def test_only_a_submitted_application_can_be_screened(client: TestClient, factory: Factory) -> None:
    _, officer = factory.login(Role.program_officer)
    call = factory.call()
    screened = under_review(client, call.id, applicant(factory), officer)
    rejected = submitted(client, call.id, applicant(factory))
    assert screen(client, rejected["id"], officer, eligible=False).status_code == 200
    withdrawn_by = applicant(factory)
    withdrawn = submitted(client, call.id, withdrawn_by)
    response = client.post(
        f"{API}/applications/{withdrawn['id']}/withdraw", headers=withdrawn_by.headers
    )
    assert response.status_code == 200, response.text

    for application, state in [
        (screened, "under_review"),
        (rejected, "ineligible"),
        (withdrawn, "withdrawn"),
    ]:
        for eligible in (True, False):
            again = screen(client, application["id"], officer, eligible=eligible)
            assert again.status_code == 409, (state, eligible, again.text)
            assert again.json()["code"] == "invalid_state"
        current = client.get(f"{API}/applications/{application['id']}", headers=officer)
        assert current.json()["status"] == state


def test_only_a_program_officer_screens(client: TestClient, factory: Factory) -> None:
    _, officer = factory.login(Role.program_officer)
    call = factory.call()
    owner = applicant(factory)
    application = submitted(client, call.id, owner)
    # The applicant who owns the application is refused too, not just strangers.
    refused = {
        "admin": factory.login(Role.admin)[1],
        "reviewer": factory.login(Role.reviewer)[1],
        "finance_officer": factory.login(Role.finance_officer)[1],
        "owner": owner.headers,
        "no token": {},
    }

    answers = {who: screen(client, application["id"], h).status_code for who, h in refused.items()}

    assert answers == {
        "admin": 403,
        "reviewer": 403,
        "finance_officer": 403,
        "owner": 403,
        "no token": 401,
    }
    still = client.get(f"{API}/applications/{application['id']}", headers=officer).json()
    assert still["status"] == "submitted"
    assert still["screening"] is None


@pytest.mark.parametrize(("eligible", "status"), [(True, "under_review"), (False, "ineligible")])
def test_the_applicant_sees_the_decision_but_never_the_staff_notes(
    client: TestClient, factory: Factory, eligible: bool, status: str
) -> None:
    _, officer = factory.login(Role.program_officer)
    call = factory.call()
    owner = applicant(factory)
    application = submitted(client, call.id, owner)
    assert screen(client, application["id"], officer, eligible=eligible, notes=NOTES).is_success

    seen = client.get(f"{API}/applications/{application['id']}", headers=owner.headers)
    listed = client.get(f"{API}/applications", headers=owner.headers)

    assert seen.status_code == 200, seen.text
    assert seen.json()["status"] == status
    assert "screening" not in seen.json()
    assert NOTES not in seen.text
    assert listed.json()["items"][0]["status"] == status
    assert "screening" not in listed.json()["items"][0]
    assert NOTES not in listed.text
    staff_view = client.get(f"{API}/applications/{application['id']}", headers=officer).json()
    assert staff_view["screening"]["notes"] == NOTES
    assert staff_view["screening"]["eligible"] is eligible
