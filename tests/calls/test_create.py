"""POST /api/v1/calls: what a valid call looks like, and every way a call body is refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.models import Role
from tests.support.factories import Factory, call_payload

CALLS = "/api/v1/calls"


def _rubric(*criteria: tuple[str, Any, Any]) -> dict[str, Any]:
    return {
        "criteria": [
            {"key": key, "label": key.title(), "weight": weight, "max_score": max_score}
            for key, weight, max_score in criteria
        ]
    }


def _error_locs(response: Any) -> list[tuple[Any, ...]]:
    return [tuple(error["loc"]) for error in response.json()["detail"]]


def test_program_officer_creates_a_draft_call_with_money_as_two_decimal_strings(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.program_officer)

    response = client.post(CALLS, json=call_payload(), headers=headers)

    assert response.status_code == 201, response.text
    call = response.json()
    assert call["status"] == "draft"
    assert call["envelope_amount"] == "1000000.00"
    assert call["min_award"] == "50000.00"
    assert call["max_award"] == "400000.00"
    assert call["currency"] == "USD"
    assert call["timezone"] == "America/Lima"
    assert call["terms_frozen"] is False
    assert call["published_at"] is None
    assert [(c["key"], c["weight"], c["max_score"]) for c in call["rubric"]["criteria"]] == [
        ("approach", 60, 10),
        ("capacity", 40, 5),
    ]
    fetched = client.get(f"{CALLS}/{call['id']}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.json()["title"] == "Child protection grants"


def test_admin_may_create_a_call(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.admin)

    response = client.post(CALLS, json=call_payload(), headers=headers)

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "draft"


def test_money_sent_as_a_whole_integer_is_accepted_and_returned_with_two_decimals(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.program_officer)

    response = client.post(
        CALLS,
        json=call_payload(envelope_amount=1000000, min_award=50000, max_award=400000),
        headers=headers,
    )

    assert response.status_code == 201, response.text
    assert response.json()["envelope_amount"] == "1000000.00"
    assert response.json()["min_award"] == "50000.00"


def test_decimal_weights_summing_to_exactly_100_are_accepted(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.program_officer)
    # 33.33 + 33.33 + 33.34 = 100.00
    rubric = _rubric(("a", "33.33", 10), ("b", "33.33", 10), ("c", "33.34", 10))

    response = client.post(CALLS, json=call_payload(rubric=rubric), headers=headers)

    assert response.status_code == 201, response.text
    assert [c["weight"] for c in response.json()["rubric"]["criteria"]] == [33.33, 33.33, 33.34]


@pytest.mark.parametrize(
    ("overrides", "loc_prefix"),
    [
        # 60 + 30 = 90, not 100
        ({"rubric": _rubric(("approach", 60, 10), ("capacity", 30, 5))}, ("body", "rubric")),
        # sums to 100 but one weight is 0
        ({"rubric": _rubric(("approach", 100, 10), ("capacity", 0, 5))}, ("body", "rubric")),
        # 110 + (-10) = 100, but a weight is negative
        ({"rubric": _rubric(("approach", 110, 10), ("capacity", -10, 5))}, ("body", "rubric")),
        ({"rubric": _rubric(("approach", 60, 10), ("approach", 40, 5))}, ("body", "rubric")),
        ({"rubric": _rubric(("approach", 60, 0), ("capacity", 40, 5))}, ("body", "rubric")),
        ({"rubric": _rubric(("approach", 60, -1), ("capacity", 40, 5))}, ("body", "rubric")),
        ({"min_award": "500000.00", "max_award": "400000.00"}, ("body",)),
        ({"max_award": "2000000.00"}, ("body",)),
        ({"min_award": "0"}, ("body",)),
        ({"min_award": "0.00"}, ("body",)),
        (
            {"opens_at": "2030-01-10T00:00:00+00:00", "closes_at": "2030-01-10T00:00:00+00:00"},
            ("body",),
        ),
        (
            {"opens_at": "2030-01-10T00:00:00+00:00", "closes_at": "2030-01-09T00:00:00+00:00"},
            ("body",),
        ),
        # the same instant written in two zones: 05:00 in Lima is 10:00 UTC
        (
            {"opens_at": "2030-01-10T10:00:00+00:00", "closes_at": "2030-01-10T05:00:00-05:00"},
            ("body",),
        ),
        ({"opens_at": "2030-01-10T00:00:00"}, ("body", "opens_at")),
        ({"closes_at": "2030-02-10T00:00:00"}, ("body", "closes_at")),
        ({"timezone": "Mars/Olympus"}, ("body", "timezone")),
        ({"currency": "XYZ"}, ("body", "currency")),
        ({"colour": "blue"}, ("body", "colour")),
    ],
    ids=[
        "weights-sum-90",
        "zero-weight",
        "negative-weight",
        "duplicate-criterion-keys",
        "max-score-zero",
        "max-score-negative",
        "min-above-max",
        "max-above-envelope",
        "min-award-zero",
        "min-award-zero-point-zero-zero",
        "closes-equal-opens",
        "closes-before-opens",
        "closes-before-opens-across-zones",
        "naive-opens-at",
        "naive-closes-at",
        "unknown-timezone",
        "unknown-currency",
        "unknown-field",
    ],
)
def test_invalid_call_bodies_are_refused_with_422(
    client: TestClient,
    factory: Factory,
    overrides: dict[str, Any],
    loc_prefix: tuple[str, ...],
) -> None:
    _, headers = factory.login(Role.program_officer)

    response = client.post(CALLS, json=call_payload(**overrides), headers=headers)

    assert response.status_code == 422, response.text
    assert any(loc[: len(loc_prefix)] == loc_prefix for loc in _error_locs(response))
    listed = client.get(CALLS, headers=headers).json()
    assert listed["total"] == 0


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(1000.5, id="float"),
        pytest.param(1000000.0, id="whole-float"),
        pytest.param("1e6", id="exponent"),
        pytest.param("-5", id="negative"),
        pytest.param("-5.00", id="negative-decimal"),
        pytest.param("+5", id="plus-sign"),
        pytest.param("NaN", id="nan"),
        pytest.param("Infinity", id="infinity"),
        pytest.param("10.123", id="three-decimals"),
        pytest.param(" 10.00", id="leading-space"),
        pytest.param("1000\n", id="trailing-newline"),
        pytest.param(True, id="boolean"),
        pytest.param(None, id="null"),
        pytest.param("\uff11\uff10\uff10\uff10", id="full-width-digits"),  # "1000"
        pytest.param("\u0661\u0662\u0663", id="arabic-indic-digits"),  # "123"
    ],
)
def test_money_that_is_not_a_plain_decimal_string_or_integer_is_422(
    client: TestClient, factory: Factory, amount: Any
) -> None:
    _, headers = factory.login(Role.program_officer)

    response = client.post(CALLS, json=call_payload(envelope_amount=amount), headers=headers)

    assert response.status_code == 422, response.text
    assert ("body", "envelope_amount") in _error_locs(response)


def test_money_with_more_than_thirteen_whole_digits_is_422(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.program_officer)

    # 14 digits: one more than ^\d{1,13}
    response = client.post(
        CALLS, json=call_payload(envelope_amount=10_000_000_000_000), headers=headers
    )

    assert response.status_code == 422, response.text
    assert ("body", "envelope_amount") in _error_locs(response)


def test_an_iana_timezone_is_accepted_and_utc_is_the_default(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.program_officer)
    without_zone = call_payload()
    del without_zone["timezone"]

    lima = client.post(CALLS, json=call_payload(timezone="America/Lima"), headers=headers)
    default = client.post(CALLS, json=without_zone, headers=headers)

    assert lima.status_code == 201, lima.text
    assert lima.json()["timezone"] == "America/Lima"
    assert default.status_code == 201, default.text
    assert default.json()["timezone"] == "UTC"


@pytest.mark.parametrize("role", [Role.applicant, Role.reviewer, Role.finance_officer])
def test_roles_that_do_not_manage_calls_get_403_on_create(
    client: TestClient, factory: Factory, role: Role
) -> None:
    _, headers = factory.login(role)

    response = client.post(CALLS, json=call_payload(), headers=headers)

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden_role"


def test_creating_a_call_without_a_token_is_401(client: TestClient) -> None:
    response = client.post(CALLS, json=call_payload())

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_role_is_checked_before_the_body_is_validated(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)

    response = client.post(CALLS, json={"title": "x"}, headers=headers)

    assert response.status_code == 403
