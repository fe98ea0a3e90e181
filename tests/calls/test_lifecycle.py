"""Call status: publish and close, the deadline computed on read, who sees drafts, listing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from app.models import Role
from app.models.base import utcnow
from tests.applications.helpers import complete_body, set_call_window
from tests.support.factories import Factory

CALLS = "/api/v1/calls"


def test_a_draft_is_published_then_closed_and_each_transition_happens_once(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.program_officer)
    call = factory.call(publish=False)

    published = client.post(f"{CALLS}/{call.id}/publish", headers=headers)
    published_again = client.post(f"{CALLS}/{call.id}/publish", headers=headers)
    closed = client.post(f"{CALLS}/{call.id}/close", headers=headers)
    closed_again = client.post(f"{CALLS}/{call.id}/close", headers=headers)
    republished = client.post(f"{CALLS}/{call.id}/publish", headers=headers)

    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.json()["published_at"] is not None
    assert published.json()["is_open"] is True
    assert published_again.status_code == 409
    assert published_again.json()["code"] == "invalid_state"
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_at"] is not None
    assert closed.json()["is_open"] is False
    assert closed_again.status_code == 409
    assert republished.status_code == 409
    assert client.get(f"{CALLS}/{call.id}", headers=headers).json()["status"] == "closed"


def test_a_draft_cannot_be_closed(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.program_officer)
    call = factory.call(publish=False)

    response = client.post(f"{CALLS}/{call.id}/close", headers=headers)

    assert response.status_code == 409
    assert client.get(f"{CALLS}/{call.id}", headers=headers).json()["status"] == "draft"


def test_a_draft_whose_deadline_has_passed_cannot_be_published(
    client: TestClient, factory: Factory, db: Database
) -> None:
    _, headers = factory.login(Role.program_officer)
    call = factory.call(publish=False)
    now = utcnow()
    set_call_window(
        db, call.id, opens_at=now - timedelta(days=10), closes_at=now - timedelta(days=1)
    )

    response = client.post(f"{CALLS}/{call.id}/publish", headers=headers)

    assert response.status_code == 409
    assert response.json()["code"] == "deadline_passed"


@pytest.mark.parametrize("role", [Role.applicant, Role.reviewer, Role.finance_officer])
def test_transitions_are_refused_to_roles_that_do_not_manage_calls(
    client: TestClient, factory: Factory, role: Role
) -> None:
    _, headers = factory.login(role)
    call = factory.call(publish=True)

    assert client.post(f"{CALLS}/{call.id}/close", headers=headers).status_code == 403
    assert client.post(f"{CALLS}/{call.id}/publish", headers=headers).status_code == 403


def test_a_published_call_reads_closed_once_its_deadline_has_passed(
    client: TestClient, factory: Factory, db: Database
) -> None:
    _, officer = factory.login(Role.program_officer)
    _, applicant = factory.login(Role.applicant)
    call = factory.call(publish=True)
    now = utcnow()
    set_call_window(
        db, call.id, opens_at=now - timedelta(days=10), closes_at=now - timedelta(seconds=1)
    )

    seen = client.get(f"{CALLS}/{call.id}", headers=applicant).json()
    listed = client.get(CALLS, params={"status": "closed"}, headers=officer).json()
    applying = client.post(
        f"{CALLS}/{call.id}/applications", json=complete_body(), headers=applicant
    )

    assert seen["status"] == "closed"
    assert seen["is_open"] is False
    assert seen["closed_at"] is None  # nobody closed it: the deadline did
    assert [c["id"] for c in listed["items"]] == [str(call.id)]
    assert applying.status_code == 409
    assert applying.json()["code"] == "call_not_open"


@pytest.mark.parametrize("role", [Role.applicant, Role.reviewer, Role.finance_officer])
def test_drafts_are_invisible_to_applicants_reviewers_and_finance(
    client: TestClient, factory: Factory, role: Role
) -> None:
    _, headers = factory.login(role)
    draft = factory.call(publish=False, title="Still a draft")
    published = factory.call(publish=True, title="Open call")

    single = client.get(f"{CALLS}/{draft.id}", headers=headers)
    listed = client.get(CALLS, headers=headers).json()
    filtered = client.get(CALLS, params={"status": "draft"}, headers=headers).json()

    assert single.status_code == 404
    assert single.json()["code"] == "not_found"
    assert [c["id"] for c in listed["items"]] == [str(published.id)]
    assert listed["total"] == 1
    assert filtered == {"items": [], "total": 0, "limit": 50, "offset": 0}


@pytest.mark.parametrize("role", [Role.program_officer, Role.admin])
def test_drafts_are_visible_to_program_officers_and_admins(
    client: TestClient, factory: Factory, role: Role
) -> None:
    _, headers = factory.login(role)
    draft = factory.call(publish=False)

    single = client.get(f"{CALLS}/{draft.id}", headers=headers)
    listed = client.get(CALLS, headers=headers).json()

    assert single.status_code == 200
    assert single.json()["status"] == "draft"
    assert [c["id"] for c in listed["items"]] == [str(draft.id)]


def test_list_filters_by_effective_status(
    client: TestClient, factory: Factory, db: Database
) -> None:
    _, headers = factory.login(Role.program_officer)
    draft = factory.call(publish=False)
    open_call = factory.call(publish=True)
    closed_by_hand = factory.call(publish=True)
    past_deadline = factory.call(publish=True)
    assert client.post(f"{CALLS}/{closed_by_hand.id}/close", headers=headers).status_code == 200
    now = utcnow()
    set_call_window(
        db, past_deadline.id, opens_at=now - timedelta(days=9), closes_at=now - timedelta(days=2)
    )

    def ids(**params: str) -> set[str]:
        body = client.get(CALLS, params=params, headers=headers).json()
        assert body["total"] == len(body["items"])
        return {c["id"] for c in body["items"]}

    assert ids(status="draft") == {str(draft.id)}
    assert ids(status="published") == {str(open_call.id)}
    assert ids(status="closed") == {str(closed_by_hand.id), str(past_deadline.id)}
    assert ids() == {str(c.id) for c in (draft, open_call, closed_by_hand, past_deadline)}
    assert client.get(CALLS, params={"status": "archived"}, headers=headers).status_code == 422


def test_list_is_paginated_with_limit_and_offset(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.program_officer)
    created = {str(factory.call(publish=True).id) for _ in range(3)}

    first = client.get(CALLS, params={"limit": 2}, headers=headers).json()
    second = client.get(CALLS, params={"limit": 2, "offset": 2}, headers=headers).json()

    assert (first["total"], first["limit"], first["offset"], len(first["items"])) == (3, 2, 0, 2)
    assert (second["total"], second["limit"], second["offset"], len(second["items"])) == (
        3,
        2,
        2,
        1,
    )
    assert {c["id"] for c in first["items"] + second["items"]} == created


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 200}, 200),
        ({"limit": 201}, 422),
        ({"limit": 0}, 422),
        ({"offset": -1}, 422),
    ],
)
def test_list_limit_is_capped_at_200(
    client: TestClient, factory: Factory, params: dict[str, int], status: int
) -> None:
    _, headers = factory.login(Role.program_officer)

    assert client.get(CALLS, params=params, headers=headers).status_code == status


def test_a_malformed_call_id_is_404(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.program_officer)

    response = client.get(f"{CALLS}/not-a-uuid", headers=headers)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_reading_calls_without_a_token_is_401(client: TestClient, factory: Factory) -> None:
    call = factory.call(publish=True)

    assert client.get(CALLS).status_code == 401
    assert client.get(f"{CALLS}/{call.id}").status_code == 401
