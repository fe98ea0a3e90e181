"""Races on a committed database: simultaneous applications through separate app instances."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from app.models import Role
from tests.applications.helpers import API, complete_body
from tests.support.factories import Factory

pytestmark = pytest.mark.slow


def _apply_at_once(
    make_app: Callable[..., FastAPI], call_id: str, headers: list[dict[str, str]]
) -> list[Response]:
    """One app instance (own engine, like a worker process) and one thread per request,
    all released together by a barrier."""
    barrier = threading.Barrier(len(headers))
    with ExitStack() as stack:
        clients = [
            stack.enter_context(TestClient(make_app(), raise_server_exceptions=False))
            for _ in headers
        ]

        def apply(i: int) -> Response:
            barrier.wait(timeout=30)
            return clients[i].post(
                f"{API}/calls/{call_id}/applications", json=complete_body(), headers=headers[i]
            )

        with ThreadPoolExecutor(max_workers=len(headers)) as pool:
            return list(pool.map(apply, range(len(headers))))


def test_ten_organisations_applying_at_once_get_references_0001_to_0010(
    committed_app_factory: Callable[..., FastAPI], committed_factory: Factory
) -> None:
    call = committed_factory.call(publish=True)
    headers = [committed_factory.login(Role.applicant)[1] for _ in range(10)]

    responses = _apply_at_once(committed_app_factory, str(call.id), headers)

    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    year = datetime.now(UTC).year
    references = [r.json()["reference"] for r in responses]
    assert sorted(references) == [f"APP-{year}-{n:04d}" for n in range(1, 11)]
    assert len({r.json()["organization_id"] for r in responses}) == 10


def test_one_organisation_racing_itself_gets_exactly_one_application(
    committed_app_factory: Callable[..., FastAPI], committed_factory: Factory
) -> None:
    call = committed_factory.call(publish=True)
    organization = committed_factory.organization()
    headers = [
        committed_factory.login(Role.applicant, organization=organization)[1] for _ in range(5)
    ]

    responses = _apply_at_once(committed_app_factory, str(call.id), headers)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409], [r.text for r in responses]
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        listed = client.get(f"{API}/applications", headers=headers[0]).json()
    assert listed["total"] == 1
    created = next(r.json() for r in responses if r.status_code == 201)
    assert listed["items"][0]["id"] == created["id"]
