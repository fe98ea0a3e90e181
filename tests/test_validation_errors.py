"""Validation errors keep FastAPI's 422 shape, whatever the input, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_infinite_and_nan_numbers_are_a_422_not_a_500(client: TestClient) -> None:
    # Python's JSON parser reads 1e400 as infinity and accepts NaN; neither can be echoed back
    # as JSON, so a naive handler fails while writing the error.
    response = client.post(
        "/api/v1/auth/register",
        content=b'{"email": 1e400, "password": NaN, "full_name": "x", "organization": {}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e for e in response.json()["detail"]}
    assert errors[("body", "email")]["input"] == "inf"
    assert errors[("body", "password")]["input"] == "nan"


def test_validation_errors_keep_fastapi_shape(client: TestClient) -> None:
    response = client.post("/api/v1/auth/register", json={"email": "not-an-email"})
    assert response.status_code == 422
    locations = [tuple(e["loc"]) for e in response.json()["detail"]]
    assert ("body", "email") in locations
    assert ("body", "password") in locations
