"""A call's window must be an instant every time zone can show: the calendar's very edges
(which overflow when converted to UTC or to the call's zone) are a 422, not a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.models import Role
from tests.support.factories import Factory, call_payload

CALLS = "/api/v1/calls"


@pytest.mark.parametrize(
    ("field", "moment"),
    [
        # Year 1 east of Greenwich is still year 0 in UTC.
        ("opens_at", "0001-01-01T00:00:00+05:00"),
        # 31 December 9999 west of Greenwich is already year 10000 in UTC.
        ("closes_at", "9999-12-31T23:59:59-05:00"),
        # Representable in UTC, but not in America/Lima, the call's zone.
        ("opens_at", "0001-01-01T00:00:00+00:00"),
    ],
)
def test_a_window_at_the_edge_of_the_calendar_is_refused_on_create_and_update(
    client: TestClient, factory: Factory, field: str, moment: str
) -> None:
    _, officer = factory.login(Role.program_officer)
    draft = factory.call(publish=False)

    created = client.post(CALLS, json=call_payload(**{field: moment}), headers=officer)
    updated = client.patch(f"{CALLS}/{draft.id}", json={field: moment}, headers=officer)

    for response in (created, updated):
        assert response.status_code == 422, response.text
        assert [e["loc"] for e in response.json()["detail"]] == [["body", field]]


def test_a_window_a_day_inside_the_calendar_is_accepted_and_exported(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    body = call_payload(
        opens_at="0001-01-02T00:00:00Z", closes_at="9999-12-30T23:59:59Z", timezone="Etc/GMT-14"
    )

    created = client.post(CALLS, json=body, headers=officer)
    assert created.status_code == 201, created.text
    call_id = created.json()["id"]
    assert client.post(f"{CALLS}/{call_id}/publish", headers=officer).status_code == 200
    exported = client.get("/api/v1/reports/iati", params={"call_id": call_id}, headers=officer)

    assert exported.status_code == 200
    assert exported.text.rstrip().endswith("</iati-activities>")
