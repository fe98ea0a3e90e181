"""A longer fuzzing run of the whole API: every operation × every role, more examples.

The same cases and checks as `tests/security/test_fuzz.py` (no 5xx; status code, content type,
headers and body as documented), on a fresh database seeded with the security tests' world;
every (operation, role) pair starts from that data again. Failures do not stop the run: it
prints the status codes seen per operation and every distinct failure.

    .venv/bin/python -m bench.fuzz_api [--examples 60] [--seed 0] [--postgresql]
                                       [--only "POST /api/v1/calls"]

`--postgresql` runs on an embedded PostgreSQL server instead of SQLite: some inputs only fail
there (PostgreSQL refuses a NUL character in text, for one).
"""

from __future__ import annotations

import os

# The same settings as the test suite: cheap password hashes, a test key.
os.environ.setdefault("GRANTS_ENV", "test")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")
os.environ.setdefault("PASSWORD_HASH_MEMORY_KIB", "8")
os.environ.setdefault("PASSWORD_HASH_TIME_COST", "1")
# Every fuzzed registration comes from the one in-process client address.
os.environ.setdefault("REGISTRATION_MAX_PER_HOUR", "100000")

import argparse
import collections
import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.config import get_settings
from app.db import Database, build_engine
from app.main import create_app
from app.storage import LocalStorage
from tests.security.fuzzing import (
    FUZZ_ROLES,
    Outcome,
    case_strategy,
    load_schema,
    operations,
    run_examples,
)
from tests.security.world import build_world
from tests.support.factories import Factory
from tests.support.migrations import migrate
from tests.support.servers import PostgresServer


@contextlib.contextmanager
def database_url(tmp: Path, postgresql: bool) -> Iterator[str]:
    """A fresh, migrated database."""
    if not postgresql:
        url = f"sqlite:///{tmp / 'fuzz.db'}"
        migrate(url)
        yield url
        return
    with PostgresServer(tmp / "pg") as pg:
        pg.create_database("fuzz")
        migrate(pg.url("fuzz"))
        yield pg.url("fuzz")


def fuzz(examples: int, run_seed: int, only: list[str], postgresql: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp_name, database_url(Path(tmp_name), postgresql) as url:
        tmp = Path(tmp_name)
        engine = build_engine(url)
        with engine.connect() as connection:
            outer = connection.begin()
            db = Database(engine, bind=connection)
            app = create_app(get_settings(), database=db, storage=LocalStorage(tmp / "documents"))
            with TestClient(app, raise_server_exceptions=False) as client:
                world = build_world(client, Factory(db, get_settings()))
            schema = load_schema(app)
            ops = operations(schema)
            labels = [label for label in ops if not only or label in only]
            statuses: collections.Counter[tuple[str, int]] = collections.Counter()
            failures: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
            started = time.perf_counter()
            for label in labels:
                strategy = case_strategy(ops[label], world)

                def record(_: Any, outcome: Outcome, label: str = label) -> None:
                    statuses[(label, outcome.status)] += 1
                    if outcome.failures:
                        failures[(label, "; ".join(outcome.titles))].append(outcome.report)

                for role in FUZZ_ROLES:
                    savepoint = connection.begin_nested()
                    try:
                        run_examples(
                            strategy,
                            world.as_role(role),
                            record,
                            max_examples=examples,
                            seed=run_seed,
                        )
                    finally:
                        savepoint.rollback()
                print(f"{label:55} " + _codes(statuses, label), flush=True)
            elapsed = time.perf_counter() - started
            outer.rollback()
        engine.dispose()
    requests = sum(statuses.values())
    print(
        f"\n{len(labels)} operations × {len(FUZZ_ROLES)} roles, {requests} requests "
        f"in {elapsed:.1f} s ({requests / elapsed:.0f} requests/s)"
    )
    if not failures:
        print("no failures")
        return 0
    print(f"{len(failures)} distinct failures:")
    for (label, title), texts in sorted(failures.items()):
        print(f"\n--- {label}: {title} ({len(texts)}×)\n{texts[0]}")
    return 1


def _codes(statuses: collections.Counter[tuple[str, int]], label: str) -> str:
    return " ".join(f"{code}×{n}" for (lbl, code), n in sorted(statuses.items()) if lbl == label)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60, help="examples per operation and role")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", action="append", default=[], help="an operation label")
    parser.add_argument("--postgresql", action="store_true", help="run on PostgreSQL")
    args = parser.parse_args()
    # Expected 4xx are not news; a 5xx is logged by the app and shows in the summary anyway.
    logging.basicConfig(level=logging.CRITICAL)
    return fuzz(args.examples, args.seed, args.only, args.postgresql)


if __name__ == "__main__":
    raise SystemExit(main())
