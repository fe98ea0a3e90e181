"""Every pooled database connection taken: requests wait a bounded time, then answer 503.

What a database that stops answering (or a burst larger than the pool) looks like to the app:
no connection comes free within the pool timeout. That must be a clean 503, like a database
that refuses connections, never a 500 and never an endless wait.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.pool import QueuePool

from app.config import Settings
from app.db import Database, build_engine
from app.main import create_app
from app.models import Role
from app.storage import Storage
from tests.support.factories import Factory

# The pool limits and timeout under test are the PostgreSQL engine's (app/db.py).
pytestmark = [pytest.mark.slow, pytest.mark.postgres]

POOL_SIZE = 1  # build_engine allows as many again in overflow


def test_a_request_that_finds_no_free_connection_answers_503_after_the_pool_timeout(
    committed_db: Database, committed_factory: Factory, settings: Settings, storage: Storage
) -> None:
    _, headers = committed_factory.login(Role.finance_officer)
    engine = build_engine(committed_db.engine.url.render_as_string(False), pool_size=POOL_SIZE)
    app = create_app(settings, database=Database(engine), storage=storage)
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    timeout = pool.timeout()
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            held = [engine.connect() for _ in range(2 * POOL_SIZE)]
            try:
                started = time.monotonic()
                starved = client.get("/api/v1/users/me", headers=headers)
                waited = time.monotonic() - started
                ready = client.get("/readyz")
            finally:
                for connection in held:
                    connection.close()
            freed = client.get("/api/v1/users/me", headers=headers)
    finally:
        engine.dispose()

    assert starved.status_code == 503, starved.text
    assert starved.json() == {
        "detail": "The database is unavailable; try again shortly.",
        "code": "database_unavailable",
    }
    assert starved.headers["Retry-After"] == "5"
    assert timeout <= waited < timeout + 5
    assert ready.status_code == 503
    assert ready.json()["database"] == "unavailable"
    assert freed.status_code == 200
