"""The failed sign-in throttle (SPEC §3): 5 failures for one account within 15 minutes
answer 429 with Retry-After until the window has passed; counted in the database."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.models import LoginFailure, Role
from app.models.base import utcnow
from tests.foundation.api import audit_events, register, sign_in
from tests.support.factories import Factory

WRONG = "not-the-password"


def _fail(client: TestClient, email: str, times: int) -> None:
    for _ in range(times):
        assert sign_in(client, email, WRONG).status_code == 401


def _move_failures_back(db, delta: timedelta) -> None:
    with db.transaction() as session:
        for failure in session.scalars(select(LoginFailure)):
            failure.failed_at -= delta


def _set_failures(db, email: str, minutes_ago: list[float]) -> None:
    now = utcnow()
    with db.transaction() as session:
        session.add_all(
            LoginFailure(email=email, failed_at=now - timedelta(minutes=m)) for m in minutes_ago
        )


def test_four_failures_do_not_block_the_right_password(client):
    register(client, "nadia@ngo.example.org")
    _fail(client, "nadia@ngo.example.org", 4)

    assert sign_in(client, "nadia@ngo.example.org").status_code == 200


def test_the_fifth_failure_is_still_401_and_the_sixth_attempt_is_429(client):
    register(client, "nadia@ngo.example.org")
    _fail(client, "nadia@ngo.example.org", 5)

    response = sign_in(client, "nadia@ngo.example.org", WRONG)

    assert response.status_code == 429
    assert response.json()["code"] == "login_throttled"


def test_a_throttled_account_is_refused_even_with_the_right_password(client):
    register(client, "nadia@ngo.example.org")
    _fail(client, "nadia@ngo.example.org", 5)

    response = sign_in(client, "nadia@ngo.example.org")

    assert response.status_code == 429
    assert "access_token" not in response.json()
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit()
    # The five failures happened just now, so the window ends at most 15 minutes from now.
    assert 0 < int(retry_after) <= 900
    assert int(retry_after) > 890


def test_retry_after_counts_down_to_the_end_of_the_window(client, db):
    register(client, "nadia@ngo.example.org")
    _set_failures(db, "nadia@ngo.example.org", [10, 10, 10, 10, 10])

    response = sign_in(client, "nadia@ngo.example.org")

    assert response.status_code == 429
    # Failures 10 minutes old leave 5 of the 15 minutes: 300 seconds, less the test's own time.
    assert 295 <= int(response.headers["Retry-After"]) <= 300


def test_retry_after_waits_until_fewer_than_five_failures_remain_in_the_window(client, db):
    register(client, "nadia@ngo.example.org")
    # Six failures: the oldest expires in 1 minute, leaving five, still a block; the block
    # lifts when the second oldest (13 minutes old) expires, 2 minutes from now.
    _set_failures(db, "nadia@ngo.example.org", [14, 13, 12, 11, 10, 9])

    response = sign_in(client, "nadia@ngo.example.org")

    assert response.status_code == 429
    assert 115 <= int(response.headers["Retry-After"]) <= 120


def test_failures_older_than_the_window_do_not_count(client, db):
    register(client, "nadia@ngo.example.org")
    _set_failures(db, "nadia@ngo.example.org", [16, 16, 16, 16, 16, 16, 16])

    assert sign_in(client, "nadia@ngo.example.org").status_code == 200


def test_sign_in_works_again_once_the_window_has_passed(client, db):
    register(client, "nadia@ngo.example.org")
    _fail(client, "nadia@ngo.example.org", 5)
    assert sign_in(client, "nadia@ngo.example.org").status_code == 429

    _move_failures_back(db, timedelta(minutes=15, seconds=1))

    assert sign_in(client, "nadia@ngo.example.org").status_code == 200


def test_attempts_while_throttled_do_not_extend_the_block(client, db):
    register(client, "nadia@ngo.example.org")
    _fail(client, "nadia@ngo.example.org", 5)
    for _ in range(3):
        assert sign_in(client, "nadia@ngo.example.org", WRONG).status_code == 429

    _move_failures_back(db, timedelta(minutes=15, seconds=1))

    assert sign_in(client, "nadia@ngo.example.org").status_code == 200


def test_another_account_is_unaffected_by_a_throttled_one(client):
    register(client, "nadia@ngo.example.org")
    register(client, "rosa@ngo.example.org")
    _fail(client, "nadia@ngo.example.org", 5)

    assert sign_in(client, "rosa@ngo.example.org", WRONG).status_code == 401
    assert sign_in(client, "rosa@ngo.example.org").status_code == 200
    assert sign_in(client, "nadia@ngo.example.org").status_code == 429


def test_failures_count_for_the_account_whatever_the_email_case(client):
    register(client, "nadia@ngo.example.org")
    for email in ["Nadia@ngo.example.org", "NADIA@NGO.EXAMPLE.ORG", " nadia@ngo.example.org"]:
        assert sign_in(client, email, WRONG).status_code == 401
    _fail(client, "nadia@ngo.example.org", 2)

    assert sign_in(client, "nadia@ngo.example.org").status_code == 429


def test_a_throttled_attempt_is_audited(client, factory):
    _, admin = factory.login(Role.admin)
    user = register(client, "nadia@ngo.example.org")
    _fail(client, "nadia@ngo.example.org", 5)

    retry_after = int(sign_in(client, "nadia@ngo.example.org").headers["Retry-After"])

    throttled = audit_events(client, admin, action="auth.login_throttled")
    assert len(throttled) == 1
    assert throttled[0]["entity_id"] == user["id"]
    assert throttled[0]["actor"] == "nadia@ngo.example.org"
    assert throttled[0]["data"] == {"retry_after": retry_after}
    assert len(audit_events(client, admin, action="auth.login_failed")) == 5


@pytest.mark.slow
def test_the_throttle_holds_across_separate_app_instances(
    committed_app_factory, committed_factory: Factory
):
    committed_factory.user(
        Role.program_officer,
        email="officer@donor.example.org",
        password="officer-password-1",
    )
    with (
        TestClient(committed_app_factory(), raise_server_exceptions=False) as worker_a,
        TestClient(committed_app_factory(), raise_server_exceptions=False) as worker_b,
    ):
        _fail(worker_a, "officer@donor.example.org", 3)
        _fail(worker_b, "officer@donor.example.org", 2)

        on_a = sign_in(worker_a, "officer@donor.example.org", "officer-password-1")
        on_b = sign_in(worker_b, "officer@donor.example.org", "officer-password-1")

    assert on_a.status_code == 429
    assert on_b.status_code == 429
    assert 0 < int(on_b.headers["Retry-After"]) <= 900


@pytest.mark.slow
def test_concurrent_wrong_passwords_get_exactly_five_401s(
    committed_app_factory, committed_factory: Factory
):
    committed_factory.user(Role.reviewer, email="rosa@donor.example.org")
    attempts = 12
    start = threading.Barrier(attempts)
    apps = [committed_app_factory(), committed_app_factory()]

    def attempt(n: int) -> int:
        with TestClient(apps[n % 2], raise_server_exceptions=False) as client:
            start.wait()
            return sign_in(client, "rosa@donor.example.org", WRONG).status_code

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = sorted(pool.map(attempt, range(attempts)))

    assert statuses == [401] * 5 + [429] * 7
