"""Drafting an application: creation, references, one per organisation, field validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.models import Role
from tests.applications.helpers import API, complete_body, create_application
from tests.support.factories import Factory


def _year() -> int:
    return datetime.now(UTC).year


def test_an_applicant_creates_a_draft_with_a_reference_and_the_calls_currency(
    client: TestClient, factory: Factory
) -> None:
    applicant, headers = factory.login(Role.applicant)
    call = factory.call(publish=True, currency="PEN")

    response = client.post(
        f"{API}/calls/{call.id}/applications", json=complete_body(), headers=headers
    )

    assert response.status_code == 201, response.text
    application = response.json()
    assert re.fullmatch(r"APP-\d{4}-\d{4}", application["reference"])
    assert application["status"] == "draft"
    assert application["currency"] == "PEN"
    assert application["call_id"] == str(call.id)
    assert application["organization_id"] == str(applicant.organization_id)
    assert application["submitted_at"] is None
    assert application["requested_amount"] == "100000.00"
    assert application["regions"] == [
        {"code": "lima", "share_pct": 60},
        {"code": "cusco", "share_pct": 40},
    ]
    assert [line["amount"] for line in application["budget"]] == ["60000.00", "40000.00"]
    fetched = client.get(f"{API}/applications/{application['id']}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.json()["reference"] == application["reference"]


def test_a_draft_may_start_with_only_a_title(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)

    response = client.post(
        f"{API}/calls/{call.id}/applications", json={"title": "Early idea"}, headers=headers
    )

    assert response.status_code == 201, response.text
    assert response.json()["requested_amount"] is None
    assert response.json()["objectives"] == []
    assert response.json()["cost_share"] is None


def test_references_are_sequential_within_the_year(client: TestClient, factory: Factory) -> None:
    _, first_org = factory.login(Role.applicant)
    _, second_org = factory.login(Role.applicant)
    call = factory.call(publish=True)
    other_call = factory.call(publish=True)

    first = create_application(client, call.id, first_org)
    second = create_application(client, call.id, second_org)
    third = create_application(client, other_call.id, first_org)

    year = _year()
    assert first["reference"] == f"APP-{year}-0001"
    assert second["reference"] == f"APP-{year}-0002"
    assert third["reference"] == f"APP-{year}-0003"  # the sequence is per year, not per call


def test_one_live_application_per_organisation_and_call(
    client: TestClient, factory: Factory
) -> None:
    organization = factory.organization()
    _, colleague_a = factory.login(Role.applicant, organization=organization)
    _, colleague_b = factory.login(Role.applicant, organization=organization)
    call = factory.call(publish=True)
    first = create_application(client, call.id, colleague_a)

    duplicate = client.post(
        f"{API}/calls/{call.id}/applications", json=complete_body(), headers=colleague_b
    )

    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["code"] == "duplicate_application"
    assert first["reference"] in duplicate.json()["detail"]


def test_an_organisation_may_apply_again_after_withdrawing(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    first = create_application(client, call.id, headers)
    withdrawn = client.post(f"{API}/applications/{first['id']}/withdraw", headers=headers)
    assert withdrawn.status_code == 200, withdrawn.text

    again = client.post(
        f"{API}/calls/{call.id}/applications", json=complete_body(), headers=headers
    )

    assert again.status_code == 201, again.text
    assert again.json()["id"] != first["id"]
    assert again.json()["reference"] != first["reference"]
    assert again.json()["status"] == "draft"


def test_different_organisations_may_each_apply_to_the_same_call(
    client: TestClient, factory: Factory
) -> None:
    _, first_org = factory.login(Role.applicant)
    _, second_org = factory.login(Role.applicant)
    call = factory.call(publish=True)

    first = create_application(client, call.id, first_org)
    second = create_application(client, call.id, second_org)

    assert first["organization_id"] != second["organization_id"]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"regions": [{"code": "arequipa", "share_pct": 100}]}, "unknown_code"),
        ({"objectives": ["education"]}, "unknown_code"),
        ({"objectives": ["protection", "education"]}, "unknown_code"),
    ],
    ids=["unknown-region", "unknown-objective", "one-unknown-objective"],
)
def test_codes_that_the_call_does_not_have_are_422(
    client: TestClient, factory: Factory, overrides: dict[str, Any], code: str
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)

    response = client.post(
        f"{API}/calls/{call.id}/applications", json=complete_body(**overrides), headers=headers
    )

    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert client.get(f"{API}/applications", headers=headers).json()["total"] == 0


@pytest.mark.parametrize(
    "overrides",
    [
        # 50 + 40 = 90
        {"regions": [{"code": "lima", "share_pct": 50}, {"code": "cusco", "share_pct": 40}]},
        # 60 + 50 = 110
        {"regions": [{"code": "lima", "share_pct": 60}, {"code": "cusco", "share_pct": 50}]},
        # 33.33 + 33.33 + 33.33 = 99.99
        {
            "regions": [
                {"code": "lima", "share_pct": "33.33"},
                {"code": "cusco", "share_pct": "33.33"},
                {"code": "loreto", "share_pct": "33.33"},
            ]
        },
        {"regions": [{"code": "lima", "share_pct": 50}, {"code": "lima", "share_pct": 50}]},
        {"regions": [{"code": "lima", "share_pct": 100}, {"code": "cusco", "share_pct": 0}]},
        {"regions": [{"code": "lima", "share_pct": "100.001"}]},
        {"objectives": ["protection", "protection"]},
        {"cost_share": {"amount": "1000.00", "currency": "XYZ"}},
        {"cost_share": {"amount": 1000.5, "currency": "PEN"}},
        {"requested_amount": "-100.00"},
        {"requested_amount": "100000.001"},
        {"budget": [{"category": "personnel", "amount": "1e5"}]},
        {"duration_months": 0},
        {"organization_id": "00000000-0000-0000-0000-000000000001"},
        {"status": "submitted"},
    ],
    ids=[
        "shares-sum-90",
        "shares-sum-110",
        "shares-sum-99.99",
        "repeated-region",
        "zero-share",
        "three-decimal-share",
        "repeated-objective",
        "cost-share-unknown-currency",
        "cost-share-float",
        "negative-request",
        "three-decimal-request",
        "exponent-budget-line",
        "zero-duration",
        "organization-id-not-accepted",
        "status-not-accepted",
    ],
)
def test_invalid_application_bodies_are_422(
    client: TestClient, factory: Factory, overrides: dict[str, Any]
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)

    response = client.post(
        f"{API}/calls/{call.id}/applications", json=complete_body(**overrides), headers=headers
    )

    assert response.status_code == 422, response.text
    assert client.get(f"{API}/applications", headers=headers).json()["total"] == 0


def test_decimal_region_shares_summing_to_100_are_accepted(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    # 33.33 + 33.33 + 33.34 = 100.00
    regions = [
        {"code": "lima", "share_pct": "33.33"},
        {"code": "cusco", "share_pct": 33.33},
        {"code": "loreto", "share_pct": "33.34"},
    ]

    application = create_application(client, call.id, headers, regions=regions)

    assert application["regions"] == [
        {"code": "lima", "share_pct": 33.33},
        {"code": "cusco", "share_pct": 33.33},
        {"code": "loreto", "share_pct": 33.34},
    ]


def test_budget_lines_and_a_cost_share_in_soles_are_accepted(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True, currency="PEN")
    budget = [
        {"category": "personnel", "description": "Psicólogos", "amount": "250000.50"},
        {"category": "travel", "amount": 49999},
    ]

    application = create_application(
        client,
        call.id,
        headers,
        requested_amount="299999.50",  # 250000.50 + 49999.00
        budget=budget,
        cost_share={"amount": "8000000.00", "currency": "PEN"},
    )

    assert application["currency"] == "PEN"
    assert application["budget"] == [
        {"category": "personnel", "description": "Psicólogos", "amount": "250000.50"},
        {"category": "travel", "description": "", "amount": "49999.00"},
    ]
    assert application["cost_share"] == {"amount": "8000000.00", "currency": "PEN"}


def test_a_cost_share_may_be_in_another_currency_than_the_call(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True, currency="USD")

    application = create_application(
        client, call.id, headers, cost_share={"amount": 8000000, "currency": "PEN"}
    )

    assert application["currency"] == "USD"
    assert application["cost_share"] == {"amount": "8000000.00", "currency": "PEN"}


def test_a_draft_is_edited_with_patch(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    application = create_application(client, call.id, headers)

    response = client.patch(
        f"{API}/applications/{application['id']}",
        json={"title": "Revised title", "regions": [{"code": "loreto", "share_pct": 100}]},
        headers=headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Revised title"
    assert response.json()["regions"] == [{"code": "loreto", "share_pct": 100}]
    assert response.json()["summary"] == complete_body()["summary"]  # untouched fields stay


def test_a_patch_with_an_unknown_region_is_422_and_changes_nothing(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    application = create_application(client, call.id, headers)

    response = client.patch(
        f"{API}/applications/{application['id']}",
        json={"title": "Changed", "regions": [{"code": "arequipa", "share_pct": 100}]},
        headers=headers,
    )

    assert response.status_code == 422
    stored = client.get(f"{API}/applications/{application['id']}", headers=headers).json()
    assert stored["title"] == application["title"]


def test_applying_to_a_draft_call_is_404(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=False)

    response = client.post(
        f"{API}/calls/{call.id}/applications", json=complete_body(), headers=headers
    )

    assert response.status_code == 404


def test_applying_to_a_call_closed_by_hand_is_409(client: TestClient, factory: Factory) -> None:
    _, officer = factory.login(Role.program_officer)
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    assert client.post(f"{API}/calls/{call.id}/close", headers=officer).status_code == 200

    response = client.post(
        f"{API}/calls/{call.id}/applications", json=complete_body(), headers=headers
    )

    assert response.status_code == 409
    assert response.json()["code"] == "call_not_open"


@pytest.mark.parametrize(
    "role", [Role.program_officer, Role.admin, Role.reviewer, Role.finance_officer]
)
def test_only_applicants_create_applications(
    client: TestClient, factory: Factory, role: Role
) -> None:
    _, headers = factory.login(role)
    call = factory.call(publish=True)

    response = client.post(
        f"{API}/calls/{call.id}/applications", json=complete_body(), headers=headers
    )

    assert response.status_code == 403
