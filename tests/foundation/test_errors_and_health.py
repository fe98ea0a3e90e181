"""Error bodies and the health probes (SPEC §3)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.db import Database, build_engine
from app.main import create_app
from app.storage import LocalStorage
from tests.foundation.api import registration


def test_an_unknown_route_is_404_with_detail_and_code(client):
    response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}


def test_a_route_outside_the_api_is_404_with_detail_and_code(client):
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert set(response.json()) == {"detail", "code"}


def test_a_wrong_method_is_405_with_detail_and_code(client):
    response = client.delete("/api/v1/users/me")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert isinstance(response.json()["detail"], str)


def test_a_malformed_json_body_is_422_in_fastapis_shape(client):
    response = client.post(
        "/api/v1/auth/register",
        content=b'{"email": "a@b.org", "password": ',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid"


def test_a_json_body_that_is_not_an_object_is_422(client):
    response = client.post("/api/v1/auth/register", json=["not", "an", "object"])

    assert response.status_code == 422


def test_a_validation_error_lists_the_offending_field(client):
    response = client.post("/api/v1/auth/register", json=registration(email="not-an-email"))

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "email"]]


def test_healthz_is_200(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_database_and_storage_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok"}


def test_readyz_is_503_when_the_storage_root_is_unusable(db, settings, tmp_path):
    root = tmp_path / "documents"
    storage = LocalStorage(root)
    shutil.rmtree(root)
    root.write_bytes(b"a regular file where the storage folder was")

    with TestClient(create_app(settings, database=db, storage=storage)) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "storage": "unavailable"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def unreachable_database() -> Iterator[Database]:
    engine = build_engine(f"postgresql+psycopg://grants@127.0.0.1:{_closed_port()}/grants")
    yield Database(engine)
    engine.dispose()


def test_readyz_is_503_when_the_database_is_unreachable(unreachable_database, settings, storage):
    app = create_app(settings, database=unreachable_database, storage=storage)

    with TestClient(app, raise_server_exceptions=False) as client:
        healthz, readyz = client.get("/healthz"), client.get("/readyz")

    assert healthz.status_code == 200
    assert readyz.status_code == 503
    assert readyz.json() == {"status": "unavailable", "database": "unavailable", "storage": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/api/v1/auth/register", {"json": registration()}),
        ("post", "/api/v1/auth/token", {"data": {"username": "a@b.org", "password": "x" * 12}}),
    ],
)
def test_requests_while_the_database_is_unreachable_are_503_not_500(
    unreachable_database, settings, storage, method, path, kwargs
):
    app = create_app(settings, database=unreachable_database, storage=storage)

    with TestClient(app, raise_server_exceptions=False) as client:
        response = getattr(client, method)(path, **kwargs)

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["Retry-After"].isdigit()
