"""The self-registration limit: REGISTRATION_MAX_PER_HOUR attempts per client address, then
429 with Retry-After; counted in the database, so it holds across workers. The client address
is the socket peer unless the peer is a trusted proxy (TRUSTED_PROXIES)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database, build_engine
from app.main import create_app
from app.models import RegistrationAttempt, User
from app.models.base import utcnow
from app.storage import LocalStorage, Storage
from tests.foundation.api import registration

REGISTER = "/api/v1/auth/register"
HOUR = 3600
PEER = ("198.51.100.7", 40000)
OTHER_PEER = ("198.51.100.8", 40000)
PROXY = ("10.0.0.5", 40000)

ClientMaker = Callable[..., TestClient]


def limited_settings(settings: Settings, per_hour: int, trusted_proxies: str = "") -> Settings:
    return settings.model_copy(
        update={"registration_max_per_hour": per_hour, "trusted_proxies": trusted_proxies}
    )


@pytest.fixture
def clients(db: Database, storage: Storage, settings: Settings) -> Iterator[ClientMaker]:
    """Clients of an app with a low limit, on the test's rolled-back database."""
    made: list[TestClient] = []

    def make(
        per_hour: int = 3, trusted_proxies: str = "", peer: tuple[str, int] = PEER
    ) -> TestClient:
        app = create_app(
            limited_settings(settings, per_hour, trusted_proxies), database=db, storage=storage
        )
        client = TestClient(app, raise_server_exceptions=False, client=peer)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def register(client: TestClient, email: str | None = None, **headers: str):
    return client.post(REGISTER, json=registration(email), headers=headers)


def accounts(db: Database) -> int:
    with db.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def add_attempts(db: Database, client_ip: str, minutes_ago: list[float]) -> None:
    now = utcnow()
    with db.transaction() as session:
        session.add_all(
            RegistrationAttempt(client_ip=client_ip, attempted_at=now - timedelta(minutes=m))
            for m in minutes_ago
        )


def test_the_limit_admits_that_many_then_answers_429_with_retry_after(clients, db):
    client = clients(per_hour=3)
    assert [register(client).status_code for _ in range(3)] == [201, 201, 201]

    refused = register(client)

    assert refused.status_code == 429
    assert refused.json()["code"] == "registration_throttled"
    # The three attempts were made just now: the first leaves the hour in just under 3600 s.
    assert HOUR - 30 <= int(refused.headers["Retry-After"]) <= HOUR
    assert accounts(db) == 3


def test_the_default_is_ten_per_hour(db, storage, settings):
    default = Settings.model_fields["registration_max_per_hour"].default
    assert default == 10
    app = create_app(limited_settings(settings, default), database=db, storage=storage)
    with TestClient(app, raise_server_exceptions=False, client=PEER) as client:
        statuses = [register(client).status_code for _ in range(11)]
    assert statuses == [201] * 10 + [429]


def test_retry_after_counts_down_to_when_the_oldest_counted_attempt_expires(clients, db):
    add_attempts(db, PEER[0], [50, 40, 30])

    refused = register(clients(per_hour=3))

    assert refused.status_code == 429
    # The oldest of the three, 50 minutes old, leaves the hour in 10 minutes.
    assert 590 <= int(refused.headers["Retry-After"]) <= 600


def test_attempts_older_than_an_hour_do_not_count(clients, db):
    add_attempts(db, PEER[0], [61, 70, 120, 600])

    assert register(clients(per_hour=3)).status_code == 201


def test_an_email_already_taken_counts_as_an_attempt(clients):
    client = clients(per_hour=3)
    assert register(client, "taken@ngo.example.org").status_code == 201
    assert register(client, "taken@ngo.example.org").status_code == 409
    assert register(client, "taken@ngo.example.org").status_code == 409

    assert register(client).status_code == 429


def test_an_invalid_body_does_not_count(clients):
    client = clients(per_hour=2)
    for _ in range(5):
        assert client.post(REGISTER, json={"email": "nope"}).status_code == 422

    assert [register(client).status_code for _ in range(3)] == [201, 201, 429]


