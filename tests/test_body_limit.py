"""JSON bodies are capped (MAX_JSON_BODY_KB); uploads have their own per-type limits."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

LIMIT = 1024 * 1024  # the default MAX_JSON_BODY_KB of 1024


def test_declared_body_over_the_cap_is_413_before_reading(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/register",
        content=b"{" + b" " * LIMIT + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_chunked_body_over_the_cap_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):  # 40 x 64 KiB = 2.5 MiB, over the 1 MiB cap
            yield b" " * 65536

    response = client.post(
        "/api/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_body_under_the_cap_reaches_validation(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/register",
        content=b'{"email": "x"}' + b" " * 1000,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
