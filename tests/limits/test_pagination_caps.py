"""Every list route caps `?limit=` (SPEC §3: default 50, max 200, more is 422).

The routes are read from the app's own OpenAPI schema, so a list route added later is checked
without anyone remembering to add it here.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.models import Role
from tests.support.factories import Factory

MAX_LIMIT = 200  # SPEC §3
PAGE_FIELDS = {"items", "total", "limit", "offset"}


def operations_with(app: FastAPI, parameter: str) -> list[tuple[str, str]]:
    """(method, path) of every operation that takes the query parameter."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            names = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
            if (parameter, "query") in names:
                found.append((method, path))
    return found


def paginated_operations(app: FastAPI) -> list[tuple[str, str]]:
    """Operations whose 200 answer is a page `{items, total, limit, offset}`."""
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("responses", {}).get("200", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            schema = schemas.get(ref.rsplit("/", 1)[-1], {})
            if set(schema.get("properties", {})) >= PAGE_FIELDS:
                found.append((method, path))
    return found


def concrete(path: str) -> str:
    """Path parameters filled with ids that exist nowhere (visibility comes after 422)."""
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


@pytest.fixture
def every_role(factory: Factory) -> dict[Role, dict[str, str]]:
    return {role: factory.login(role)[1] for role in Role}


def allowed_headers(
    client: TestClient, method: str, path: str, every_role: dict[Role, dict[str, str]]
) -> dict[str, str]:
    """A role that gets past authentication and role checks on this route."""
    for headers in every_role.values():
        response = client.request(method, path, params={"limit": MAX_LIMIT}, headers=headers)
        if response.status_code not in (401, 403):
            return headers
    pytest.fail(f"no role may use {method.upper()} {path}")


def limit_error(response: Any) -> bool:
    return response.status_code == 422 and any(
        e["loc"] == ["query", "limit"] for e in response.json()["detail"]
    )


def test_the_schema_lists_the_list_routes(app: FastAPI) -> None:
    # A guard against a vacuous pass: the generated lists must hold the known list routes.
    limited = operations_with(app, "limit")
    assert ("get", "/api/v1/calls") in limited
    assert ("get", "/api/v1/awards") in limited
    assert len(limited) >= 9


def test_every_paginated_response_takes_a_capped_limit(app: FastAPI) -> None:
    paginated = paginated_operations(app)
    assert paginated, "no paginated operation found in the schema"
    limited = set(operations_with(app, "limit"))
    assert set(paginated) <= limited
    for method, path in limited:
        [parameter] = [
            p for p in app.openapi()["paths"][path][method]["parameters"] if p["name"] == "limit"
        ]
        assert parameter["schema"]["maximum"] == MAX_LIMIT, (method, path)


def test_a_limit_over_the_cap_is_422_on_every_list_route(
    app: FastAPI, client: TestClient, every_role: dict[Role, dict[str, str]]
) -> None:
    for method, template in operations_with(app, "limit"):
        path = concrete(template)
        headers = allowed_headers(client, method, path, every_role)

        at_cap = client.request(method, path, params={"limit": MAX_LIMIT}, headers=headers)
        over = client.request(method, path, params={"limit": MAX_LIMIT + 1}, headers=headers)
        huge = client.request(method, path, params={"limit": "9" * 40}, headers=headers)

        assert not limit_error(at_cap), (template, at_cap.text)
        assert at_cap.status_code < 500, (template, at_cap.text)
        assert limit_error(over), (template, over.status_code, over.text)
        assert limit_error(huge), (template, huge.status_code, huge.text)


def test_a_zero_or_negative_limit_and_an_offset_past_the_cap_are_422(
    app: FastAPI, client: TestClient, every_role: dict[Role, dict[str, str]]
) -> None:
    for method, template in operations_with(app, "limit"):
        path = concrete(template)
        headers = allowed_headers(client, method, path, every_role)
        for limit in (0, -1):
            response = client.request(method, path, params={"limit": limit}, headers=headers)
            assert limit_error(response), (template, limit, response.text)
    offsets = operations_with(app, "offset")
    assert offsets
    for method, template in offsets:
        path = concrete(template)
        headers = allowed_headers(client, method, path, every_role)
        response = client.request(method, path, params={"offset": 10**7 + 1}, headers=headers)
        assert response.status_code == 422, (template, response.text)
        assert any(e["loc"] == ["query", "offset"] for e in response.json()["detail"])
