"""Races on a committed database, through the HTTP API with real threads: no limit is ever
exceeded and an idempotency key pays once, however many requests arrive together.

Ten app instances stand for ten worker processes (each has its own engine and connection
pool); the racing requests are spread over them and released together by a barrier.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from app.models import Application, ApplicationStatus, Award, Disbursement, Role
from tests.awards.helpers import (
    API,
    allocation,
    approved,
    assert_reconciles,
    award,
    awarded,
    cents,
    count,
    disbursement_body,
    get_award,
    milestone_of,
    person,
    under_review,
)

pytestmark = pytest.mark.slow

WORKERS = 10

Request = Callable[[TestClient], Response]


def race(make_app: Callable[..., FastAPI], requests: list[Request]) -> tuple[list[Response], float]:
    """Run every request at once, spread over WORKERS app instances; (responses, seconds)."""
    barrier = threading.Barrier(len(requests))
    with ExitStack() as stack:
        clients = [
            stack.enter_context(TestClient(make_app(), raise_server_exceptions=False))
            for _ in range(WORKERS)
        ]

        def run(i: int) -> Response:
            barrier.wait(timeout=60)
            return requests[i](clients[i % WORKERS])

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            responses = list(pool.map(run, range(len(requests))))
        return responses, time.perf_counter() - started


def _report(name: str, backend: str, responses: list[Response], seconds: float) -> None:
    statuses = Counter(r.status_code for r in responses)
    print(f"\n[{backend}] {name}: {dict(sorted(statuses.items()))} in {seconds:.2f} s")


def test_fifty_simultaneous_payments_never_overdraw_a_milestone(
    backend, committed_app_factory, committed_factory, committed_db
):
    officer = person(committed_factory, Role.program_officer)
    finance = person(committed_factory, Role.finance_officer)
    call = committed_factory.call()
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        granted = awarded(
            client,
            committed_factory,
            call.id,
            officer.headers,
            "50000.00",
            ["1000.00", "49000.00"],
        )
        approved(client, granted.milestone(1), granted.applicant, officer.headers)

    def pay(client: TestClient) -> Response:
        return client.post(
            f"{API}/awards/{granted.id}/disbursements",
            json=disbursement_body(granted.milestone(1), "30.00"),
            headers={**finance.headers, "Idempotency-Key": uuid.uuid4().hex},
        )

    responses, seconds = race(committed_app_factory, [pay] * 50)
    _report("50 payments of 30.00 on a 1000.00 milestone", backend, responses, seconds)

    # 33 * 30.00 = 990.00 fits in 1000.00; a 34th would make 1020.00.
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 33, 409: 17}, [r.text for r in responses if r.status_code >= 500]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"exceeds_remaining"}
    paid = sum(cents(r.json()["amount"]) for r in responses if r.status_code == 201)
    assert paid == 99000  # 33 * 3000 cents
    with committed_db.transaction(read_only=True) as session:
        rows = session.scalar(
            select(func.sum(Disbursement.amount)).where(
                Disbursement.milestone_id == uuid.UUID(granted.milestone(1))
            )
        )
    assert rows == 99000
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        milestone = milestone_of(
            get_award(client, granted.id, finance.headers), granted.milestone(1)
        )
        # 1000.00 - 990.00 = 10.00 remains, less than one more payment of 30.00.
        assert (milestone["disbursed"], milestone["remaining"], milestone["status"]) == (
            "990.00",
            "10.00",
            "approved",
        )
        assert_reconciles(client, call.id, finance.headers)


def test_officers_racing_for_the_last_of_the_envelope_get_exactly_one_award(
    backend, committed_app_factory, committed_factory, committed_db
):
    officers = [person(committed_factory, Role.program_officer) for _ in range(5)]
    finance = person(committed_factory, Role.finance_officer)
    call = committed_factory.call(envelope_amount="400000.00")
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        awarded(client, committed_factory, call.id, officers[0].headers, "300000.00")
        # 400000.00 - 300000.00 = 100000.00 remains: room for one award of 60000.00, not two.
        contenders = [
            under_review(
                client,
                call.id,
                committed_factory.login(Role.applicant)[1],
                officers[0].headers,
                requested_amount="60000.00",
            )
            for _ in officers
        ]

    def deciding(officer, application) -> Request:
        return lambda client: award(client, application["id"], officer.headers, "60000.00")

    responses, seconds = race(
        committed_app_factory,
        [deciding(o, a) for o, a in zip(officers, contenders, strict=True)],
    )
    _report("5 awards of 60000.00 for 100000.00 left", backend, responses, seconds)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 4}, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"envelope_exceeded"}
    assert count(committed_db, Award) == 2
    with committed_db.transaction(read_only=True) as session:
        waiting = session.scalar(
            select(func.count())
            .select_from(Application)
            .where(Application.status == ApplicationStatus.under_review)
        )
    assert waiting == 4
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        figures = allocation(client, call.id, finance.headers)
        # 300000.00 + 60000.00 = 360000.00; 400000.00 - 360000.00 = 40000.00.
        assert (figures["awarded"], figures["uncommitted"]) == ("360000.00", "40000.00")
        assert_reconciles(client, call.id, finance.headers)


def test_twenty_simultaneous_retries_of_one_key_pay_once(
    backend, committed_app_factory, committed_factory, committed_db
):
    officer = person(committed_factory, Role.program_officer)
    finance = person(committed_factory, Role.finance_officer)
    call = committed_factory.call()
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        granted = awarded(client, committed_factory, call.id, officer.headers, "50000.00")
        approved(client, granted.milestone(1), granted.applicant, officer.headers)
    body = disbursement_body(granted.milestone(1), "1234.56", reference="TRF-RETRY")
    headers = {**finance.headers, "Idempotency-Key": "one-payment-many-retries"}

    def retry(client: TestClient) -> Response:
        return client.post(f"{API}/awards/{granted.id}/disbursements", json=body, headers=headers)

    responses, seconds = race(committed_app_factory, [retry] * 20)
    _report("20 retries of one key", backend, responses, seconds)

    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    assert count(committed_db, Disbursement) == 1
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        assert get_award(client, granted.id, finance.headers)["disbursed"] == "1234.56"
        assert_reconciles(client, call.id, finance.headers)
