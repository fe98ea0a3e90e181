"""The audit log's time filters at the edge of the calendar: 422, not a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.models import Role
from tests.support.factories import Factory


@pytest.mark.parametrize(
    ("name", "moment"),
    [("from", "0001-01-01T00:00:00+05:00"), ("to", "9999-12-31T23:59:59-05:00")],
)
def test_a_time_filter_outside_the_representable_range_is_422(
    client: TestClient, factory: Factory, name: str, moment: str
) -> None:
    _, admin = factory.login(Role.admin)

    response = client.get("/api/v1/audit", params={name: moment}, headers=admin)

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", name]


def test_the_widest_representable_range_is_a_valid_filter(
    client: TestClient, factory: Factory
) -> None:
    _, admin = factory.login(Role.admin)
    created = client.post(
        "/api/v1/users",
        json={
            "email": "carlos@donor.example.org",
            "password": "a long enough passphrase",
            "full_name": "Carlos Mendoza",
            "role": "reviewer",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text

    response = client.get(
        "/api/v1/audit",
        params={
            "from": "0001-01-02T00:00:00Z",
            "to": "9999-12-30T23:59:59Z",
            "entity_id": created.json()["id"],
        },
        headers=admin,
    )

    assert response.status_code == 200, response.text
    assert [e["action"] for e in response.json()["items"]] == ["user.created"]
