"""The seeded world the security tests start from, and a rollback around each test.

The world is built once per module in a database of its own, inside an outer transaction;
each test runs inside a savepoint that is rolled back, so every test (every cell of the
authorisation matrix, every fuzzed operation) starts from exactly the same data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from app.db import Database, build_engine
from app.main import create_app
from app.storage import LocalStorage
from tests.security.world import Seeded, build_world
from tests.support.factories import Factory

if TYPE_CHECKING:
    from tests.conftest import DatabaseFactory

# /metrics is closed as in production: only this token opens it, no user's access token does.
METRICS_TOKEN = "metrics-scraper-token-0123456789"


@pytest.fixture(scope="module")
def seeded(
    database_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    engine = build_engine(database_factory.create("security"))
    try:
        with engine.connect() as connection:
            outer = connection.begin()
            db = Database(engine, bind=connection)
            storage = LocalStorage(tmp_path_factory.mktemp("security-documents"))
            settings = get_settings().model_copy(update={"metrics_token": METRICS_TOKEN})
            app = create_app(settings, database=db, storage=storage)
            with TestClient(app, raise_server_exceptions=False) as client:
                world = build_world(client, Factory(db, settings))
                yield Seeded(app, client, world, db, connection)
            outer.rollback()
    finally:
        engine.dispose()


@pytest.fixture
def scenario(seeded: Seeded) -> Iterator[Seeded]:
    """The seeded world; whatever the test changes is rolled back after it."""
    savepoint = seeded.connection.begin_nested()
    try:
        yield seeded
    finally:
        savepoint.rollback()
