"""Withdrawing applications, and listing them with filters and per-organisation visibility."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx import Response

from app.models import Role
from tests.applications.helpers import API, create_application, submitted_application
from tests.support.factories import Factory


def _withdraw(client: TestClient, application_id: str, headers: dict[str, str]) -> Response:
    return client.post(f"{API}/applications/{application_id}/withdraw", headers=headers)


def test_a_draft_is_withdrawn_once(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    application = create_application(client, call.id, headers)

    first = _withdraw(client, application["id"], headers)
    second = _withdraw(client, application["id"], headers)

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "withdrawn"
    assert first.json()["withdrawn_at"] is not None
    assert second.status_code == 409
    assert second.json()["code"] == "invalid_state"


def test_a_submitted_application_is_withdrawn(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    application = submitted_application(client, call.id, headers)

    response = _withdraw(client, application["id"], headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "withdrawn"
    assert response.json()["submitted_at"] == application["submitted_at"]
    assert _withdraw(client, application["id"], headers).status_code == 409


def test_a_withdrawn_application_cannot_be_edited_or_submitted(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    application = create_application(client, call.id, headers)
    assert _withdraw(client, application["id"], headers).status_code == 200

    patched = client.patch(
        f"{API}/applications/{application['id']}", json={"title": "Revived"}, headers=headers
    )

    assert patched.status_code == 409


def test_listing_filters_by_call_and_status(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)
    first_call = factory.call(publish=True)
    second_call = factory.call(publish=True)
    submitted = submitted_application(client, first_call.id, headers)
    draft = create_application(client, second_call.id, headers)

    def ids(**params: str) -> list[str]:
        body = client.get(f"{API}/applications", params=params, headers=headers).json()
        assert body["total"] == len(body["items"])
        return sorted(a["id"] for a in body["items"])

    assert ids() == sorted([submitted["id"], draft["id"]])
    assert ids(call_id=str(first_call.id)) == [submitted["id"]]
    assert ids(call_id=str(second_call.id)) == [draft["id"]]
    assert ids(status="submitted") == [submitted["id"]]
    assert ids(status="draft") == [draft["id"]]
    assert ids(call_id=str(first_call.id), status="draft") == []
    assert (
        client.get(f"{API}/applications", params={"status": "lost"}, headers=headers).status_code
        == 422
    )
    assert (
        client.get(f"{API}/applications", params={"limit": 201}, headers=headers).status_code == 422
    )


def test_applicants_list_only_their_own_organisations_applications(
    client: TestClient, factory: Factory
) -> None:
    organization = factory.organization()
    _, mine = factory.login(Role.applicant, organization=organization)
    _, colleague = factory.login(Role.applicant, organization=organization)
    _, other = factory.login(Role.applicant)
    call = factory.call(publish=True)
    second_call = factory.call(publish=True)
    own_submitted = submitted_application(client, call.id, mine)
    own_draft = create_application(client, second_call.id, colleague)
    others = create_application(client, call.id, other)

    listed = client.get(f"{API}/applications", headers=mine).json()
    listed_by_other = client.get(f"{API}/applications", headers=other).json()

    assert sorted(a["id"] for a in listed["items"]) == sorted(
        [own_submitted["id"], own_draft["id"]]
    )
    assert listed["total"] == 2
    assert [a["id"] for a in listed_by_other["items"]] == [others["id"]]
    assert listed_by_other["total"] == 1
    filtered = client.get(f"{API}/applications", params={"call_id": str(call.id)}, headers=other)
    assert [a["id"] for a in filtered.json()["items"]] == [others["id"]]
