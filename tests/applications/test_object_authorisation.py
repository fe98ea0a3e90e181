"""Object-level authorisation: another organisation's data answers 404 on every route, staff
roles get 403 for applicant-only actions, and a malformed id is just an unknown id."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.models import Role
from tests.applications.helpers import API, create_application, upload_pdf
from tests.support.factories import Factory
from tests.support.uploads import pdf_bytes, upload_files

Route = Callable[[TestClient, str, str, dict[str, str]], Response]

# Every application and document route, called with (application id, document id).
ROUTES: dict[str, Route] = {
    "GET application": lambda c, a, d, h: c.get(f"{API}/applications/{a}", headers=h),
    "PATCH application": lambda c, a, d, h: c.patch(
        f"{API}/applications/{a}", json={"title": "Hijacked"}, headers=h
    ),
    "POST submit": lambda c, a, d, h: c.post(f"{API}/applications/{a}/submit", headers=h),
    "POST withdraw": lambda c, a, d, h: c.post(f"{API}/applications/{a}/withdraw", headers=h),
    "GET documents": lambda c, a, d, h: c.get(f"{API}/applications/{a}/documents", headers=h),
    "POST documents": lambda c, a, d, h: c.post(
        f"{API}/applications/{a}/documents",
        files=upload_files("proposal", pdf_bytes(), "planted.pdf"),
        headers=h,
    ),
    "GET content": lambda c, a, d, h: c.get(f"{API}/documents/{d}/content", headers=h),
    "DELETE document": lambda c, a, d, h: c.delete(f"{API}/documents/{d}", headers=h),
}
APPLICANT_ONLY = [
    "PATCH application",
    "POST submit",
    "POST withdraw",
    "POST documents",
    "DELETE document",
]


@pytest.fixture
def owned(client: TestClient, factory: Factory) -> tuple[dict, dict, dict[str, str]]:
    """A complete draft (submit or withdraw would succeed) with one document, and its owner."""
    _, owner = factory.login(Role.applicant)
    call = factory.call(publish=True)
    application = create_application(client, call.id, owner)
    uploaded = upload_pdf(client, application["id"], owner)
    assert uploaded.status_code == 201, uploaded.text
    return application, uploaded.json(), owner


def test_another_organisations_applicant_gets_404_on_every_route_and_changes_nothing(
    client: TestClient, factory: Factory, owned: tuple[dict, dict, dict[str, str]]
) -> None:
    application, document, owner = owned
    _, intruder = factory.login(Role.applicant)
    # The intruder applies to the same call: being a fellow applicant grants nothing.
    create_application(client, application["call_id"], intruder)
    before = client.get(f"{API}/applications/{application['id']}", headers=owner).json()

    answers = {
        name: route(client, application["id"], document["id"], intruder).status_code
        for name, route in ROUTES.items()
    }

    assert answers == dict.fromkeys(ROUTES, 404)
    after = client.get(f"{API}/applications/{application['id']}", headers=owner).json()
    assert after == before
    assert (after["status"], after["title"]) == ("draft", application["title"])
    documents = client.get(f"{API}/applications/{application['id']}/documents", headers=owner)
    assert [d["id"] for d in documents.json()] == [document["id"]]
    content = client.get(f"{API}/documents/{document['id']}/content", headers=owner)
    assert content.status_code == 200
    assert content.content == pdf_bytes()


def test_the_intruders_own_listing_does_not_include_the_application(
    client: TestClient, factory: Factory, owned: tuple[dict, dict, dict[str, str]]
) -> None:
    application, _, _ = owned
    _, intruder = factory.login(Role.applicant)

    listed = client.get(
        f"{API}/applications", params={"call_id": application["call_id"]}, headers=intruder
    ).json()

    assert listed == {"items": [], "total": 0, "limit": 50, "offset": 0}


@pytest.mark.parametrize(
    "role", [Role.program_officer, Role.admin, Role.reviewer, Role.finance_officer]
)
def test_staff_roles_get_403_for_applicant_actions(
    client: TestClient, factory: Factory, owned: tuple[dict, dict, dict[str, str]], role: Role
) -> None:
    application, document, owner = owned
    _, staff = factory.login(role)
    before = client.get(f"{API}/applications/{application['id']}", headers=owner).json()

    answers = {
        name: ROUTES[name](client, application["id"], document["id"], staff).status_code
        for name in APPLICANT_ONLY
    }

    assert answers == dict.fromkeys(APPLICANT_ONLY, 403)
    after = client.get(f"{API}/applications/{application['id']}", headers=owner).json()
    assert after == before
    assert (after["status"], after["title"]) == ("draft", application["title"])


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        "123",
        "00000000-0000-0000-0000-000000000000",
        "x" * 65,
        "a" * 300,
    ],
)
def test_a_malformed_or_unknown_id_is_404_on_every_route(
    client: TestClient, factory: Factory, bad_id: str
) -> None:
    _, headers = factory.login(Role.applicant)

    answers = {
        name: route(client, bad_id, bad_id, headers).status_code for name, route in ROUTES.items()
    }

    assert answers == dict.fromkeys(ROUTES, 404)


def test_every_route_needs_a_token(
    client: TestClient, owned: tuple[dict, dict, dict[str, str]]
) -> None:
    application, document, _ = owned

    answers = {
        name: route(client, application["id"], document["id"], {}).status_code
        for name, route in ROUTES.items()
    }

    assert answers == dict.fromkeys(ROUTES, 401)
