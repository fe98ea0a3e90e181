"""Structured logs: one access line per request, and the request id on every line emitted while
a request is handled (worker threads and errors included), also sent back as X-Request-ID."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Role
from app.observability.logs import JsonFormatter, RequestContextFilter, TextFormatter
from app.storage import LocalStorage, Storage
from tests.foundation.api import registration
from tests.support.factories import Factory

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger writing through the service's filter and JSON formatter into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The test client's own library logs each request it sends, outside the server's handling.
    client_logger = logging.getLogger("httpx")
    previous_client_level = client_logger.level
    client_logger.setLevel(logging.WARNING)
    yield stream
    client_logger.setLevel(previous_client_level)
    root.removeHandler(handler)
    root.setLevel(previous_level)


@pytest.fixture
def lines(captured: io.StringIO) -> Lines:
    """Every line logged since the last call, parsed (each must be one JSON object)."""

    def read() -> list[dict[str, Any]]:
        text = captured.getvalue()
        captured.seek(0)
        captured.truncate()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    return read


@pytest.fixture
def app_with_faults(
    settings: Settings, db: Database, storage: Storage, tmp_path: Path
) -> Iterator[TestClient]:
    """The app with a tight registration limit and a route that fails as a bug would."""
    app: FastAPI = create_app(
        settings.model_copy(update={"registration_max_per_hour": 1}), database=db, storage=storage
    )

    def explode() -> None:
        logging.getLogger("app.test").info("about to fail")
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/explode", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def access_lines(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["logger"] == "app.access"]


def test_one_access_line_per_request_with_route_template_status_duration_and_user(
    client: TestClient, factory: Factory, lines: Lines
) -> None:
    user, headers = factory.login(Role.program_officer)
    lines()
    unknown = "0b7e3a52-4a4b-4c1e-9a55-3f3d1f0c9e11"

    response = client.get(f"/api/v1/calls/{unknown}", headers=headers)

    [access] = access_lines(lines())
    assert response.status_code == 404
    assert access["method"] == "GET"
    assert access["route"] == "/api/v1/calls/{id}"
    assert access["path"] == f"/api/v1/calls/{unknown}"
    assert access["status"] == 404
    assert isinstance(access["duration_ms"], float)
    assert access["duration_ms"] >= 0
    assert access["user_id"] == str(user.id)
    assert access["request_id"] == response.headers["X-Request-ID"]
    assert access["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", access["time"])


def test_an_anonymous_request_has_no_user(client: TestClient, lines: Lines) -> None:
    lines()
    client.get("/healthz")
    [access] = access_lines(lines())
    assert access["user_id"] is None
    assert access["route"] == "/healthz"


def test_every_line_of_a_throttled_request_carries_its_id(
    app_with_faults: TestClient, lines: Lines
) -> None:
    assert app_with_faults.post("/api/v1/auth/register", json=registration()).status_code == 201
    lines()

    refused = app_with_faults.post("/api/v1/auth/register", json=registration())

    entries = lines()
    assert refused.status_code == 429
    # The refusal is logged by the service, in a worker thread; then the access line.
    assert [e["logger"] for e in entries] == ["app.auth.registration_limit", "app.access"]
    assert {e["request_id"] for e in entries} == {refused.headers["X-Request-ID"]}


def test_every_line_of_a_failing_request_carries_its_id_including_the_error(
    app_with_faults: TestClient, lines: Lines
) -> None:
    lines()

    response = app_with_faults.get("/api/v1/explode")

    entries = lines()
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal error.", "code": "internal_error"}
    request_id = response.headers["X-Request-ID"]
    assert [e["logger"] for e in entries] == ["app.test", "app.errors", "app.access"]
    assert all(e["request_id"] == request_id for e in entries)
    error = entries[1]
    assert error["level"] == "ERROR"
    assert "RuntimeError: a bug" in error["exception"]
    assert entries[2]["status"] == 500


def test_each_request_gets_its_own_id(client: TestClient, lines: Lines) -> None:
    lines()
    ids = [client.get("/healthz").headers["X-Request-ID"] for _ in range(3)]

    assert len(set(ids)) == 3
    assert [e["request_id"] for e in access_lines(lines())] == ids


def test_a_readiness_failure_is_logged_with_the_request_id(
    settings: Settings, db: Database, tmp_path: Path, lines: Lines
) -> None:
    root = tmp_path / "documents"
    storage = LocalStorage(root)
    shutil.rmtree(root)
    root.write_text("a file where the documents folder should be")
    app = create_app(settings, database=db, storage=storage)
    with TestClient(app, raise_server_exceptions=False) as client:
        lines()
        response = client.get("/readyz")

    entries = lines()
    assert response.status_code == 503
    assert [e["logger"] for e in entries] == ["app.health", "app.access"]
    assert entries[0]["level"] == "WARNING"
    assert {e["request_id"] for e in entries} == {response.headers["X-Request-ID"]}


@pytest.mark.parametrize(
    "incoming",
    [
        "3f2b8c1e-8d4a-4c2e-9b7a-1d2e3f4a5b6c",
        "0af7651916cd43dd8448eb211c80319c",
        "Root=1-67891233-abcdef012345678912345678",
        "req.42:frontend",
    ],
)
def test_a_well_formed_incoming_request_id_is_kept(
    client: TestClient, lines: Lines, incoming: str
) -> None:
    lines()
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert response.headers["X-Request-ID"] == incoming
    assert access_lines(lines())[0]["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "",
        "two words",
        'quote"injection',
        "x" * 129,
        "-leading-dash",
        "line\\nbreak",
        "ünïcode",
    ],
)
def test_a_malformed_incoming_request_id_is_replaced(
    client: TestClient, lines: Lines, incoming: str
) -> None:
    lines()
    response = client.get("/healthz", headers={"X-Request-ID": incoming.encode("utf-8")})

    replaced = response.headers["X-Request-ID"]
    assert replaced != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert access_lines(lines())[0]["request_id"] == replaced


def test_lines_outside_a_request_have_no_request_id(lines: Lines) -> None:
    lines()
    logging.getLogger("app.test").warning("no request here")
    [entry] = lines()
    assert entry["request_id"] is None
    assert entry["message"] == "no request here"


def test_the_text_format_shows_the_request_id(client: TestClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    handler.addFilter(RequestContextFilter())
    access = logging.getLogger("app.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        response = client.get("/healthz")
    finally:
        access.removeHandler(handler)
        access.setLevel(logging.NOTSET)
    line = stream.getvalue().strip()
    assert re.fullmatch(
        r"\S+Z INFO app\.access \[" + response.headers["X-Request-ID"] + r"\] GET /healthz 200 "
        r"\d+\.\dms",
        line,
    ), line