def test_refused_attempts_do_not_extend_the_block(clients, db):
    add_attempts(db, PEER[0], [59.9, 10, 5])
    client = clients(per_hour=3)
    for _ in range(4):
        assert register(client).status_code == 429

    with db.transaction(read_only=True) as session:
        counted = session.scalar(select(func.count()).select_from(RegistrationAttempt))
    assert counted == 3


def test_another_address_has_its_own_allowance(clients):
    first = clients(per_hour=2, peer=PEER)
    second = clients(per_hour=2, peer=OTHER_PEER)
    assert [register(first).status_code for _ in range(3)] == [201, 201, 429]

    assert register(second).status_code == 201


def test_x_forwarded_for_is_ignored_without_trusted_proxies(clients):
    client = clients(per_hour=2)
    statuses = [
        register(client, **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(3)
    ]

    assert statuses == [201, 201, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance(clients):
    proxy = clients(per_hour=2, trusted_proxies="10.0.0.0/8", peer=PROXY)
    alice = {"X-Forwarded-For": "203.0.113.1"}
    bob = {"X-Forwarded-For": "203.0.113.2"}

    assert [register(proxy, **alice).status_code for _ in range(3)] == [201, 201, 429]
    assert register(proxy, **bob).status_code == 201


def test_a_client_cannot_escape_by_prepending_its_own_forwarded_for(clients):
    # The proxy appends the address it saw; what the client wrote sits to the left of it.
    proxy = clients(per_hour=2, trusted_proxies="10.0.0.0/8", peer=PROXY)
    statuses = [
        register(proxy, **{"X-Forwarded-For": f"192.0.2.{n}, 203.0.113.9"}).status_code
        for n in range(3)
    ]

    assert statuses == [201, 201, 429]


def test_an_untrusted_peer_cannot_forward_for_someone_else(clients):
    stranger = clients(per_hour=2, trusted_proxies="10.0.0.0/8", peer=PEER)
    statuses = [
        register(stranger, **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(3)
    ]

    assert statuses == [201, 201, 429]


# --- across processes: the committed tier ---------------------------------------------------


@pytest.fixture
def committed_clients(
    committed_db: Database, settings: Settings, tmp_path: Path
) -> Iterator[Callable[[int], FastAPI]]:
    """Apps on the committed database, each with its own engine, like separate workers."""
    databases: list[Database] = []

    def make(per_hour: int) -> FastAPI:
        database = Database(build_engine(committed_db.engine.url.render_as_string(False)))
        databases.append(database)
        return create_app(
            limited_settings(settings, per_hour),
            database=database,
            storage=LocalStorage(tmp_path / "documents"),
        )

    yield make
    for database in databases:
        database.engine.dispose()


@pytest.mark.slow
def test_the_limit_holds_across_separate_app_instances(committed_clients):
    with (
        TestClient(committed_clients(4), raise_server_exceptions=False, client=PEER) as a,
        TestClient(committed_clients(4), raise_server_exceptions=False, client=PEER) as b,
    ):
        assert [register(a).status_code for _ in range(2)] == [201, 201]
        assert [register(b).status_code for _ in range(2)] == [201, 201]

        on_a, on_b = register(a), register(b)

    assert (on_a.status_code, on_b.status_code) == (429, 429)
    assert 0 < int(on_b.headers["Retry-After"]) <= HOUR


@pytest.mark.slow
def test_concurrent_registrations_from_one_address_admit_exactly_the_limit(
    committed_clients, committed_db
):
    attempts, limit = 10, 4
    apps = [committed_clients(limit), committed_clients(limit)]
    start = threading.Barrier(attempts)

    def attempt(n: int) -> int:
        with TestClient(apps[n % 2], raise_server_exceptions=False, client=PEER) as client:
            start.wait()
            return register(client, f"racer{n}@ngo.example.org").status_code

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = sorted(pool.map(attempt, range(attempts)))

    assert statuses == [201] * limit + [429] * (attempts - limit)
    assert accounts(committed_db) == limit
